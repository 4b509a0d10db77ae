package everlyticsms

import (
	"slices"
	"sort"
	"strings"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// Everlytic's webhook status values.
const (
	statusEnabled  = "enabled"
	statusDisabled = "disabled"
)

// desired is the webhook an object declares, with its Secrets read.
type desired struct {
	URL        string
	Verb       string
	EventTypes []everlytic.EventType
	// Auth is the receiver's basic auth; nil: none.
	Auth *everlytic.BasicAuth
	// AuthRevision identifies the receiver-auth Secret content (see
	// status.receiverAuthRevision); "" without Auth.
	AuthRevision string
	Status       string
	// Account is the accountID of the credentials the sync writes with:
	// where a webhook it creates or adopts lives (status.accountID).
	Account string
}

// desiredOf builds what an object declares from its spec and the receiver
// auth read from its Secret (nil: none).
func desiredOf(w *v1.EverlyticSMSWebhook, auth *everlytic.BasicAuth, authRevision string) desired {
	d := desired{URL: string(w.Spec.URL), Verb: string(w.GetVerb()), Auth: auth, Status: statusDisabled}
	for _, t := range w.Spec.EventTypes {
		d.EventTypes = append(d.EventTypes, everlytic.EventType(t))
	}
	if w.IsEnabled() {
		d.Status = statusEnabled
	}
	if auth != nil {
		d.AuthRevision = authRevision
	}
	return d
}

// webhook is the full object to send (Everlytic's PUT is sent whole).
func (d desired) webhook(id string) everlytic.Webhook {
	return everlytic.Webhook{ID: id, URL: d.URL, Verb: d.Verb, EventTypes: slices.Clone(d.EventTypes), Auth: d.Auth, Status: d.Status}
}

// differences lists, by field, how what Everlytic holds differs from what is
// declared: empty when in line. The password cannot be read back; it is a
// difference only when the Secret changed since it was last sent
// (sentRevision). Pure: no I/O.
func differences(d desired, got everlytic.Webhook, sentRevision string) []string {
	var diffs []string
	if got.URL != d.URL {
		diffs = append(diffs, "url")
	}
	if !strings.EqualFold(got.Verb, d.Verb) {
		diffs = append(diffs, "verb")
	}
	if !sameTypes(got.EventTypes, d.EventTypes) {
		diffs = append(diffs, "event_types")
	}
	if !strings.EqualFold(got.Status, d.Status) {
		diffs = append(diffs, "status")
	}
	switch {
	case (got.Auth == nil) != (d.Auth == nil):
		diffs = append(diffs, "auth_type")
	case d.Auth != nil && got.Auth.Username != d.Auth.Username:
		diffs = append(diffs, "auth_details.username")
	case d.Auth != nil && sentRevision != d.AuthRevision:
		diffs = append(diffs, "auth_details.password")
	}
	return diffs
}

// matches says whether a listed webhook is the one a lost create made: the
// same url, verb and event types.
func matches(d desired, got everlytic.Webhook) bool {
	return got.URL == d.URL && strings.EqualFold(got.Verb, d.Verb) && sameTypes(got.EventTypes, d.EventTypes)
}

// sameTypes compares event types as sets, ignoring case.
func sameTypes(a, b []everlytic.EventType) bool {
	norm := func(ts []everlytic.EventType) []string {
		out := make([]string, 0, len(ts))
		for _, t := range ts {
			out = append(out, strings.ToLower(string(t)))
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}
