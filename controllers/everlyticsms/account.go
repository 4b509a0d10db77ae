package everlyticsms

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
)

// AnnotationAcceptAccount, set to the account id spec.credentialsRef now
// reaches, accepts that the object's webhook is on that account (new
// credentials of another user of the same account): the object is pinned to
// it at the next sync.
const AnnotationAcceptAccount = "everlytic.webhooks.dev/accept-account"

// accountID is the non-secret identity of the account a pair of credentials
// reaches on an install: a short hash of the endpoint and the username, so
// that neither is shown and the API key (which rotates) plays no part.
func accountID(endpoint, username string) string {
	sum := sha256.Sum256([]byte(normalEndpoint(endpoint) + "\n" + username))
	return hex.EncodeToString(sum[:8])
}

// holdsWebhook says whether the object has a webhook on Everlytic, or a
// create that may have made one.
func holdsWebhook(w *v1.EverlyticSMSWebhook) bool {
	return w.Status.WebhookID != "" || w.Status.CreatePending != nil
}

// accountChanged says whether the credentials now reach another account
// than the one the object's webhook lives on, without the move being
// accepted. An object pinned to nothing yet (made before accountID existed)
// is pinned to the account its credentials reach.
func accountChanged(w *v1.EverlyticSMSWebhook, pin string) bool {
	return holdsWebhook(w) && w.Status.AccountID != "" && w.Status.AccountID != pin && w.Annotations[AnnotationAcceptAccount] != pin
}

// accountChangedError stops an object whose credentials moved: its webhook
// would be taken for deleted on the new account and created again there,
// the original left behind, owned by nothing.
func accountChangedError(w *v1.EverlyticSMSWebhook, pin string) error {
	what := "webhook " + w.Status.WebhookID
	if w.Status.WebhookID == "" {
		what = "the webhook an interrupted create may have made"
	}
	return &stallError{ReasonAccountChanged, fmt.Sprintf(
		"spec.credentialsRef now reaches Everlytic account %s, but %s lives on account %s: nothing is created, written or deleted on either. "+
			"Restore the credentials; or, if the new ones are another user of the same account, annotate this object with %s=%s; "+
			"to move the webhook to the new account, delete this object with deletionPolicy Orphan, delete the webhook on the old account, and create the object again",
		pin, what, w.Status.AccountID, AnnotationAcceptAccount, pin), true}
}
