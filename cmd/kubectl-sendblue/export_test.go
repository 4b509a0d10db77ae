package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// account is an account with several types, per-webhook secrets,
// sendblueNumbers, a global secret and the v2-era root secret.
const account = `{"receive":[{"url":"https://app.example.com/sendblue/receive","secret":"whsec-receive-7f3a","sendblue_numbers":["+15122164639","+15122164640"]},"https://crm.example.com/inbound"],` +
	`"call_log":["https://ops.example.com/calls"],"line_blocked":[],"line_assigned":[],` +
	`"outbound":[{"url":"https://app.example.com/sendblue/status","secret":"whsec-outbound-9c1d"}],` +
	`"contact_created":["https://crm.example.com/contacts"],` +
	`"typing_indicator":[{"url":"https://app.example.com/typing","secret":"whsec-typing-2b8e"}],` +
	`"globalSecret":"whsec-global-55aa","secret":"whsec-legacy-0d0d"}`

var accountSecrets = []string{"whsec-receive-7f3a", "whsec-outbound-9c1d", "whsec-typing-2b8e", "whsec-global-55aa", "whsec-legacy-0d0d"}

const wantExport = `# Exported by kubectl-sendblue from Sendblue account …0001: 6 webhook(s) declared as they are
# by SendblueWebhookSet "imported" (policy Merge). Once applied, the operator adopts
# them and finds nothing to change: status.plan stays empty, nothing is written.
# deletionPolicy Orphan: deleting a set leaves its webhooks on the account.

# The webhook secrets are not printed (--include-secret-values prints them). Until
# the Secret "imported-webhook-secrets" exists, the set reports SecretNotFound and changes nothing.
# Create it with the values the account holds, exactly: a value that differs is
# written to the account, replacing the webhook's secret.
#   receive-1          receive "https://app.example.com/sendblue/receive"
#   outbound-1         outbound "https://app.example.com/sendblue/status"
#   typingIndicator-1  typing_indicator "https://app.example.com/typing"
#   globalSecret       the account's globalSecret
#   legacySecret       the account's legacy root secret
#
#   kubectl create secret generic imported-webhook-secrets -n team-a \
#     --from-literal=receive-1=... \
#     --from-literal=outbound-1=... \
#     --from-literal=typingIndicator-1=... \
#     --from-literal=globalSecret=... \
#     --from-literal=legacySecret=...

# The credentials are not printed (--include-secret-values prints them); the set reads
# them from the Secret "sendblue-credentials". Create it from the same environment:
#   kubectl create secret generic sendblue-credentials -n team-a \
#     --from-literal=apiKeyId="$SENDBLUE_API_API_KEY" --from-literal=apiSecretKey="$SENDBLUE_API_API_SECRET"
---
apiVersion: sendblue.webhooks.dev/v1alpha1
kind: SendblueWebhookSet
metadata:
  name: "imported"
  namespace: "team-a"
spec:
  credentialsRef:
    name: "sendblue-credentials"
  policy: Merge
  deletionPolicy: Orphan
  webhooks:
    receive:
    - url: "https://app.example.com/sendblue/receive"
      secretRef:
        name: "imported-webhook-secrets"
        key: "receive-1"
      sendblueNumbers:
      - "+15122164639"
      - "+15122164640"
    - url: "https://crm.example.com/inbound"
    outbound:
    - url: "https://app.example.com/sendblue/status"
      secretRef:
        name: "imported-webhook-secrets"
        key: "outbound-1"
    callLog:
    - url: "https://ops.example.com/calls"
    contactCreated:
    - url: "https://crm.example.com/contacts"
    typingIndicator:
    - url: "https://app.example.com/typing"
      secretRef:
        name: "imported-webhook-secrets"
        key: "typingIndicator-1"
  globalSecretRef:
    name: "imported-webhook-secrets"
    key: "globalSecret"
  legacySecretRef:
    name: "imported-webhook-secrets"
    key: "legacySecret"
`

func TestExportDeclaresEveryWebhookAndPrintsNoSecretValue(t *testing.T) {
	url, emu := emulator(t, account)
	got := cli(t, envCreds(url), nil, "export", "imported", "-n", "team-a")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	if diff := cmp.Diff(wantExport, got.stdout); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
	assertAbsent(t, "stdout", got.stdout, append(accountSecrets, testSecretKey, testKeyID)...)
	assertAbsent(t, "stderr", got.stderr, append(accountSecrets, testSecretKey, testKeyID)...)
	if got.stderr != "" {
		t.Errorf("stderr for an account the CRD can declare whole: %q", got.stderr)
	}
	if n := emu.Requests(testKeyID); n[http.MethodGet] != 1 || n[http.MethodPut]+n[http.MethodPost]+n[http.MethodDelete] != 0 {
		t.Errorf("requests %v, want one GET and nothing else", n)
	}
}

func TestExportWithSecretValuesAdoptsTheAccountWithoutAChange(t *testing.T) {
	url, _ := emulator(t, account)
	got := cli(t, envCreds(url), nil, "export", "--include-secret-values", "imported", "-n", "team-a")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	assertPresent(t, "stdout", got.stdout, append(accountSecrets, testSecretKey, testKeyID)...)
	assertAbsent(t, "stderr", got.stderr, append(accountSecrets, testSecretKey)...)
	e := assertAdopts(t, account, got.stdout, 6)

	creds, ok := e.secrets["sendblue-credentials"]
	if !ok {
		t.Fatalf("no credentials Secret in:\n%s", got.stdout)
	}
	want := map[string]string{"apiKeyId": testKeyID, "apiSecretKey": testSecretKey}
	if diff := cmp.Diff(want, creds.StringData); diff != "" || creds.Namespace != "team-a" {
		t.Errorf("credentials Secret in %q (-want +got):\n%s", creds.Namespace, diff)
	}
	hooks := e.secrets["imported-webhook-secrets"]
	wantKeys := map[string]string{"receive-1": "whsec-receive-7f3a", "outbound-1": "whsec-outbound-9c1d",
		"typingIndicator-1": "whsec-typing-2b8e", "globalSecret": "whsec-global-55aa", "legacySecret": "whsec-legacy-0d0d"}
	if diff := cmp.Diff(wantKeys, hooks.StringData); diff != "" {
		t.Errorf("webhook-secrets Secret (-want +got):\n%s", diff)
	}
	if len(e.sets) != 1 || e.sets[0].Name != "imported" || e.sets[0].Namespace != "team-a" || e.sets[0].Spec.CredentialsRef.Name != "sendblue-credentials" {
		t.Errorf("sets: %+v", e.sets)
	}
}

func TestSecretValuesReadBackExactly(t *testing.T) {
	// Quotes, YAML indicators, a backslash, non-ASCII, a line separator and
	// a URL with a NEL, which a YAML parser may fold into a space.
	cfg := `{"receive":[{"url":"https://a.example.com/p?q=\"x\"&r=#","secret":"a: b # c"},` +
		`{"url":"https://b.example.com/x\u0085y","secret":"'q' \"dq\" \\ ü \u2028 {} [] & * ! | > % @ ` + "`" + `"}],` +
		`"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[],"globalSecret":"null"}`
	url, _ := emulator(t, cfg)
	got := cli(t, envCreds(url), nil, "export", "weird", "-n", "ns", "--include-secret-values")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	// The first URL has a fragment, which the CRD refuses.
	assertAdopts(t, cfg, got.stdout, 1)
	if !strings.Contains(got.stderr, `receive[0] "https://a.example.com/p?q=\"x\"&r=#": the CRD refuses its url: must not have a fragment`) {
		t.Errorf("stderr does not name the refused URL:\n%s", got.stderr)
	}
	assertAbsent(t, "stderr", got.stderr, "a: b # c")
}

func TestExportNamesWhatTheCRDCannotDeclareAndAdoptsTheRest(t *testing.T) {
	cfg := `{"receive":[` +
		`"http://insecure.example.com/hook",` + // 0: plain http
		`"https://10.0.0.1/hook",` + // 1: an IP address
		`{"url":"https://ok.example.com/r","secret":"whsec-ok-1","label":"from the dashboard"},` + // 2: adopted, its extra member kept
		`{"url":"https://ok.example.com/r","secret":"whsec-dup-2"},` + // 3: the same URL again
		`{"url":"https://pad.example.com/r","secret":" whsec-padded "},` + // 4: a secret the operator refuses
		`{"url":"https://short.example.com/r","sendblue_numbers":["+1234"]},` + // 5: a number the CRD refuses
		`"https://ok.example.com/r/"],` + // 6: the same URL with a slash: in a set of its own
		`"outbound":[{"url":"https://o.example.com","sendblue_numbers":["+15122164639"]}],` + // numbers outside receive
		`"contact_created":[{"url":"https://c.example.com","secret":"whsec-contact"}],` + // a secret on contact_created
		`"call_log":["https://localhost/x","https://calls.example.com",` +
		`{"url":"https://dup.example.com","secret":"whsec-pad "},"https://dup.example.com"],` + // a duplicate of an entry left out
		`"line_blocked":[],"line_assigned":[],` +
		`"future_type":["https://future.example.com"],"globalSecret":""}`
	url, _ := emulator(t, cfg)
	got := cli(t, envCreds(url), nil, "export", "partial", "-n", "ns", "--include-secret-values")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	e := assertAdopts(t, cfg, got.stdout, 3)
	if len(e.sets) != 2 || e.sets[1].Name != "partial-2" {
		t.Errorf("want sets partial and partial-2 (the trailing-slash URL), got %d", len(e.sets))
	}
	for _, want := range []string{
		`receive[0] "http://insecure.example.com/hook": the CRD refuses its url: must be an absolute https:// URL`,
		`receive[1] "https://10.0.0.1/hook": the CRD refuses its url: host must be a public DNS name`,
		`receive[2] "https://ok.example.com/r": member(s) "label" cannot be declared; the operator keeps them as they are`,
		`receive[3] "https://ok.example.com/r": the same URL is listed earlier in this type; the operator knows a webhook by type and URL, so declaring the first covers this one`,
		`receive[4] "https://pad.example.com/r": its secret has leading or trailing whitespace`,
		`receive[5] "https://short.example.com/r": the CRD refuses its sendblueNumbers: "+1234" is not E.164`,
		`outbound[0] "https://o.example.com": it has sendblueNumbers, which the CRD allows on receive webhooks only`,
		`contact_created[0] "https://c.example.com": it has a secret, and the CRD allows no secretRef on contactCreated`,
		`call_log[0] "https://localhost/x": the CRD refuses its url: host must be a public DNS name`,
		`call_log[2] "https://dup.example.com": its secret has leading or trailing whitespace`,
		`call_log[3] "https://dup.example.com": the same URL is listed earlier in this type, and that entry cannot be declared`,
		`member "future_type" is not an event type the CRD knows; not declared, Merge leaves it on the account as it is`,
		`globalSecret is empty`,
	} {
		if !strings.Contains(got.stderr, "warning: "+want) {
			t.Errorf("stderr lacks %q:\n%s", want, got.stderr)
		}
	}
	assertAbsent(t, "stderr", got.stderr, "whsec-ok-1", "whsec-dup-2", "whsec-padded", "whsec-contact", "whsec-pad")
	assertAbsent(t, "stdout", got.stdout, "whsec-dup-2", "whsec-padded", "whsec-contact", "whsec-pad")
	if !strings.Contains(got.stdout, "# 11 thing(s) on the account are not declared (see stderr)") {
		t.Errorf("stdout does not say that things were left out:\n%s", got.stdout)
	}
}

func TestAnAccountBeyondOneSetsLimitsIsSpreadOverSets(t *testing.T) {
	var receive, outbound []string
	for i := range 12 {
		receive = append(receive, mustJSON(map[string]string{"url": "https://r" + string(rune('a'+i)) + ".example.com", "secret": "whsec-r-" + string(rune('a'+i))}))
	}
	for i := range 13 {
		outbound = append(outbound, mustJSON("https://o"+string(rune('a'+i))+".example.com"))
	}
	cfg := `{"receive":[` + strings.Join(receive, ",") + `],"outbound":[` + strings.Join(outbound, ",") + `],` +
		`"call_log":[],"line_blocked":[],"line_assigned":[],"contact_created":[],"globalSecret":"whsec-g"}`
	url, _ := emulator(t, cfg)
	got := cli(t, envCreds(url), nil, "export", "big", "-n", "ns", "--include-secret-values")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	e := assertAdopts(t, cfg, got.stdout, 25)
	var names []string
	for _, s := range e.sets {
		names = append(names, s.Name)
		n := len(s.Spec.Webhooks.Receive) + len(s.Spec.Webhooks.Outbound)
		if n > maxHooksPerSet || len(s.Spec.Webhooks.Receive) > maxHooksPerType || len(s.Spec.Webhooks.Outbound) > maxHooksPerType {
			t.Errorf("set %s declares %d webhooks (%d receive, %d outbound)", s.Name, n, len(s.Spec.Webhooks.Receive), len(s.Spec.Webhooks.Outbound))
		}
	}
	if diff := cmp.Diff([]string{"big", "big-2"}, names); diff != "" {
		t.Errorf("sets (-want +got):\n%s", diff)
	}
	if e.sets[0].Spec.GlobalSecretRef == nil || e.sets[1].Spec.GlobalSecretRef != nil {
		t.Errorf("the global secret belongs to the first set only")
	}
}

func TestCredentialsFromTheEnvironment(t *testing.T) {
	url, _ := emulator(t, account)
	t.Run("are trimmed as the SDK trims them and named by --credentials-secret-name", func(t *testing.T) {
		vars := map[string]string{envKeyID: "  " + testKeyID + "\n", envSecretKey: "\t" + testSecretKey + " ", envBaseURL: " " + url + " "}
		got := cli(t, vars, nil, "export", "x", "-n", "ns", "--credentials-secret-name", "prod-creds", "--include-secret-values")
		if got.code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
		}
		e := parseExport(t, got.stdout)
		creds := e.secrets["prod-creds"]
		if creds.StringData["apiKeyId"] != testKeyID || creds.StringData["apiSecretKey"] != testSecretKey {
			t.Errorf("credentials Secret prod-creds: %v", creds.StringData)
		}
		if e.sets[0].Spec.CredentialsRef.Name != "prod-creds" {
			t.Errorf("credentialsRef %+v", e.sets[0].Spec.CredentialsRef)
		}
	})
	t.Run("with other key names are referenced with them", func(t *testing.T) {
		got := cli(t, envCreds(url), nil, "export", "x", "-n", "ns", "--api-key-id-key", "id", "--api-secret-key-key", "key", "--include-secret-values")
		if got.code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
		}
		e := parseExport(t, got.stdout)
		ref := e.sets[0].Spec.CredentialsRef
		if ref.APIKeyIDKey != "id" || ref.APISecretKeyKey != "key" || e.secrets["sendblue-credentials"].StringData["key"] != testSecretKey {
			t.Errorf("credentialsRef %+v, Secret %v", ref, e.secrets["sendblue-credentials"].StringData)
		}
	})
	for _, tc := range []struct {
		name string
		vars map[string]string
	}{
		{"missing both", map[string]string{envBaseURL: url}},
		{"missing the secret", map[string]string{envKeyID: testKeyID, envBaseURL: url}},
		{"blank", map[string]string{envKeyID: testKeyID, envSecretKey: "   ", envBaseURL: url}},
	} {
		t.Run(tc.name+" is an error naming both variables", func(t *testing.T) {
			got := cli(t, tc.vars, nil, "export", "x", "-n", "ns")
			if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, envKeyID) || !strings.Contains(got.stderr, envSecretKey) {
				t.Errorf("exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
			}
		})
	}
	t.Run("that Sendblue refuses fail without showing them", func(t *testing.T) {
		vars := envCreds(url)
		vars[envSecretKey] = "wrong-secret-31337"
		got := cli(t, vars, nil, "export", "x", "-n", "ns")
		if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, "401") {
			t.Errorf("exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
		}
		assertAbsent(t, "stderr", got.stderr, "wrong-secret-31337", testKeyID)
	})
}

func TestCredentialsFromASecretInTheCluster(t *testing.T) {
	url, _ := emulator(t, account)
	c := &fakeCluster{secrets: map[string]*corev1.Secret{
		"team-a/sb": {ObjectMeta: metav1.ObjectMeta{Name: "sb", Namespace: "team-a"},
			Data: map[string][]byte{"id": []byte(testKeyID), "key": []byte(testSecretKey)}},
		"team-a/padded": {ObjectMeta: metav1.ObjectMeta{Name: "padded", Namespace: "team-a"},
			Data: map[string][]byte{"apiKeyId": []byte(testKeyID), "apiSecretKey": []byte(testSecretKey + "\n")}},
	}}
	vars := map[string]string{envBaseURL: url, envKeyID: "ignored", envSecretKey: "ignored"}

	got := cli(t, vars, c, "export", "x", "-n", "team-a", "--credentials-secret", "sb", "--api-key-id-key", "id", "--api-secret-key-key", "key", "--include-secret-values")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	e := assertAdopts(t, account, got.stdout, 6)
	if _, printed := e.secrets["sb"]; printed {
		t.Error("the credentials Secret of the cluster is printed")
	}
	assertAbsent(t, "stdout", got.stdout, testSecretKey, testKeyID)
	if ref := e.sets[0].Spec.CredentialsRef; ref.Name != "sb" || ref.APIKeyIDKey != "id" || ref.APISecretKeyKey != "key" {
		t.Errorf("credentialsRef %+v", ref)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a missing Secret", []string{"--credentials-secret", "nope"}, "Secret team-a/nope not found"},
		{"a missing key", []string{"--credentials-secret", "sb"}, `Secret team-a/sb has no key "apiKeyId"`},
		{"a value the operator refuses", []string{"--credentials-secret", "padded"}, `key "apiSecretKey" of Secret team-a/padded contains a line break`},
	} {
		t.Run(tc.name+" is an error that shows no value", func(t *testing.T) {
			got := cli(t, vars, c, append([]string{"export", "x", "-n", "team-a"}, tc.args...)...)
			if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", got.code, got.stdout, got.stderr, tc.want)
			}
			assertAbsent(t, "stderr", got.stderr, testSecretKey)
		})
	}
}

func TestTheBaseURLFollowsTheManagersHTTPSRule(t *testing.T) {
	url, emu := emulator(t, account)
	loopback := strings.Replace(url, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		name      string
		flag, env string
		ok        bool
		want      string
	}{
		{"plain http to a remote host by flag", "http://api.example.com", "", false, "only https is allowed except for loopback hosts"},
		{"plain http to a remote host by environment", "", "http://api.example.com", false, "only https is allowed except for loopback hosts"},
		{"user info and a query, which the error never repeats", "https://user:hunter2@api.example.com/?token=s3cr3t", "", false, "must not carry user info"},
		{"no scheme", "api.sendblue.co", "", false, "must be https://host"},
		{"plain http to a loopback IP", url, "", true, ""},
		{"plain http to localhost", loopback, "", true, ""},
		{"the flag over the environment", url, "http://api.example.com", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu.ResetRequests(testKeyID)
			vars := map[string]string{envKeyID: testKeyID, envSecretKey: testSecretKey, envBaseURL: tc.env}
			args := []string{"export", "x", "-n", "ns"}
			if tc.flag != "" {
				args = append(args, "--sendblue-api-url", tc.flag)
			}
			got := cli(t, vars, nil, args...)
			if tc.ok {
				if got.code != 0 || emu.Requests(testKeyID)[http.MethodGet] != 1 {
					t.Errorf("exit %d, stderr %q", got.code, got.stderr)
				}
				return
			}
			if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", got.code, got.stdout, got.stderr, tc.want)
			}
			assertAbsent(t, "stderr", got.stderr, "hunter2", "s3cr3t")
			if n := emu.Requests(testKeyID)[http.MethodGet]; n != 0 {
				t.Errorf("%d requests reached the emulator", n)
			}
		})
	}
	t.Run("the default is Sendblue's API", func(t *testing.T) {
		var f exportFlags
		fs := newFlagSet("export", nil)
		f.bind(fs, func(string) string { return "" })
		if f.apiURL != "https://api.sendblue.co" {
			t.Errorf("default %q", f.apiURL)
		}
	})
}

func TestAnAccountTheClientCannotReadIsAnError(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"a malformed entry", `{"receive":[{"secret":"whsec-x"}],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`, "webhooks.receive[0]: entry object has no url string"},
		{"a partial read", `{"receive":[]}`, "the read cannot be the whole account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := emulator(t, tc.cfg)
			got := cli(t, envCreds(url), nil, "export", "x", "-n", "ns")
			if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", got.code, got.stdout, got.stderr, tc.want)
			}
			assertAbsent(t, "stderr", got.stderr, "whsec-x")
		})
	}
}

func TestExportRefusesABadCommandLine(t *testing.T) {
	url, _ := emulator(t, account)
	for _, args := range [][]string{
		{"export"},
		{"export", "a", "b"},
		{"export", "Not_A_Name"},
		{"export", "x", "--deletion-policy", "Keep"},
		{"export", "x", "--api-key-id-key", "a/b"},
		{"export", "x", "--credentials-secret", "s", "--credentials-secret-name", "t"},
		{"export", "x", "--webhook-secret-labels", "not a label"},
		{"export", "x", "--no-such-flag"},
	} {
		got := cli(t, envCreds(url), nil, append(args, "-n", "ns")...)
		if got.code != 2 || got.stdout != "" || !strings.Contains(got.stderr, "Usage: kubectl sendblue export") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, got.code, got.stdout, got.stderr)
		}
	}
}
