package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// specList pairs an event type with the name of its list in spec.webhooks.
type specList struct {
	Type  sendblue.EventType
	Field string
}

// specLists are the CRD's lists in the order of the spec (and of Sendblue's
// documentation).
var specLists = []specList{
	{sendblue.Receive, "receive"}, {sendblue.Outbound, "outbound"}, {sendblue.CallLog, "callLog"},
	{sendblue.LineBlocked, "lineBlocked"}, {sendblue.LineAssigned, "lineAssigned"},
	{sendblue.ContactCreated, "contactCreated"}, {sendblue.TypingIndicator, "typingIndicator"},
	{sendblue.InboundCall, "inboundCall"}, {sendblue.ContactProfile, "contactProfile"},
}

// Keys of the account's secrets in the webhook-secrets Secret. A webhook's
// secret is under "<list>-<n>": the spec list name and the webhook's 1-based
// position in that type's list on the account (receive-1, callLog-3).
const (
	globalSecretKey = "globalSecret"
	legacySecretKey = "legacySecret"
)

func hookSecretKey(field string, position int) string { return fmt.Sprintf("%s-%d", field, position) }

// adoption is what an export declares: the webhooks of the account that a
// set can declare exactly as they are, spread over as few sets as the CRD's
// limits allow, and notes on everything it cannot declare.
type adoption struct {
	// Sets: the first is the one named on the command line; more only when
	// the account holds more than one set may declare.
	Sets []adoptedSet
	// Secrets are the values for the webhook-secrets Secret, in order.
	Secrets []secretEntry
	// Notes name what the account holds that no set declares (Merge leaves
	// it as it is) and what a set declares only in part. They never hold a
	// secret value.
	Notes []string
	// LeftOut counts what no set declares.
	LeftOut int
}

type adoptedSet struct {
	Hooks                      []adoptedHook // in spec order, then account order
	GlobalSecret, LegacySecret string        // keys in the webhook-secrets Secret; "" if not declared
	count                      map[sendblue.EventType]int
}

type adoptedHook struct {
	List      specList
	URL       string
	Numbers   []string
	SecretKey string // "" for none
}

// secretEntry is one value of the webhook-secrets Secret.
type secretEntry struct {
	Key, Value string
	// What says whose secret it is, for the comments: receive "https://...".
	// The URL is quoted, so that no character in it can end a comment.
	What string
}

// adopt computes the adoption of cfg. It is pure: the caller reads and prints.
func adopt(cfg *sendblue.Config) adoption {
	var a adoption
	a.Sets = []adoptedSet{{count: map[sendblue.EventType]int{}}}
	extras := entryExtras(cfg)
	for _, l := range specLists {
		hooks := cfg.Webhooks(l.Type)
		declared := map[string]bool{}
		for i, h := range hooks {
			where := fmt.Sprintf("%s[%d] %s", l.Type, i, quote(h.URL))
			if slices.ContainsFunc(hooks[:i], func(e sendblue.Webhook) bool { return e.URL == h.URL }) {
				a.duplicate(where, declared[h.URL])
				continue
			}
			if problem := hookProblem(l, h); problem != "" {
				a.leaveOut(where + ": " + problem)
				continue
			}
			if members := extras[entryAt{l.Type, i}]; len(members) > 0 {
				a.Notes = append(a.Notes, fmt.Sprintf("%s: member(s) %s cannot be declared; the operator keeps them as they are", where, strings.Join(members, ", ")))
			}
			hook := adoptedHook{List: l, URL: h.URL, Numbers: slices.Clone(h.SendblueNumbers)}
			if h.Secret != "" {
				hook.SecretKey = hookSecretKey(l.Field, i+1)
				a.Secrets = append(a.Secrets, secretEntry{Key: hook.SecretKey, Value: h.Secret, What: string(l.Type) + " " + quote(h.URL)})
			}
			a.place(hook)
			declared[h.URL] = true
		}
	}
	a.adoptSecret(cfg.GlobalSecret, "globalSecret", globalSecretKey, "the account's globalSecret", &a.Sets[0].GlobalSecret)
	a.adoptSecret(cfg.LegacySecret, "secret (the v2-era root secret)", legacySecretKey, "the account's legacy root secret", &a.Sets[0].LegacySecret)
	for _, k := range cfg.UnknownKeys() {
		a.leaveOut(fmt.Sprintf("member %s is not an event type the CRD knows", quote(k)))
	}
	return a
}

func (a *adoption) leaveOut(why string) {
	a.Notes = append(a.Notes, why+"; not declared, Merge leaves it on the account as it is")
	a.LeftOut++
}

// duplicate notes an entry whose URL an earlier entry of its type has. The
// operator knows a webhook by type and URL and compares a declaration with
// the first entry of a URL only: declaring the first covers the others.
func (a *adoption) duplicate(where string, firstDeclared bool) {
	if !firstDeclared {
		a.leaveOut(where + ": the same URL is listed earlier in this type, and that entry cannot be declared")
		return
	}
	a.Notes = append(a.Notes, where+": the same URL is listed earlier in this type; the operator knows a webhook by type and URL, "+
		"so declaring the first covers this one: it stays as it is, and goes with the first if the set ever stops declaring it")
}

// hookProblem says why a set cannot declare h exactly as the account holds
// it, or "".
func hookProblem(l specList, h sendblue.Webhook) string {
	if p := urlProblem(h.URL); p != "" {
		return "the CRD refuses its url: " + p
	}
	if len(h.SendblueNumbers) > 0 {
		if l.Type != sendblue.Receive {
			return "it has sendblueNumbers, which the CRD allows on receive webhooks only"
		}
		if p := numbersProblem(h.SendblueNumbers); p != "" {
			return "the CRD refuses its " + p
		}
	}
	if h.Secret != "" {
		if l.Type == sendblue.ContactCreated {
			return "it has a secret, and the CRD allows no secretRef on contactCreated"
		}
		if p := valueProblem(h.Secret, false); p != "" {
			return "its secret " + p + ", which the operator refuses in a Secret"
		}
	}
	return ""
}

// place puts hook into the first set with room for it under the CRD's limits
// (per type, per set, one URL per type ignoring a trailing slash).
func (a *adoption) place(hook adoptedHook) {
	for i := range a.Sets {
		if a.Sets[i].fits(hook) {
			a.Sets[i].add(hook)
			return
		}
	}
	s := adoptedSet{count: map[sendblue.EventType]int{}}
	s.add(hook)
	a.Sets = append(a.Sets, s)
}

func (s *adoptedSet) fits(hook adoptedHook) bool {
	if len(s.Hooks) >= maxHooksPerSet || s.count[hook.List.Type] >= maxHooksPerType {
		return false
	}
	for _, h := range s.Hooks {
		if h.List.Type == hook.List.Type && sameURL(h.URL, hook.URL) {
			return false
		}
	}
	return true
}

// add appends hook; adopt visits the types in spec order, so a set's hooks
// stay in spec order, then account order.
func (s *adoptedSet) add(hook adoptedHook) {
	s.Hooks = append(s.Hooks, hook)
	s.count[hook.List.Type]++
}

func (a *adoption) adoptSecret(get func() (string, bool), name, key, what string, dst *string) {
	v, ok := get()
	if !ok {
		return
	}
	if p := valueProblem(v, false); p != "" {
		a.leaveOut(fmt.Sprintf("%s %s, which the operator refuses in a Secret", name, p))
		return
	}
	*dst = key
	a.Secrets = append(a.Secrets, secretEntry{Key: key, Value: v, What: what})
}

// HookCount is the number of webhooks the sets declare.
func (a adoption) HookCount() int {
	n := 0
	for _, s := range a.Sets {
		n += len(s.Hooks)
	}
	return n
}

type entryAt struct {
	Type  sendblue.EventType
	Index int
}

// entryExtras lists, for each object entry of a known type, the members the
// CRD cannot declare (anything but url, secret and sendblue_numbers).
func entryExtras(cfg *sendblue.Config) map[entryAt][]string {
	raw, err := cfg.MarshalJSON()
	if err != nil {
		return nil
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	out := map[entryAt][]string{}
	for _, l := range specLists {
		var entries []json.RawMessage
		if json.Unmarshal(doc[string(l.Type)], &entries) != nil {
			continue
		}
		for i, e := range entries {
			var members map[string]json.RawMessage
			if json.Unmarshal(e, &members) != nil {
				continue // a bare URL string
			}
			var extra []string
			for k := range members {
				if k != "url" && k != "secret" && k != "sendblue_numbers" {
					extra = append(extra, quote(k))
				}
			}
			slices.Sort(extra)
			if len(extra) > 0 {
				out[entryAt{l.Type, i}] = extra
			}
		}
	}
	return out
}

// quote formats s as a YAML double-quoted scalar (JSON's syntax, plus \U for
// a non-printable character beyond U+FFFF) that reads back as exactly s and
// is safe on a terminal: quotes, backslashes and every character that is not
// printable are escaped (controls; line and paragraph separators and NEL,
// which YAML parsers may read as line breaks; bidi and other format marks).
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes; invalid UTF-8 becomes U+FFFD
	encoded := strings.TrimSuffix(b.String(), "\n")
	var out strings.Builder
	for _, r := range encoded {
		switch {
		case unicode.IsPrint(r):
			out.WriteRune(r)
		case r <= 0xFFFF:
			fmt.Fprintf(&out, "\\u%04x", r)
		default:
			fmt.Fprintf(&out, "\\U%08x", r)
		}
	}
	return out.String()
}
