package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
)

// readError: the account was read, but the read cannot be trusted to be the
// whole account. Nothing is planned from it; it is read again after retry.
type readError struct {
	message string
	retry   time.Duration
}

func (e *readError) Error() string { return e.message }

// verdict is how a failed sync is reported and retried.
type verdict struct {
	outcome
	// retry is when to try again; zero means the workqueue's exponential
	// backoff (the error is returned to controller-runtime).
	retry time.Duration
}

// classify turns an error of a sync into a condition and a retry schedule.
// It is pure: a table test covers every class.
func classify(s *v1.SendblueWebhookSet, err error, o Options) verdict {
	var (
		unauthorized *sendblue.UnauthorizedError
		badRequest   *sendblue.BadRequestError
		rateLimited  *sendblue.RateLimitedError
		tooLarge     *sendblue.TooLargeError
		read         *readError
	)
	switch {
	case errors.As(err, &unauthorized):
		return verdict{outcome{reason: ReasonUnauthorized, stalled: true, message: fmt.Sprintf(
			"Sendblue refused the credentials in Secret %s (HTTP %d); check spec.credentialsRef", s.Spec.CredentialsRef.Name, unauthorized.StatusCode)}, o.UnauthorizedRetry}
	case errors.As(err, &rateLimited):
		wait := rateLimited.RetryAfter
		if wait <= 0 {
			wait = o.RateLimitRetry
		}
		return verdict{outcome{reason: ReasonRateLimited, message: fmt.Sprintf("Sendblue is rate limiting this account; retrying in %s", wait.Round(time.Second))}, wait}
	case errors.As(err, &tooLarge) && tooLarge.StatusCode != 0:
		// Sendblue's limit is now known to be lower: the next sync plans
		// within it, leaving out the sets that push the account over.
		return verdict{outcome{reason: ReasonAccountTooLarge, stalled: true, message: "not written: " + err.Error() +
			"; the account is planned again within a lower limit"}, time.Second}
	case errors.As(err, &tooLarge):
		// The account is over the limit before any set adds to it: nothing
		// changes that without a change outside the operator.
		return verdict{outcome{reason: ReasonAccountTooLarge, stalled: true, message: "not written: " + err.Error() +
			"; the account already holds more than may be written: remove webhooks from it"}, o.UnauthorizedRetry}
	case errors.As(err, &read):
		return verdict{outcome{reason: ReasonIncompleteRead, message: read.message}, read.retry}
	case errors.As(err, &badRequest):
		// The same request will be refused again.
		return verdict{outcome{reason: ReasonAPIError, stalled: true, message: err.Error()}, o.UnauthorizedRetry}
	}
	var server *sendblue.ServerError
	if errors.As(err, &server) && server.RetryAfter > 0 {
		return verdict{outcome{reason: ReasonAPIError, message: err.Error()}, server.RetryAfter}
	}
	// Transport, 5xx, 408, 409, protocol: the exponential backoff.
	return verdict{outcome{reason: ReasonAPIError, message: err.Error()}, 0}
}

// failed reports a failed sync on the set that ran it and schedules the retry.
func (r *SendblueWebhookSetReconciler) failed(ctx context.Context, s *v1.SendblueWebhookSet, err error) (ctrl.Result, error) {
	v := classify(s, err, r.Options)
	if rerr := r.report(ctx, s, v.outcome); rerr != nil {
		if v.retry == 0 {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, rerr
	}
	if v.retry == 0 {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: v.retry}, nil
}

// outcome is what a reconcile reports in status.
type outcome struct {
	ready      bool
	stalled    bool
	reason     string
	message    string
	account    string
	accountID  string
	plan       []v1.PlannedChange
	applied    []v1.AppliedWebhook
	setApplied bool
	synced     *metav1.Time
	// requeue asks for an earlier sync than the interval.
	requeue time.Duration
	// transient: a failure to read the account, retried on its own. A set
	// the account held at its last read stays Ready (with Reconciling
	// saying why a retry is under way): a 503 on a routine drift read does
	// not make it look broken.
	transient bool
}

// setConditions sets Ready, Reconciling and Stalled and
// status.observedGeneration for an outcome (see controllers/status).
func setConditions(s *v1.SendblueWebhookSet, o outcome) {
	status.Set(&s.Status.Conditions, &s.Status.ObservedGeneration, s.Generation, status.Outcome{
		Ready: o.ready, Stalled: o.stalled, Progressing: o.reason == ReasonProgressing,
		Transient: o.transient, Reason: o.reason, Message: o.message})
}

// explaining returns the condition that explains a set's state at its
// generation (see status.Explaining).
func explaining(conditions []metav1.Condition, generation int64) *metav1.Condition {
	return status.Explaining(conditions, generation)
}

// report writes status (only if it changed) and, when the reason changes to
// a failure, a Warning event.
func (r *SendblueWebhookSetReconciler) report(ctx context.Context, s *v1.SendblueWebhookSet, o outcome) error {
	before := s.DeepCopy()
	st := &s.Status
	st.WebhookCount = countWebhooks(&s.Spec.Webhooks)
	if o.account != "" {
		st.Account = o.account
	}
	if o.accountID != "" {
		st.AccountID = o.accountID
	}
	if o.synced != nil {
		st.Plan = o.plan
	}
	if o.setApplied {
		st.Applied = o.applied
	}
	if v, ok := s.Annotations[AnnotationRequestedAt]; ok && o.reason != ReasonProgressing {
		// Every report but Progressing is the outcome of handling the set
		// as it is, annotation included.
		st.LastHandledReconcileAt = v
	}
	prev := explaining(st.Conditions, s.Generation)
	o.message = status.Bound(o.message)
	changed := prev == nil || prev.Reason != o.reason || prev.Message != o.message
	setConditions(s, o)
	r.Metrics.setReason(s.Namespace+"/"+s.Name, o.reason)
	if !o.ready && changed && o.reason != ReasonSuspended && o.reason != ReasonProgressing {
		r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, o.reason, "Sync", "%s", o.message)
	}
	if equality.Semantic.DeepEqual(before.Status, s.Status) {
		if !r.reportedOther(s, o.reason) {
			r.setReported(s, o.reason)
			return nil
		}
		// The cache's status is older than what this process reported last:
		// send the conditions whatever the cache says.
		before.Status.Conditions = nil
	}
	// status.lastSyncTime is the last sync that changed the set's status:
	// a converged set is not written again (the account's freshness is a
	// metric, sendblue_account_oldest_read_timestamp_seconds).
	if o.synced != nil {
		st.LastSyncTime = o.synced
	}
	if err := r.Client.Status().Patch(ctx, s, client.MergeFrom(before)); err != nil {
		r.setReported(s, "") // unknown: the cache's status decides
		return client.IgnoreNotFound(err)
	}
	r.setReported(s, o.reason)
	return nil
}
