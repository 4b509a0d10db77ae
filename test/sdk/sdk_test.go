// Package sdk holds the wire-compatibility test of the emulator against the
// official Sendblue TypeScript SDK.
package sdk

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

type step struct {
	Name   string          `json:"name"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Status  int    `json:"status"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"error"`
	Stored json.RawMessage `json:"stored"`
}

// TestOfficialSDKAgainstEmulator runs conformance.mjs with node. It never
// skips: without node or the installed SDK it fails and says how to fix it.
func TestOfficialSDKAgainstEmulator(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH: the SDK conformance test needs Node.js 20+ (it is part of make test)")
	}
	if _, err := os.Stat("node_modules/sendblue/package.json"); err != nil {
		t.Fatal("the sendblue npm package is not installed in test/sdk/node_modules: run `make test` (or `npm ci --prefix test/sdk`)")
	}

	const keyID, secret = "sdk-key", "sdk-secret"
	emu := sendbluetest.NewServer()
	if err := emu.AddAccount(keyID, secret); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(emu)
	defer ts.Close()
	defer emu.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "conformance.mjs")
	cmd.Env = append(os.Environ(), "SENDBLUE_API_BASE_URL="+ts.URL, "SENDBLUE_API_API_KEY="+keyID, "SENDBLUE_API_API_SECRET="+secret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node conformance.mjs: %v\n%s", err, stderr.String())
	}
	var steps []step
	if err := json.Unmarshal(out, &steps); err != nil {
		t.Fatalf("decoding the script's output: %v\n%s", err, out)
	}
	byName := map[string]step{}
	for _, s := range steps {
		byName[s.Name] = s
	}

	newAccount := `{"receive":[],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`
	afterUpdate := `{"receive":[{"url":"https://app.example.com/receive","sendblue_numbers":["+15122164639"]}],` +
		`"outbound":["https://app.example.com/outbound"],` +
		`"line_blocked":[{"url":"https://app.example.com/blocked","secret":"blocked-secret"}],` +
		`"line_assigned":["https://app.example.com/assigned"],"contact_created":["https://app.example.com/contacts"],` +
		`"typing_indicator":["https://app.example.com/typing"],` +
		`"inbound_call":[{"url":"https://app.example.com/inbound-call","secret":"call-secret"}],` +
		`"contact_profile":["https://app.example.com/profile"],"call_log":[],"globalSecret":"global-secret-2"}`
	final := strings.Replace(strings.Replace(afterUpdate,
		`"outbound":["https://app.example.com/outbound"]`, `"outbound":[]`, 1),
		`"receive":[{"url":"https://app.example.com/receive","sendblue_numbers":["+15122164639"]}]`, `"receive":[]`, 1)

	tests := []struct {
		step       string
		wantStored string
		wantResult string // what the SDK parsed, compared as JSON
		wantStatus int    // for steps expected to fail
	}{
		{step: "list-new-account", wantStored: newAccount, wantResult: `{"status":"OK","webhooks":` + newAccount + `}`},
		{step: "create-receive", wantStored: strings.Replace(newAccount, `"receive":[]`,
			`"receive":["https://app.example.com/receive",{"url":"https://app.example.com/receive-signed","secret":"receive-secret"}]`, 1)},
		{step: "create-call-log-with-global-secret", wantStored: `{"receive":["https://app.example.com/receive",` +
			`{"url":"https://app.example.com/receive-signed","secret":"receive-secret"}],"call_log":["https://app.example.com/calls"],` +
			`"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[],"globalSecret":"global-secret"}`},
		{step: "update-all", wantStored: afterUpdate, wantResult: `{"status":"OK","message":"Webhooks updated successfully","webhooks":` + afterUpdate + `}`},
		{step: "list-after-update", wantStored: afterUpdate, wantResult: `{"status":"OK","webhooks":` + afterUpdate + `}`},
		{step: "delete-outbound", wantStored: strings.Replace(afterUpdate, `"outbound":["https://app.example.com/outbound"]`, `"outbound":[]`, 1),
			wantResult: `{"status":"OK","message":"Webhooks deleted successfully"}`},
		{step: "delete-default-type", wantStored: final},
		{step: "create-http-url-is-refused", wantStored: final, wantStatus: 400},
		{step: "list-with-wrong-secret", wantStored: final, wantStatus: 401},
		{step: "list-final", wantStored: final, wantResult: `{"status":"OK","webhooks":` + final + `}`},
	}
	if len(steps) != len(tests) {
		t.Errorf("the script ran %d steps, the test checks %d", len(steps), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.step, func(t *testing.T) {
			s, ok := byName[tc.step]
			if !ok {
				t.Fatal("the script did not run this step")
			}
			if tc.wantStatus != 0 {
				if s.Error == nil || s.Error.Status != tc.wantStatus {
					t.Errorf("SDK outcome: result %s error %+v, want an APIError with status %d", s.Result, s.Error, tc.wantStatus)
				}
			} else if s.Error != nil {
				t.Fatalf("SDK error: %+v", *s.Error)
			}
			if string(s.Stored) != tc.wantStored {
				t.Errorf("stored:\n got %s\nwant %s", s.Stored, tc.wantStored)
			}
			if tc.wantResult != "" {
				var got, want any
				if err := json.Unmarshal(s.Result, &got); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(tc.wantResult), &want); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("what the SDK parsed (-want +got):\n%s", diff)
				}
			}
		})
	}

	// The Go client reads what the SDK wrote, entry forms included.
	c, err := sendblue.New(ts.URL, sendblue.Credentials{KeyID: keyID, SecretKey: secret}, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Get(context.Background())
	if err != nil {
		t.Fatalf("Go client Get after the SDK: %v", err)
	}
	want := map[sendblue.EventType][]sendblue.Webhook{
		sendblue.LineBlocked:     {{URL: "https://app.example.com/blocked", Secret: "blocked-secret"}},
		sendblue.InboundCall:     {{URL: "https://app.example.com/inbound-call", Secret: "call-secret"}},
		sendblue.ContactProfile:  {{URL: "https://app.example.com/profile"}},
		sendblue.TypingIndicator: {{URL: "https://app.example.com/typing"}},
	}
	for typ, hooks := range want {
		if diff := cmp.Diff(hooks, cfg.Webhooks(typ), cmp.Comparer(func(a, b sendblue.Webhook) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("Go client %s (-want +got):\n%s", typ, diff)
		}
	}
	if g, _ := cfg.GlobalSecret(); g != "global-secret-2" {
		t.Errorf("Go client globalSecret = %q", g)
	}
}
