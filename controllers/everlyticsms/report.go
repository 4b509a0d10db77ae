package everlyticsms

import (
	"context"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
)

// report writes status (only if it changed), the events of what the sync
// did, and a Warning when the reason changes to a failure.
func (r *Reconciler) report(ctx context.Context, w *v1.EverlyticSMSWebhook, o outcome) error {
	before := w.DeepCopy()
	st := &w.Status
	if ob := o.observed; ob != nil {
		r.events(w, ob)
		st.WebhookID, st.Endpoint, st.AccountID = ob.id, normalEndpoint(string(w.Spec.Endpoint)), ob.account
		st.CreatePending = nil
		st.Enabled, st.DriftDetection, st.ReceiverAuthRevision = ob.status, ob.mode, ob.authRevision
	}
	if v, ok := w.Annotations[AnnotationRequestedAt]; ok {
		st.LastHandledReconcileAt = v
	}
	prev := status.Explaining(st.Conditions, w.Generation)
	o.Message = status.Bound(o.Message)
	changed := prev == nil || prev.Reason != o.Reason || prev.Message != o.Message
	status.Set(&st.Conditions, &st.ObservedGeneration, w.Generation, o.Outcome)
	r.Metrics.setReason(w, o.Reason)
	if !o.Ready && changed && o.Reason != ReasonSuspended {
		r.Recorder.Eventf(w, nil, "Warning", o.Reason, "Sync", "%s", o.Message)
	}
	meant := w.Status.DeepCopy()
	same := equality.Semantic.DeepEqual(before.Status, w.Status)
	if same && r.reported.other(w, o.Reason) {
		// The cache's status is older than what this process reported
		// last (a failure a retry has since resolved, written while the
		// watch was down): send the conditions whatever the cache says,
		// or the stale condition would stay until the next interval.
		before.Status.Conditions = nil
		same = false
	}
	if !same {
		if err := r.Client.Status().Patch(ctx, w, client.MergeFrom(before)); err != nil {
			r.reported.forget(client.ObjectKeyFromObject(w))
			return client.IgnoreNotFound(err)
		}
	}
	r.reported.set(w, o.Reason)
	return client.IgnoreNotFound(r.mirrorIdentity(ctx, w, meant))
}

// events says what a sync did to the webhook.
func (r *Reconciler) events(w *v1.EverlyticSMSWebhook, ob *observed) {
	switch {
	case ob.created:
		r.Recorder.Eventf(w, nil, "Normal", EventCreated, "Sync", "created webhook %s", ob.id)
	case ob.recreated:
		r.Recorder.Eventf(w, nil, "Normal", EventCreated, "Sync", "created webhook %s in place of the one deleted outside the operator", ob.id)
	case ob.adopted && w.Status.WebhookID == "":
		r.Recorder.Eventf(w, nil, "Normal", EventAdopted, "Sync", "adopted webhook %s", ob.id)
	}
	if len(ob.corrected) == 0 || ob.created || ob.recreated {
		return
	}
	r.Metrics.corrections.WithLabelValues(strings.Join(ob.corrected, ",")).Inc()
	if w.Status.ObservedGeneration == w.Generation && !strings.Contains(strings.Join(ob.corrected, ","), "password") {
		r.Recorder.Eventf(w, nil, "Normal", EventDriftCorrected, "Sync", "webhook %s differed on Everlytic (%s): written again", ob.id, strings.Join(ob.corrected, ", "))
		return
	}
	r.Recorder.Eventf(w, nil, "Normal", EventUpdated, "Sync", "updated webhook %s (%s)", ob.id, strings.Join(ob.corrected, ", "))
}

// reportedReasons is the reason this process last reported for each
// object's generation: a report whose status the (possibly older) cache
// already shows is written anyway when it differs from that.
type reportedReasons struct {
	mu sync.Mutex
	m  map[types.NamespacedName]reportedReason
}

type reportedReason struct {
	uid        types.UID
	generation int64
	reason     string
}

func (r *reportedReasons) set(w *v1.EverlyticSMSWebhook, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[types.NamespacedName]reportedReason{}
	}
	r.m[client.ObjectKeyFromObject(w)] = reportedReason{w.UID, w.Generation, reason}
}

// other reports whether this process last reported another reason for the
// object's generation.
func (r *reportedReasons) other(w *v1.EverlyticSMSWebhook, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, ok := r.m[client.ObjectKeyFromObject(w)]
	return ok && rep.uid == w.UID && rep.generation == w.Generation && rep.reason != reason
}

func (r *reportedReasons) forget(k types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, k)
}
