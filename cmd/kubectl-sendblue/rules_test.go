package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// openAPISchema is the part of an OpenAPI schema the test reads (apiextensions'
// own types would make a test-only module a direct dependency).
type openAPISchema struct {
	Properties   map[string]openAPISchema `json:"properties"`
	Items        *openAPISchema           `json:"items"`
	Pattern      string                   `json:"pattern"`
	MaxLength    *int64                   `json:"maxLength"`
	MaxItems     *int64                   `json:"maxItems"`
	XValidations []struct {
		Rule, Message string
	} `json:"x-kubernetes-validations"`
}

// webhookSchema reads the schema of one webhook entry from the generated CRD.
func webhookSchema(t *testing.T) openAPISchema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "sendblue.webhooks.dev_sendbluewebhooksets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema openAPISchema `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil || len(crd.Spec.Versions) != 1 {
		t.Fatalf("reading the CRD: %v", err)
	}
	receive := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["webhooks"].Properties["receive"]
	if receive.Items == nil {
		t.Fatal("the CRD has no spec.webhooks.receive items")
	}
	return *receive.Items
}

// The CLI's copy of the URL rules is the CRD's: same rules, same order, same
// messages, same regular expressions, same limits.
func TestURLRulesAreTheCRDs(t *testing.T) {
	hook := webhookSchema(t)
	url := hook.Properties["url"]
	var gotMessages, wantMessages, crdPatterns []string
	for _, r := range url.XValidations {
		wantMessages = append(wantMessages, r.Message)
		for _, m := range regexp.MustCompile(`matches\('((?:[^'\\]|\\.)*)'\)`).FindAllStringSubmatch(r.Rule, -1) {
			crdPatterns = append(crdPatterns, m[1])
		}
	}
	for _, r := range urlRules {
		gotMessages = append(gotMessages, r.message)
	}
	if diff := cmp.Diff(wantMessages, gotMessages); diff != "" {
		t.Errorf("URL rules (-CRD +CLI):\n%s", diff)
	}
	ours := []string{urlUserInfo.String(), urlPublicHost.String(), urlLocalHost.String(), urlHasPort.String(), urlValidPort.String()}
	if diff := cmp.Diff(crdPatterns, ours); diff != "" {
		t.Errorf("URL patterns (-CRD +CLI):\n%s", diff)
	}
	if url.MaxLength == nil || *url.MaxLength != maxURLLength {
		t.Errorf("url maxLength %v, CLI %d", url.MaxLength, maxURLLength)
	}
	numbers := hook.Properties["sendblueNumbers"]
	if numbers.Items == nil {
		t.Fatal("the CRD has no sendblueNumbers items")
	}
	if numbers.Items.Pattern != e164.String() || numbers.MaxItems == nil || *numbers.MaxItems != maxNumbers {
		t.Errorf("sendblueNumbers: pattern %q maxItems %v; CLI %q %d", numbers.Items.Pattern, numbers.MaxItems, e164.String(), maxNumbers)
	}
}

func TestURLProblem(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // "" admitted
	}{
		{"https://app.example.com/sendblue/receive", ""},
		{"https://app.example.com:8443/x?y=1", ""},
		{"https://app.example.com/Path/With/CAPS", ""},
		{"http://app.example.com", "must be an absolute https:// URL"},
		{"https://app.example.com/a b", "must not contain spaces"},
		{"https://user:pw@app.example.com", "must not carry user info"},
		{"https://app.example.com/#frag", "must not have a fragment"},
		{"https://App.Example.com", "host must be a public DNS name"},
		{"https://169.254.169.254/latest", "host must be a public DNS name"},
		{"https://intranet/x", "host must be a public DNS name"},
		{"https://api.svc", "host must be reachable from the internet"},
		{"https://a.cluster.local/x", "host must be reachable from the internet"},
		{"https://app.example.com:0", "port must be between 1 and 65535"},
		{"https://app.example.com:65536", "port must be between 1 and 65535"},
		{"https://app.example.com/\x00", "must be an absolute https:// URL"},
		{"", "must be 1 to 1024 characters"},
		{"https://app.example.com/" + string(make([]byte, 1024)), "must be 1 to 1024 characters"},
	} {
		got := urlProblem(tc.url)
		if (tc.want == "") != (got == "") || !regexp.MustCompile(regexp.QuoteMeta(tc.want)).MatchString(got) {
			t.Errorf("urlProblem(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestNumbersProblem(t *testing.T) {
	for _, tc := range []struct {
		numbers []string
		ok      bool
	}{
		{[]string{"+15122164639"}, true},
		{[]string{"+1234567"}, true},
		{[]string{"+123456"}, false},
		{[]string{"15122164639"}, false},
		{[]string{"+15122164639", "+15122164639"}, false},
		{make([]string, 101), false},
	} {
		if got := numbersProblem(tc.numbers); (got == "") != tc.ok {
			t.Errorf("numbersProblem(%v) = %q, want ok %v", tc.numbers, got, tc.ok)
		}
	}
}

func TestQuoteReadsBackAsYAML(t *testing.T) {
	for _, s := range []string{"plain", "a: b # c", `"\`, "tab\there", "nel\u0085x", "ls\u2028ps\u2029", "bidi\u202e", "del\x7f", "tag\U000E0041", "ü 日本", "yes", "123", "~", ""} {
		var got string
		if err := yaml.Unmarshal([]byte("v: "+quote(s)), &struct{ V *string }{&got}); err != nil || got != s {
			t.Errorf("quote(%q) = %s reads back as %q (%v)", s, quote(s), got, err)
		}
	}
}
