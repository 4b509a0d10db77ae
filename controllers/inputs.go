package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/secretref"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// inputError is a problem with what a set references; Reason is its
// condition reason. Messages name Secrets and keys, never values.
type inputError struct {
	Reason  string
	Message string
}

func (e *inputError) Error() string { return e.Message }

// stalls reports whether the problem needs a change from the user (rather
// than a Secret that may still appear).
func (e *inputError) stalls() bool {
	return e.Reason == ReasonInvalidSpec || e.Reason == ReasonSecretNotAllowed
}

// resolved is a set with its Secrets read.
type resolved struct {
	set   *v1.SendblueWebhookSet
	creds sendblue.Credentials
	// account identifies the account by key id and secret key together, so
	// that a wrong secret with a known key id is a different "account".
	account string
	// pin is the account's stable, non-secret identity (see accountPin).
	pin   string
	input SetInput
	// fingerprint changes whenever anything the plan reads from this set
	// changes, secret values included (hashed, never shown).
	fingerprint string
}

type typedHooks struct {
	Type  sendblue.EventType
	Hooks []v1.Webhook
}

// wireTypes maps the spec's lists to Sendblue event types.
func wireTypes(w *v1.Webhooks) []typedHooks {
	return []typedHooks{
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

// declaredKeys are the (type, url) pairs a set declares, with the account's
// secrets as pseudo types, read from its spec alone (no Secret needed).
func declaredKeys(s *v1.SendblueWebhookSet) []entryKey {
	var out []entryKey
	for _, t := range wireTypes(&s.Spec.Webhooks) {
		for _, h := range t.Hooks {
			out = append(out, entryKey{string(t.Type), string(h.URL)})
		}
	}
	if s.Spec.GlobalSecretRef != nil {
		out = append(out, entryKey{Type: globalSecretType})
	}
	if s.Spec.LegacySecretRef != nil {
		out = append(out, entryKey{Type: legacySecretType})
	}
	return out
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

// valueKind says where a value goes, which decides what it may contain.
type valueKind int

const (
	// credential values travel in HTTP headers to the Sendblue API.
	credential valueKind = iota
	// webhookSecret values are stored on the account and sent by Sendblue to
	// the webhook's URL: any URL a tenant can write.
	webhookSecret
)

// secretReader reads the Secret values of one set through the values kept
// for referenced Secrets (the operator never holds every Secret of the
// cluster, nor every key of a referenced one, in memory).
type secretReader struct {
	values *secretValues
	// checkSelector: a webhook secret's Secret must match the operator's
	// --webhook-secret-selector (the values cache matches it), the opt-in
	// guard against sending any Secret of the namespace to a URL of the
	// tenant's choosing.
	checkSelector bool
	selector      string
}

func newSecretReader(v *secretValues, selector labels.Selector) *secretReader {
	r := &secretReader{values: v}
	if selector != nil {
		r.checkSelector, r.selector = true, selector.String()
	}
	return r
}

func (r *secretReader) value(ctx context.Context, namespace, name, key, missing, field string, kind valueKind, also ...string) (string, error) {
	where := fmt.Sprintf("Secret %s/%s", namespace, name)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", &inputError{ReasonInvalidSpec, fmt.Sprintf("%s: %q is not a Secret name", field, name)}
	}
	s, err := r.values.get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, key, also...)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", &inputError{missing, fmt.Sprintf("%s: %s not found", field, where)}
		}
		return "", fmt.Errorf("reading %s: %w", where, err)
	}
	if s.typ == corev1.SecretTypeServiceAccountToken {
		return "", &inputError{ReasonSecretNotAllowed, fmt.Sprintf("%s: %s holds a service account token, which is never sent anywhere", field, where)}
	}
	if kind == webhookSecret && r.checkSelector && !s.selected {
		return "", &inputError{ReasonSecretNotAllowed, fmt.Sprintf("%s: %s does not match the operator's --webhook-secret-selector %q; label it if its value may be sent to this webhook", field, where, r.selector)}
	}
	if !s.present {
		return "", &inputError{missing, fmt.Sprintf("%s: %s has no key %q", field, where, key)}
	}
	if problem := secretref.SizeProblem(s.size); problem != "" {
		return "", &inputError{ReasonInvalidSpec, fmt.Sprintf("%s: key %q of %s %s", field, key, where, problem)}
	}
	if problem := valueProblem(s.value, kind); problem != "" {
		return "", &inputError{ReasonInvalidSpec, fmt.Sprintf("%s: key %q of %s %s", field, key, where, problem)}
	}
	return string(s.value), nil
}

// valueProblem says why a value cannot be used, or "" if it can. It never
// repeats the value.
// SecretValueProblem says why the operator refuses a Secret value (reason
// InvalidSpec), or "": a credential (an API key id or secret key) or a
// webhook secret. The message never repeats the value. The kubectl plugin's
// export uses it, so that what it declares is what the operator accepts.
func SecretValueProblem(v []byte, isCredential bool) string {
	if isCredential {
		return valueProblem(v, credential)
	}
	return valueProblem(v, webhookSecret)
}

func valueProblem(v []byte, kind valueKind) string {
	if kind == credential {
		return secretref.ValueProblem(v, secretref.Credential)
	}
	return secretref.ValueProblem(v, secretref.Sent)
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
	id, err := r.value(ctx, s.Namespace, string(ref.Name), idKey, ReasonCredentialsNotFound, "spec.credentialsRef", credential, secretKey)
	if err != nil {
		return sendblue.Credentials{}, err
	}
	sk, err := r.value(ctx, s.Namespace, string(ref.Name), secretKey, ReasonCredentialsNotFound, "spec.credentialsRef", credential)
	if err != nil {
		return sendblue.Credentials{}, err
	}
	return sendblue.Credentials{KeyID: id, SecretKey: sk}, nil
}

// accountID groups sets by the credentials they use: key id and secret key.
func accountID(c sendblue.Credentials) string {
	h := sha256.Sum256([]byte(c.KeyID + "\x00" + c.SecretKey))
	return hex.EncodeToString(h[:])
}

// accountPin is the account's stable, non-secret identity shown in
// status.accountID: a hash of the key id alone, so that rotating the secret
// key of the same key id does not move a set, and two key ids that share
// their last characters never look alike.
func accountPin(c sendblue.Credentials) string {
	h := sha256.Sum256([]byte("sendblue-operator/account\x00" + c.KeyID))
	return hex.EncodeToString(h[:8])
}

// accountLabel is the short label shown in status.account: the key id's last
// four characters. Display only: accountPin identifies the account.
func accountLabel(c sendblue.Credentials) string {
	if len(c.KeyID) <= 4 {
		return "…"
	}
	return "…" + c.KeyID[len(c.KeyID)-4:]
}

// resolve reads every Secret a set references and builds its plan input.
// applied is the set's ownership record on this account (see ownership).
func (r *secretReader) resolve(ctx context.Context, s *v1.SendblueWebhookSet, deleting bool) (*resolved, error) {
	creds, err := r.credentials(ctx, s)
	if err != nil {
		return nil, err
	}
	if deleting {
		return r.resolveWith(s, creds, deleting), nil
	}
	in := SetInput{
		ID:        s.Namespace + "/" + s.Name,
		Created:   s.CreationTimestamp.Time,
		Policy:    s.Spec.Policy,
		Deleting:  deleting,
		Suspended: s.Spec.Suspend && !deleting,
	}
	if in.Policy == "" {
		in.Policy = v1.PolicyMerge
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%v\x00%v\x00%s\x00", accountID(creds), s.Generation, deleting, s.Spec.Suspend, s.UID)
	if !deleting {
		if err := r.declared(ctx, s, &in, h); err != nil {
			return nil, err
		}
	}
	return &resolved{set: s, creds: creds, account: accountID(creds), pin: accountPin(creds), input: in, fingerprint: hex.EncodeToString(h.Sum(nil))}, nil
}

// resolveWith is a deleting set's resolve with the given credentials: a
// deletion reads no other Secret.
func (r *secretReader) resolveWith(s *v1.SendblueWebhookSet, creds sendblue.Credentials, deleting bool) *resolved {
	in := SetInput{ID: s.Namespace + "/" + s.Name, Created: s.CreationTimestamp.Time, Policy: s.Spec.Policy, Deleting: deleting}
	if in.Policy == "" {
		in.Policy = v1.PolicyMerge
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%v\x00%v\x00%s\x00", accountID(creds), s.Generation, deleting, s.Spec.Suspend, s.UID)
	return &resolved{set: s, creds: creds, account: accountID(creds), pin: accountPin(creds), input: in, fingerprint: hex.EncodeToString(h.Sum(nil))}
}

// declared reads the set's webhook, global and legacy secrets into in and
// into the fingerprint h.
func (r *secretReader) declared(ctx context.Context, s *v1.SendblueWebhookSet, in *SetInput, h interface{ Write([]byte) (int, error) }) error {
	for _, t := range wireTypes(&s.Spec.Webhooks) {
		for i, hk := range t.Hooks {
			d := DesiredWebhook{Type: t.Type, URL: string(hk.URL), Numbers: slices.Clone(hk.SendblueNumbers)}
			if hk.SecretRef != nil {
				field := fmt.Sprintf("spec.webhooks[%s][%d].secretRef", t.Type, i)
				v, err := r.value(ctx, s.Namespace, string(hk.SecretRef.Name), string(hk.SecretRef.Key), ReasonSecretNotFound, field, webhookSecret)
				if err != nil {
					return err
				}
				d.Secret = v
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
		v, err := r.value(ctx, s.Namespace, string(ref.ref.Name), string(ref.ref.Key), ReasonSecretNotFound, ref.field, webhookSecret)
		if err != nil {
			return err
		}
		*ref.dst = &v
		fmt.Fprintf(h, "%s\x00%s\x00", ref.field, v)
	}
	return nil
}

// secrets lists the secret values of the inputs, to keep them out of the
// Sendblue client's errors.
func secretsOf(inputs []SetInput) []string {
	var out []string
	for _, in := range inputs {
		for _, w := range in.Webhooks {
			if w.Secret != "" {
				out = append(out, w.Secret)
			}
		}
		for _, v := range []*string{in.GlobalSecret, in.LegacySecret} {
			if v != nil {
				out = append(out, *v)
			}
		}
	}
	return out
}
