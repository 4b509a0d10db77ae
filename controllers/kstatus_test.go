package controllers

import (
	"flag"
	"fmt"
	"sort"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
)

// kstatusSeen records the reasons whose sets the suite read back and held
// to kstatus.
var kstatusSeen sync.Map

// checkKstatus holds a set as read from the kube-apiserver (unstructured, as
// Flux, Argo CD and kstatus read it) to the conditions contract: cli-utils'
// status.Compute says Current for Synced, Failed for a stalled reason and
// InProgress otherwise (no status yet included), and says the same with the
// Ready condition removed (consumers that do not fall back on Ready).
func checkKstatus(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	if u.GetDeletionTimestamp() != nil {
		return
	}
	var s v1.SendblueWebhookSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
		t.Fatal(err)
	}
	want, reason := status.InProgressStatus, "(none yet)"
	stalled := false
	for _, c := range s.Status.Conditions {
		if c.Type == ConditionStalled && c.Status == metav1.ConditionTrue && c.ObservedGeneration == s.Generation {
			stalled = true
		}
	}
	if c := explaining(s.Status.Conditions, s.Generation); c != nil {
		reason = c.Reason
		allowed, known := ReasonStalls[reason]
		if !known {
			t.Errorf("%s/%s: reason %q is not in ReasonStalls", s.Namespace, s.Name, reason)
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == stalled
		}
		if !ok {
			t.Errorf("%s/%s: reason %s with Stalled=%v, ReasonStalls says %v", s.Namespace, s.Name, reason, stalled, allowed)
		}
		switch {
		case stalled:
			want = status.FailedStatus
		case reason == ReasonSynced:
			want = status.CurrentStatus
		}
		kstatusSeen.Store(reason, true)
	}
	withReady, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	stripped := u.DeepCopy()
	conds, _, _ := unstructured.NestedSlice(stripped.Object, "status", "conditions")
	var kept []interface{}
	for _, c := range conds {
		if c.(map[string]interface{})["type"] != ConditionReady {
			kept = append(kept, c)
		}
	}
	if conds != nil {
		if err := unstructured.SetNestedSlice(stripped.Object, kept, "status", "conditions"); err != nil {
			t.Fatal(err)
		}
	}
	withoutReady, err := status.Compute(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if withReady.Status != want || withoutReady.Status != want {
		t.Errorf("%s/%s (generation %d, reason %s): kstatus %s (%s), without Ready %s (%s), want %s; status %+v",
			s.Namespace, s.Name, s.Generation, reason, withReady.Status, withReady.Message, withoutReady.Status, withoutReady.Message, want, u.Object["status"])
	}
}

// kstatusCoverage fails the run when the whole suite ran and some reason was
// never read back and checked.
func kstatusCoverage() error {
	if f := flag.Lookup("test.run"); f == nil || f.Value.String() != "" || testing.Short() {
		return nil
	}
	var missing []string
	for _, r := range AllReasons {
		if _, ok := kstatusSeen.Load(r); !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("no test read back a set with reason %v and held it to kstatus (checkKstatus)", missing)
}
