package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventType is an Everlytic SMS event a webhook is called for.
// +kubebuilder:validation:Enum=sent;failed;bounce;reply;delivered
type EventType string

// The event types.
const (
	EventSent      EventType = "sent"
	EventFailed    EventType = "failed"
	EventBounce    EventType = "bounce"
	EventReply     EventType = "reply"
	EventDelivered EventType = "delivered"
)

// Verb is the HTTP method Everlytic calls the receiver with.
// +kubebuilder:validation:Enum=POST;GET
type Verb string

// The verbs.
const (
	VerbPOST Verb = "POST"
	VerbGET  Verb = "GET"
)

// DeletionPolicy says what happens to the Everlytic webhook when the object
// is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the webhook from Everlytic.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves it on Everlytic.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// SecretName is the name of a Secret in the object's namespace: a DNS-1123
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

// Endpoint is the base URL of an Everlytic install: https://HOST[:PORT], with
// no path, user info, query or fragment. http is allowed only for loopback
// hosts (127.x.x.x, localhost), for an emulator.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:XValidation:rule="self.matches('^https://[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?/?$') || self.matches('^http://(127[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}|localhost)(:[0-9]{1,5})?/?$')",message="must be https://HOST[:PORT] with a lowercase DNS name and nothing after it (no path, user info, query or fragment); http:// only for a loopback host (127.x.x.x, localhost)"
type Endpoint string

// ReceiverURL is where Everlytic delivers events: an absolute https:// URL,
// at most 1024 characters, with no user info (use receiverAuthRef), fragment
// or whitespace.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') && isURL(self)",message="must be an absolute https:// URL"
// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="must not contain spaces (a trailing space?)"
// +kubebuilder:validation:XValidation:rule="!self.matches('^https://[^/?#]*@')",message="must not carry user info (user:password@): Everlytic would store and show it; use receiverAuthRef"
// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="must not have a fragment (#...)"
type ReceiverURL string

// WebhookID is the id Everlytic gave a webhook (a UUID).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][-A-Za-z0-9]*$`
type WebhookID string

// CredentialsReference names the Secret, in the object's namespace, that
// holds the Everlytic API credentials (HTTP Basic: username and API key).
type CredentialsReference struct {
	// name of the Secret in the same namespace as the EverlyticSMSWebhook.
	Name SecretName `json:"name"`

	// usernameKey is the key in the Secret that holds the Everlytic username.
	// +kubebuilder:default=username
	// +optional
	UsernameKey SecretDataKey `json:"usernameKey,omitempty"`

	// apiKeyKey is the key in the Secret that holds the Everlytic API key.
	// +kubebuilder:default=apiKey
	// +optional
	APIKeyKey SecretDataKey `json:"apiKeyKey,omitempty"`
}

// ReceiverAuthReference names the Secret, in the object's namespace, with the
// HTTP Basic credentials Everlytic sends to the receiver.
type ReceiverAuthReference struct {
	// name of the Secret in the same namespace as the EverlyticSMSWebhook.
	Name SecretName `json:"name"`

	// usernameKey is the key in the Secret that holds the username.
	// +kubebuilder:default=username
	// +optional
	UsernameKey SecretDataKey `json:"usernameKey,omitempty"`

	// passwordKey is the key in the Secret that holds the password. A new
	// value is sent to Everlytic at the next sync (Everlytic's answers do
	// not show it, so it is never compared, only re-sent when it changes).
	// +kubebuilder:default=password
	// +optional
	PasswordKey SecretDataKey `json:"passwordKey,omitempty"`
}

// EverlyticSMSWebhookSpec declares one Everlytic transactional-SMS webhook.
// +kubebuilder:validation:XValidation:rule="has(self.webhookID) == has(oldSelf.webhookID)",message="webhookID can only be given when the object is created: create another object to adopt another webhook"
type EverlyticSMSWebhookSpec struct {
	// endpoint is the base URL of the Everlytic install the webhook lives on,
	// such as https://live1.everlytic.net. The operator's
	// --everlytic-endpoints flag lists the hosts it may call.
	Endpoint Endpoint `json:"endpoint"`

	// credentialsRef names the Secret with the Everlytic username and API key.
	CredentialsRef CredentialsReference `json:"credentialsRef"`

	// webhookID adopts this existing Everlytic webhook instead of creating
	// one; it is never created then (a missing id is reported, Stalled).
	// Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="webhookID is immutable: create another object to adopt another webhook"
	// +optional
	WebhookID WebhookID `json:"webhookID,omitempty"`

	// url Everlytic delivers the events to.
	URL ReceiverURL `json:"url"`

	// verb is the HTTP method Everlytic calls url with: POST (default) or GET.
	// +kubebuilder:default=POST
	// +optional
	Verb Verb `json:"verb,omitempty"`

	// eventTypes the webhook is called for: sent, failed, bounce, reply,
	// delivered. At least one, each once.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	EventTypes []EventType `json:"eventTypes"`

	// receiverAuthRef names the Secret with the HTTP Basic credentials
	// Everlytic sends to url. Without it, Everlytic sends none.
	// +optional
	ReceiverAuthRef *ReceiverAuthReference `json:"receiverAuthRef,omitempty"`

	// enabled says whether Everlytic calls the webhook (status enabled or
	// disabled on Everlytic). Default true.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// deletionPolicy says what happens to the Everlytic webhook when this
	// object is deleted: Delete (default) deletes it; Orphan leaves it.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// suspend stops all Everlytic API calls for this object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// interval is how often the webhook is read again to detect changes made
	// outside the operator (drift). From 30s to 24h.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="interval must be at least 30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="interval must be at most 24h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// DriftDetection is how the operator learns what Everlytic holds.
// +kubebuilder:validation:Enum=Read;Rewrite
type DriftDetection string

const (
	// DriftDetectionRead: the webhook is read by id each interval and
	// written only when it differs.
	DriftDetectionRead DriftDetection = "Read"
	// DriftDetectionRewrite: Everlytic does not answer a read by id, so the
	// whole webhook is written each interval instead.
	DriftDetectionRewrite DriftDetection = "Rewrite"
)

// PendingCreate is a create the operator sent, or was about to send, whose
// answer (the new webhook's id) is not recorded yet: what it sent, by which
// the webhook it may have made is found (the spec may have changed since).
type PendingCreate struct {
	// since is when the create was marked, just before it was sent.
	Since metav1.Time `json:"since"`
	// url the create sent.
	URL string `json:"url"`
	// verb the create sent.
	Verb string `json:"verb"`
	// eventTypes the create sent.
	// +listType=atomic
	EventTypes []EventType `json:"eventTypes"`
	// notFoundAt is when a list of the account's webhooks first showed none
	// this create made. One list is not proof that the create did not land
	// (a list may lag a create, or answer wrongly): the create is sent again
	// only after a second list, some seconds later, shows none either.
	// +optional
	NotFoundAt *metav1.Time `json:"notFoundAt,omitempty"`
}

// EverlyticSMSWebhookStatus is what the controller observed and did.
type EverlyticSMSWebhookStatus struct {
	// observedGeneration is the last generation fully handled: synced, or
	// stalled. It stays behind while a generation is retried. Defaults to 0,
	// so that a new object reads as in progress.
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling (present while a sync is under way or
	// retried) and Stalled (present when nothing will progress without a
	// change from you), as on SendblueWebhookSet.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// webhookID is the Everlytic id of the webhook this object manages,
	// recorded as soon as it is known.
	// +optional
	WebhookID string `json:"webhookID,omitempty"`

	// endpoint is the install webhookID lives on. If spec.endpoint later
	// names another one, nothing is written until the object is recreated.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// accountID is a short, non-secret identity of the Everlytic account the
	// webhook lives on (a hash of the endpoint and the username, never of
	// the API key), recorded when the webhook is created or adopted. If
	// spec.credentialsRef later reaches another account, nothing is created,
	// written or deleted (AccountChanged) until the credentials come back or
	// the object is annotated everlytic.webhooks.dev/accept-account=<the new
	// id>.
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// createPending is set just before the operator asks Everlytic to create
	// the webhook, and cleared once its id is recorded. Found set after a
	// restart or a lost answer, the webhook it describes is looked for
	// before anything is created again.
	// +optional
	CreatePending *PendingCreate `json:"createPending,omitempty"`

	// enabled is the webhook's status on Everlytic at the last sync:
	// enabled or disabled.
	// +optional
	Enabled string `json:"enabled,omitempty"`

	// driftDetection is how changes on Everlytic are found: Read (the
	// webhook is read each interval, written only when it differs) or
	// Rewrite (Everlytic answers no read by id: it is written each
	// interval).
	// +optional
	DriftDetection DriftDetection `json:"driftDetection,omitempty"`

	// receiverAuthRevision identifies the receiver-auth Secret content last
	// sent (its uid and resourceVersion, never a value or a hash of one):
	// when the Secret changes, the password is sent again.
	// +optional
	ReceiverAuthRevision string `json:"receiverAuthRevision,omitempty"`

	// lastHandledReconcileAt echoes the reconcile.fluxcd.io/requestedAt
	// annotation the last sync handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// EverlyticSMSWebhook declares one Everlytic transactional-SMS webhook, with
// the credentials and the receiver's password taken from Kubernetes Secrets.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=elsw,categories=everlytic;messagingwebhooks
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Enabled",type=string,JSONPath=`.status.enabled`
// +kubebuilder:printcolumn:name="Webhook ID",type=string,JSONPath=`.status.webhookID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EverlyticSMSWebhook struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec EverlyticSMSWebhookSpec `json:"spec,omitempty"`
	// +kubebuilder:default={}
	Status EverlyticSMSWebhookStatus `json:"status,omitempty"`
}

// EverlyticSMSWebhookList is a list of EverlyticSMSWebhook.
// +kubebuilder:object:root=true
type EverlyticSMSWebhookList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EverlyticSMSWebhook `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EverlyticSMSWebhook{}, &EverlyticSMSWebhookList{})
}
