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

// CredentialsReference names the Secret, in the set's namespace, that holds
// the Sendblue API credentials of the account.
type CredentialsReference struct {
	// Name of the Secret in the same namespace as the SendblueWebhookSet.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// APIKeyIDKey is the key in the Secret that holds the API key id (sent
	// as the sb-api-key-id header).
	// +kubebuilder:default=apiKeyId
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	APIKeyIDKey string `json:"apiKeyIdKey,omitempty"`

	// APISecretKeyKey is the key in the Secret that holds the API secret key
	// (sent as the sb-api-secret-key header).
	// +kubebuilder:default=apiSecretKey
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	APISecretKeyKey string `json:"apiSecretKeyKey,omitempty"`
}

// SecretKeyReference selects one key of a Secret in the set's namespace.
type SecretKeyReference struct {
	// Name of the Secret in the same namespace as the SendblueWebhookSet.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key in the Secret whose value is used.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// Webhook is one endpoint Sendblue calls for an event type.
type Webhook struct {
	// URL Sendblue delivers the event to. HTTPS only, at most 2048
	// characters, unique within its event type.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') && isURL(self) && url(self).getHostname() != ''",message="url must be an absolute https:// URL (Sendblue only calls HTTPS webhooks)"
	URL string `json:"url"`

	// SecretRef selects the webhook's secret. Sendblue sends it to the
	// receiver in the sb-signing-secret header. Not allowed on contactCreated.
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`

	// SendblueNumbers restricts a receive webhook to messages received by
	// these Sendblue lines, in E.164 form (+15122164639). Only allowed on
	// receive; empty means every line.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^\+[1-9][0-9]{1,14}$`
	// +listType=set
	// +optional
	SendblueNumbers []string `json:"sendblueNumbers,omitempty"`
}

// Webhooks holds one optional list per Sendblue event type.
type Webhooks struct {
	// Receive: an inbound message was received.
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Receive []Webhook `json:"receive,omitempty"`

	// Outbound: the status of an outbound message changed.
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	Outbound []Webhook `json:"outbound,omitempty"`

	// CallLog: a call log was recorded (call_log).
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	CallLog []Webhook `json:"callLog,omitempty"`

	// LineBlocked: a line was blocked (line_blocked).
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	LineBlocked []Webhook `json:"lineBlocked,omitempty"`

	// LineAssigned: a line was assigned (line_assigned).
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	LineAssigned []Webhook `json:"lineAssigned,omitempty"`

	// ContactCreated: a contact was created (contact_created). URL only:
	// Sendblue documents no secret for this type.
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.secretRef))",message="secretRef is not allowed on contactCreated webhooks (Sendblue takes URL strings only for contact_created)"
	// +optional
	ContactCreated []Webhook `json:"contactCreated,omitempty"`

	// TypingIndicator: a contact is typing (typing_indicator).
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	TypingIndicator []Webhook `json:"typingIndicator,omitempty"`

	// InboundCall: a call came in (inbound_call).
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	InboundCall []Webhook `json:"inboundCall,omitempty"`

	// ContactProfile: a contact's profile changed (contact_profile).
	// +listType=map
	// +listMapKey=url
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(w, !has(w.sendblueNumbers))",message="sendblueNumbers is only allowed on receive webhooks"
	// +optional
	ContactProfile []Webhook `json:"contactProfile,omitempty"`
}

// SendblueWebhookSetSpec declares webhooks of one Sendblue account.
type SendblueWebhookSetSpec struct {
	// CredentialsRef names the Secret with the account's API credentials.
	// Sets are grouped by account (key id and secret key together), and an
	// account's configuration is written with one PUT for all its sets.
	CredentialsRef CredentialsReference `json:"credentialsRef"`

	// Webhooks to declare, per event type.
	// +optional
	Webhooks Webhooks `json:"webhooks,omitempty"`

	// GlobalSecretRef selects the account's globalSecret, which Sendblue
	// applies to all webhooks.
	// +optional
	GlobalSecretRef *SecretKeyReference `json:"globalSecretRef,omitempty"`

	// LegacySecretRef selects the root `secret` of the v2-era API.
	// +optional
	LegacySecretRef *SecretKeyReference `json:"legacySecretRef,omitempty"`

	// Policy says what this set may change: Merge (default) adds and updates
	// its own webhooks and removes only those it applied earlier; Exclusive
	// removes every webhook no set declares; Observe never writes and reports
	// drift.
	// +kubebuilder:default=Merge
	// +optional
	Policy Policy `json:"policy,omitempty"`

	// DeletionPolicy says what happens to this set's webhooks when the set is
	// deleted: Delete (default) removes them unless another set declares
	// them; Orphan leaves them.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Suspend stops all Sendblue API calls for this set.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Interval is how often the account is read again to detect changes
	// made outside the operator (drift). At least 30s.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="interval must be at least 30s"
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
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (the account matches this set) and Stalled (it will
	// not without a change from you).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Account is a short, non-secret label of the account: the last four
	// characters of the API key id.
	// +optional
	Account string `json:"account,omitempty"`

	// WebhookCount is the number of webhooks this set declares.
	// +optional
	WebhookCount int32 `json:"webhookCount,omitempty"`

	// Applied lists the webhooks this set has written and still owns.
	// +optional
	Applied []AppliedWebhook `json:"applied,omitempty"`

	// Plan lists the changes the last reconcile made or, with Observe, would
	// make.
	// +optional
	Plan []PlannedChange `json:"plan,omitempty"`

	// LastSyncTime is when the account was last read and found (or made) in
	// line with this set.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// SendblueWebhookSet declares the webhooks of a Sendblue account, per event
// type, with secrets taken from Kubernetes Secrets.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sbws,categories=sendblue
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policy`
// +kubebuilder:printcolumn:name="Webhooks",type=integer,JSONPath=`.status.webhookCount`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.status.account`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SendblueWebhookSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SendblueWebhookSetSpec   `json:"spec,omitempty"`
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
