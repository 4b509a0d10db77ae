package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
)

func condition(t, status, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionStatus(status), Reason: reason}
}

func sbws(ns, name string, status v1.SendblueWebhookSetStatus) v1.SendblueWebhookSet {
	return v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: status}
}

var statusSets = []v1.SendblueWebhookSet{
	sbws("team-b", "messaging", v1.SendblueWebhookSetStatus{Account: "…0001", WebhookCount: 2,
		Conditions: []metav1.Condition{condition("Ready", "True", "Synced")},
		Plan:       []v1.PlannedChange{{Action: v1.ActionAdd, Type: "receive", URL: "https://app.example.com/r"}, {Action: v1.ActionUpdate, Type: "globalSecret"}}}),
	sbws("team-a", "stuck", v1.SendblueWebhookSetStatus{Account: "…0002", WebhookCount: 1,
		Conditions: []metav1.Condition{condition("Ready", "False", "Unauthorized"), condition("Stalled", "True", "Unauthorized")}}),
	sbws("team-a", "retrying", v1.SendblueWebhookSetStatus{Account: "…0001", WebhookCount: 5,
		Conditions: []metav1.Condition{condition("Ready", "True", "Synced"), condition("Reconciling", "True", "RateLimited")},
		Plan: []v1.PlannedChange{
			{Action: v1.ActionRemove, Type: "call_log", URL: "https://a.example.com/\x1b[2Jx y"}, {Action: v1.ActionAdd, Type: "call_log", URL: "https://b.example.com"},
			{Action: v1.ActionAdd, Type: "outbound", URL: "https://c.example.com"}, {Action: v1.ActionAdd, Type: "receive", URL: "https://d.example.com"},
			{Action: v1.ActionRemove, Type: "receive", URL: "https://e.example.com"}}}),
	sbws("team-a", "new", v1.SendblueWebhookSetStatus{}),
}

func TestStatusTable(t *testing.T) {
	var b strings.Builder
	if err := renderStatus(&b, statusSets); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE   NAME        ACCOUNT   READY   REASON         WEBHOOKS   PLAN
team-a      new         -         -       -              0          -
team-a      retrying    …0001     True    RateLimited    5          remove call_log "https://a.example.com/\u001b[2Jx y"; add call_log https://b.example.com; add outbound https://c.example.com; +2 more
team-a      stuck       …0002     False   Unauthorized   1          -
team-b      messaging   …0001     True    Synced         2          add receive https://app.example.com/r; update globalSecret
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestReadinessTakesTheReasonOfWhatIsTrue(t *testing.T) {
	for _, tc := range []struct {
		name              string
		conds             []metav1.Condition
		ready, wantReason string
	}{
		{"no status yet", nil, "-", "-"},
		{"synced", []metav1.Condition{condition("Ready", "True", "Synced")}, "True", "Synced"},
		{"a converged set retrying a read", []metav1.Condition{condition("Ready", "True", "Synced"), condition("Reconciling", "True", "APIError")}, "True", "APIError"},
		{"stalled over reconciling", []metav1.Condition{condition("Reconciling", "True", "WriteMismatch"), condition("Stalled", "True", "WriteMismatch2"), condition("Ready", "False", "X")}, "False", "WriteMismatch2"},
		{"a false Stalled does not count", []metav1.Condition{condition("Ready", "True", "Synced"), condition("Stalled", "False", "Old")}, "True", "Synced"},
	} {
		ready, reason := readiness(tc.conds)
		if ready != tc.ready || reason != tc.wantReason {
			t.Errorf("%s: got %s %s, want %s %s", tc.name, ready, reason, tc.ready, tc.wantReason)
		}
	}
}

func TestStatusReadsTheNamespaceOrAll(t *testing.T) {
	c := &fakeCluster{sets: statusSets}
	got := cli(t, nil, c, "status", "-n", "team-b")
	if got.code != 0 || strings.Count(got.stdout, "\n") != 2 || !strings.Contains(got.stdout, "messaging") {
		t.Errorf("-n team-b: exit %d, stdout:\n%s\nstderr %s", got.code, got.stdout, got.stderr)
	}
	got = cli(t, nil, c, "status", "--all-namespaces")
	if got.code != 0 || strings.Count(got.stdout, "\n") != 5 {
		t.Errorf("-A: exit %d, stdout:\n%s\nstderr %s", got.code, got.stdout, got.stderr)
	}
	got = cli(t, nil, c, "status", "-n", "empty")
	if got.code != 0 || got.stdout != "" || got.stderr != "No SendblueWebhookSets found in namespace empty.\n" {
		t.Errorf("empty namespace: exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
	got = cli(t, nil, c, "status", "-A", "-n", "team-a")
	if got.code != 2 {
		t.Errorf("-A with -n: exit %d, stderr %q", got.code, got.stderr)
	}
	c.err = &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "sendblue.webhooks.dev", Kind: "SendblueWebhookSet"}}
	got = cli(t, nil, c, "status", "-A")
	if got.code != 1 || !strings.Contains(got.stderr, "install the CRD") {
		t.Errorf("no CRD: exit %d, stderr %q", got.code, got.stderr)
	}
	c.err = errors.New("connection refused")
	got = cli(t, nil, c, "status", "-A")
	if got.code != 1 || !strings.Contains(got.stderr, "listing SendblueWebhookSets: connection refused") {
		t.Errorf("an error: exit %d, stderr %q", got.code, got.stderr)
	}
}
