package everlyticsms

import (
	"errors"
	"fmt"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// stallError is an outcome decided during a sync that needs a change from
// the user (or says why nothing is written); it is reported as is.
type stallError struct {
	reason, message string
	stall           bool
}

func (e *stallError) Error() string { return e.message }

// waitError: nothing failed, but the sync must look again after a pause
// before it may act. It is reported as Reconciling with its reason and
// requeued after the pause: never slept on inside Reconcile.
type waitError struct {
	reason, message string
	after           time.Duration
}

func (e *waitError) Error() string { return e.message }

// verdict is how a failed sync is reported and retried.
type verdict struct {
	outcome
	// retry is when to try again; zero means the workqueue's exponential
	// backoff (the error is returned to controller-runtime).
	retry time.Duration
}

// classify turns an error of a sync into a condition and a retry schedule.
// It is pure: a table test covers every class.
func classify(err error, o Options) verdict {
	var (
		input        *inputError
		stall        *stallError
		wait         *waitError
		unauthorized *everlytic.UnauthorizedError
		badRequest   *everlytic.BadRequestError
		rateLimited  *everlytic.RateLimitedError
		server       *everlytic.ServerError
	)
	switch {
	case errors.As(err, &input):
		if input.stalls() {
			return verdict{stalled(input.Reason, input.Message), o.StalledRetry}
		}
		// The Secret is watched: its arrival triggers a sync.
		return verdict{waiting(input.Reason, input.Message), o.StalledRetry}
	case errors.As(err, &stall):
		if stall.stall {
			return verdict{stalled(stall.reason, stall.message), o.StalledRetry}
		}
		return verdict{waiting(stall.reason, stall.message), o.StalledRetry}
	case errors.As(err, &wait):
		return verdict{waiting(wait.reason, wait.message), wait.after}
	case errors.As(err, &unauthorized):
		return verdict{stalled(ReasonUnauthorized, fmt.Sprintf(
			"Everlytic refused the credentials (HTTP %d %s); check the username and API key in spec.credentialsRef", unauthorized.StatusCode, unauthorized.Message)), o.StalledRetry}
	case errors.As(err, &badRequest):
		msg := "Everlytic refused the webhook: " + badRequest.Message
		if f := badRequest.FieldSummary(); f != "" {
			msg = "Everlytic refused the webhook: " + f
		}
		return verdict{stalled(ReasonRejected, msg), o.StalledRetry}
	}
	// Retried on their own. A failed read keeps an object that was in line
	// Ready (Reconciling says why).
	var v verdict
	switch {
	case errors.As(err, &rateLimited):
		wait := rateLimited.RetryAfter
		if wait <= 0 {
			wait = o.RateLimitRetry
		}
		v = verdict{waiting(ReasonRateLimited, fmt.Sprintf("Everlytic is rate limiting; retrying in %s", wait.Round(time.Second))), wait}
	case errors.As(err, &server) && server.RetryAfter > 0:
		v = verdict{waiting(ReasonAPIError, err.Error()), server.RetryAfter}
	default:
		// Transport, 5xx, protocol, the kube-apiserver: exponential backoff.
		v = verdict{waiting(ReasonAPIError, err.Error()), 0}
	}
	var read *readFailure
	v.Transient = errors.As(err, &read)
	return v
}

// readFailure: reading the webhook failed; nothing was written.
type readFailure struct{ err error }

func (e *readFailure) Error() string { return e.err.Error() }
func (e *readFailure) Unwrap() error { return e.err }
