package everlyticsms

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
)

type nopRecorder struct{}

func (nopRecorder) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...interface{}) {
}

// A retry that succeeds while the cache still shows the status from before
// the failure (the watch was down when the failure was written) still
// clears the failure: the chaos suite found a Reconciling=True APIError left
// on an object for a whole interval after its retry had synced.
func TestASuccessReportedFromAStaleViewClearsTheFailure(t *testing.T) {
	scheme := runtime.NewScheme()
	utilruntime.Must(v1.AddToScheme(scheme))
	w := &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns", UID: "u1", Generation: 1}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(w).WithStatusSubresource(w).Build()
	r := &Reconciler{Client: c, Recorder: nopRecorder{}, Metrics: NewMetrics(prometheus.NewRegistry())}
	ctx := context.Background()
	get := func() *v1.EverlyticSMSWebhook {
		o := &v1.EverlyticSMSWebhook{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(w), o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if err := r.report(ctx, get(), ready("in line", nil)); err != nil {
		t.Fatal(err)
	}
	stale := get() // Synced, as a cache that misses what follows shows it
	if err := r.report(ctx, get(), outcome{Outcome: status.Outcome{Transient: true, Reason: ReasonAPIError, Message: "GET: context deadline exceeded"}}); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(get().Status.Conditions, status.ConditionReconciling) {
		t.Fatal("the failure was not written")
	}
	if err := r.report(ctx, stale, ready("in line", nil)); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(get().Status.Conditions, status.ConditionReconciling); c != nil {
		t.Errorf("Reconciling %s (%s) stayed after a successful retry reported from a stale view", c.Status, c.Reason)
	}
}
