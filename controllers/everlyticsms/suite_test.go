package everlyticsms

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
	"github.com/sendblue-operator/sendblue-operator/controllers/testenv"
)

// The envtest control plane shared by this package's tests (controllers/
// testenv), started by the first test that asks for it.
var (
	testCfg    *rest.Config
	testClient client.Client
	testScheme = runtime.NewScheme()
	// kstatusSeen records every reason a test read back.
	kstatusSeen sync.Map
)

const waitTimeout = 20 * time.Second

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(v1.AddToScheme(testScheme))
}

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	// A full run (no -run, not -short) must read back every reason.
	if f := flag.Lookup("test.run"); code == 0 && testenv.Started() && f != nil && f.Value.String() == "" && !testing.Short() {
		var missing []string
		for r := range ReasonStalls {
			if _, ok := kstatusSeen.Load(r); !ok {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "FAIL: no test read back an EverlyticSMSWebhook with reason %v and held it to kstatus\n", missing)
			code = 1
		}
	}
	testenv.Stop()
	os.Exit(code)
}

func needControlPlane(t *testing.T) {
	t.Helper()
	testCfg, testClient = testenv.ControlPlane(t, testScheme)
}

// operator is one manager running the Everlytic reconciler against the
// envtest control plane and an emulator, in one fresh namespace.
type operator struct {
	emu      *everlytictest.Server
	endpoint string
	ns       string
	logs     *testenv.LogBuffer
	registry *prometheus.Registry
	secrets  []string
	stop     func()
}

func startOperator(t *testing.T, opts Options) *operator {
	t.Helper()
	needControlPlane(t)
	op := &operator{emu: everlytictest.NewServer(), logs: &testenv.LogBuffer{}}
	ts := httptest.NewServer(op.emu)
	op.endpoint = ts.URL
	t.Cleanup(func() { op.emu.Close(); ts.Close() })
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "elsw-"}}
	if err := testClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	op.ns = ns.Name
	op.start(t, opts)
	return op
}

// start runs a manager; stop ends it (a process restart: nothing in memory
// survives).
func (op *operator) start(t *testing.T, opts Options) {
	t.Helper()
	mgr := testenv.NewManager(t, testCfg, testScheme, op.logs,
		cache.Options{DefaultNamespaces: map[string]cache.Config{op.ns: {}}},
		client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}})
	op.registry = prometheus.NewRegistry()
	m := NewMetrics(op.registry)
	if opts.IntervalOverride == 0 {
		opts.IntervalOverride = time.Second
	}
	if opts.StalledRetry == 0 {
		opts.StalledRetry = 2 * time.Second
	}
	if opts.ConfirmDelay == 0 {
		opts.ConfirmDelay = time.Second
	}
	if opts.AllowedEndpoints == nil {
		opts.AllowedEndpoints = []string{"127.0.0.1"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("sendblue-operator"),
		NewClient: NewClientFactory(5*time.Second, m), Metrics: m, Options: opts}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	op.stop = testenv.Start(t, mgr, ctx, cancel)
	t.Cleanup(func() {
		op.stop()
		op.assertNoSecretsLeaked(t)
	})
}

// secret registers a secret value: it may appear nowhere but in Secrets and
// on Everlytic.
func (op *operator) secret(v string) string {
	op.secrets = append(op.secrets, v)
	return v
}

// account creates an emulator account and its credentials Secret.
func (op *operator) account(t *testing.T, secretName, username string) {
	t.Helper()
	key := op.secret("ek-" + username + "-" + op.ns)
	if err := op.emu.AddAccount(username, key); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: op.ns},
		StringData: map[string]string{"username": username, "apiKey": key}})
}

func (op *operator) assertNoSecretsLeaked(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var text strings.Builder
	text.WriteString(op.logs.String())
	var events eventsv1.EventList
	if err := testClient.List(ctx, &events, client.InNamespace(op.ns)); err != nil {
		t.Fatal(err)
	}
	var list v1.EverlyticSMSWebhookList
	if err := testClient.List(ctx, &list, client.InNamespace(op.ns)); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(events.Items)
	text.Write(b)
	for _, w := range list.Items {
		b, _ := json.Marshal(w.Status)
		text.Write(b)
	}
	families, err := op.registry.Gather()
	if err != nil || len(families) == 0 {
		t.Fatalf("metrics: %v (%d families)", err, len(families))
	}
	for _, f := range families {
		text.WriteString(f.String())
	}
	for _, leak := range testenv.FindLeaks(text.String(), op.secrets) {
		t.Error(leak)
	}
}

func mustCreate(t *testing.T, o client.Object) {
	t.Helper()
	if err := testClient.Create(context.Background(), o); err != nil {
		t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
}

// newHook is an object of the emulator's account behind Secret creds.
func (op *operator) newHook(name, creds, url string, types ...v1.EventType) *v1.EverlyticSMSWebhook {
	return &v1.EverlyticSMSWebhook{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: op.ns},
		Spec: v1.EverlyticSMSWebhookSpec{Endpoint: v1.Endpoint(op.endpoint), CredentialsRef: v1.CredentialsReference{Name: v1.SecretName(creds)},
			URL: v1.ReceiverURL(url), EventTypes: types},
	}
}

// get reads an object from the apiserver and holds it to kstatus.
func get(t *testing.T, ns, name string) *v1.EverlyticSMSWebhook {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1.GroupVersion.WithKind("EverlyticSMSWebhook"))
	if err := testClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	w := &v1.EverlyticSMSWebhook{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, w); err != nil {
		t.Fatal(err)
	}
	checkKstatus(t, u, w)
	return w
}

// checkKstatus holds an object to the reason table and to kstatus: a
// stalled reason reads Failed, Synced Current, others InProgress.
func checkKstatus(t *testing.T, u *unstructured.Unstructured, w *v1.EverlyticSMSWebhook) {
	t.Helper()
	if w.DeletionTimestamp != nil {
		return
	}
	want := kstatus.InProgressStatus
	c := status.Explaining(w.Status.Conditions, w.Generation)
	if c == nil {
		return
	}
	isStalled := meta.IsStatusConditionTrue(w.Status.Conditions, status.ConditionStalled)
	allowed, known := ReasonStalls[c.Reason]
	ok := false
	for _, a := range allowed {
		ok = ok || a == isStalled
	}
	if !known || !ok {
		t.Errorf("%s: reason %s with Stalled=%v, ReasonStalls says %v", w.Name, c.Reason, isStalled, allowed)
	}
	switch {
	case isStalled:
		want = kstatus.FailedStatus
	case c.Reason == ReasonSynced:
		want = kstatus.CurrentStatus
	}
	kstatusSeen.Store(c.Reason, true)
	res, err := kstatus.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != want {
		t.Errorf("%s: kstatus %s, want %s (reason %s)", w.Name, res.Status, want, c.Reason)
	}
}

func readyReason(w *v1.EverlyticSMSWebhook) (string, string) {
	if c := status.Explaining(w.Status.Conditions, w.Generation); c != nil {
		return c.Reason, c.Message
	}
	return "", ""
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, waitTimeout, what, cond)
}

// waitReason waits until the object's current generation reports reason.
func waitReason(t *testing.T, ns, name, reason string) *v1.EverlyticSMSWebhook {
	t.Helper()
	var w *v1.EverlyticSMSWebhook
	waitFor(t, name+" "+reason, func() (bool, string) {
		w = get(t, ns, name)
		r, m := readyReason(w)
		return r == reason && (reason != ReasonSynced || w.Status.ObservedGeneration == w.Generation), r + ": " + m
	})
	return w
}

func update(t *testing.T, ns, name string, change func(*v1.EverlyticSMSWebhook)) {
	t.Helper()
	for i := 0; ; i++ {
		w := &v1.EverlyticSMSWebhook{}
		if err := testClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, w); err != nil {
			t.Fatal(err)
		}
		change(w)
		err := testClient.Update(context.Background(), w)
		if err == nil {
			return
		}
		if i > 5 {
			t.Fatal(err)
		}
	}
}

func events(t *testing.T, ns, name string) []eventsv1.Event {
	t.Helper()
	return testenv.Events(t, testClient, ns, name)
}

func waitEvent(t *testing.T, ns, name, reason string) eventsv1.Event {
	t.Helper()
	return testenv.WaitEvent(t, testClient, waitTimeout, ns, name, reason)
}

// only returns the account's single webhook, failing if there are others.
func (op *operator) only(t *testing.T, username string) everlytic.Webhook {
	t.Helper()
	hooks, err := op.emu.Webhooks(username)
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 {
		t.Fatalf("account %s holds %d webhooks, want 1: %+v", username, len(hooks), hooks)
	}
	return hooks[0]
}
