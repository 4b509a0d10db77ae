package controllers

// Condition types, kstatus-compatible: Ready is the summary (kubectl wait
// --for=condition=Ready), Stalled says the controller cannot make progress
// without a change from the user.
const (
	ConditionReady   = "Ready"
	ConditionStalled = "Stalled"
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
)

// AllReasons lists the Ready reasons, for metrics.
var AllReasons = []string{
	ReasonSynced, ReasonProgressing, ReasonCredentialsNotFound, ReasonSecretNotFound,
	ReasonUnauthorized, ReasonInvalidSpec, ReasonConflict, ReasonRateLimited,
	ReasonAPIError, ReasonSuspended, ReasonDriftDetected, ReasonIncompleteRead,
	ReasonWriteMismatch, ReasonAccountTooLarge, ReasonAccountChanged, ReasonSecretNotAllowed,
}
