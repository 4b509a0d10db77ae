package everlyticsms

import "github.com/sendblue-operator/sendblue-operator/controllers/status"

// Finalizer lets an object delete its webhook before it goes.
const Finalizer = "everlytic.webhooks.dev/finalizer"

// Ready reasons. The reason of Reconciling or Stalled, else of Ready, says
// why an object is in its state.
const (
	ReasonSynced              = "Synced"
	ReasonCredentialsNotFound = "CredentialsNotFound"
	ReasonSecretNotFound      = "SecretNotFound"
	ReasonSecretNotAllowed    = "SecretNotAllowed"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonUnauthorized        = "Unauthorized"
	ReasonRejected            = "Rejected"
	ReasonRateLimited         = "RateLimited"
	ReasonAPIError            = "APIError"
	ReasonSuspended           = "Suspended"
	ReasonWebhookNotFound     = "WebhookNotFound"
	ReasonCreatePending       = "CreatePending"
	ReasonEndpointNotAllowed  = "EndpointNotAllowed"
	ReasonEndpointChanged     = "EndpointChanged"
	ReasonConflict            = "Conflict"
	ReasonAccountChanged      = "AccountChanged"
)

// ReasonStalls says whether each reason comes with Stalled=True ({false},
// {true}, or either). The envtest suite holds every object it reads back to
// this, through kstatus.
var ReasonStalls = map[string][]bool{
	ReasonSynced:              {false},
	ReasonCredentialsNotFound: {false},
	ReasonSecretNotFound:      {false},
	ReasonSecretNotAllowed:    {true},
	ReasonInvalidSpec:         {true},
	ReasonUnauthorized:        {true},
	ReasonRejected:            {true},
	ReasonRateLimited:         {false},
	ReasonAPIError:            {false},
	ReasonSuspended:           {true},
	ReasonWebhookNotFound:     {true},
	ReasonCreatePending:       {false, true},
	ReasonEndpointNotAllowed:  {true},
	ReasonEndpointChanged:     {true},
	ReasonConflict:            {true},
	ReasonAccountChanged:      {true},
}

// AllReasons lists the reasons, for metrics.
func AllReasons() []string {
	out := make([]string, 0, len(ReasonStalls))
	for r := range ReasonStalls {
		out = append(out, r)
	}
	return out
}

// Event reasons besides the failure reasons above (sent as Warnings).
const (
	EventCreated        = "Created"
	EventAdopted        = "Adopted"
	EventUpdated        = "Updated"
	EventDriftCorrected = "DriftCorrected"
	EventDeleted        = "Deleted"
	// EventRecreated (a Warning): the webhook was deleted outside the
	// operator and created again.
	EventRecreated = "WebhookRecreated"
)

// AnnotationRequestedAt, set to a new value, asks for a sync now (Flux's
// annotation); status.lastHandledReconcileAt echoes it.
const AnnotationRequestedAt = "reconcile.fluxcd.io/requestedAt"

// outcome is what a reconcile reports.
type outcome struct {
	status.Outcome
	// observed is what Everlytic held after the sync (nil: unknown).
	observed *observed
}

func ready(msg string, o *observed) outcome {
	return outcome{Outcome: status.Outcome{Ready: true, Reason: ReasonSynced, Message: msg}, observed: o}
}

func stalled(reason, msg string) outcome {
	return outcome{Outcome: status.Outcome{Stalled: true, Reason: reason, Message: msg}}
}

func waiting(reason, msg string) outcome {
	return outcome{Outcome: status.Outcome{Reason: reason, Message: msg}}
}
