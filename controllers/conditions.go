package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
)

// Condition types, after kstatus and the Flux convention (fluxcd/pkg
// apis/meta):
//   - Ready is the summary (kubectl wait --for=condition=Ready): True when the
//     account held this generation at the last sync, False (or Unknown while
//     a new generation waits for its first sync) otherwise.
//   - Reconciling, present only when True: a sync of this generation is
//     under way or being retried; it will progress on its own.
//   - Stalled, present only when True: nothing will progress without a
//     change from the user (the set, its Secrets, the account).
//
// status.observedGeneration is the generation fully handled: synced or
// stalled. While a generation waits or is retried it stays behind, so kstatus
// reads InProgress whether or not it falls back to Ready.
const (
	ConditionReady       = status.ConditionReady
	ConditionReconciling = status.ConditionReconciling
	ConditionStalled     = status.ConditionStalled
)

// Condition reasons. Every Ready condition carries one of these.
const (
	ReasonSynced              = "Synced"
	ReasonProgressing         = "Progressing"
	ReasonCredentialsNotFound = "CredentialsNotFound"
	ReasonSecretNotFound      = "SecretNotFound"
	ReasonUnauthorized        = "Unauthorized"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonConflict            = "Conflict"
	ReasonRateLimited         = "RateLimited"
	ReasonAPIError            = "APIError"
	ReasonSuspended           = "Suspended"
	ReasonDriftDetected       = "DriftDetected"
	ReasonIncompleteRead      = "IncompleteRead"
	ReasonWriteMismatch       = "WriteMismatch"
	ReasonAccountTooLarge     = "AccountTooLarge"
	ReasonAccountChanged      = "AccountChanged"
	ReasonSecretNotAllowed    = "SecretNotAllowed"
)

// AnnotationAcceptAccount, set to the account id a set's credentials now
// reach, accepts that the set moves to that account.
const AnnotationAcceptAccount = "sendblue.webhooks.dev/accept-account"

// Event reasons besides the failure reasons above (sent as Warnings).
const (
	EventApplied        = "Applied"
	EventDriftCorrected = "DriftCorrected"
	// EventWebhookVanished (a Warning): a webhook this set applied was
	// removed from the account by someone else; Sendblue itself deletes a
	// webhook whose receiver answers 410 Gone.
	EventWebhookVanished = "WebhookVanished"
	// EventLeftBehind (a Warning): the set was deleted with deletionPolicy
	// Delete and left webhooks or secrets on the account, because another
	// set holds them or its credentials could not be used. Also logged at
	// error level and counted (sendblue_webhooks_left_behind_total): a
	// terminating namespace refuses events.
	EventLeftBehind = "WebhooksLeftBehind"
)

// AnnotationRequestedAt, set to any new value (a timestamp, by convention),
// asks for a sync of the set's account now; status.lastHandledReconcileAt
// echoes it once a sync handled it. It is Flux's annotation, so that
// `flux reconcile`-style tooling and scripts work unchanged.
const AnnotationRequestedAt = "reconcile.fluxcd.io/requestedAt"

// AllReasons lists the Ready reasons, for metrics.
var AllReasons = []string{
	ReasonSynced, ReasonProgressing, ReasonCredentialsNotFound, ReasonSecretNotFound,
	ReasonUnauthorized, ReasonInvalidSpec, ReasonConflict, ReasonRateLimited,
	ReasonAPIError, ReasonSuspended, ReasonDriftDetected, ReasonIncompleteRead,
	ReasonWriteMismatch, ReasonAccountTooLarge, ReasonAccountChanged, ReasonSecretNotAllowed,
}

// ReasonStalls says whether each reason comes with Stalled=True: {false},
// {true}, or either, depending on the error ({false, true}: APIError stalls
// for a refused request, not for a 5xx; WriteMismatch stalls once repeated).
// A stalled reason is kstatus Failed, Synced is Current, the others
// InProgress. The envtest suite holds every set it reads back to this.
var ReasonStalls = map[string][]bool{
	ReasonSynced:              {false},
	ReasonProgressing:         {false},
	ReasonCredentialsNotFound: {false},
	ReasonSecretNotFound:      {false},
	ReasonUnauthorized:        {true},
	ReasonInvalidSpec:         {true},
	ReasonConflict:            {true},
	ReasonRateLimited:         {false},
	ReasonAPIError:            {false, true},
	ReasonSuspended:           {true},
	ReasonDriftDetected:       {true},
	ReasonIncompleteRead:      {false},
	ReasonWriteMismatch:       {false, true},
	ReasonAccountTooLarge:     {true},
	ReasonAccountChanged:      {true},
	ReasonSecretNotAllowed:    {true},
}

// ConditionsFor returns the conditions and status.observedGeneration the
// operator writes on a new set of the given generation for a reason (for
// the Argo CD health check's tests and the README's table).
func ConditionsFor(reason string, stalled bool, generation int64) ([]metav1.Condition, int64) {
	s := &v1.SendblueWebhookSet{}
	s.Generation = generation
	setConditions(s, outcome{ready: reason == ReasonSynced, stalled: stalled, reason: reason, message: "m"})
	return s.Status.Conditions, s.Status.ObservedGeneration
}
