package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

// After a restart, no account is written until every set present at start
// is indexed: an Exclusive set must not remove a sibling's webhook because
// the sibling (here in another namespace) was not indexed yet.
func TestRestartWritesNothingUntilEverySetIsIndexed(t *testing.T) {
	op := startOperator(t, 2, Options{})
	ns1, ns2 := op.ns[0], op.ns[1]
	key := "key-restart"
	op.sharedAccount(t, "creds", key, ns1, ns2)
	mustCreate(t, newSet(ns1, "owner", "creds", v1.PolicyExclusive, v1.Webhooks{Receive: hooks("https://owner.example.com/r")}))
	waitReason(t, ns1, "owner", ReasonSynced)
	mustCreate(t, newSet(ns2, "sibling", "creds", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://sibling.example.com/o")}))
	waitReason(t, ns2, "sibling", ReasonSynced)
	op.stop()

	// Something for the Exclusive set to remove, so that a sync writes.
	if err := op.emu.SetWebhooks(key, []byte(`{"receive":["https://owner.example.com/r","https://dashboard.example.com/r"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://sibling.example.com/o"],"contact_created":[]}`)); err != nil {
		t.Fatal(err)
	}
	op.emu.ResetRequests(key)
	release := make(chan struct{})
	var once sync.Once
	op.start(t, Options{beforeIndex: func(k types.NamespacedName) {
		if k.Namespace == ns2 {
			<-release // the sibling is indexed last
		}
	}})
	defer once.Do(func() { close(release) })
	time.Sleep(3 * time.Second)
	if n := op.emu.Requests(key); n["PUT"] != 0 {
		t.Fatalf("the account was written before every set was indexed: %v", n)
	}
	once.Do(func() { close(release) })
	op.waitStored(t, key, `{"receive":["https://owner.example.com/r"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://sibling.example.com/o"],"contact_created":[]}`)
}

// One account's sets in several namespaces are planned together: one PUT
// for a change in each, and an Exclusive set in one namespace keeps what a
// set in another declares.
func TestAnAccountSpanningNamespacesIsOneAccount(t *testing.T) {
	op := startOperator(t, 3, Options{BatchWindow: 300 * time.Millisecond, IntervalOverride: time.Hour})
	key := "key-spanning"
	op.sharedAccount(t, "creds", key, op.ns...)
	mustCreate(t, newSet(op.ns[0], "a", "creds", v1.PolicyExclusive, v1.Webhooks{Receive: hooks("https://a.example.com")}))
	mustCreate(t, newSet(op.ns[1], "b", "creds", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://b.example.com")}))
	mustCreate(t, newSet(op.ns[2], "c", "creds", v1.PolicyMerge, v1.Webhooks{CallLog: hooks("https://c.example.com")}))
	want := `{"receive":["https://a.example.com"],"call_log":["https://c.example.com"],"line_blocked":[],"line_assigned":[],"outbound":["https://b.example.com"],"contact_created":[]}`
	op.waitStored(t, key, want)
	for i, name := range []string{"a", "b", "c"} {
		waitReason(t, op.ns[i], name, ReasonSynced)
	}
	if n := op.emu.Requests(key)["PUT"]; n != 1 {
		t.Errorf("%d PUTs for three sets created together, want 1", n)
	}
	// Edits in two namespaces within one window: one more PUT.
	update(t, op.ns[1], "b", func(s *v1.SendblueWebhookSet) { s.Spec.Webhooks.Outbound = hooks("https://b2.example.com") })
	update(t, op.ns[2], "c", func(s *v1.SendblueWebhookSet) { s.Spec.Webhooks.CallLog = hooks("https://c2.example.com") })
	op.waitStored(t, key, strings.NewReplacer("b.example", "b2.example", "c.example", "c2.example").Replace(want))
	waitReason(t, op.ns[2], "c", ReasonSynced)
	if n := op.emu.Requests(key)["PUT"]; n != 2 {
		t.Errorf("%d PUTs after two edits within one batch window, want 2", n)
	}
	// Deleting one namespace's set leaves the account to the others; the
	// account's state goes when its last set does.
	for i, name := range []string{"a", "b", "c"} {
		if err := testClient.Delete(context.Background(), &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Namespace: op.ns[i], Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the account's state to be dropped", func() (bool, string) {
		op.r.mu.Lock()
		n := len(op.r.accounts)
		op.r.mu.Unlock()
		sets, accounts := op.r.ix.counts()
		return n == 0 && sets == 0 && accounts == 0 && op.r.values.held() == 0, ""
	})
}

// A Secret's value is read from the kube-apiserver again only when its
// resourceVersion changes, however often the sets that use it reconcile.
func TestSecretValuesAreReadAgainOnlyWhenChanged(t *testing.T) {
	op := startOperator(t, 1, Options{IntervalOverride: time.Hour})
	ns := op.ns[0]
	op.account(t, ns, "creds", "key-reads")
	for _, name := range []string{"a", "b", "c"} {
		mustCreate(t, newSet(ns, name, "creds", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://" + name + ".example.com")}))
	}
	for _, name := range []string{"a", "b", "c"} {
		waitReason(t, ns, name, ReasonSynced)
	}
	reads := func() int {
		op.r.values.mu.Lock()
		defer op.r.values.mu.Unlock()
		return op.r.values.reads
	}
	before := reads()
	// A label on the Secret: every set reconciles; the value is read once.
	var sec corev1.Secret
	if err := testClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "creds"}, &sec); err != nil {
		t.Fatal(err)
	}
	sec.Labels = map[string]string{"touched": "yes"}
	if err := testClient.Update(context.Background(), &sec); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n := reads() - before; n != 1 {
		t.Errorf("%d reads of a Secret whose resourceVersion changed once (3 sets use it), want 1", n)
	}
	// Annotations on the sets: they reconcile; nothing is read.
	before = reads()
	for _, name := range []string{"a", "b", "c"} {
		update(t, ns, name, func(s *v1.SendblueWebhookSet) { s.Annotations = map[string]string{"note": "x"} })
	}
	time.Sleep(2 * time.Second)
	if n := reads() - before; n != 0 {
		t.Errorf("%d reads of an unchanged Secret, want 0", n)
	}
}

// A hanging account does not delay another: accounts sync on their own
// workers, each sync under its own deadline.
func TestAHangingAccountDoesNotDelayAnother(t *testing.T) {
	op := startOperator(t, 1, Options{IntervalOverride: time.Hour})
	ns := op.ns[0]
	op.account(t, ns, "slow", "key-hangs")
	op.account(t, ns, "fast", "key-healthy")
	op.emu.InjectFault(sendbluetest.Fault{Account: "key-hangs", Method: "GET", Hang: true, Count: 100})
	mustCreate(t, newSet(ns, "slow", "slow", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://slow.example.com")}))
	time.Sleep(200 * time.Millisecond) // the hanging sync has started
	start := time.Now()
	mustCreate(t, newSet(ns, "fast", "fast", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://fast.example.com")}))
	waitReason(t, ns, "fast", ReasonSynced)
	// The Sendblue client's timeout in tests is 5s: a shared worker would
	// have waited that long.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a healthy account took %s to sync while another hung", took)
	}
	waitReason(t, ns, "slow", ReasonAPIError)
	op.emu.ClearFaults()
}

// A 429 is the account's, not each set's: the account is read once into
// the limit, every set says so, and it is read again once after Retry-After.
func TestARateLimitIsRememberedPerAccount(t *testing.T) {
	op := startOperator(t, 1, Options{BatchWindow: 300 * time.Millisecond, IntervalOverride: time.Hour})
	ns := op.ns[0]
	key := "key-limited"
	op.account(t, ns, "creds", key)
	op.emu.InjectFault(sendbluetest.Fault{Account: key, Method: "GET", Status: 429, RetryAfter: "2"})
	names := []string{"a", "b", "c", "d", "e"}
	for _, name := range names {
		mustCreate(t, newSet(ns, name, "creds", v1.PolicyMerge, v1.Webhooks{Receive: hooks("https://" + name + ".example.com")}))
	}
	for _, name := range names {
		waitEvent(t, ns, name, ReasonRateLimited)
	}
	for _, name := range names {
		waitReason(t, ns, name, ReasonSynced)
	}
	// Three GETs: one limited, one read, and the read that confirms the
	// first read of an account before a write (issue 15, item 3).
	if n := op.emu.Requests(key); n["GET"] != 3 || n["PUT"] != 1 {
		t.Errorf("requests %v for five sets on a rate-limited account, want 3 GETs (one limited, one confirming the first read) and 1 PUT", n)
	}
}

// sharedAccount creates an emulator account and, in each namespace, a
// Secret secretName with its credentials.
func (op *operator) sharedAccount(t *testing.T, secretName, keyID string, namespaces ...string) {
	t.Helper()
	secret := secretValue("sk-" + keyID)
	if err := op.emu.AddAccount(keyID, secret); err != nil {
		t.Fatal(err)
	}
	for _, ns := range namespaces {
		mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns},
			StringData: map[string]string{"apiKeyId": keyID, "apiSecretKey": secret}})
	}
}

// A set that cannot even be patched (here an admission policy refuses its
// finalizer) does not hold every account back after a start: it is indexed
// as one whose account is unknown, so what it declares is guarded everywhere,
// and the other sets' accounts are written.
func TestASetThatCannotBePatchedDoesNotBlockTheAccounts(t *testing.T) {
	op := startOperator(t, 1, Options{})
	ns := op.ns[0]
	key := "key-unpatchable"
	op.sharedAccount(t, "creds", key, ns)
	mustCreate(t, newSet(ns, "owner", "creds", v1.PolicyExclusive, v1.Webhooks{Receive: hooks("https://owner.example.com/r")}))
	waitReason(t, ns, "owner", ReasonSynced)
	op.stop()

	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"sendblue.webhooks.dev"}, APIVersions: []string{"*"}, Resources: []string{"sendbluewebhooksets"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: fmt.Sprintf("request.namespace != %q || object.metadata.name != 'stuck'", ns), Message: "stuck sets cannot be updated"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	mustCreate(t, policy)
	mustCreate(t, binding)
	t.Cleanup(func() {
		_ = testClient.Delete(context.Background(), binding)
		_ = testClient.Delete(context.Background(), policy)
	})
	stuck := newSet(ns, "stuck", "creds", v1.PolicyMerge, v1.Webhooks{Outbound: hooks("https://stuck.example.com/o")})
	mustCreate(t, stuck)
	waitFor(t, "the policy to refuse updates of the stuck set", func() (bool, string) {
		s := get(t, ns, "stuck")
		s.Labels = map[string]string{"probe": "1"}
		err := testClient.Update(context.Background(), s)
		return err != nil && strings.Contains(err.Error(), "stuck sets cannot be updated"), fmt.Sprint(err)
	})
	// On the account: the owner's, a foreign one to remove, and the stuck
	// set's declaration, which must stay.
	if err := op.emu.SetWebhooks(key, []byte(`{"receive":["https://owner.example.com/r","https://dashboard.example.com/r"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://stuck.example.com/o"],"contact_created":[]}`)); err != nil {
		t.Fatal(err)
	}
	op.start(t, Options{})
	op.waitStored(t, key, `{"receive":["https://owner.example.com/r"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://stuck.example.com/o"],"contact_created":[]}`)
	_, m := readyReason(waitReason(t, ns, "owner", ReasonSynced))
	if !strings.Contains(m, ns+"/stuck") {
		t.Errorf("the Exclusive set's message does not say what it kept for the stuck set: %q", m)
	}
}
