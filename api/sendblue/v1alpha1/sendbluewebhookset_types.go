package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Policy says what a SendblueWebhookSet may change on its account.
// +kubebuilder:validation:Enum=Merge;Exclusive;Observe
type Policy string

const (
	// PolicyMerge makes every declared webhook present with its declared
	// secret, removes webhooks this set applied earlier and no longer
	// declares, and touches nothing else.
	PolicyMerge Policy = "Merge"
	// PolicyExclusive makes the account exactly the union of the webhooks
	// declared by its Merge and Exclusive sets: every other webhook of a
	// known event type is removed.
	PolicyExclusive Policy = "Exclusive"
	// PolicyObserve never writes: status.plan shows what Merge would do.
	PolicyObserve Policy = "Observe"
)

// DeletionPolicy says what happens to the set's webhooks when it is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the webhooks this set applied, except
	// those another set still declares.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves them on the account.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// SecretName is the name of a Secret in the set's namespace: a DNS-1123
// subdomain (lowercase letters, digits, '-' and '.').
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="must be the name of a Secret in this namespace: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
type SecretName string

// SecretDataKey is a key of a Secret's data: letters, digits, '-', '_' and '.'.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="must be a Secret data key: letters, digits, '-', '_' and '.'"
type SecretDataKey string

// CredentialsReference names the Secret, in the set's namespace, that holds
// the Sendblue API credentials of the account.
type CredentialsReference struct {
	// name of the Secret in the same namespace as the SendblueWebhookSet.
	Name SecretName `json:"name"`

	// apiKeyIdKey is the key in the Secret that holds the API key id (sent
	// as the sb-api-key-id header).
	// +kubebuilder:default=apiKeyId
	// +optional
	APIKeyIDKey SecretDataKey `json:"apiKeyIdKey,omitempty"`

	// apiSecretKeyKey is the key in the Secret that holds the API secret key
	// (sent as the sb-api-secret-key header).
	// +kubebuilder:default=apiSecretKey
	// +optional
	APISecretKeyKey SecretDataKey `json:"apiSecretKeyKey,omitempty"`
}

// SecretKeyReference selects one key of a Secret in the set's namespace.
type SecretKeyReference struct {
	// name of the Secret in the same namespace as the SendblueWebhookSet.
	Name SecretName `json:"name"`

	// key in the Secret whose value is used.
	Key SecretDataKey `json:"key"`
}

// WebhookURL is where Sendblue delivers events: an absolute https:// URL of a
// public DNS host (Sendblue calls it from the internet), at most 1024
// characters, with no user info, fragment, whitespace or control character.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') && isURL(self)",message="must be an absolute https:// URL (Sendblue only calls HTTPS webhooks)"
// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="must not contain spaces (a trailing space?)"
// +kubebuilder:validation:XValidation:rule="!self.matches('^https://[^/?#]*@')",message="must not carry user info (user:password@): Sendblue would store and show it; put credentials in a secretRef"
// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="must not have a fragment (#...)"
// +kubebuilder:validation:XValidation:rule="self.matches('^https://([a-z0-9]([-a-z0-9]*[a-z0-9])?[.])+[a-z]([-a-z0-9]*[a-z0-9])?(:[0-9]+)?([/?].*)?$')",message="host must be a public DNS name in lowercase: no IP address, no single-label name"
// +kubebuilder:validation:XValidation:rule="!self.matches('^https://([^/?#]*[.])?(localhost|local|localdomain|internal|intranet|lan|svc|arpa|invalid|test|onion)(:[0-9]*)?([/?#].*)?$')",message="host must be reachable from the internet: not localhost or a local, internal, cluster (.svc, .cluster.local) or reserved name"
// +kubebuilder:validation:XValidation:rule="!self.matches('^https://[^/?#]*:') || self.matches('^https://[^/?#:]+:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?].*)?$')",message="port must be between 1 and 65535"
type WebhookURL string

// Webhook is one endpoint Sendblue calls for an event type.
type Webhook struct {
	// url Sendblue delivers the event to. Unique within its event type,
	// ignoring a trailing slash.
	URL WebhookURL `json:"url"`

	// secretRef selects the webhook's secret. Sendblue sends it to the
	// receiver in the sb-signing-secret header. Not allowed on contactCreated.
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`

	// sendblueNumbers restricts a receive webhook to messages received by
	// these Sendblue lines, in E.164 form (+15122164639: 7 to 15 digits).
	// Only allowed on receive; empty means every line.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^\+[1-9][0-9]{6,14}$`
	// +listType=set
	// +optional
	SendblueNumbers []string `json:"sendblueNumbers,omitempty"`
}

// ReceiveWebhookList is the receive webhooks: at most 10, each URL once (a
// trailing slash does not make another URL).
// +listType=map
// +listMapKey=url
// +kubebuilder:validation:MaxItems=10
// +kubebuilder:validation:XValidation:rule="self.all(x, self.exists_one(y, (y.url.endsWith('/') ? y.url.substring(0, size(y.url) - 1) : y.url) == (x.url.endsWith('/') ? x.url.substring(0, size(x.url) - 1) : x.url)))",message="each url may appear once per event type (a trailing slash does not make another URL)"
type ReceiveWebhookList []Webhook

// WebhookList is the webhooks of an event type other than receive: at most
// 10, each URL once, without sendblueNumbers.
// +listType=map
// +listMapKey=url
// +kubebuilder:validation:MaxItems=10
// +kubebuilder:validation:XValidation:rule="self.all(x, self.exists_one(y, (y.url.endsWith('/') ? y.url.substring(0, size(y.url) - 1) : y.url) == (x.url.endsWith('/') ? x.url.substring(0, size(x.url) - 1) : x.url)))",message="each url may appear once per event type (a trailing slash does not make another URL)"
// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
type WebhookList []Webhook

// Webhooks holds one optional list per Sendblue event type; at most 20
// webhooks in all.
// +kubebuilder:validation:XValidation:rule="[has(self.receive) ? size(self.receive) : 0, has(self.outbound) ? size(self.outbound) : 0, has(self.callLog) ? size(self.callLog) : 0, has(self.lineBlocked) ? size(self.lineBlocked) : 0, has(self.lineAssigned) ? size(self.lineAssigned) : 0, has(self.contactCreated) ? size(self.contactCreated) : 0, has(self.typingIndicator) ? size(self.typingIndicator) : 0, has(self.inboundCall) ? size(self.inboundCall) : 0, has(self.contactProfile) ? size(self.contactProfile) : 0].sum() <= 20",message="at most 20 webhooks per set in all; split them over several sets"
type Webhooks struct {
	// receive: an inbound message was received.
	// +optional
	Receive ReceiveWebhookList `json:"receive,omitempty"`

	// outbound: the status of an outbound message changed.
	// +optional
	Outbound WebhookList `json:"outbound,omitempty"`

	// callLog: a call log was recorded (call_log).
	// +optional
	CallLog WebhookList `json:"callLog,omitempty"`

	// lineBlocked: a line was blocked (line_blocked).
	// +optional
	LineBlocked WebhookList `json:"lineBlocked,omitempty"`

	// lineAssigned: a line was assigned (line_assigned).
	// +optional
	LineAssigned WebhookList `json:"lineAssigned,omitempty"`

	// contactCreated: a contact was created (contact_created). URL only:
	// Sendblue documents no secret for this type.
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.secretRef))",message="secretRef is not allowed on contactCreated webhooks (Sendblue takes URL strings only for contact_created)"
	// +optional
	ContactCreated WebhookList `json:"contactCreated,omitempty"`

	// typingIndicator: a contact is typing (typing_indicator).
	// +optional
	TypingIndicator WebhookList `json:"typingIndicator,omitempty"`

	// inboundCall: a call came in (inbound_call).
	// +optional
	InboundCall WebhookList `json:"inboundCall,omitempty"`

	// contactProfile: a contact's profile changed (contact_profile).
	// +optional
	ContactProfile WebhookList `json:"contactProfile,omitempty"`
}

// SendblueWebhookSetSpec declares webhooks of one Sendblue account.
type SendblueWebhookSetSpec struct {
	// credentialsRef names the Secret with the account's API credentials.
	// Sets are grouped by account (key id and secret key together), and an
	// account's configuration is written with one PUT for all its sets.
	CredentialsRef CredentialsReference `json:"credentialsRef"`

	// webhooks to declare, per event type.
	// +optional
	Webhooks Webhooks `json:"webhooks,omitempty"`

	// globalSecretRef selects the account's globalSecret, which Sendblue
	// applies to all webhooks.
	// +optional
	GlobalSecretRef *SecretKeyReference `json:"globalSecretRef,omitempty"`

	// legacySecretRef selects the root `secret` of the v2-era API. Exclusive
	// sets never remove it; a set that declared it and stops removes it.
	// +optional
	LegacySecretRef *SecretKeyReference `json:"legacySecretRef,omitempty"`

	// policy says what this set may change: Merge (default) adds and updates
	// its own webhooks and removes only those it applied earlier; Exclusive
	// removes every webhook no set declares; Observe never writes and reports
	// drift.
	// +kubebuilder:default=Merge
	// +optional
	Policy Policy `json:"policy,omitempty"`

	// deletionPolicy says what happens to this set's webhooks when the set is
	// deleted: Delete (default) removes them unless another set declares
	// them; Orphan leaves them.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// suspend stops all Sendblue API calls for this set.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// interval is how often the account is read again to detect changes
	// made outside the operator (drift). From 30s to 24h.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="interval must be at least 30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="interval must be at most 24h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// Action is what a plan does to one webhook.
// +kubebuilder:validation:Enum=add;remove;update
type Action string

// Plan actions.
const (
	ActionAdd    Action = "add"
	ActionRemove Action = "remove"
	ActionUpdate Action = "update"
)

// AppliedWebhook identifies a webhook this set has written: its ownership
// record. Type is the Sendblue wire name (receive, call_log, ...); the
// account's globalSecret and legacy secret appear as types globalSecret and
// secret with an empty url.
type AppliedWebhook struct {
	// Type is the Sendblue event type (wire name).
	Type string `json:"type"`
	// URL of the webhook.
	// +optional
	URL string `json:"url,omitempty"`
}

// PlannedChange is one change of a plan.
type PlannedChange struct {
	// Action is add, remove or update.
	Action Action `json:"action"`
	// Type is the Sendblue event type (wire name).
	Type string `json:"type"`
	// URL of the webhook.
	// +optional
	URL string `json:"url,omitempty"`
}

// SendblueWebhookSetStatus is what the controller observed and did.
type SendblueWebhookSetStatus struct {
	// observedGeneration is the last generation fully handled: synced, or
	// stalled (nothing more happens without a change from you). While a
	// generation waits for its sync or is retried, it stays behind. Defaults
	// to 0, so that a set no sync has reached yet reads as in progress
	// (kstatus compares it with metadata.generation).
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (True: the account held this generation at the last
	// sync; Unknown: a new generation waits for its first sync), Reconciling
	// (present while a sync is under way or retried) and Stalled (present
	// when nothing will progress without a change from you). The reason of
	// Reconciling or Stalled, else of Ready, says why.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// account is a short, non-secret label of the account, for display: the last four
	// characters of the API key id.
	// +optional
	Account string `json:"account,omitempty"`

	// accountID is a stable, non-secret identity of the account this set is
	// pinned to (a hash of the API key id). If the credentials later reach
	// another account, nothing is written until the set is annotated
	// sendblue.webhooks.dev/accept-account=<the new id>.
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// webhookCount is the number of webhooks this set declares.
	// +optional
	WebhookCount int32 `json:"webhookCount,omitempty"`

	// applied lists the webhooks this set has written and still owns, on the
	// account of accountID.
	// +optional
	Applied []AppliedWebhook `json:"applied,omitempty"`

	// plan lists the changes of the last sync that changed this set's
	// webhooks on the account or, with Observe, the differences the last
	// sync found (empty once the account is in line).
	// +optional
	Plan []PlannedChange `json:"plan,omitempty"`

	// lastSyncTime is when a sync last changed this set's status (a write,
	// a plan, a condition). A sync that finds the account in line writes no
	// status, so a converged set's lastSyncTime stays put; how fresh the
	// operator's view of its accounts is, is the metric
	// sendblue_account_oldest_read_timestamp_seconds.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// lastHandledReconcileAt is the value of the reconcile.fluxcd.io/requestedAt
	// annotation that the last sync handled: setting the annotation to a new
	// value reads the account now, and this echoes it once done.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// SendblueWebhookSet declares the webhooks of a Sendblue account, per event
// type, with secrets taken from Kubernetes Secrets.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sbws,categories=sendblue;messagingwebhooks
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policy`
// +kubebuilder:printcolumn:name="Webhooks",type=integer,JSONPath=`.status.webhookCount`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.status.account`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SendblueWebhookSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SendblueWebhookSetSpec `json:"spec,omitempty"`
	// +kubebuilder:default={}
	Status SendblueWebhookSetStatus `json:"status,omitempty"`
}

// SendblueWebhookSetList is a list of SendblueWebhookSet.
// +kubebuilder:object:root=true
type SendblueWebhookSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SendblueWebhookSet `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SendblueWebhookSet{}, &SendblueWebhookSetList{})
}
