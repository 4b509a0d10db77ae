package main

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sendblue-operator/sendblue-operator/controllers"
)

// What the CRD admits, in Go. The CLI must not print a manifest that the
// kube-apiserver refuses, nor one whose values the operator refuses when it
// reads them (InvalidSpec): an entry that fails here is left out of the set
// and named on stderr; Merge then leaves it on the account as it is.
//
// urlRules are the CEL rules of WebhookURL (api/v1alpha1), each with the
// message the apiserver would give. rules_test.go holds them to the CRD under
// config/crd/bases, so that the two cannot drift apart unnoticed.
var urlRules = []struct {
	ok      func(string) bool
	message string
}{
	{func(s string) bool { return strings.HasPrefix(s, "https://") && isURL(s) },
		"must be an absolute https:// URL (Sendblue only calls HTTPS webhooks)"},
	{func(s string) bool { return !strings.Contains(s, " ") },
		"must not contain spaces (a trailing space?)"},
	{func(s string) bool { return !urlUserInfo.MatchString(s) },
		"must not carry user info (user:password@): Sendblue would store and show it; put credentials in a secretRef"},
	{func(s string) bool { return !strings.Contains(s, "#") },
		"must not have a fragment (#...)"},
	{func(s string) bool { return urlPublicHost.MatchString(s) },
		"host must be a public DNS name in lowercase: no IP address, no single-label name"},
	{func(s string) bool { return !urlLocalHost.MatchString(s) },
		"host must be reachable from the internet: not localhost or a local, internal, cluster (.svc, .cluster.local) or reserved name"},
	{func(s string) bool { return !urlHasPort.MatchString(s) || urlValidPort.MatchString(s) },
		"port must be between 1 and 65535"},
}

// The regular expressions of the CEL rules, verbatim (CEL's matches is RE2,
// as Go's regexp, and is unanchored unless the pattern says otherwise).
var (
	urlUserInfo   = regexp.MustCompile(`^https://[^/?#]*@`)
	urlPublicHost = regexp.MustCompile(`^https://([a-z0-9]([-a-z0-9]*[a-z0-9])?[.])+[a-z]([-a-z0-9]*[a-z0-9])?(:[0-9]+)?([/?].*)?$`)
	urlLocalHost  = regexp.MustCompile(`^https://([^/?#]*[.])?(localhost|local|localdomain|internal|intranet|lan|svc|arpa|invalid|test|onion)(:[0-9]*)?([/?#].*)?$`)
	urlHasPort    = regexp.MustCompile(`^https://[^/?#]*:`)
	urlValidPort  = regexp.MustCompile(`^https://[^/?#:]+:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?].*)?$`)
	e164          = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// CRD limits.
const (
	maxURLLength     = 1024
	maxNumbers       = 100
	maxHooksPerType  = 10
	maxHooksPerSet   = 20
	maxSecretNameLen = 253
)

// isURL is the CEL library's isURL (k8s.io/apiserver/pkg/cel/library).
func isURL(s string) bool {
	_, err := url.ParseRequestURI(s)
	return err == nil
}

// urlProblem says why the CRD refuses u as a webhook url, or "" if it admits it.
func urlProblem(u string) string {
	if n := utf8.RuneCountInString(u); n == 0 || n > maxURLLength {
		return "must be 1 to 1024 characters"
	}
	for _, r := range urlRules {
		if !r.ok(u) {
			return r.message
		}
	}
	return ""
}

// numbersProblem says why the CRD refuses numbers as sendblueNumbers, or "".
func numbersProblem(numbers []string) string {
	if len(numbers) > maxNumbers {
		return "more than 100 sendblueNumbers"
	}
	for i, n := range numbers {
		if !e164.MatchString(n) {
			return "sendblueNumbers: " + quote(n) + " is not E.164 with 7 to 15 digits"
		}
		if slices.Contains(numbers[:i], n) {
			return "sendblueNumbers: " + quote(n) + " is listed twice (the CRD's list is a set)"
		}
	}
	return ""
}

// sameURL is the CRD's uniqueness rule: one trailing slash does not make
// another URL.
func sameURL(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// valueProblem says why the operator would refuse a Secret value (reason
// InvalidSpec), or "": the operator's own rule. It never repeats the value.
func valueProblem(v string, credential bool) string {
	return controllers.SecretValueProblem([]byte(v), credential)
}
