package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/secretref"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

// The tests in this file reproduce what a hostile review found: paths where
// webhooks were deleted, secret values escaped, or one tenant stopped the
// others. Each failed before its fix.

// full returns an account configuration as Sendblue serves one: every
// original type present (an empty list unless pairs give it a value), then
// the other members of pairs (key, JSON value, ...) in order.
func full(pairs ...string) json.RawMessage {
	given := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		given[pairs[i]] = pairs[i+1]
	}
	var parts []string
	for _, t := range sendbluetest.OriginalTypes {
		v, ok := given[t]
		if !ok {
			v = "[]"
		}
		parts = append(parts, fmt.Sprintf("%q:%s", t, v))
		delete(given, t)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if v, ok := given[pairs[i]]; ok {
			parts = append(parts, fmt.Sprintf("%q:%s", pairs[i], v))
		}
	}
	return json.RawMessage("{" + strings.Join(parts, ",") + "}")
}

// editAccount changes the stored configuration with a JSON-level edit.
func editAccount(t *testing.T, op *operator, keyID string, edit func(m map[string]any)) {
	t.Helper()
	err := op.emu.EditWebhooks(keyID, func(cur json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		if err := json.Unmarshal(cur, &m); err != nil {
			return nil, err
		}
		edit(m)
		return json.Marshal(m)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func credsSecret(ns, name, keyID, secretKey string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data: map[string][]byte{"apiKeyId": []byte(keyID), "apiSecretKey": []byte(secretKey)}}
}

func deleteObject(t *testing.T, o client.Object) {
	t.Helper()
	if err := testClient.Delete(context.Background(), o); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
}

func waitGone(t *testing.T, ns, name string) {
	t.Helper()
	waitFor(t, name+" to disappear", func() (bool, string) {
		err := testClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &v1.SendblueWebhookSet{})
		return client.IgnoreNotFound(err) == nil && err != nil, fmt.Sprint(err)
	})
}

func stalled(s *v1.SendblueWebhookSet) bool {
	c := meta.FindStatusCondition(s.Status.Conditions, ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue
}

// Item 1: an Exclusive set must not remove a sibling's webhooks while the
// sibling's credentials Secret cannot be read, and the sibling recovers as
// soon as it can be read again.
func TestAnUnreadableSiblingKeepsItsWebhooksAndRecoversAtOnce(t *testing.T) {
	op := startOperator(t, 1, Options{IntervalOverride: time.Hour}) // only events trigger syncs
	ns := op.ns[0]
	const key = "key-sibling"
	secret := op.account(t, ns, "creds-e", key)
	mustCreate(t, credsSecret(ns, "creds-a", key, secret))
	mustCreate(t, newSet(ns, "a", "creds-a", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://a.example.com/hook")}))
	mustCreate(t, newSet(ns, "e", "creds-e", v1.PolicyExclusive, v1.Webhooks{Outbound: hooks("https://e.example.com/hook")}))
	waitReason(t, ns, "a", ReasonSynced)
	waitReason(t, ns, "e", ReasonSynced)
	op.waitStored(t, key, `{"receive":["https://a.example.com/hook"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://e.example.com/hook"],"contact_created":[]}`)

	deleteObject(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds-a", Namespace: ns}})
	waitReason(t, ns, "a", ReasonCredentialsNotFound)
	// The Exclusive set syncs (a spec change) while its sibling is unreadable.
	update(t, ns, "e", func(s *v1.SendblueWebhookSet) {
		s.Spec.Webhooks.Outbound = append(s.Spec.Webhooks.Outbound, hooks("https://e2.example.com/hook")...)
	})
	op.waitStored(t, key, `{"receive":["https://a.example.com/hook"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://e.example.com/hook","https://e2.example.com/hook"],"contact_created":[]}`)
	e := waitReason(t, ns, "e", ReasonSynced)
	if _, m := readyReason(e); !strings.Contains(m, ns+"/a") {
		t.Errorf("Exclusive set's message %q does not say which set's webhooks it kept", m)
	}

	// The Secret comes back: the sibling syncs at once, not an interval later.
	mustCreate(t, credsSecret(ns, "creds-a", key, secret))
	waitReason(t, ns, "a", ReasonSynced)
}

// Item 2: a GET that answers 200 with an empty or partial configuration, or
// one from which everything the operator did not write has vanished, is not
// written over.
func TestAReadThatCannotBeTheWholeAccountIsNotWrittenOver(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	const key = "key-lying-get"
	op.account(t, ns, "creds", key)
	secretValue("g-foreign")
	if err := op.emu.SetWebhooks(key, full("receive", `["https://foreign.example.com/r"]`, "next_year", `[{"url":"https://n.example.com"}]`, "globalSecret", `"g-foreign"`)); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"status":"OK","webhooks":{}}`, `{"status":"OK","webhooks":{"receive":[]}}`} {
		op.emu.InjectFault(sendbluetest.Fault{Account: key, Method: "GET", Body: body})
	}
	mustCreate(t, newSet(ns, "app", "creds", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://app.example.com/o")}))
	waitEvent(t, ns, "app", ReasonIncompleteRead)
	waitReason(t, ns, "app", ReasonSynced)
	got := op.stored(t, key)
	for _, want := range []string{"https://foreign.example.com/r", `"next_year"`, "g-foreign", "https://app.example.com/o"} {
		if !strings.Contains(got, want) {
			t.Errorf("account %s lost %s", got, want)
		}
	}

	// A read that looks whole, but from which everything the operator did not
	// write has vanished at once, is confirmed by another read before a write.
	op.emu.InjectFault(sendbluetest.Fault{Account: key, Method: "GET",
		Body: `{"status":"OK","webhooks":` + string(full("outbound", `["https://app.example.com/o"]`)) + `}`})
	update(t, ns, "app", func(s *v1.SendblueWebhookSet) {
		s.Spec.Webhooks.Outbound = append(s.Spec.Webhooks.Outbound, hooks("https://app.example.com/o2")...)
	})
	op.waitStored(t, key, strings.Replace(got, `"outbound":["https://app.example.com/o"]`, `"outbound":["https://app.example.com/o","https://app.example.com/o2"]`, 1))
}

// Item 3: values JSON cannot carry are refused before any call, and a write
// that Sendblue does not store as sent is reported instead of repeated.
func TestWhatSendblueDidNotStoreIsReportedNotRepeated(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	const key = "key-mismatch"
	op.account(t, ns, "creds", key)
	op.emu.ResetRequests(key)
	for name, value := range map[string][]byte{"notutf8": {'w', 0xff, 0xfe, 's'}, "control": []byte("whsec\x01x"), "spaced": []byte(" whsec-spaced")} {
		mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{"k": value}})
		mustCreate(t, newSet(ns, name, "creds", "", v1.Webhooks{Receive: []v1.Webhook{{URL: v1.WebhookURL("https://" + name + ".example.com"), SecretRef: &v1.SecretKeyReference{Name: v1.SecretName(name), Key: "k"}}}}))
		s := waitReason(t, ns, name, ReasonInvalidSpec)
		if _, m := readyReason(s); !strings.Contains(m, "spec.webhooks[receive][0].secretRef") {
			t.Errorf("%s: message %q does not name the field", name, m)
		}
	}
	if n := op.emu.Requests(key)["PUT"]; n != 0 {
		t.Errorf("%d PUTs for sets whose secrets cannot be sent, want 0", n)
	}

	// Sendblue answers every write with 200 but keeps the old configuration.
	op.emu.InjectFault(sendbluetest.Fault{Account: key, Method: "PUT", DropWrite: true, Count: 1000})
	mustCreate(t, newSet(ns, "dropped", "creds", "", v1.Webhooks{Outbound: hooks("https://dropped.example.com")}))
	waitReason(t, ns, "dropped", ReasonWriteMismatch) // written once more first
	waitFor(t, "WriteMismatch to be Stalled", func() (bool, string) {
		s := get(t, ns, "dropped")
		r, m := readyReason(s)
		return r == ReasonWriteMismatch && stalled(s) && strings.Contains(m, "2 times"), m
	})
	time.Sleep(5 * testInterval)
	if n := op.emu.Requests(key)["PUT"]; n > 2 {
		t.Errorf("%d PUTs over 5 intervals for a write Sendblue does not keep, want at most 2", n)
	}
	op.emu.ClearFaults()

	// One write that does not persist is retried at once (not an interval
	// later) and converges.
	op2 := startOperator(t, 1, Options{IntervalOverride: time.Hour})
	op2.account(t, op2.ns[0], "creds", "key-dropped-once")
	op2.emu.InjectFault(sendbluetest.Fault{Account: "key-dropped-once", Method: "PUT", DropWrite: true})
	mustCreate(t, newSet(op2.ns[0], "once", "creds", "", v1.Webhooks{Outbound: hooks("https://once.example.com")}))
	op2.waitStored(t, "key-dropped-once", `{"receive":[],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://once.example.com"],"contact_created":[]}`)
	waitReason(t, op2.ns[0], "once", ReasonSynced)
}

// Item 4: a write that would exceed the size limit is refused before it is
// sent, naming the set that pushes it over, and the other sets go on; a 413
// is not retried in a loop.
func TestAnAccountTooLargeToWriteStopsOnlyTheSetThatPushesItOver(t *testing.T) {
	op := startOperator(t, 1, Options{UnauthorizedRetry: time.Minute}) // a limit learned from a 413 holds a minute
	ns := op.ns[0]
	const key = "key-too-large"
	op.account(t, ns, "creds", key)
	// The account already holds almost as much as may be written.
	var foreign []string
	for i := 0; len(foreign)*1040 < sendblue.MaxRequestBytes-10<<10; i++ {
		foreign = append(foreign, fmt.Sprintf("%q", fmt.Sprintf("https://f%d.example.com/%s", i, strings.Repeat("x", 1000))))
	}
	if err := op.emu.SetWebhooks(key, full("call_log", "["+strings.Join(foreign, ",")+"]")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, newSet(ns, "small", "creds", "", v1.Webhooks{Receive: hooks("https://small.example.com")}))
	waitReason(t, ns, "small", ReasonSynced)
	time.Sleep(1100 * time.Millisecond) // creation time orders sets
	var big []v1.Webhook
	for i := 0; i < 10; i++ {
		for _, u := range []string{"o", "l"} {
			big = append(big, v1.Webhook{URL: v1.WebhookURL(fmt.Sprintf("https://%s%d.example.com/%s", u, i, strings.Repeat("y", 900)))})
		}
	}
	mustCreate(t, newSet(ns, "big", "creds", "", v1.Webhooks{Outbound: big[:10], LineBlocked: big[10:]}))
	s := waitReason(t, ns, "big", ReasonAccountTooLarge)
	if _, m := readyReason(s); !strings.Contains(m, "this set") || !stalled(s) {
		t.Errorf("big: message %q stalled %v: want it named as the set that pushes the account over, Stalled", m, stalled(s))
	}
	if got := op.stored(t, key); len(got) > sendblue.MaxRequestBytes {
		t.Errorf("the account holds %d bytes, more than the write limit %d", len(got), sendblue.MaxRequestBytes)
	}
	// Another set still gets its webhook written.
	mustCreate(t, newSet(ns, "other", "creds", "", v1.Webhooks{ContactCreated: hooks("https://other.example.com")}))
	waitReason(t, ns, "other", ReasonSynced)
	if !strings.Contains(op.stored(t, key), "https://other.example.com") {
		t.Error("a set that fits was not written while another set is too large")
	}

	// Sendblue's own limit is lower than ours: a 413 is Stalled and learned,
	// not retried with fast backoff.
	op.account(t, ns, "creds-413", "key-413")
	op.emu.InjectFault(sendbluetest.Fault{Account: "key-413", Method: "PUT", Status: 413, Message: "Payload Too Large", Count: 1000})
	mustCreate(t, newSet(ns, "refused", "creds-413", "", v1.Webhooks{Receive: hooks("https://refused.example.com")}))
	s = waitReason(t, ns, "refused", ReasonAccountTooLarge)
	if !stalled(s) {
		t.Errorf("a 413 is not Stalled: %+v", s.Status.Conditions)
	}
	time.Sleep(5 * testInterval)
	if n := op.emu.Requests("key-413")["PUT"]; n > 2 {
		t.Errorf("%d PUTs after a 413, want at most 2", n)
	}
}

// Item 5: credentials with surrounding whitespace are refused; two keys of
// one account do not make an Exclusive set fight the other key's sets.
func TestTwoKeysOfOneAccountDoNotFight(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	op.account(t, ns, "creds-1", "key-one-account-1")
	if err := op.emu.AddKey("key-one-account-1", "key-one-account-2", secretValue("sk-second-key")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, credsSecret(ns, "creds-2", "key-one-account-2", "sk-second-key"))
	mustCreate(t, credsSecret(ns, "creds-spaced", "key-one-account-2", "sk-second-key "))
	mustCreate(t, newSet(ns, "spaced", "creds-spaced", "", v1.Webhooks{Receive: hooks("https://spaced.example.com")}))
	s := waitReason(t, ns, "spaced", ReasonInvalidSpec)
	if _, m := readyReason(s); !strings.Contains(m, "whitespace") {
		t.Errorf("message %q does not say what is wrong", m)
	}

	mustCreate(t, newSet(ns, "merge", "creds-1", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://merge.example.com")}))
	waitReason(t, ns, "merge", ReasonSynced)
	mustCreate(t, newSet(ns, "exclusive", "creds-2", v1.PolicyExclusive, v1.Webhooks{Outbound: hooks("https://exclusive.example.com")}))
	waitReason(t, ns, "exclusive", ReasonSynced)
	op.waitStored(t, "key-one-account-1", `{"receive":["https://merge.example.com"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://exclusive.example.com"],"contact_created":[]}`)
	op.emu.ResetRequests("key-one-account-1")
	op.emu.ResetRequests("key-one-account-2")
	time.Sleep(5 * testInterval)
	puts := op.emu.Requests("key-one-account-1")["PUT"] + op.emu.Requests("key-one-account-2")["PUT"]
	if puts != 0 {
		t.Errorf("%d PUTs over 5 intervals on a converged account reached by two keys, want 0", puts)
	}
	if got := op.stored(t, "key-one-account-1"); !strings.Contains(got, "https://merge.example.com") {
		t.Errorf("the Exclusive set removed what a set using the other key declares: %s", got)
	}
}

// Item 6: a set pinned to one account that is pointed at another writes to
// neither until the move is accepted; a secret-key rotation is not a move.
func TestPointingASetAtAnotherAccountWritesNothingUntilAccepted(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	op.account(t, ns, "prod", "prod-key-0001")
	stagSecret := op.account(t, ns, "stag", "stag-key-0001")
	staging := full("outbound", `["https://staging-only.example.com/o"]`)
	if err := op.emu.SetWebhooks("stag-key-0001", staging); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, newSet(ns, "app", "prod", "", v1.Webhooks{Receive: hooks("https://app.example.com/r"), Outbound: hooks("https://staging-only.example.com/o")}))
	s := waitReason(t, ns, "app", ReasonSynced)
	pinned := s.Status.AccountID
	if pinned == "" || strings.Contains(pinned, "0001") {
		t.Fatalf("status.accountID %q: want a non-secret identity of the key id", pinned)
	}
	prod := op.stored(t, "prod-key-0001")

	// Re-pointed at staging while dropping a URL it applied on prod.
	update(t, ns, "app", func(s *v1.SendblueWebhookSet) {
		s.Spec.CredentialsRef.Name = "stag"
		s.Spec.Webhooks.Outbound = nil
	})
	s = waitReason(t, ns, "app", ReasonAccountChanged)
	_, m := readyReason(s)
	if !stalled(s) || !strings.Contains(m, AnnotationAcceptAccount) {
		t.Errorf("AccountChanged: stalled %v, message %q: want Stalled and the way out", stalled(s), m)
	}
	time.Sleep(3 * testInterval)
	if got := op.stored(t, "stag-key-0001"); got != string(staging) {
		t.Errorf("staging was written before the move was accepted: %s", got)
	}
	if got := op.stored(t, "prod-key-0001"); got != prod {
		t.Errorf("prod was written after the set moved away: %s", got)
	}

	// Accepting the move: the set owns nothing on staging yet.
	newID := accountIDFromMessage(t, m)
	update(t, ns, "app", func(s *v1.SendblueWebhookSet) {
		s.Annotations = map[string]string{AnnotationAcceptAccount: newID}
	})
	s = waitReason(t, ns, "app", ReasonSynced)
	if s.Status.AccountID != newID {
		t.Errorf("status.accountID %q after the move, want %q", s.Status.AccountID, newID)
	}
	op.waitStored(t, "stag-key-0001", `{"receive":["https://app.example.com/r"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://staging-only.example.com/o"],"contact_created":[]}`)

	// Rotating the secret key of the same key id is not a move.
	rotated := secretValue("sk-stag-rotated")
	if err := op.emu.RotateSecret("stag-key-0001", rotated); err != nil {
		t.Fatal(err)
	}
	var sec corev1.Secret
	if err := testClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "stag"}, &sec); err != nil {
		t.Fatal(err)
	}
	sec.Data["apiSecretKey"] = []byte(rotated)
	if err := testClient.Update(context.Background(), &sec); err != nil {
		t.Fatal(err)
	}
	_ = stagSecret
	update(t, ns, "app", func(s *v1.SendblueWebhookSet) { s.Spec.Webhooks.CallLog = hooks("https://app.example.com/c") })
	s = waitReason(t, ns, "app", ReasonSynced)
	if s.Status.AccountID != newID {
		t.Errorf("status.accountID %q after a rotation, want %q unchanged", s.Status.AccountID, newID)
	}
}

func accountIDFromMessage(t *testing.T, m string) string {
	t.Helper()
	i := strings.Index(m, AnnotationAcceptAccount+"=")
	if i < 0 {
		t.Fatalf("message %q does not give the annotation to set", m)
	}
	rest := m[i+len(AnnotationAcceptAccount)+1:]
	if j := strings.IndexAny(rest, " ;,)"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// Item 12: service-account tokens can never be sent to a webhook; with the
// opt-in guard, only Secrets that carry the label can.
func TestSecretsThatMayNotBeSentAreRefused(t *testing.T) {
	sel, err := labels.Parse("sendblue.webhooks.dev/referable=true")
	if err != nil {
		t.Fatal(err)
	}
	op := startOperator(t, 1, Options{WebhookSecretSelector: sel})
	ns := op.ns[0]
	op.account(t, ns, "creds", "key-guard")
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns,
		Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type: corev1.SecretTypeServiceAccountToken, Data: map[string][]byte{"token": []byte(secretValue("sa-token-value"))}}
	mustCreate(t, token)
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unlabeled", Namespace: ns}, Data: map[string][]byte{"k": []byte(secretValue("unlabeled-value"))}})
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "labeled", Namespace: ns, Labels: map[string]string{"sendblue.webhooks.dev/referable": "true"}},
		Data: map[string][]byte{"k": []byte(secretValue("labeled-value"))}})
	ref := func(name, key string) []v1.Webhook {
		return []v1.Webhook{{URL: v1.WebhookURL("https://" + name + ".example.com"), SecretRef: &v1.SecretKeyReference{Name: v1.SecretName(name), Key: v1.SecretDataKey(key)}}}
	}
	mustCreate(t, newSet(ns, "token", "creds", "", v1.Webhooks{Receive: ref("token", "token")}))
	mustCreate(t, newSet(ns, "unlabeled", "creds", "", v1.Webhooks{Receive: ref("unlabeled", "k")}))
	mustCreate(t, newSet(ns, "labeled", "creds", "", v1.Webhooks{Receive: ref("labeled", "k")}))
	for _, n := range []string{"token", "unlabeled"} {
		s := waitReason(t, ns, n, ReasonSecretNotAllowed)
		if _, m := readyReason(s); !strings.Contains(m, "Secret "+ns+"/"+n) || !stalled(s) {
			t.Errorf("%s: message %q stalled %v", n, m, stalled(s))
		}
	}
	waitReason(t, ns, "labeled", ReasonSynced)
	got := op.stored(t, "key-guard")
	if strings.Contains(got, "sa-token-value") || strings.Contains(got, "unlabeled-value") {
		t.Errorf("a refused Secret reached the account: %s", got)
	}
}

// Items 14 and 16: a set that never wrote anything is released at once
// when its credentials are gone; control characters in credentials are an
// InvalidSpec, not an endless APIError.
func TestBrokenCredentialsNeitherHangDeletionNorLoop(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	mustCreate(t, newSet(ns, "never-synced", "missing", "", v1.Webhooks{Receive: hooks("https://never.example.com")}))
	waitReason(t, ns, "never-synced", ReasonCredentialsNotFound)
	deleteObject(t, get(t, ns, "never-synced"))
	start := time.Now()
	waitGone(t, ns, "never-synced")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("deleting a set that applied nothing took %s", d)
	}

	op.emu.ResetRequests("key-control")
	for name, value := range map[string]string{"nul": "sk-a\x00b", "del": "sk-a\x7fb", "esc": "sk-\x1b[0m", "nonascii": "sk-\u00e9"} {
		if err := op.emu.AddAccount("key-"+name, value); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, credsSecret(ns, "creds-"+name, "key-"+name, value))
		mustCreate(t, newSet(ns, name, "creds-"+name, "", v1.Webhooks{Receive: hooks("https://" + name + ".example.com")}))
		s := waitReason(t, ns, name, ReasonInvalidSpec)
		if _, m := readyReason(s); !strings.Contains(m, "spec.credentialsRef") || !stalled(s) {
			t.Errorf("%s: message %q stalled %v", name, m, stalled(s))
		}
		if n := op.emu.Requests("key-" + name); n["GET"]+n["PUT"] != 0 {
			t.Errorf("%s: credentials that cannot be sent were sent: %v", name, n)
		}
	}
}

// Item 9 and 13: the cache keeps no Secret annotation (kubectl's
// last-applied-configuration holds a Secret's data) and no managedFields, and
// no set's last-applied copy of its spec.
func TestTheCacheHoldsNoSecretDataAndNoCopiesOfSets(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	value := secretValue("whsec-last-applied")
	lastApplied := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","stringData":{"k":%q}}`, value)
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "applied", Namespace: ns,
		Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: lastApplied, "team": "a"},
		Labels:      map[string]string{"app": "x"}}, StringData: map[string]string{"k": value}})
	set := newSet(ns, "cached", "creds", "", v1.Webhooks{Receive: []v1.Webhook{{URL: "https://c.example.com", SecretRef: &v1.SecretKeyReference{Name: "applied", Key: "k"}}}})
	set.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: `{"spec":"a copy"}`, AnnotationAcceptAccount: "kept"}
	mustCreate(t, set)

	var meta metav1.PartialObjectMetadata
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	waitFor(t, "the Secret in the metadata cache", func() (bool, string) {
		err := op.mgr.GetCache().Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "applied"}, &meta)
		return err == nil, fmt.Sprint(err)
	})
	if len(meta.Annotations) != 0 || len(meta.ManagedFields) != 0 {
		t.Errorf("cached Secret metadata keeps annotations %v and %d managedFields entries", meta.Annotations, len(meta.ManagedFields))
	}
	if len(meta.Labels) != 0 || meta.Name != "applied" || meta.ResourceVersion == "" || meta.UID == "" {
		t.Errorf("cached Secret metadata keeps more or less than name, UID and resourceVersion: %+v", meta.ObjectMeta)
	}
	var cached v1.SendblueWebhookSet
	waitFor(t, "the set in the cache", func() (bool, string) {
		err := op.mgr.GetCache().Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "cached"}, &cached)
		return err == nil, fmt.Sprint(err)
	})
	if _, ok := cached.Annotations[corev1.LastAppliedConfigAnnotation]; ok || len(cached.ManagedFields) != 0 {
		t.Errorf("cached set keeps last-applied-configuration or managedFields: %v, %d", cached.Annotations, len(cached.ManagedFields))
	}
	if cached.Annotations[AnnotationAcceptAccount] != "kept" {
		t.Errorf("cached set lost the operator's own annotation: %v", cached.Annotations)
	}
}

// Issue 15, item 1: a tenant's Secrets cannot grow the manager. Of a
// referenced Secret only the referenced keys are held (the metric counts
// them); a referenced value larger than an API key, a webhook secret or a
// password can be is refused with the field, the key and its size, and
// nothing is written.
func TestATenantsSecretsCannotGrowTheManager(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	op.account(t, ns, "creds", "key-bounded")
	filler := map[string][]byte{"k": []byte(secretValue("ten-bytes!"))}
	for i := 0; i < 9; i++ {
		filler[fmt.Sprintf("filler-%d", i)] = bytes.Repeat([]byte{'x'}, 100<<10)
	}
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "fat", Namespace: ns}, Data: filler})
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "huge", Namespace: ns},
		Data: map[string][]byte{"k": bytes.Repeat([]byte{'y'}, secretref.MaxValueBytes+1)}})
	mustCreate(t, newSet(ns, "fat", "creds", "", v1.Webhooks{Receive: []v1.Webhook{{URL: "https://fat.example.com",
		SecretRef: &v1.SecretKeyReference{Name: "fat", Key: "k"}}}}))
	waitReason(t, ns, "fat", ReasonSynced)
	held := testutil.ToFloat64(op.metrics.secretBytes)
	if held <= 0 || held > 1024 {
		t.Errorf("sendblue_secret_value_bytes %v after one 10-byte key of a 900 KB Secret and the credentials, want a few bytes", held)
	}

	op.emu.ResetRequests("key-bounded")
	mustCreate(t, newSet(ns, "huge", "creds", "", v1.Webhooks{Receive: []v1.Webhook{{URL: "https://huge.example.com",
		SecretRef: &v1.SecretKeyReference{Name: "huge", Key: "k"}}}}))
	s := waitReason(t, ns, "huge", ReasonInvalidSpec)
	_, m := readyReason(s)
	for _, want := range []string{"spec.webhooks[receive][0].secretRef", `key "k"`, "Secret " + ns + "/huge", fmt.Sprintf("%d bytes", secretref.MaxValueBytes+1)} {
		if !strings.Contains(m, want) {
			t.Errorf("message %q does not say %q", m, want)
		}
	}
	if !stalled(s) {
		t.Error("an oversize value is not Stalled: it needs a change from the user")
	}
	if n := op.emu.Requests("key-bounded"); n["PUT"] != 0 {
		t.Errorf("a set with an oversize value wrote: %v", n)
	}
	if got := testutil.ToFloat64(op.metrics.secretBytes); got != held {
		t.Errorf("sendblue_secret_value_bytes %v after an oversize value was refused, want %v (it is not held)", got, held)
	}
}

// Issue 15, item 3: no read is trusted blindly. The first read after a
// start, the first read of an account, and a read that lost only part of
// what the operator did not write are confirmed before a write built from
// them replaces the account.
func TestNoReadIsTrustedBlindly(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	secretValue("g-first-read")
	theirs := []string{"https://foreign.example.com/r", "https://typing.example.com", `"g-first-read"`, `"next_year"`}
	account := func(key string) json.RawMessage {
		return full("receive", `["https://foreign.example.com/r"]`, "typing_indicator", `["https://typing.example.com"]`,
			"globalSecret", `"g-first-read"`, "next_year", `[1]`)
	}
	newAccount := `{"status":"OK","webhooks":` + string(full()) + `}`
	intact := func(key string, want ...string) {
		t.Helper()
		got := op.stored(t, key)
		for _, w := range append(want, theirs...) {
			if !strings.Contains(got, w) {
				t.Errorf("account %s lost %s: %s", key, w, got)
			}
		}
	}
	const key = "key-first-read"
	op.account(t, ns, "creds", key)
	if err := op.emu.SetWebhooks(key, account(key)); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, newSet(ns, "app", "creds", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://app.example.com/o1")}))
	waitReason(t, ns, "app", ReasonSynced)

	// A restart; the set changed meanwhile; the first read answers as a
	// brand-new account would.
	op.stop()
	update(t, ns, "app", func(s *v1.SendblueWebhookSet) {
		s.Spec.Webhooks.Outbound = append(s.Spec.Webhooks.Outbound, hooks("https://app.example.com/o2")...)
	})
	op.emu.InjectFault(sendbluetest.Fault{Account: key, Method: "GET", Body: newAccount})
	op.start(t, Options{})
	waitFor(t, "o2 to be written", func() (bool, string) {
		got := op.stored(t, key)
		return strings.Contains(got, "https://app.example.com/o2"), got
	})
	intact(key, "https://app.example.com/o1")

	// An account first seen, on which no set applied anything yet: its first
	// read lies the same way.
	const key2 = "key-first-seen"
	op.account(t, ns, "creds2", key2)
	if err := op.emu.SetWebhooks(key2, account(key2)); err != nil {
		t.Fatal(err)
	}
	op.emu.InjectFault(sendbluetest.Fault{Account: key2, Method: "GET", Body: newAccount})
	mustCreate(t, newSet(ns, "fresh", "creds2", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://fresh.example.com/o")}))
	waitReason(t, ns, "fresh", ReasonSynced)
	intact(key2, "https://fresh.example.com/o")

	// A read that lost only part of what no set wrote (the typing_indicator
	// webhook), the rest still there.
	partial := `{"status":"OK","webhooks":` + strings.Replace(op.stored(t, key), `"https://typing.example.com"`, ``, 1) + `}`
	if strings.Contains(partial, "typing.example.com") {
		t.Fatalf("the partial read still holds the typing webhook: %s", partial)
	}
	// Served twice: to the read a write is planned from and to the read
	// under the write lock, so that only the confirmation can catch it.
	op.emu.InjectFault(sendbluetest.Fault{Account: key, Method: "GET", Body: partial, Count: 2})
	update(t, ns, "app", func(s *v1.SendblueWebhookSet) {
		s.Spec.Webhooks.Outbound = append(s.Spec.Webhooks.Outbound, hooks("https://app.example.com/o3")...)
	})
	waitFor(t, "o3 to be written", func() (bool, string) {
		got := op.stored(t, key)
		return strings.Contains(got, "https://app.example.com/o3"), got
	})
	intact(key, "https://app.example.com/o1", "https://app.example.com/o2")
}

// Issue 15, item 2: a set whose account cannot be told (its credentials
// Secret does not exist) protects what it applied, not what it merely
// declares; what a guard keeps stays owned by the set that would have
// removed it, and is removed once nothing holds it; a deletion that leaves
// something behind says so.
func TestAnUnreadableSetCannotPinAnotherTenantsWebhooks(t *testing.T) {
	op := startOperator(t, 2, Options{})
	victim, tenant := op.ns[0], op.ns[1]
	const key = "key-pinned"
	op.account(t, victim, "creds", key)
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: victim}, Data: map[string][]byte{"k": []byte(secretValue("g-victim"))}})
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: tenant}, Data: map[string][]byte{"k": []byte(secretValue("g-tenant"))}})
	shared := "https://shared.example.com/r"
	v := newSet(victim, "victim", "creds", v1.PolicyMerge, v1.Webhooks{Receive: hooks(shared), Outbound: hooks("https://kept.example.com/o")})
	v.Spec.GlobalSecretRef = &v1.SecretKeyReference{Name: "g", Key: "k"}
	mustCreate(t, v)
	waitReason(t, victim, "victim", ReasonSynced)

	// The tenant declares the same URL and a global secret, with credentials
	// that do not exist: it applied nothing.
	pin := newSet(tenant, "pin", "missing", v1.PolicyMerge, v1.Webhooks{Receive: hooks(shared)})
	pin.Spec.GlobalSecretRef = &v1.SecretKeyReference{Name: "g", Key: "k"}
	mustCreate(t, pin)
	waitReason(t, tenant, "pin", ReasonCredentialsNotFound)
	// Another one, which says it applied the outbound webhook (as a set that
	// lost its credentials after a sync would).
	op.unreadableApplier(t, tenant, "applier", "https://kept.example.com/o")

	// The victim stops declaring the outbound webhook: the applier keeps it
	// on the account, and the victim keeps owning it.
	update(t, victim, "victim", func(s *v1.SendblueWebhookSet) { s.Spec.Webhooks.Outbound = nil })
	waitFor(t, "the victim to report the kept webhook", func() (bool, string) {
		s := get(t, victim, "victim")
		_, m := readyReason(s)
		return s.Status.ObservedGeneration == s.Generation && strings.Contains(m, "kept") && strings.Contains(m, "kept.example.com"), m
	})
	s := get(t, victim, "victim")
	if !slices.Contains(s.Status.Applied, v1.AppliedWebhook{Type: "outbound", URL: "https://kept.example.com/o"}) {
		t.Errorf("the victim gave up ownership of what a guard kept: status.applied %v", s.Status.Applied)
	}
	if _, m := readyReason(s); strings.Contains(m, tenant) {
		t.Errorf("the victim's message names the tenant's set: %q", m)
	}
	if got := op.stored(t, key); !strings.Contains(got, "kept.example.com") {
		t.Errorf("a webhook another set applied was removed: %s", got)
	}

	// Once nothing holds it, the victim removes it.
	deleteObject(t, get(t, tenant, "applier"))
	waitGone(t, tenant, "applier")
	requestSync(t, victim, "victim", "after-applier")
	waitFor(t, "the kept webhook to be removed", func() (bool, string) {
		got := op.stored(t, key)
		return !strings.Contains(got, "kept.example.com"), got
	})

	// Deleting the victim removes the URL and the global secret the tenant
	// merely declares.
	deleteObject(t, get(t, victim, "victim"))
	waitGone(t, victim, "victim")
	got := op.stored(t, key)
	if strings.Contains(got, shared) || strings.Contains(got, "g-victim") {
		t.Errorf("what the victim applied stayed after its deletion, pinned by a set that only declares it: %s", got)
	}
}

// A deletion whose removals a guard keeps says so: a Warning, the log at
// error level, sendblue_webhooks_left_behind_total.
func TestADeletionThatLeavesWebhooksSaysSo(t *testing.T) {
	op := startOperator(t, 2, Options{})
	victim, tenant := op.ns[0], op.ns[1]
	const key = "key-left-behind"
	op.account(t, victim, "creds", key)
	mustCreate(t, newSet(victim, "victim", "creds", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://held.example.com/o")}))
	waitReason(t, victim, "victim", ReasonSynced)
	op.unreadableApplier(t, tenant, "applier", "https://held.example.com/o")
	deleteObject(t, get(t, victim, "victim"))
	e := waitEvent(t, victim, "victim", EventLeftBehind)
	if !strings.Contains(e.Note, "held.example.com") || strings.Contains(e.Note, tenant) {
		t.Errorf("event %q does not say what was left, or names the tenant's set", e.Note)
	}
	waitGone(t, victim, "victim")
	if n := testutil.ToFloat64(op.metrics.leftBehind.WithLabelValues("Kept")); n != 1 {
		t.Errorf("sendblue_webhooks_left_behind_total{reason=Kept} = %v, want 1", n)
	}
	if !strings.Contains(op.logs.String(), "A deleted set left webhooks on its account") {
		t.Error("nothing was logged at error level")
	}
	if got := op.stored(t, key); !strings.Contains(got, "held.example.com") {
		t.Errorf("a webhook another set applied was removed: %s", got)
	}
}

// Issue 15, item 4: two key ids of one account, their sets created at once,
// never undo each other's writes, and no set reports Synced for a write a
// later PUT overwrote.
func TestTwoKeysOfOneAccountNeverUndoEachOther(t *testing.T) {
	op := startOperator(t, 1, Options{BatchWindow: time.Millisecond})
	ns := op.ns[0]
	const pairs = 6
	for i := 0; i < pairs; i++ {
		k1, k2 := fmt.Sprintf("key-shared-%d-a", i), fmt.Sprintf("key-shared-%d-b", i)
		op.account(t, ns, fmt.Sprintf("creds-%d-a", i), k1)
		s2 := secretValue(fmt.Sprintf("sk-shared-%d-b", i))
		if err := op.emu.AddKey(k1, k2, s2); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, credsSecret(ns, fmt.Sprintf("creds-%d-b", i), k2, s2))
	}
	// Both sets of a pair at once, every pair at once.
	var wg sync.WaitGroup
	for i := 0; i < pairs; i++ {
		for _, side := range []string{"a", "b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("set-%d-%s", i, side)
				if err := testClient.Create(context.Background(), newSet(ns, name, fmt.Sprintf("creds-%d-%s", i, side), v1.PolicyMerge,
					v1.Webhooks{Receive: hooks("https://" + name + ".example.com")})); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for i := 0; i < pairs; i++ {
		a, b := fmt.Sprintf("set-%d-a", i), fmt.Sprintf("set-%d-b", i)
		waitReason(t, ns, a, ReasonSynced)
		waitReason(t, ns, b, ReasonSynced)
		got := op.stored(t, fmt.Sprintf("key-shared-%d-a", i))
		for _, n := range []string{a, b} {
			if !strings.Contains(got, "https://"+n+".example.com") {
				t.Errorf("%s reports Synced, but the account lacks its webhook (a PUT through the other key replaced it): %s", n, got)
			}
		}
	}
	for i := 0; i < pairs; i++ {
		for _, side := range []string{"a", "b"} {
			for _, e := range events(t, ns, fmt.Sprintf("set-%d-%s", i, side)) {
				if e.Reason == EventWebhookVanished {
					t.Errorf("set-%d-%s: %s: %s", i, side, e.Reason, e.Note)
				}
			}
		}
	}
}

// Issue 15, item 11: status is not a backup. Sets restored without their
// status (Velero, a re-apply from Git) find what they own again by
// observation: an Exclusive set removes nothing it or a sibling applied,
// ownership (status.applied) and the account pin (status.accountID) come
// back from the first sync, and nothing is written.
func TestSetsRestoredWithoutStatusRemoveNothing(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	const key = "key-restored"
	op.account(t, ns, "creds", key)
	mustCreate(t, newSet(ns, "exclusive", "creds", v1.PolicyExclusive, v1.Webhooks{Outbound: hooks("https://exclusive.example.com")}))
	mustCreate(t, newSet(ns, "merge", "creds", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://merge.example.com")}))
	before := map[string]*v1.SendblueWebhookSet{}
	for _, n := range []string{"exclusive", "merge"} {
		before[n] = waitReason(t, ns, n, ReasonSynced)
	}
	stored := op.stored(t, key)

	op.stop()
	for _, n := range []string{"exclusive", "merge"} {
		s := get(t, ns, n)
		s.Status = v1.SendblueWebhookSetStatus{}
		if err := testClient.Status().Update(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	op.emu.ResetRequests(key)
	op.start(t, Options{})
	for _, n := range []string{"exclusive", "merge"} {
		s := waitReason(t, ns, n, ReasonSynced)
		if !slices.Equal(s.Status.Applied, before[n].Status.Applied) || s.Status.AccountID != before[n].Status.AccountID {
			t.Errorf("%s after the restore: applied %v account %q, want %v %q", n, s.Status.Applied, s.Status.AccountID, before[n].Status.Applied, before[n].Status.AccountID)
		}
	}
	if got := op.stored(t, key); got != stored {
		t.Errorf("the account changed after a restore without status:\n got %s\nwant %s", got, stored)
	}
	if n := op.emu.Requests(key)["PUT"]; n != 0 {
		t.Errorf("%d PUTs after a restore without status, want 0", n)
	}
}

// unreadableApplier makes a set (deletionPolicy Orphan) whose credentials
// Secret does not exist and whose status says it applied the outbound
// webhook url, as a set that lost its credentials after a sync would, and
// waits until the index holds what it applied.
func (op *operator) unreadableApplier(t *testing.T, ns, name, url string) {
	t.Helper()
	s := newSet(ns, name, "missing", v1.PolicyMerge, v1.Webhooks{Outbound: hooks(url)})
	s.Spec.DeletionPolicy = v1.DeletionPolicyOrphan
	mustCreate(t, s)
	waitReason(t, ns, name, ReasonCredentialsNotFound)
	a := get(t, ns, name)
	a.Status.Applied = []v1.AppliedWebhook{{Type: "outbound", URL: url}}
	if err := testClient.Status().Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	// A status change alone is not reconciled: an annotation is.
	if err := testClient.Patch(context.Background(), a, client.RawPatch(types.MergePatchType,
		[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:"status-set"}}}`, AnnotationRequestedAt)))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the status of "+name+" to be indexed", func() (bool, string) {
		e := op.r.ix.entry(client.ObjectKeyFromObject(a))
		return e != nil && len(e.blocks) == 1, fmt.Sprint(e)
	})
}
