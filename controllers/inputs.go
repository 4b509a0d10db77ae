package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// inputError is a problem with what a set references; Reason is its
// condition reason. Messages name Secrets and keys, never values.
type inputError struct {
	Reason  string
	Message string
}

func (e *inputError) Error() string { return e.Message }

// resolved is a set with its Secrets read.
type resolved struct {
	set   *v1.SendblueWebhookSet
	creds sendblue.Credentials
	// account identifies the account by key id and secret key together, so
	// that a wrong secret with a known key id is a different "account".
	account string
	input   SetInput
	// fingerprint changes whenever anything the plan reads from this set
	// changes, secret values included (hashed, never shown).
	fingerprint string
}

// wireTypes maps the spec's lists to Sendblue event types.
func wireTypes(w *v1.Webhooks) []struct {
	Type  sendblue.EventType
	Hooks []v1.Webhook
} {
	return []struct {
		Type  sendblue.EventType
		Hooks []v1.Webhook
	}{
		{sendblue.Receive, w.Receive}, {sendblue.Outbound, w.Outbound}, {sendblue.CallLog, w.CallLog},
		{sendblue.LineBlocked, w.LineBlocked}, {sendblue.LineAssigned, w.LineAssigned},
		{sendblue.ContactCreated, w.ContactCreated}, {sendblue.TypingIndicator, w.TypingIndicator},
		{sendblue.InboundCall, w.InboundCall}, {sendblue.ContactProfile, w.ContactProfile},
	}
}

func countWebhooks(w *v1.Webhooks) int32 {
	var n int32
	for _, t := range wireTypes(w) {
		n += int32(len(t.Hooks))
	}
	return n
}

// secretNames lists every Secret a set references (for the watch index).
func secretNames(s *v1.SendblueWebhookSet) []string {
	names := []string{string(s.Spec.CredentialsRef.Name)}
	for _, t := range wireTypes(&s.Spec.Webhooks) {
		for _, h := range t.Hooks {
			if h.SecretRef != nil {
				names = append(names, string(h.SecretRef.Name))
			}
		}
	}
	for _, r := range []*v1.SecretKeyReference{s.Spec.GlobalSecretRef, s.Spec.LegacySecretRef} {
		if r != nil {
			names = append(names, string(r.Name))
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// secretReader reads Secrets on demand (uncached: the operator never holds
// every Secret of the cluster in memory) and remembers them for one sync.
type secretReader struct {
	reader client.Reader
	seen   map[client.ObjectKey]*corev1.Secret
}

func newSecretReader(r client.Reader) *secretReader {
	return &secretReader{reader: r, seen: map[client.ObjectKey]*corev1.Secret{}}
}

func (r *secretReader) value(ctx context.Context, namespace, name, key, reason, what string) (string, error) {
	k := client.ObjectKey{Namespace: namespace, Name: name}
	s, ok := r.seen[k]
	if !ok {
		s = &corev1.Secret{}
		if err := r.reader.Get(ctx, k, s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", &inputError{reason, fmt.Sprintf("%s: Secret %s/%s not found", what, namespace, name)}
			}
			return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
		}
		r.seen[k] = s
	}
	v, ok := s.Data[key]
	if !ok {
		return "", &inputError{reason, fmt.Sprintf("%s: Secret %s/%s has no key %q", what, namespace, name, key)}
	}
	if len(v) == 0 || strings.TrimSpace(string(v)) == "" {
		return "", &inputError{ReasonInvalidSpec, fmt.Sprintf("%s: key %q of Secret %s/%s is empty", what, key, namespace, name)}
	}
	if strings.ContainsAny(string(v), "\r\n") {
		return "", &inputError{ReasonInvalidSpec, fmt.Sprintf("%s: key %q of Secret %s/%s contains a line break (a trailing newline from echo?)", what, key, namespace, name)}
	}
	return string(v), nil
}

// credentials resolves only the account of a set.
func (r *secretReader) credentials(ctx context.Context, s *v1.SendblueWebhookSet) (sendblue.Credentials, error) {
	ref := s.Spec.CredentialsRef
	idKey, secretKey := string(ref.APIKeyIDKey), string(ref.APISecretKeyKey)
	if idKey == "" {
		idKey = "apiKeyId"
	}
	if secretKey == "" {
		secretKey = "apiSecretKey"
	}
	id, err := r.value(ctx, s.Namespace, string(ref.Name), idKey, ReasonCredentialsNotFound, "spec.credentialsRef")
	if err != nil {
		return sendblue.Credentials{}, err
	}
	sk, err := r.value(ctx, s.Namespace, string(ref.Name), secretKey, ReasonCredentialsNotFound, "spec.credentialsRef")
	if err != nil {
		return sendblue.Credentials{}, err
	}
	return sendblue.Credentials{KeyID: id, SecretKey: sk}, nil
}

func accountID(c sendblue.Credentials) string {
	h := sha256.Sum256([]byte(c.KeyID + "\x00" + c.SecretKey))
	return hex.EncodeToString(h[:])
}

// accountLabel is the non-secret label shown in status: the key id's last
// four characters.
func accountLabel(c sendblue.Credentials) string {
	if len(c.KeyID) <= 4 {
		return "…"
	}
	return "…" + c.KeyID[len(c.KeyID)-4:]
}

// resolve reads every Secret a set references and builds its plan input.
func (r *secretReader) resolve(ctx context.Context, s *v1.SendblueWebhookSet, deleting bool) (*resolved, error) {
	creds, err := r.credentials(ctx, s)
	if err != nil {
		return nil, err
	}
	in := SetInput{
		ID:        s.Namespace + "/" + s.Name,
		Created:   s.CreationTimestamp.Time,
		Policy:    s.Spec.Policy,
		Deleting:  deleting,
		Suspended: s.Spec.Suspend && !deleting,
		Applied:   slices.Clone(s.Status.Applied),
	}
	if s.Status.Account != "" && s.Status.Account != accountLabel(creds) {
		// The set now points at another account: what it applied was applied
		// elsewhere. When in doubt, leave it: own nothing here yet.
		in.Applied = nil
	}
	if in.Policy == "" {
		in.Policy = v1.PolicyMerge
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%v\x00%v\x00%s\x00", accountID(creds), s.Generation, deleting, s.Spec.Suspend, s.UID)
	if !deleting {
		for _, t := range wireTypes(&s.Spec.Webhooks) {
			for i, hk := range t.Hooks {
				d := DesiredWebhook{Type: t.Type, URL: string(hk.URL), Numbers: slices.Clone(hk.SendblueNumbers)}
				if hk.SecretRef != nil {
					field := fmt.Sprintf("spec.webhooks[%s][%d].secretRef", t.Type, i)
					if d.Secret, err = r.value(ctx, s.Namespace, string(hk.SecretRef.Name), string(hk.SecretRef.Key), ReasonSecretNotFound, field); err != nil {
						return nil, err
					}
				}
				fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00", d.Type, d.URL, d.Secret, d.Numbers)
				in.Webhooks = append(in.Webhooks, d)
			}
		}
		for _, ref := range []struct {
			ref   *v1.SecretKeyReference
			field string
			dst   **string
		}{{s.Spec.GlobalSecretRef, "spec.globalSecretRef", &in.GlobalSecret}, {s.Spec.LegacySecretRef, "spec.legacySecretRef", &in.LegacySecret}} {
			if ref.ref == nil {
				continue
			}
			v, err := r.value(ctx, s.Namespace, string(ref.ref.Name), string(ref.ref.Key), ReasonSecretNotFound, ref.field)
			if err != nil {
				return nil, err
			}
			*ref.dst = &v
			fmt.Fprintf(h, "%s\x00%s\x00", ref.field, v)
		}
	}
	return &resolved{set: s, creds: creds, account: accountID(creds), input: in, fingerprint: hex.EncodeToString(h.Sum(nil))}, nil
}
