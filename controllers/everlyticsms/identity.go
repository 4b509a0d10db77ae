package everlyticsms

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
)

// Annotations that keep, on the object's metadata, what identifies its
// webhook: status is not a backup, and a restore (Velero, a re-apply from
// Git of an exported object) keeps metadata but not status. As Crossplane's
// crossplane.io/external-name, they mirror status and are read only when
// status has lost them.
const (
	// AnnotationWebhookID mirrors status.webhookID.
	AnnotationWebhookID = "everlytic.webhooks.dev/webhook-id"
	// AnnotationAccountID mirrors status.accountID.
	AnnotationAccountID = "everlytic.webhooks.dev/account-id"
	// AnnotationCreatePending mirrors status.createPending (JSON), so that
	// a restore during an interrupted create looks for its webhook too.
	AnnotationCreatePending = "everlytic.webhooks.dev/create-pending"
)

var identityAnnotations = []string{AnnotationWebhookID, AnnotationAccountID, AnnotationCreatePending}

// identityOf is what the annotations should hold for w's status: nothing
// unless the object holds a webhook or a pending create.
func identityOf(w *v1.EverlyticSMSWebhook) (map[string]string, error) {
	return identityOfStatus(&w.Status)
}

func identityOfStatus(st *v1.EverlyticSMSWebhookStatus) (map[string]string, error) {
	out := map[string]string{}
	if st.WebhookID == "" && st.CreatePending == nil {
		return out, nil
	}
	if st.WebhookID != "" {
		out[AnnotationWebhookID] = st.WebhookID
	}
	if st.AccountID != "" {
		out[AnnotationAccountID] = st.AccountID
	}
	if p := st.CreatePending; p != nil {
		b, err := json.Marshal(v1.PendingCreate{Since: p.Since, URL: p.URL, Verb: p.Verb, EventTypes: p.EventTypes})
		if err != nil {
			return nil, err
		}
		out[AnnotationCreatePending] = string(b)
	}
	return out, nil
}

// mirrorIdentity writes the identity annotations so that they say what st,
// the status the caller meant to write, says; nothing is written when they
// already do. They are replaced, never removed: a status that holds no
// webhook is what a restore looks like, and the status a patch answers may
// be one the object lost meanwhile (the chaos suite found a status patch
// from a stale view answer a cleared status, whose mirror removed the
// annotations, and the next sync created a second webhook).
func (r *Reconciler) mirrorIdentity(ctx context.Context, w *v1.EverlyticSMSWebhook, st *v1.EverlyticSMSWebhookStatus) error {
	want, err := identityOfStatus(st)
	if err != nil {
		return err
	}
	if len(want) == 0 {
		return nil
	}
	have := map[string]string{}
	for _, k := range identityAnnotations {
		if v, ok := w.Annotations[k]; ok {
			have[k] = v
		}
	}
	if maps.Equal(have, want) {
		return nil
	}
	before := w.DeepCopy()
	if w.Annotations == nil {
		w.Annotations = map[string]string{}
	}
	for _, k := range identityAnnotations {
		delete(w.Annotations, k)
	}
	maps.Copy(w.Annotations, want)
	if err := r.Client.Patch(ctx, w, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("recording the webhook's identity in the object's annotations: %w", err)
	}
	return nil
}

// restoredStatus returns the status an object restored without its status
// had, from its identity annotations; false when there is nothing to
// restore (status holds a webhook, or the annotations name none).
func restoredStatus(w *v1.EverlyticSMSWebhook) (v1.EverlyticSMSWebhookStatus, bool) {
	st := w.Status
	if holdsWebhook(w) {
		return st, false
	}
	st.WebhookID = w.Annotations[AnnotationWebhookID]
	if raw := w.Annotations[AnnotationCreatePending]; raw != "" {
		var p v1.PendingCreate
		if json.Unmarshal([]byte(raw), &p) == nil && !p.Since.IsZero() && p.URL != "" {
			st.CreatePending = &p
		}
	}
	if st.WebhookID == "" && st.CreatePending == nil {
		return w.Status, false
	}
	st.AccountID = w.Annotations[AnnotationAccountID]
	st.Endpoint = normalEndpoint(string(w.Spec.Endpoint))
	return st, true
}

// restore gives an object restored without its status what identifies its
// webhook again, from its annotations, before anything else is decided: a
// webhook is never created a second time for it, nor left behind when it
// is deleted. A webhook id that is gone on Everlytic is then created again
// as any webhook deleted outside the operator.
func (r *Reconciler) restore(ctx context.Context, w *v1.EverlyticSMSWebhook) error {
	st, ok := restoredStatus(w)
	if !ok {
		return nil
	}
	before := w.DeepCopy()
	w.Status = st
	if err := r.Client.Status().Patch(ctx, w, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("restoring the webhook's identity from the object's annotations: %w", err)
	}
	what := "webhook " + st.WebhookID
	if st.WebhookID == "" {
		what = "an interrupted create"
	}
	r.Recorder.Eventf(w, nil, "Normal", EventRestored, "Sync", "status was empty: %s, recorded in the object's annotations, is managed again", what)
	return nil
}

// EventRestored: an object restored without its status found its webhook
// again through its annotations.
const EventRestored = "Restored"

// ignoreIdentityAnnotations is predicate.AnnotationChangedPredicate but for
// the identity annotations: the reconciler's own writes of them need no
// reconcile.
func ignoreIdentityAnnotations() predicate.Predicate {
	strip := func(a map[string]string) map[string]string {
		out := maps.Clone(a)
		for _, k := range identityAnnotations {
			delete(out, k)
		}
		return out
	}
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		return !maps.Equal(strip(e.ObjectOld.GetAnnotations()), strip(e.ObjectNew.GetAnnotations()))
	}}
}
