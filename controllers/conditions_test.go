package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

// requestSync sets the annotation alone (a merge patch: an update of the
// whole object would also rewrite the spec's defaulted values).
func requestSync(t *testing.T, ns, name, value string) {
	t.Helper()
	s := &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, AnnotationRequestedAt, value)
	if err := testClient.Patch(context.Background(), s, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
	if s.Generation != s.Status.ObservedGeneration {
		t.Fatalf("the annotation changed the generation to %d", s.Generation)
	}
}

// A 503 on a drift read of a converged set keeps it Ready (the last read
// showed the account in line) and says, in Reconciling, that a retry is
// under way; once the read works, Reconciling goes. A failed write makes
// it not Ready (TestFailureReasonsAreReported).
func TestAFailedDriftReadKeepsAConvergedSetReady(t *testing.T) {
	op := startOperator(t, 1, Options{IntervalOverride: 10 * time.Minute})
	ns := op.ns[0]
	op.account(t, ns, "creds", "key-transient")
	mustCreate(t, newSet(ns, "app", "creds", "", v1.Webhooks{Receive: hooks("https://t.example.com")}))
	waitReason(t, ns, "app", ReasonSynced)

	op.emu.InjectFault(sendbluetest.Fault{Account: "key-transient", Method: "GET", Status: 503, Message: "maintenance", Count: 2})
	requestSync(t, ns, "app", "1")
	waitFor(t, "Reconciling=True APIError beside Ready=True", func() (bool, string) {
		s := get(t, ns, "app")
		rec := meta.FindStatusCondition(s.Status.Conditions, ConditionReconciling)
		ready := meta.FindStatusCondition(s.Status.Conditions, ConditionReady)
		ok := rec != nil && rec.Status == metav1.ConditionTrue && rec.Reason == ReasonAPIError && strings.Contains(rec.Message, "maintenance") &&
			ready != nil && ready.Status == metav1.ConditionTrue && ready.Reason == ReasonSynced
		return ok, strings.TrimSpace(strings.Join([]string{condString(rec), condString(ready)}, " / "))
	})
	waitFor(t, "Reconciling gone once a read works, the request echoed", func() (bool, string) {
		s := get(t, ns, "app")
		rec := meta.FindStatusCondition(s.Status.Conditions, ConditionReconciling)
		return rec == nil && s.Status.LastHandledReconcileAt == "1", condString(rec) + " handled=" + s.Status.LastHandledReconcileAt
	})
	waitEvent(t, ns, "app", ReasonAPIError)
}

func condString(c *metav1.Condition) string {
	if c == nil {
		return "<none>"
	}
	return c.Type + "=" + string(c.Status) + " " + c.Reason + ": " + c.Message
}

// reconcile.fluxcd.io/requestedAt reads the account now, not at the next
// interval (10 minutes here), and is echoed in status.
func TestRequestedAtSyncsNow(t *testing.T) {
	op := startOperator(t, 1, Options{IntervalOverride: 10 * time.Minute})
	ns := op.ns[0]
	op.account(t, ns, "creds", "key-requested")
	mustCreate(t, newSet(ns, "app", "creds", "", v1.Webhooks{Receive: hooks("https://r.example.com")}))
	waitReason(t, ns, "app", ReasonSynced)
	if err := op.emu.SetWebhooks("key-requested", full("receive", `[]`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if got := op.stored(t, "key-requested"); strings.Contains(got, "r.example.com") {
		t.Fatalf("corrected before the interval or the request: %s", got)
	}
	requestSync(t, ns, "app", "2026-11-26T10:00:00Z")
	op.waitStored(t, "key-requested", `{"receive":["https://r.example.com"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`)
	waitFor(t, "lastHandledReconcileAt", func() (bool, string) {
		s := get(t, ns, "app")
		return s.Status.LastHandledReconcileAt == "2026-11-26T10:00:00Z", s.Status.LastHandledReconcileAt
	})
	// The webhook this set applied vanished (as when its receiver answers
	// 410 Gone): the Warning names it and the cause, and it is counted.
	e := waitEvent(t, ns, "app", EventWebhookVanished)
	if !strings.Contains(e.Note, "https://r.example.com") || !strings.Contains(e.Note, "410 Gone") || e.Type != "Warning" {
		t.Errorf("event %s %q does not name the webhook and the 410 cause", e.Type, e.Note)
	}
	if got := testutil.ToFloat64(op.metrics.vanished.WithLabelValues("receive")); got != 1 {
		t.Errorf("sendblue_webhooks_vanished_total{type=receive} = %v, want 1", got)
	}
}
