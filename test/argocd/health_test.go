// Package argocd tests the Argo CD health check in config/argocd with
// gopher-lua, the Lua interpreter Argo CD embeds.
package argocd

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/sendblue-operator/sendblue-operator/controllers"
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

func TestHealth(t *testing.T) {
	script, err := os.ReadFile("../../config/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
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
			conds, observed := controllers.ConditionsFor(reason, stalled, 1)
			var cs []string
			for _, c := range conds {
				cs = append(cs, cond(c.Type, string(c.Status), c.Reason, c.Message, int(c.ObservedGeneration)))
			}
			if got, _ := health(t, string(script), set(1, false, st(int(observed), cs...))); got != want {
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
