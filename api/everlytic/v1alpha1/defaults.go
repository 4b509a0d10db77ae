package v1alpha1

import "time"

// DefaultInterval is spec.interval when it is not set.
const DefaultInterval = 5 * time.Minute

// GetInterval returns spec.interval, or its default.
func (w *EverlyticSMSWebhook) GetInterval() time.Duration {
	if w.Spec.Interval == nil || w.Spec.Interval.Duration <= 0 {
		return DefaultInterval
	}
	return w.Spec.Interval.Duration
}

// IsEnabled returns spec.enabled, or its default (true).
func (w *EverlyticSMSWebhook) IsEnabled() bool { return w.Spec.Enabled == nil || *w.Spec.Enabled }

// GetVerb returns spec.verb, or its default (POST).
func (w *EverlyticSMSWebhook) GetVerb() Verb {
	if w.Spec.Verb == "" {
		return VerbPOST
	}
	return w.Spec.Verb
}

// ShouldDeleteWebhook says whether deleting the object deletes the Everlytic
// webhook (deletionPolicy Delete, the default).
func (w *EverlyticSMSWebhook) ShouldDeleteWebhook() bool {
	return w.Spec.DeletionPolicy != DeletionPolicyOrphan
}

// Adopted says whether the object manages an existing webhook named by
// spec.webhookID (never created by the operator).
func (w *EverlyticSMSWebhook) Adopted() bool { return w.Spec.WebhookID != "" }
