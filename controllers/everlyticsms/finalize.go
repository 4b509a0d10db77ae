package everlyticsms

import (
	"context"
	"errors"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// EventLeftBehind (a Warning): the object was deleted and its webhook was
// left on Everlytic although deletionPolicy is Delete, because deleting it
// could not be done (credentials gone or refused, the call refused).
const EventLeftBehind = "WebhookLeftBehind"

// finalize deletes the webhook (deletionPolicy Delete) and releases the
// object. Only a failure that may pass (5xx, transport, 429) holds the
// object; one that will not (credentials gone or refused with none that
// worked before, endpoint not allowed) leaves the webhook behind, said where
// a person will see it: a webhook left behind is recoverable, a namespace
// that never goes away is not.
func (r *Reconciler) finalize(ctx context.Context, w *v1.EverlyticSMSWebhook) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(w, Finalizer) {
		return ctrl.Result{}, nil
	}
	if w.ShouldDeleteWebhook() && !w.Spec.Suspend {
		if err := r.deleteWebhook(ctx, w); err != nil {
			if !permanent(err) {
				return r.failed(ctx, w, err)
			}
			r.leftBehind(ctx, w, err)
		}
	}
	patch := client.MergeFrom(w.DeepCopy())
	controllerutil.RemoveFinalizer(w, Finalizer)
	r.Metrics.forget(client.ObjectKeyFromObject(w))
	r.lastCreds.forget(client.ObjectKeyFromObject(w))
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, w, patch))
}

// leftBehind says that the object's webhook stays on Everlytic: in the
// manager's log at error level and a metric, which a terminating namespace
// cannot refuse, besides a Warning event, which it does.
func (r *Reconciler) leftBehind(ctx context.Context, w *v1.EverlyticSMSWebhook, err error) {
	id := w.Status.WebhookID
	if id == "" {
		id = "(id unknown: a create was interrupted)"
	}
	reason := classify(err, r.Options).Reason
	r.Metrics.leftBehind.WithLabelValues(reason).Inc()
	ctrl.LoggerFrom(ctx).Error(err, "Webhook left on Everlytic although deletionPolicy is Delete: delete it there by hand",
		"webhookID", id, "endpoint", w.Spec.Endpoint, "reason", reason)
	r.Recorder.Eventf(w, nil, "Warning", EventLeftBehind, "Delete", "webhook %s was left on Everlytic: %s", id, err.Error())
}

// deleteClient returns the client a delete uses: the object's credentials,
// or, when they can no longer be read (the Secret deleted first, as a
// namespace's deletion may), the last ones Everlytic accepted for this
// object. The receiver's Secret plays no part in a delete.
func (r *Reconciler) deleteClient(ctx context.Context, w *v1.EverlyticSMSWebhook) (API, inputs, error) {
	if err := r.checkEndpoint(w); err != nil {
		return nil, inputs{}, err
	}
	var in inputs
	creds, err := r.secrets.credentials(ctx, w)
	var input *inputError
	switch {
	case errors.As(err, &input):
		last, ok := r.lastCreds.get(w)
		if !ok {
			return nil, in, err
		}
		ctrl.LoggerFrom(ctx).Info("Deleting the webhook with the last credentials that worked", "reason", input.Reason)
		in = last
	case err != nil:
		return nil, in, err
	default:
		in.creds = creds
	}
	api, err := r.connect(w, &in)
	return api, in, err
}

// deleteWebhook deletes the object's webhook; 404 counts as done. An
// interrupted create's webhook is found first (findLost) so that it is not
// left behind.
func (r *Reconciler) deleteWebhook(ctx context.Context, w *v1.EverlyticSMSWebhook) error {
	id := w.Status.WebhookID
	if id == "" && w.Status.CreatePending == nil {
		return nil // nothing was created
	}
	api, in, err := r.deleteClient(ctx, w)
	if err != nil {
		return err
	}
	if err := r.checkClaims(ctx, w); err != nil {
		return err
	}
	release, ok := r.gate.enter(normalEndpoint(string(w.Spec.Endpoint)), in.creds.Username)
	if !ok {
		return r.busy()
	}
	defer release()
	if id == "" {
		if id, err = r.findLost(ctx, w, api); err != nil {
			return err
		}
		if id == "" {
			// Released only once a second list agrees.
			return r.confirmAbsent(ctx, w)
		}
	}
	err = api.Delete(ctx, id)
	var nf *everlytic.NotFoundError
	if errors.As(err, &nf) && nf.StatusCode == 404 {
		return nil
	}
	if err == nil {
		r.Metrics.writes.WithLabelValues("delete").Inc()
		r.Recorder.Eventf(w, nil, "Normal", EventDeleted, "Delete", "deleted webhook %s", id)
	}
	return err
}

// permanent says whether a failure will repeat unchanged.
func permanent(err error) bool {
	var (
		input *inputError
		stall *stallError
	)
	if errors.As(err, &input) || errors.As(err, &stall) {
		return true
	}
	var rateLimited *everlytic.RateLimitedError
	return refused(err) && !errors.As(err, &rateLimited)
}
