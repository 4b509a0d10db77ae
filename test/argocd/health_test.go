// Package argocd tests the Argo CD health checks in config/argocd
// (health.lua, for SendblueWebhookSet and
// EverlyticSMSWebhook) with gopher-lua, the Lua interpreter Argo CD embeds.
package argocd

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sendblue-operator/sendblue-operator/controllers"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlyticsms"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
)

// health runs the script as Argo CD does: obj is the resource as a Lua
// table, and the script returns {status, message}.
func health(t *testing.T, script, manifest string) (string, string) {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("script error: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("script returned %v, want a table", L.Get(-1))
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic("unexpected JSON value")
}

func set(generation int, suspend bool, status string) string {
	s := `{"apiVersion":"sendblue.webhooks.dev/v1alpha1","kind":"SendblueWebhookSet",` +
		`"metadata":{"name":"x","namespace":"y","generation":` + itoa(generation) + `},` +
		`"spec":{"credentialsRef":{"name":"c"},"suspend":` + map[bool]string{true: "true", false: "false"}[suspend] + `}`
	if status != "" {
		s += `,"status":` + status
	}
	return s + "}"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func cond(typ, status, reason, msg string, gen int) string {
	return `{"type":"` + typ + `","status":"` + status + `","reason":"` + reason + `","message":"` + msg + `","observedGeneration":` + itoa(gen) + `}`
}

func st(observed int, conds ...string) string {
	return `{"observedGeneration":` + itoa(observed) + `,"conditions":[` + strings.Join(conds, ",") + `]}`
}

func readScript(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../config/argocd/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// conds renders conditions as the JSON the manifests above take.
func conds(cs []metav1.Condition) []string {
	var out []string
	for _, c := range cs {
		out = append(out, cond(c.Type, string(c.Status), c.Reason, c.Message, int(c.ObservedGeneration)))
	}
	return out
}

func TestHealth(t *testing.T) {
	script := readScript(t, "health.lua")
	tests := []struct {
		name, manifest, wantStatus, wantMessage string
	}{
		{"no status yet", set(1, false, ""), "Progressing", "Waiting for the sendblue-operator"},
		{"status of an older generation", set(3, false, st(2, cond("Ready", "True", "Synced", "ok", 2))), "Progressing", "generation 3"},
		{"ready and current", set(2, false, st(2, cond("Ready", "True", "Synced", "2 webhook(s) in place", 2))), "Healthy", "Synced: 2 webhook(s) in place"},
		{"ready, retrying a drift read", set(2, false, st(2, cond("Ready", "True", "Synced", "in place", 2), cond("Reconciling", "True", "APIError", "HTTP 503", 2))),
			"Healthy", "Synced: in place; retrying: APIError: HTTP 503"},
		{"progressing", set(2, false, st(1, cond("Ready", "Unknown", "Progressing", "waiting for the sync", 2), cond("Reconciling", "True", "Progressing", "waiting for the sync", 2))),
			"Progressing", "Progressing: waiting for the sync"},
		{"stalled", set(1, false, st(1, cond("Ready", "False", "Unauthorized", "refused", 1), cond("Stalled", "True", "Unauthorized", "refused", 1))), "Degraded", "Unauthorized: refused"},
		{"retried failure", set(1, false, st(0, cond("Ready", "False", "SecretNotFound", "Secret a/b not found", 1), cond("Reconciling", "True", "SecretNotFound", "Secret a/b not found", 1))),
			"Degraded", "SecretNotFound: Secret a/b not found"},
		{"api error retried", set(1, false, st(0, cond("Ready", "False", "APIError", "HTTP 503", 1), cond("Reconciling", "True", "APIError", "HTTP 503", 1))), "Degraded", "APIError: HTTP 503"},
		{"observe drift", set(1, false, st(1, cond("Ready", "False", "DriftDetected", "1 difference", 1), cond("Stalled", "True", "DriftDetected", "1 difference", 1))), "Degraded", "DriftDetected"},
		{"suspended spec", set(1, true, st(1, cond("Ready", "True", "Synced", "", 1))), "Suspended", "spec.suspend"},
		{"suspended reason", set(1, false, st(1, cond("Ready", "False", "Suspended", "no calls", 1), cond("Stalled", "True", "Suspended", "no calls", 1))), "Suspended", "no calls"},
		{"ready condition of an older generation", set(2, false, st(2, cond("Ready", "True", "Synced", "", 1))), "Progressing", "generation 2"},
		{"stalled condition of an older generation", set(2, false, st(1, cond("Ready", "False", "Conflict", "", 1), cond("Stalled", "True", "Conflict", "", 1))), "Progressing", "generation 2"},
		{"no ready condition", set(1, false, st(1)), "Progressing", ""},
		// Status written before Reconciling existed (Ready and Stalled=False).
		{"legacy ready", set(2, false, st(2, cond("Ready", "True", "Synced", "in place", 2), cond("Stalled", "False", "Synced", "", 2))), "Healthy", "Synced: in place"},
		{"legacy failure", set(1, false, st(1, cond("Ready", "False", "SecretNotFound", "Secret a/b not found", 1), cond("Stalled", "False", "SecretNotFound", "", 1))), "Degraded", "SecretNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, message := health(t, string(script), tc.manifest)
			if status != tc.wantStatus || !strings.Contains(message, tc.wantMessage) {
				t.Errorf("got %s %q, want %s containing %q", status, message, tc.wantStatus, tc.wantMessage)
			}
		})
	}
	// Every reason the operator reports has a verdict, from the conditions
	// the operator writes for it (controllers.ConditionsFor).
	for _, reason := range controllers.AllReasons {
		want := map[string]string{controllers.ReasonSynced: "Healthy", controllers.ReasonProgressing: "Progressing", controllers.ReasonSuspended: "Suspended"}[reason]
		if want == "" {
			want = "Degraded"
		}
		for _, stalled := range controllers.ReasonStalls[reason] {
			cs, observed := controllers.ConditionsFor(reason, stalled, 1)
			if got, _ := health(t, string(script), set(1, false, st(int(observed), conds(cs)...))); got != want {
				t.Errorf("%s (stalled %v): %s, want %s", reason, stalled, got, want)
			}
		}
		// And from a status written before Reconciling existed.
		if reason == controllers.ReasonSynced {
			continue
		}
		legacy := map[string]string{controllers.ReasonProgressing: "Progressing", controllers.ReasonSuspended: "Suspended"}[reason]
		if legacy == "" {
			legacy = "Degraded"
		}
		if got, _ := health(t, string(script), set(1, false, st(1, cond("Ready", "False", reason, "m", 1)))); got != legacy {
			t.Errorf("legacy Ready=False %s: %s, want %s", reason, got, legacy)
		}
	}
}

// webhook is an EverlyticSMSWebhook manifest.
func webhook(generation int, suspend bool, status string) string {
	s := `{"apiVersion":"everlytic.webhooks.dev/v1alpha1","kind":"EverlyticSMSWebhook",` +
		`"metadata":{"name":"x","namespace":"y","generation":` + itoa(generation) + `},` +
		`"spec":{"endpoint":"https://x.everlytic.net","credentialsRef":{"name":"c"},"url":"https://r.example.com/sms","eventTypes":["delivered"],` +
		`"suspend":` + map[bool]string{true: "true", false: "false"}[suspend] + `}`
	if status != "" {
		s += `,"status":` + status
	}
	return s + "}"
}

// everlyticStatus returns the status the operator writes (status.Set, the
// code the reconciler reports with) after each outcome in turn, the last
// for generation gen and the others for generation 1.
func everlyticStatus(gen int64, outcomes ...status.Outcome) string {
	var cs []metav1.Condition
	var observed int64
	for i, o := range outcomes {
		g := int64(1)
		if i == len(outcomes)-1 {
			g = gen
		}
		status.Set(&cs, &observed, g, o)
	}
	return st(int(observed), conds(cs)...)
}

// everlyticVerdict is what Argo CD must say of an EverlyticSMSWebhook whose
// condition carries a reason, stalled or not: written out here, not derived
// from the script, so that a script that mishandles a reason fails.
func everlyticVerdict(reason string) string {
	switch reason {
	case everlyticsms.ReasonSynced:
		return "Healthy"
	case everlyticsms.ReasonSuspended:
		return "Suspended"
	}
	return "Degraded"
}

func TestEverlyticHealth(t *testing.T) {
	script := readScript(t, "health.lua") // one script for both kinds
	synced := status.Outcome{Ready: true, Reason: everlyticsms.ReasonSynced, Message: "the webhook on Everlytic is as declared"}
	tests := []struct {
		name, manifest, wantStatus, wantMessage string
	}{
		{"no status yet", webhook(1, false, ""), "Progressing", "Waiting for the sendblue-operator"},
		{"no condition yet", webhook(1, false, st(0)), "Progressing", "generation 1"},
		{"ready and current", webhook(2, false, everlyticStatus(2, synced)), "Healthy", "Synced: the webhook on Everlytic is as declared"},
		{"ready, retrying a drift read", webhook(1, false, everlyticStatus(1, synced,
			status.Outcome{Transient: true, Reason: everlyticsms.ReasonAPIError, Message: "HTTP 503"})),
			"Healthy", "Synced: the webhook on Everlytic is as declared; retrying: APIError: HTTP 503"},
		{"ready for an older generation only", webhook(2, false, everlyticStatus(1, synced)), "Progressing", "generation 2"},
		{"a failed read of a new generation", webhook(2, false, everlyticStatus(2, synced,
			status.Outcome{Transient: true, Reason: everlyticsms.ReasonAPIError, Message: "HTTP 503"})),
			"Degraded", "APIError: HTTP 503"},
		{"stalled for an older generation only", webhook(2, false, everlyticStatus(1,
			status.Outcome{Stalled: true, Reason: everlyticsms.ReasonEndpointNotAllowed, Message: "not allowed"})),
			"Progressing", "generation 2"},
		{"a new generation stalls after a sync", webhook(2, false, everlyticStatus(2, synced,
			status.Outcome{Stalled: true, Reason: everlyticsms.ReasonRejected, Message: "Everlytic refused the webhook: url: invalid"})),
			"Degraded", "Rejected: Everlytic refused the webhook: url: invalid"},
		{"a new generation synced after a stall", webhook(2, false, everlyticStatus(2,
			status.Outcome{Stalled: true, Reason: everlyticsms.ReasonConflict, Message: "claimed"}, synced)),
			"Healthy", "Synced"},
		{"retried failure", webhook(1, false, everlyticStatus(1,
			status.Outcome{Reason: everlyticsms.ReasonSecretNotFound, Message: "Secret y/c not found"})),
			"Degraded", "SecretNotFound: Secret y/c not found"},
		{"suspended spec", webhook(1, true, everlyticStatus(1, synced)), "Suspended", "spec.suspend"},
		{"suspended spec, no status yet", webhook(1, true, ""), "Suspended", "spec.suspend"},
		{"suspended reason", webhook(1, false, everlyticStatus(1,
			status.Outcome{Stalled: true, Reason: everlyticsms.ReasonSuspended, Message: "spec.suspend is true"})),
			"Suspended", "Suspended: spec.suspend is true"},
		{"create pending, stalled", webhook(1, false, everlyticStatus(1,
			status.Outcome{Stalled: true, Reason: everlyticsms.ReasonCreatePending, Message: "2 webhooks match"})),
			"Degraded", "CreatePending: 2 webhooks match"},
		{"Ready=False alone", webhook(1, false, st(1, cond("Ready", "False", everlyticsms.ReasonWebhookNotFound, "gone", 1))),
			"Degraded", "WebhookNotFound: gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, message := health(t, script, tc.manifest)
			if got != tc.wantStatus || !strings.Contains(message, tc.wantMessage) {
				t.Errorf("got %s %q, want %s containing %q", got, message, tc.wantStatus, tc.wantMessage)
			}
		})
	}

	// Every reason the Everlytic controller reports, with Stalled as
	// everlyticsms.ReasonStalls allows, from the conditions status.Set
	// writes: on a new object, after a sync of an older generation, and
	// (Ready=False alone) without Reconciling or Stalled.
	reasons := make([]string, 0, len(everlyticsms.ReasonStalls))
	for r := range everlyticsms.ReasonStalls {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	if len(reasons) < 2 {
		t.Fatalf("everlyticsms.ReasonStalls holds %d reasons", len(reasons))
	}
	for _, reason := range reasons {
		want := everlyticVerdict(reason)
		for _, stalled := range everlyticsms.ReasonStalls[reason] {
			o := status.Outcome{Ready: reason == everlyticsms.ReasonSynced, Stalled: stalled, Reason: reason, Message: "m"}
			t.Run(reason+map[bool]string{true: " stalled", false: ""}[stalled], func(t *testing.T) {
				for name, manifest := range map[string]string{
					"new object":               webhook(1, false, everlyticStatus(1, o)),
					"after an older sync":      webhook(3, false, everlyticStatus(3, synced, o)),
					"after an older stall":     webhook(3, false, everlyticStatus(3, status.Outcome{Stalled: true, Reason: everlyticsms.ReasonInvalidSpec, Message: "old"}, o)),
					"new object, generation 4": webhook(4, false, everlyticStatus(4, o)),
				} {
					got, msg := health(t, script, manifest)
					if got != want {
						t.Errorf("%s: %s %q, want %s", name, got, msg, want)
					}
					if !strings.HasPrefix(msg, reason+": m") {
						t.Errorf("%s: message %q does not start with %q", name, msg, reason+": m")
					}
				}
				// The conditions of this reason, read for a newer
				// generation, say nothing about it yet.
				if got, _ := health(t, script, webhook(2, false, everlyticStatus(1, o))); got != "Progressing" {
					t.Errorf("conditions of generation 1 on generation 2: %s, want Progressing", got)
				}
			})
		}
		if reason == everlyticsms.ReasonSynced {
			continue
		}
		if got, _ := health(t, script, webhook(1, false, st(1, cond("Ready", "False", reason, "m", 1)))); got != want {
			t.Errorf("Ready=False %s alone: %s, want %s", reason, got, want)
		}
		// A failed read (Transient) keeps an object that was in line
		// Healthy, saying what is retried.
		if !slices.Contains(everlyticsms.ReasonStalls[reason], true) {
			got, msg := health(t, script, webhook(1, false, everlyticStatus(1, synced, status.Outcome{Transient: true, Reason: reason, Message: "m"})))
			if got != "Healthy" || !strings.Contains(msg, "retrying: "+reason+": m") {
				t.Errorf("Synced, then %s retried: %s %q, want Healthy, retrying", reason, got, msg)
			}
		}
	}
}

// The README of config/argocd names every reason of each kind, and the
// argocd-cm key of each script.
func TestReadmeCoversEveryReason(t *testing.T) {
	readme := readScript(t, "README.md")
	reasons := map[string]bool{}
	for r := range controllers.ReasonStalls {
		reasons[r] = true
	}
	for r := range everlyticsms.ReasonStalls {
		reasons[r] = true
	}
	delete(reasons, controllers.ReasonSynced)
	delete(reasons, controllers.ReasonSuspended)
	for r := range reasons {
		if !strings.Contains(readme, "`"+r+"`") {
			t.Errorf("config/argocd/README.md does not name the reason %s", r)
		}
	}
	for _, key := range []string{
		"resource.customizations.health.sendblue.webhooks.dev_SendblueWebhookSet",
		"resource.customizations.health.everlytic.webhooks.dev_EverlyticSMSWebhook",
	} {
		if !strings.Contains(readme, key) {
			t.Errorf("config/argocd/README.md does not name %s", key)
		}
	}
}
