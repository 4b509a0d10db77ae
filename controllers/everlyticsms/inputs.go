package everlyticsms

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/secretref"
)

// inputError is a problem with what an object references; Reason is its
// condition reason. Messages name Secrets and keys, never values.
type inputError struct {
	Reason  string
	Message string
}

func (e *inputError) Error() string { return e.Message }

// stalls: a value or a Secret that is refused needs a change from the user;
// a missing Secret may still appear (it is watched).
func (e *inputError) stalls() bool {
	return e.Reason == ReasonInvalidSpec || e.Reason == ReasonSecretNotAllowed
}

// inputs are an object's Secrets, read.
type inputs struct {
	creds        everlytic.Credentials
	auth         *everlytic.BasicAuth
	authRevision string
	// account is the accountID the credentials reach (status.accountID).
	account string
}

// known are the secret values, besides the credentials, to keep out of the
// client's errors.
func (in inputs) known() []string {
	if in.auth == nil {
		return nil
	}
	return []string{in.auth.Password}
}

// secrets reads one object's Secrets at the version the manager's metadata
// watch shows (secretref).
type secrets struct {
	meta, api client.Reader
	// selector, when set, must match the receiver-auth Secret: its value is
	// sent by Everlytic to a URL the object's author chose.
	selector labels.Selector
}

func (s secrets) resolve(ctx context.Context, w *v1.EverlyticSMSWebhook) (inputs, error) {
	var in inputs
	var err error
	if in.creds, err = s.credentials(ctx, w); err != nil {
		return in, err
	}
	a := w.Spec.ReceiverAuthRef
	if a == nil {
		return in, nil
	}
	sec, err := s.read(ctx, w.Namespace, string(a.Name), "spec.receiverAuthRef", ReasonSecretNotFound)
	if err != nil {
		return in, err
	}
	if s.selector != nil && !s.selector.Matches(labels.Set(sec.Labels)) {
		return in, &inputError{ReasonSecretNotAllowed, fmt.Sprintf("spec.receiverAuthRef: Secret %s/%s does not match the operator's --webhook-secret-selector %q; label it if its value may be sent to this webhook's url", sec.Namespace, sec.Name, s.selector.String())}
	}
	auth := &everlytic.BasicAuth{}
	passwordKey := keyOr(a.PasswordKey, "password")
	if auth.Username, err = value(sec, keyOr(a.UsernameKey, "username"), "spec.receiverAuthRef", ReasonSecretNotFound, secretref.Sent); err != nil {
		return in, err
	}
	if auth.Password, err = value(sec, passwordKey, "spec.receiverAuthRef", ReasonSecretNotFound, secretref.Sent); err != nil {
		return in, err
	}
	in.auth = auth
	// Which content was sent, never the value or a hash of it.
	in.authRevision = fmt.Sprintf("%s/%s/%s", sec.UID, sec.ResourceVersion, passwordKey)
	return in, nil
}

// credentials reads the Everlytic username and API key: all that a delete
// needs.
func (s secrets) credentials(ctx context.Context, w *v1.EverlyticSMSWebhook) (everlytic.Credentials, error) {
	var creds everlytic.Credentials
	ref := w.Spec.CredentialsRef
	sec, err := s.read(ctx, w.Namespace, string(ref.Name), "spec.credentialsRef", ReasonCredentialsNotFound)
	if err != nil {
		return creds, err
	}
	if creds.Username, err = value(sec, keyOr(ref.UsernameKey, "username"), "spec.credentialsRef", ReasonCredentialsNotFound, secretref.Credential); err != nil {
		return creds, err
	}
	if strings.Contains(creds.Username, ":") {
		return creds, &inputError{ReasonInvalidSpec, fmt.Sprintf("spec.credentialsRef: the username in Secret %s/%s contains ':', which HTTP Basic authentication cannot carry", sec.Namespace, sec.Name)}
	}
	if creds.APIKey, err = value(sec, keyOr(ref.APIKeyKey, "apiKey"), "spec.credentialsRef", ReasonCredentialsNotFound, secretref.Credential); err != nil {
		return creds, err
	}
	return creds, nil
}

func (s secrets) read(ctx context.Context, namespace, name, field, missing string) (*corev1.Secret, error) {
	k := client.ObjectKey{Namespace: namespace, Name: name}
	rv, err := secretref.WatchedVersion(ctx, s.meta, k)
	if err != nil {
		return nil, err
	}
	sec, err := secretref.ReadAt(ctx, s.api, k, rv)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &inputError{missing, fmt.Sprintf("%s: Secret %s/%s not found", field, namespace, name)}
	case err != nil:
		return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	case sec.Type == corev1.SecretTypeServiceAccountToken:
		return nil, &inputError{ReasonSecretNotAllowed, fmt.Sprintf("%s: Secret %s/%s holds a service account token, which is never sent anywhere", field, namespace, name)}
	}
	return sec, nil
}

func value(sec *corev1.Secret, key, field, missing string, kind secretref.Kind) (string, error) {
	v, ok := sec.Data[key]
	if !ok {
		return "", &inputError{missing, fmt.Sprintf("%s: Secret %s/%s has no key %q", field, sec.Namespace, sec.Name, key)}
	}
	if problem := secretref.ValueProblem(v, kind); problem != "" {
		return "", &inputError{ReasonInvalidSpec, fmt.Sprintf("%s: key %q of Secret %s/%s %s", field, key, sec.Namespace, sec.Name, problem)}
	}
	return string(v), nil
}

func keyOr(k v1.SecretDataKey, def string) string {
	if k == "" {
		return def
	}
	return string(k)
}

// secretNames lists the Secrets an object references (for the watch index).
func secretNames(w *v1.EverlyticSMSWebhook) []string {
	names := []string{string(w.Spec.CredentialsRef.Name)}
	if a := w.Spec.ReceiverAuthRef; a != nil && string(a.Name) != names[0] {
		names = append(names, string(a.Name))
	}
	return names
}
