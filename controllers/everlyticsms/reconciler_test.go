package everlyticsms

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
	"github.com/sendblue-operator/sendblue-operator/controllers/testenv"
)

func typesOf(w everlytic.Webhook) []string {
	var out []string
	for _, t := range w.EventTypes {
		out = append(out, string(t))
	}
	slices.Sort(out)
	return out
}

// receiverAuth creates the Secret of the receiver's basic auth.
func (op *operator) receiverAuth(t *testing.T, name, user, password string, lbls map[string]string) {
	t.Helper()
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: op.ns, Labels: lbls},
		StringData: map[string]string{"username": user, "password": op.secret(password)}})
}

func TestCreateConvergeEditAndRotate(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "alice")
	op.receiverAuth(t, "receiver", "hook-user", "pw-one-"+op.ns, nil)
	w := op.newHook("sms", "creds", "https://app.example.com/everlytic/sms", v1.EventDelivered, v1.EventFailed)
	w.Spec.ReceiverAuthRef = &v1.ReceiverAuthReference{Name: "receiver"}
	mustCreate(t, w)

	got := waitReason(t, op.ns, "sms", ReasonSynced)
	hook := op.only(t, "alice")
	if got.Status.WebhookID != hook.ID || got.Status.Enabled != "enabled" || got.Status.DriftDetection != v1.DriftDetectionRead {
		t.Errorf("status %+v, want id %s, enabled, Read", got.Status, hook.ID)
	}
	if hook.URL != "https://app.example.com/everlytic/sms" || hook.Verb != "post" || !slices.Equal(typesOf(hook), []string{"delivered", "failed"}) ||
		hook.Auth == nil || hook.Auth.Username != "hook-user" || hook.Auth.Password != "pw-one-"+op.ns {
		t.Errorf("Everlytic holds %+v", hook)
	}
	waitEvent(t, op.ns, "sms", EventCreated)

	// Converged: reads only, each interval.
	op.emu.ResetRequests("alice")
	time.Sleep(3500 * time.Millisecond)
	n := op.emu.Requests("alice")
	if n[everlytictest.OpGet] < 2 || n[everlytictest.OpCreate]+n[everlytictest.OpUpdate]+n[everlytictest.OpDelete]+n[everlytictest.OpList] != 0 {
		t.Errorf("a converged webhook made requests %v, want GETs only", n)
	}

	// Event types and verb change: one PUT of the whole webhook.
	update(t, op.ns, "sms", func(w *v1.EverlyticSMSWebhook) {
		w.Spec.EventTypes = []v1.EventType{v1.EventReply}
		w.Spec.Verb = v1.VerbGET
	})
	waitFor(t, "verb and event types on Everlytic", func() (bool, string) {
		h := op.only(t, "alice")
		return h.Verb == "get" && slices.Equal(typesOf(h), []string{"reply"}), h.Verb + strings.Join(typesOf(h), ",")
	})
	waitReason(t, op.ns, "sms", ReasonSynced)
	if h := op.only(t, "alice"); h.ID != hook.ID || h.Auth == nil || h.Auth.Password != "pw-one-"+op.ns {
		t.Errorf("after the edit Everlytic holds %+v: want the same webhook, password kept", h)
	}

	// Receiver password rotation reaches Everlytic.
	sec := &corev1.Secret{}
	if err := testClient.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: "receiver"}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Data["password"] = []byte(op.secret("pw-two-" + op.ns))
	if err := testClient.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new password on Everlytic", func() (bool, string) {
		h := op.only(t, "alice")
		return h.Auth != nil && h.Auth.Password == "pw-two-"+op.ns, "not yet"
	})

	// enabled: false -> disabled.
	update(t, op.ns, "sms", func(w *v1.EverlyticSMSWebhook) { w.Spec.Enabled = ptr.To(false) })
	waitFor(t, "disabled on Everlytic and in status", func() (bool, string) {
		s := get(t, op.ns, "sms")
		return op.only(t, "alice").Status == "disabled" && s.Status.Enabled == "disabled" && s.Status.ObservedGeneration == s.Generation, s.Status.Enabled
	})
}

func TestDriftIsCorrectedAndADeletedWebhookRecreated(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "bob")
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/a", v1.EventSent))
	first := waitReason(t, op.ns, "sms", ReasonSynced).Status.WebhookID

	h := op.only(t, "bob")
	h.URL, h.Status = "https://attacker.example.net/", "disabled"
	if _, err := op.emu.PutWebhook("bob", h); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, op.ns, "sms", EventDriftCorrected)
	if !strings.Contains(e.Note, "url") || !strings.Contains(e.Note, "status") {
		t.Errorf("DriftCorrected says %q: want the fields named", e.Note)
	}
	waitFor(t, "the url back", func() (bool, string) {
		h := op.only(t, "bob")
		return h.URL == "https://app.example.com/a" && h.Status == "enabled", h.URL
	})

	if err := op.emu.DeleteWebhook("bob", first); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, op.ns, "sms", EventRecreated)
	waitFor(t, "a new webhook recorded", func() (bool, string) {
		s := get(t, op.ns, "sms")
		return s.Status.WebhookID != "" && s.Status.WebhookID != first && op.only(t, "bob").ID == s.Status.WebhookID, s.Status.WebhookID
	})
}

func TestAdoptByIDNeverCreates(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "carol")
	existing, err := op.emu.PutWebhook("carol", everlytic.Webhook{URL: "https://old.example.com/", Verb: "GET", EventTypes: []everlytic.EventType{everlytic.Bounce}})
	if err != nil {
		t.Fatal(err)
	}
	w := op.newHook("adopt", "creds", "https://app.example.com/sms", v1.EventReply, v1.EventBounce)
	w.Spec.WebhookID = v1.WebhookID(existing.ID)
	mustCreate(t, w)
	got := waitReason(t, op.ns, "adopt", ReasonSynced)
	h := op.only(t, "carol")
	if got.Status.WebhookID != existing.ID || h.URL != "https://app.example.com/sms" || h.Verb != "post" {
		t.Errorf("status id %s, Everlytic %+v: want %s adopted and updated", got.Status.WebhookID, h, existing.ID)
	}
	waitEvent(t, op.ns, "adopt", EventAdopted)

	// Removed outside the operator: adopted, so not created again.
	if err := op.emu.DeleteWebhook("carol", existing.ID); err != nil {
		t.Fatal(err)
	}
	s := waitReason(t, op.ns, "adopt", ReasonWebhookNotFound)
	if _, m := readyReason(s); !strings.Contains(m, existing.ID) {
		t.Errorf("message %q: want the id named", m)
	}
	if n := op.emu.Requests("carol"); n[everlytictest.OpCreate] != 0 {
		t.Errorf("an adopted webhook was created: %v", n)
	}

	// An id that was never there.
	w = op.newHook("ghost", "creds", "https://app.example.com/sms", v1.EventReply)
	w.Spec.WebhookID = "4e54180d-597e-4e24-b712-862f04d385ad"
	mustCreate(t, w)
	waitReason(t, op.ns, "ghost", ReasonWebhookNotFound)

	// A second object claiming the same webhook is refused.
	keep, err := op.emu.PutWebhook("carol", everlytic.Webhook{URL: "https://k.example.com/", Verb: "POST", EventTypes: []everlytic.EventType{everlytic.Sent}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		w := op.newHook(name, "creds", "https://k.example.com/"+name, v1.EventSent)
		w.Spec.WebhookID = v1.WebhookID(keep.ID)
		mustCreate(t, w)
		waitFor(t, name+" handled", func() (bool, string) { r, _ := readyReason(get(t, op.ns, name)); return r != "", r })
	}
	waitReason(t, op.ns, "first", ReasonSynced)
	s = waitReason(t, op.ns, "second", ReasonConflict)
	if _, m := readyReason(s); !strings.Contains(m, op.ns+"/first") {
		t.Errorf("Conflict says %q: want the other object named", m)
	}
	if n := op.emu.Requests("carol"); n[everlytictest.OpCreate] != 0 {
		t.Errorf("adopting objects created webhooks: %v", n)
	}
}

func TestDeletionPoliciesAndSuspend(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "dave")
	mustCreate(t, op.newHook("gone", "creds", "https://app.example.com/gone", v1.EventSent))
	orphan := op.newHook("kept", "creds", "https://app.example.com/kept", v1.EventSent)
	orphan.Spec.DeletionPolicy = v1.DeletionPolicyOrphan
	mustCreate(t, orphan)
	goneID := waitReason(t, op.ns, "gone", ReasonSynced).Status.WebhookID
	keptID := waitReason(t, op.ns, "kept", ReasonSynced).Status.WebhookID

	for _, name := range []string{"gone", "kept"} {
		if err := testClient.Delete(context.Background(), &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: op.ns}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, name+" deleted", func() (bool, string) {
			err := testClient.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: name}, &v1.EverlyticSMSWebhook{})
			return apierrors.IsNotFound(err), "still there"
		})
	}
	if _, ok := op.emu.Webhook("dave", goneID); ok {
		t.Errorf("deletionPolicy Delete left webhook %s", goneID)
	}
	if _, ok := op.emu.Webhook("dave", keptID); !ok {
		t.Errorf("deletionPolicy Orphan deleted webhook %s", keptID)
	}

	// A 404 on delete counts as done.
	mustCreate(t, op.newHook("again", "creds", "https://app.example.com/again", v1.EventSent))
	againID := waitReason(t, op.ns, "again", ReasonSynced).Status.WebhookID
	op.emu.InjectFault(everlytictest.Fault{Account: "dave", Op: everlytictest.OpDelete, Status: 404, AfterStore: true})
	if err := testClient.Delete(context.Background(), &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Name: "again", Namespace: op.ns}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "again deleted", func() (bool, string) {
		err := testClient.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: "again"}, &v1.EverlyticSMSWebhook{})
		return apierrors.IsNotFound(err), "still there"
	})
	if _, ok := op.emu.Webhook("dave", againID); ok {
		t.Errorf("webhook %s still there", againID)
	}

	// Suspended: no call at all.
	sus := op.newHook("suspended", "creds", "https://app.example.com/s", v1.EventSent)
	sus.Spec.Suspend = true
	op.emu.ResetRequests("dave")
	mustCreate(t, sus)
	waitReason(t, op.ns, "suspended", ReasonSuspended)
	time.Sleep(2 * time.Second)
	for op, n := range op.emu.Requests("dave") {
		if n != 0 {
			t.Errorf("a suspended object made %d %s requests", n, op)
		}
	}
}

func TestInputsAndRefusalsAreReportedWithoutWrites(t *testing.T) {
	op := startOperator(t, Options{AllowedEndpoints: []string{"127.0.0.1", "localhost"}, WebhookSecretSelector: labels.SelectorFromSet(labels.Set{"everlytic.webhooks.dev/referable": "true"})})
	op.account(t, "creds", "erin")

	// Credentials Secret missing, then created.
	mustCreate(t, op.newHook("late", "late-creds", "https://app.example.com/late", v1.EventSent))
	s := waitReason(t, op.ns, "late", ReasonCredentialsNotFound)
	if _, m := readyReason(s); !strings.Contains(m, "late-creds") || meta.IsStatusConditionTrue(s.Status.Conditions, status.ConditionStalled) {
		t.Errorf("CredentialsNotFound: %q, stalled %v", m, meta.IsStatusConditionTrue(s.Status.Conditions, status.ConditionStalled))
	}
	key := op.secret("ek-late-" + op.ns)
	if err := op.emu.AddAccount("late", key); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "late-creds", Namespace: op.ns}, StringData: map[string]string{"username": "late", "apiKey": key}})
	waitReason(t, op.ns, "late", ReasonSynced)

	// Wrong API key: 401, Stalled.
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: op.ns},
		StringData: map[string]string{"username": "erin", "apiKey": op.secret("ek-wrong-" + op.ns)}})
	mustCreate(t, op.newHook("unauth", "wrong", "https://app.example.com/u", v1.EventSent))
	s = waitReason(t, op.ns, "unauth", ReasonUnauthorized)
	if _, m := readyReason(s); !strings.Contains(m, "Invalid credentials.") {
		t.Errorf("Unauthorized says %q", m)
	}

	// A 400 names the field.
	op.emu.InjectFault(everlytictest.Fault{Account: "erin", Op: everlytictest.OpCreate, Status: 400,
		Message: `The payload for the webhook is not in the correct format. {"webhook.url":["The webhook.url format is invalid."]}`})
	mustCreate(t, op.newHook("refused", "creds", "https://app.example.com/r", v1.EventSent))
	s = waitReason(t, op.ns, "refused", ReasonRejected)
	if _, m := readyReason(s); !strings.Contains(m, "webhook.url: The webhook.url format is invalid.") {
		t.Errorf("Rejected says %q: want the field and its message", m)
	}

	// A value that cannot be sent, a Secret that may not be sent, a
	// receiver-auth Secret missing.
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "newline", Namespace: op.ns},
		StringData: map[string]string{"username": "erin", "apiKey": op.secret("ek-nl-"+op.ns) + "\n"}})
	mustCreate(t, op.newHook("newline", "newline", "https://app.example.com/n", v1.EventSent))
	waitReason(t, op.ns, "newline", ReasonInvalidSpec)
	op.receiverAuth(t, "unlabelled", "u", "pw-unlabelled-"+op.ns, nil)
	w := op.newHook("notallowed", "creds", "https://app.example.com/na", v1.EventSent)
	w.Spec.ReceiverAuthRef = &v1.ReceiverAuthReference{Name: "unlabelled"}
	mustCreate(t, w)
	waitReason(t, op.ns, "notallowed", ReasonSecretNotAllowed)
	w = op.newHook("noauth", "creds", "https://app.example.com/nx", v1.EventSent)
	w.Spec.ReceiverAuthRef = &v1.ReceiverAuthReference{Name: "absent"}
	mustCreate(t, w)
	waitReason(t, op.ns, "noauth", ReasonSecretNotFound)

	// An endpoint outside --everlytic-endpoints is never called.
	w = op.newHook("elsewhere", "creds", "https://internal.example.com", v1.EventSent)
	w.Spec.Endpoint = "https://kubernetes.default.example.com"
	mustCreate(t, w)
	s = waitReason(t, op.ns, "elsewhere", ReasonEndpointNotAllowed)
	if _, m := readyReason(s); !strings.Contains(m, "127.0.0.1") {
		t.Errorf("EndpointNotAllowed says %q: want the allowed hosts", m)
	}

	// Moving a created webhook's object to another endpoint writes nothing.
	update(t, op.ns, "late", func(w *v1.EverlyticSMSWebhook) {
		w.Spec.Endpoint = v1.Endpoint(strings.Replace(op.endpoint, "127.0.0.1", "localhost", 1))
	})
	waitReason(t, op.ns, "late", ReasonEndpointChanged)
	// Only "refused" may have created a webhook (its retry, after the
	// fault, succeeds); every other object was stopped before any write.
	hooks, _ := op.emu.Webhooks("erin")
	for _, h := range hooks {
		if h.URL != "https://app.example.com/r" {
			t.Errorf("a refused object wrote webhook %+v", h)
		}
	}
}

func TestTransientFailuresKeepReadyAndRateLimitsWait(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "fay")
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/f", v1.EventSent))
	waitReason(t, op.ns, "sms", ReasonSynced)

	// A 503 asking for a retry in 3s: Reconciling for that long.
	op.emu.InjectFault(everlytictest.Fault{Account: "fay", Op: everlytictest.OpGet, Status: 503, RetryAfter: "3"})
	waitFor(t, "Reconciling beside Ready", func() (bool, string) {
		s := get(t, op.ns, "sms")
		return meta.IsStatusConditionTrue(s.Status.Conditions, status.ConditionReady) &&
			meta.IsStatusConditionTrue(s.Status.Conditions, status.ConditionReconciling), "not yet"
	})
	waitReason(t, op.ns, "sms", ReasonSynced)

	op.emu.InjectFault(everlytictest.Fault{Account: "fay", Op: everlytictest.OpCreate, Status: 429, RetryAfter: "2", Count: 2})
	mustCreate(t, op.newHook("limited", "creds", "https://app.example.com/l", v1.EventSent))
	waitReason(t, op.ns, "limited", ReasonRateLimited)
	waitReason(t, op.ns, "limited", ReasonSynced)
	if hooks, _ := op.emu.Webhooks("fay"); len(hooks) != 2 {
		t.Errorf("account holds %d webhooks, want 2", len(hooks))
	}
}

func TestWithoutReadByIDTheWebhookIsRewrittenEachInterval(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "gus")
	op.emu.SetGetByIDAvailable(false)
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/g", v1.EventSent))
	waitFor(t, "Rewrite mode", func() (bool, string) {
		s := get(t, op.ns, "sms")
		r, m := readyReason(s)
		return r == ReasonSynced && s.Status.DriftDetection == v1.DriftDetectionRewrite && strings.Contains(m, "written whole each interval"), r + " " + string(s.Status.DriftDetection)
	})
	op.emu.ResetRequests("gus")
	time.Sleep(3500 * time.Millisecond)
	if n := op.emu.Requests("gus"); n[everlytictest.OpUpdate] < 2 || n[everlytictest.OpCreate] != 0 {
		t.Errorf("requests %v: want a PUT each interval and no create", n)
	}
	op.only(t, "gus")
}

// An answer lost after the create landed: the mark in status makes the next
// sync look for the webhook instead of creating a second one. Two matches
// stop the object until a person decides.
func TestAnInterruptedCreateIsFoundNotRepeated(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "hal")
	op.emu.InjectFault(everlytictest.Fault{Account: "hal", Op: everlytictest.OpCreate, Status: 502, AfterStore: true})
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/h", v1.EventSent, v1.EventReply))
	s := waitReason(t, op.ns, "sms", ReasonSynced)
	hook := op.only(t, "hal")
	if s.Status.WebhookID != hook.ID || s.Status.CreatePending != nil {
		t.Errorf("status %+v: want id %s and no pending mark", s.Status, hook.ID)
	}
	if n := op.emu.Requests("hal"); n[everlytictest.OpCreate] != 1 || n[everlytictest.OpList] < 1 {
		t.Errorf("requests %v: want one create and a list", n)
	}

	// The same, with a twin added meanwhile: nothing is adopted or created.
	op.emu.InjectFault(everlytictest.Fault{Account: "hal", Op: everlytictest.OpCreate, Status: 502, AfterStore: true})
	op.emu.InjectFault(everlytictest.Fault{Account: "hal", Op: everlytictest.OpList, Latency: 2 * time.Second})
	mustCreate(t, op.newHook("twin", "creds", "https://app.example.com/twin", v1.EventSent))
	waitFor(t, "the lost create", func() (bool, string) {
		hooks, _ := op.emu.Webhooks("hal")
		return len(hooks) == 2, "not yet"
	})
	if _, err := op.emu.PutWebhook("hal", everlytic.Webhook{URL: "https://app.example.com/twin", Verb: "POST", EventTypes: []everlytic.EventType{everlytic.Sent}}); err != nil {
		t.Fatal(err)
	}
	s = waitReason(t, op.ns, "twin", ReasonCreatePending)
	if _, m := readyReason(s); !strings.Contains(m, "2 webhooks") {
		t.Errorf("CreatePending says %q", m)
	}
	hooks, _ := op.emu.Webhooks("hal")
	if len(hooks) != 3 || op.emu.Requests("hal")[everlytictest.OpCreate] != 2 {
		t.Fatalf("account holds %d webhooks after %d creates, want 3 after 2", len(hooks), op.emu.Requests("hal")[everlytictest.OpCreate])
	}
	// A person deletes the extra one: the other is adopted.
	if err := op.emu.DeleteWebhook("hal", hooks[2].ID); err != nil {
		t.Fatal(err)
	}
	s = waitReason(t, op.ns, "twin", ReasonSynced)
	if s.Status.WebhookID != hooks[1].ID {
		t.Errorf("twin adopted %s, want %s", s.Status.WebhookID, hooks[1].ID)
	}
}

// Chaos at each step of a create: a mark written but no webhook made (the
// process died before the POST, or Everlytic failed it), a list that lies,
// a request that hangs. None creates a second webhook or loses the first.
func TestEachStepOfACreateCanFailWithoutADuplicate(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "ivy")

	// A 500 that stored nothing: the mark stays, the list finds nothing,
	// the create is made again.
	op.emu.InjectFault(everlytictest.Fault{Account: "ivy", Op: everlytictest.OpCreate, Status: 500})
	mustCreate(t, op.newHook("unstored", "creds", "https://app.example.com/u", v1.EventSent))
	waitReason(t, op.ns, "unstored", ReasonSynced)
	if n := op.emu.Requests("ivy"); n[everlytictest.OpCreate] != 2 || n[everlytictest.OpList] < 1 {
		t.Errorf("requests %v: want two creates with a list between", n)
	}
	op.only(t, "ivy")

	// The create lands, its answer is lost, and the list lies (not JSON,
	// then a 200 of another shape): nothing is created until a list can be
	// trusted, then the webhook is adopted.
	op.emu.ResetRequests("ivy")
	op.emu.InjectFault(everlytictest.Fault{Account: "ivy", Op: everlytictest.OpCreate, Status: 502, AfterStore: true})
	op.emu.InjectFault(everlytictest.Fault{Account: "ivy", Op: everlytictest.OpList, Malformed: true})
	op.emu.InjectFault(everlytictest.Fault{Account: "ivy", Op: everlytictest.OpList, Body: `{"status":"success","data":{}}`})
	mustCreate(t, op.newHook("lied", "creds", "https://app.example.com/l", v1.EventSent))
	s := waitReason(t, op.ns, "lied", ReasonSynced)
	hooks, _ := op.emu.Webhooks("ivy")
	if n := op.emu.Requests("ivy"); len(hooks) != 2 || n[everlytictest.OpCreate] != 1 || n[everlytictest.OpList] < 3 {
		t.Errorf("%d webhooks, requests %v: want 2 webhooks, one create, three lists", len(hooks), n)
	}
	if s.Status.WebhookID != hooks[1].ID {
		t.Errorf("recorded %s, want %s", s.Status.WebhookID, hooks[1].ID)
	}

	// A hanging read ends at the request timeout (5s here) and is retried;
	// the object stays Ready meanwhile.
	// (Four hangs: each object hangs twice in a row, whichever reads first.)
	op.emu.InjectFault(everlytictest.Fault{Account: "ivy", Op: everlytictest.OpGet, Hang: true, Count: 4})
	waitFor(t, "a hung read reported", func() (bool, string) {
		var seen []string
		for _, name := range []string{"unstored", "lied"} {
			s := get(t, op.ns, name)
			c := meta.FindStatusCondition(s.Status.Conditions, status.ConditionReconciling)
			if c != nil && c.Reason == ReasonAPIError && strings.Contains(c.Message, "deadline exceeded") && meta.IsStatusConditionTrue(s.Status.Conditions, status.ConditionReady) {
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("%s: %+v", name, s.Status.Conditions))
		}
		return false, strings.Join(seen, "; ") + fmt.Sprintf(" requests %v pending %v log %s", op.emu.Requests("ivy"), op.emu.PendingFaults(), lastLines(op.logs.String(), "error", 3))
	})
	waitReason(t, op.ns, "unstored", ReasonSynced)
	waitReason(t, op.ns, "lied", ReasonSynced)
}

func lastLines(log, containing string, n int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(strings.ToLower(l), containing) {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

// Found by the chaos suite: the spec is edited while a create's answer is
// lost. The lost webhook carries what the create sent, not the new spec; it
// is found by what was sent, adopted, then updated.
func TestALostCreateIsFoundAfterTheSpecChanged(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "jon")
	op.emu.InjectFault(everlytictest.Fault{Account: "jon", Op: everlytictest.OpCreate, AfterStore: true, Hang: true})
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/j", v1.EventSent))
	waitFor(t, "the create to land", func() (bool, string) {
		hooks, _ := op.emu.Webhooks("jon")
		return len(hooks) == 1, "not yet"
	})
	// While the answer hangs (5s, the client's timeout), the spec changes.
	update(t, op.ns, "sms", func(w *v1.EverlyticSMSWebhook) {
		w.Spec.EventTypes = []v1.EventType{v1.EventReply, v1.EventFailed}
		w.Spec.Verb = v1.VerbGET
	})
	s := waitReason(t, op.ns, "sms", ReasonSynced)
	h := op.only(t, "jon")
	if s.Status.WebhookID != h.ID || h.Verb != "get" || !slices.Equal(typesOf(h), []string{"failed", "reply"}) {
		t.Errorf("status id %s, Everlytic %+v: want the lost webhook adopted and updated", s.Status.WebhookID, h)
	}
	if n := op.emu.Requests("jon"); n[everlytictest.OpCreate] != 1 {
		t.Errorf("requests %v: want one create", n)
	}
}

// emptyList is a well-formed answer to a list that holds nothing.
const emptyList = `{"status":"success","data":{"webhooks":[]},"meta":{"total":0,"per_page":20,"current_page":1,"last_page":1}}`

// A create lands, its answer is lost, and the next list answers empty (a
// list that lags the create, or lies): one empty list is not proof, so the
// webhook is listed again, some seconds later, before anything is created.
func TestOneEmptyListIsNotProofThatACreateFailed(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "kim")
	op.emu.InjectFault(everlytictest.Fault{Account: "kim", Op: everlytictest.OpCreate, Status: 502, AfterStore: true})
	op.emu.InjectFault(everlytictest.Fault{Account: "kim", Op: everlytictest.OpList, Body: emptyList})
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/k", v1.EventSent))
	s := waitReason(t, op.ns, "sms", ReasonSynced)
	hooks, _ := op.emu.Webhooks("kim")
	if n := op.emu.Requests("kim"); len(hooks) != 1 || n[everlytictest.OpCreate] != 1 || n[everlytictest.OpList] < 2 {
		t.Fatalf("%d webhooks, requests %v: want 1 webhook, one create, two lists", len(hooks), n)
	}
	if s.Status.WebhookID != hooks[0].ID {
		t.Errorf("recorded %s, want %s", s.Status.WebhookID, hooks[0].ID)
	}
}

// A webhook made in the dashboard long before, with the url, verb and event
// types of the object, is not taken for the one an interrupted create made:
// it is never adopted, rewritten or deleted.
func TestAnInterruptedCreateNeverAdoptsAnOlderWebhook(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "lee")
	dash, err := op.emu.PutOldWebhook("lee", everlytic.Webhook{URL: "https://app.example.com/b", Verb: "POST", EventTypes: []everlytic.EventType{everlytic.Sent}, Status: "disabled"},
		time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	op.emu.InjectFault(everlytictest.Fault{Account: "lee", Op: everlytictest.OpCreate, Status: 500})
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/b", v1.EventSent))
	s := waitReason(t, op.ns, "sms", ReasonSynced)
	if s.Status.WebhookID == dash.ID {
		t.Fatalf("the dashboard's webhook %s was adopted", dash.ID)
	}
	if got, ok := op.emu.Webhook("lee", dash.ID); !ok || got.Status != "disabled" || got.UpdatedAt != dash.UpdatedAt {
		t.Errorf("the dashboard's webhook became %+v (present %v): want it untouched", got, ok)
	}
	if err := testClient.Delete(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the object gone", func() (bool, string) {
		err := testClient.Get(context.Background(), client.ObjectKeyFromObject(s), &v1.EverlyticSMSWebhook{})
		return apierrors.IsNotFound(err), "still there"
	})
	if hooks, _ := op.emu.Webhooks("lee"); len(hooks) != 1 || hooks[0].ID != dash.ID {
		t.Errorf("after the delete Everlytic holds %+v: want the dashboard's webhook only", hooks)
	}
}

// Objects on an endpoint that never answers (an allowed host on a filtered
// port, a hung install) hold a bounded share of the workers: an object on
// another endpoint still becomes Ready well within one request timeout.
func TestAHangingEndpointDoesNotHoldEveryWorker(t *testing.T) {
	op := startOperator(t, Options{MaxConcurrentReconciles: 2})
	op.account(t, "creds", "mia")
	hung := everlytictest.NewServer()
	hung.InjectFault(everlytictest.Fault{Hang: true, Count: 1000})
	hts := httptest.NewServer(hung)
	t.Cleanup(func() { hung.Close(); hts.Close() })
	if err := hung.AddAccount("mia", "unused"); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		w := op.newHook(fmt.Sprintf("hung-%d", i), "creds", "https://app.example.com/hung", v1.EventSent)
		w.Spec.Endpoint = v1.Endpoint(hts.URL)
		mustCreate(t, w)
	}
	waitFor(t, "the hanging endpoint to hold a sync", func() (bool, string) {
		n := hung.Requests("mia")
		return n[everlytictest.OpCreate] >= 1, fmt.Sprint(n)
	})
	mustCreate(t, op.newHook("elsewhere", "creds", "https://app.example.com/m", v1.EventSent))
	// The test client's request timeout is 5s: a worker held by the hanging
	// endpoint is not free before that.
	testenv.WaitFor(t, 3*time.Second, "elsewhere Ready", func() (bool, string) {
		r, m := readyReason(get(t, op.ns, "elsewhere"))
		return r == ReasonSynced, r + ": " + m
	})
}

// credentialsRef pointed at another account: the webhook is not taken for
// deleted, nothing is created on the new account or written to either, and
// the reason says how to proceed. Restoring the credentials resumes.
func TestCredentialsOfAnotherAccountDoNotMoveTheWebhook(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds-nat", "nat")
	op.account(t, "creds-oli", "oli")
	mustCreate(t, op.newHook("sms", "creds-nat", "https://app.example.com/n", v1.EventSent))
	first := waitReason(t, op.ns, "sms", ReasonSynced)
	if first.Status.AccountID == "" || strings.Contains(first.Status.AccountID, "nat") {
		t.Errorf("status.accountID %q: want a non-empty identity that does not show the username", first.Status.AccountID)
	}
	update(t, op.ns, "sms", func(w *v1.EverlyticSMSWebhook) { w.Spec.CredentialsRef.Name = "creds-oli" })
	s := waitReason(t, op.ns, "sms", ReasonAccountChanged)
	if _, m := readyReason(s); !strings.Contains(m, first.Status.WebhookID) || !strings.Contains(m, AnnotationAcceptAccount) {
		t.Errorf("AccountChanged says %q: want the webhook and the way to accept a move named", m)
	}
	if !meta.IsStatusConditionTrue(s.Status.Conditions, status.ConditionStalled) || s.Status.AccountID != first.Status.AccountID {
		t.Errorf("status %+v: want Stalled and the pin kept", s.Status)
	}
	if n := op.emu.Requests("oli"); n[everlytictest.OpCreate]+n[everlytictest.OpUpdate]+n[everlytictest.OpDelete] != 0 {
		t.Errorf("the new account got writes %v", n)
	}
	if hooks, _ := op.emu.Webhooks("oli"); len(hooks) != 0 {
		t.Errorf("the new account holds %+v", hooks)
	}
	update(t, op.ns, "sms", func(w *v1.EverlyticSMSWebhook) { w.Spec.CredentialsRef.Name = "creds-nat" })
	if s := waitReason(t, op.ns, "sms", ReasonSynced); s.Status.WebhookID != first.Status.WebhookID {
		t.Errorf("after the credentials came back: webhook %s, want %s", s.Status.WebhookID, first.Status.WebhookID)
	}
	op.only(t, "nat")
}

// Status is not a backup: an object whose status is lost (Velero restores
// without it, a re-apply from Git of an exported object) finds its webhook
// again through its annotations, and no second webhook is created.
func TestAnObjectRestoredWithoutStatusKeepsItsWebhook(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "pat")
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/p", v1.EventSent))
	first := waitReason(t, op.ns, "sms", ReasonSynced)
	id := first.Status.WebhookID
	waitFor(t, "the identity annotations", func() (bool, string) {
		a := get(t, op.ns, "sms").Annotations
		return a[AnnotationWebhookID] == id && a[AnnotationAccountID] == first.Status.AccountID && a[AnnotationCreatePending] == "", fmt.Sprint(a)
	})

	// The status is emptied.
	w := get(t, op.ns, "sms")
	w.Status = v1.EverlyticSMSWebhookStatus{}
	if err := testClient.Status().Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the webhook id back in status", func() (bool, string) {
		s := get(t, op.ns, "sms")
		r, _ := readyReason(s)
		return s.Status.WebhookID == id && r == ReasonSynced, s.Status.WebhookID + " " + r
	})
	waitEvent(t, op.ns, "sms", EventRestored)

	// The object is removed (Orphan) and created again from its metadata and
	// spec: a new uid, no status.
	update(t, op.ns, "sms", func(w *v1.EverlyticSMSWebhook) { w.Spec.DeletionPolicy = v1.DeletionPolicyOrphan })
	waitReason(t, op.ns, "sms", ReasonSynced)
	saved := get(t, op.ns, "sms")
	if err := testClient.Delete(context.Background(), saved); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sms gone", func() (bool, string) {
		err := testClient.Get(context.Background(), client.ObjectKeyFromObject(saved), &v1.EverlyticSMSWebhook{})
		return apierrors.IsNotFound(err), "still there"
	})
	copied := &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Name: saved.Name, Namespace: saved.Namespace, Labels: saved.Labels, Annotations: saved.Annotations}, Spec: saved.Spec}
	mustCreate(t, copied)
	s := waitReason(t, op.ns, "sms", ReasonSynced)
	if s.Status.WebhookID != id || s.UID == saved.UID {
		t.Errorf("the copy (uid %s) manages %s, want %s", s.UID, s.Status.WebhookID, id)
	}
	op.only(t, "pat")
	if n := op.emu.Requests("pat"); n[everlytictest.OpCreate] != 1 {
		t.Errorf("requests %v: want the one create", n)
	}
}

// deleteAndWait deletes an object and waits until it is gone.
func deleteAndWait(t *testing.T, ns, name string) {
	t.Helper()
	if err := testClient.Delete(context.Background(), &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, name+" gone", func() (bool, string) {
		err := testClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &v1.EverlyticSMSWebhook{})
		return apierrors.IsNotFound(err), "still there"
	})
}

func deleteSecret(t *testing.T, ns, name string) {
	t.Helper()
	if err := testClient.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
}

// counter reads a counter of the operator's registry ("" when absent).
func (op *operator) counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := op.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A namespace's deletion deletes the Secrets and the objects in no fixed
// order: with its Secrets deleted first, an object still deletes its
// webhook, with the last credentials that worked.
func TestWebhooksAreDeletedAfterTheirSecrets(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "quin")
	op.receiverAuth(t, "receiver", "hook-user", "pw-q-"+op.ns, nil)
	w := op.newHook("sms", "creds", "https://app.example.com/q", v1.EventSent)
	w.Spec.ReceiverAuthRef = &v1.ReceiverAuthReference{Name: "receiver"}
	mustCreate(t, w)
	id := waitReason(t, op.ns, "sms", ReasonSynced).Status.WebhookID
	deleteSecret(t, op.ns, "creds")
	deleteSecret(t, op.ns, "receiver")
	deleteAndWait(t, op.ns, "sms")
	if h, ok := op.emu.Webhook("quin", id); ok {
		t.Errorf("webhook %+v left behind", h)
	}
	if n := op.counter(t, "everlytic_webhooks_left_behind_total", "reason", ReasonCredentialsNotFound); n != 0 {
		t.Errorf("left-behind counter %v, want 0", n)
	}
}

// Without credentials that worked (the manager restarted after the Secret
// went), the webhook is left behind, and a person can see it: an error in
// the manager's log naming the object and the webhook, and a metric.
func TestAWebhookLeftBehindIsLoggedAndCounted(t *testing.T) {
	op := startOperator(t, Options{})
	op.account(t, "creds", "rae")
	mustCreate(t, op.newHook("sms", "creds", "https://app.example.com/r", v1.EventSent))
	id := waitReason(t, op.ns, "sms", ReasonSynced).Status.WebhookID
	op.stop()
	op.start(t, Options{})
	deleteSecret(t, op.ns, "creds")
	deleteAndWait(t, op.ns, "sms")
	if _, ok := op.emu.Webhook("rae", id); !ok {
		t.Fatalf("webhook %s deleted without credentials", id)
	}
	if n := op.counter(t, "everlytic_webhooks_left_behind_total", "reason", ReasonCredentialsNotFound); n != 1 {
		t.Errorf("left-behind counter %v, want 1", n)
	}
	var line string
	for _, l := range strings.Split(op.logs.String(), "\n") {
		if strings.Contains(l, "ERROR") && strings.Contains(l, "Webhook left on Everlytic") && strings.Contains(l, id) && strings.Contains(l, `"name":"sms"`) {
			line = l
		}
	}
	if line == "" {
		t.Errorf("no error line names the object and webhook %s:\n%s", id, lastLines(op.logs.String(), "webhook left on everlytic", 5))
	}
}
