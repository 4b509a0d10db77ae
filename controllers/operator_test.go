package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
	"github.com/sendblue-operator/sendblue-operator/controllers/testenv"
)

// Test intervals: the CRD's minimum stays 30s; the reconciler's options
// shorten the drift check for tests.
const (
	testInterval = 1 * time.Second
	waitTimeout  = 20 * time.Second
)

// operator is one manager running the reconciler against the envtest
// control plane and an emulator, restricted to the test's namespaces.
type operator struct {
	emu      *sendbluetest.Server
	logs     *testenv.LogBuffer
	metrics  *Metrics
	registry *prometheus.Registry
	mgr      ctrl.Manager
	r        *SendblueWebhookSetReconciler
	ns       []string
	url      string
	// stop ends the running manager.
	stop func()
}

// startOperator creates n fresh namespaces and runs an operator watching them.
func startOperator(t *testing.T, n int, opts Options) *operator {
	t.Helper()
	needControlPlane(t)
	op := &operator{emu: sendbluetest.NewServer(), logs: &testenv.LogBuffer{}}
	ts := httptest.NewServer(op.emu)
	op.url = ts.URL
	t.Cleanup(func() { op.emu.Close(); ts.Close() })

	for i := 0; i < n; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sbws-"}}
		if err := testClient.Create(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
		op.ns = append(op.ns, ns.Name)
	}
	op.start(t, opts)
	return op
}

// start runs a manager; stop ends it (a process restart: nothing in memory
// survives).
func (op *operator) start(t *testing.T, opts Options) {
	t.Helper()
	mgr := testenv.NewManager(t, testCfg, testScheme, op.logs, CacheOptions(op.ns), ClientOptions())
	op.mgr = mgr
	op.registry = prometheus.NewRegistry()
	op.metrics = NewMetrics(op.registry)
	factory, err := NewClientFactory(op.url, sendblue.DefaultPath, 5*time.Second, op.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if opts.IntervalOverride == 0 {
		opts.IntervalOverride = testInterval
	}
	if opts.UnauthorizedRetry == 0 {
		opts.UnauthorizedRetry = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &SendblueWebhookSetReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("sendblue-operator"),
		NewClient: factory, Metrics: op.metrics, Options: opts,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	op.r = r
	op.stop = testenv.Start(t, mgr, ctx, cancel)
	t.Cleanup(func() {
		op.stop()
		op.assertNoSecretsLeaked(t)
		if t.Failed() {
			t.Logf("manager log, reconciles and writes only:\n%s", op.digest())
		}
	})
}

// digest is the part of the manager's log that tells what it did: reconciles
// started and ended, writes, events, errors.
func (op *operator) digest() string {
	var out []string
	for _, line := range strings.Split(op.logs.String(), "\n") {
		for _, mark := range []string{"Reconciling", "Reconcile done", "Reconcile successful", "Wrote the account", "Event occurred", "ERROR"} {
			if strings.Contains(line, mark) {
				out = append(out, line)
				break
			}
		}
	}
	if len(out) > 200 {
		out = out[len(out)-200:]
	}
	return strings.Join(out, "\n")
}

// Secret values used by the tests; none may appear in logs, events or status.
var testSecretValues = []string{}

func secretValue(s string) string {
	testSecretValuesMu.Lock()
	defer testSecretValuesMu.Unlock()
	testSecretValues = append(testSecretValues, s)
	return s
}

var testSecretValuesMu sync.Mutex

func (op *operator) assertNoSecretsLeaked(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var text strings.Builder
	text.WriteString(op.logs.String())
	for _, ns := range op.ns {
		var events eventsv1.EventList
		if err := testClient.List(ctx, &events, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var sets v1.SendblueWebhookSetList
		if err := testClient.List(ctx, &sets, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(events.Items)
		text.Write(b)
		for _, s := range sets.Items {
			b, _ := json.Marshal(s.Status)
			text.Write(b)
		}
	}
	families, err := op.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) == 0 {
		t.Error("no metrics gathered")
	}
	for _, f := range families {
		text.WriteString(f.String())
	}
	testSecretValuesMu.Lock()
	defer testSecretValuesMu.Unlock()
	for _, leak := range testenv.FindLeaks(text.String(), testSecretValues) {
		t.Error(leak)
	}
}

// account creates an emulator account and its credentials Secret in ns.
func (op *operator) account(t *testing.T, ns, secretName, keyID string) string {
	t.Helper()
	secret := secretValue("sk-" + keyID + "-" + ns)
	if err := op.emu.AddAccount(keyID, secret); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns},
		StringData: map[string]string{"apiKeyId": keyID, "apiSecretKey": secret}})
	return secret
}

func mustCreate(t *testing.T, o client.Object) {
	t.Helper()
	if err := testClient.Create(context.Background(), o); err != nil {
		t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
}

func newSet(ns, name, creds string, policy v1.Policy, w v1.Webhooks) *v1.SendblueWebhookSet {
	return &v1.SendblueWebhookSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1.SendblueWebhookSetSpec{CredentialsRef: v1.CredentialsReference{Name: v1.SecretName(creds)}, Policy: policy, Webhooks: w},
	}
}

// get reads a set from the kube-apiserver, and holds what it reads to the
// kstatus contract (checkKstatus).
func get(t *testing.T, ns, name string) *v1.SendblueWebhookSet {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1.GroupVersion.WithKind("SendblueWebhookSet"))
	if err := testClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	checkKstatus(t, u)
	var s v1.SendblueWebhookSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func readyReason(s *v1.SendblueWebhookSet) (string, string) {
	c := meta.FindStatusCondition(s.Status.Conditions, ConditionReady)
	if c == nil || c.ObservedGeneration != s.Generation {
		return "", ""
	}
	return c.Reason, c.Message
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, waitTimeout, what, cond)
}

func waitReason(t *testing.T, ns, name, reason string) *v1.SendblueWebhookSet {
	t.Helper()
	var s *v1.SendblueWebhookSet
	waitFor(t, fmt.Sprintf("%s/%s Ready reason %s", ns, name, reason), func() (bool, string) {
		s = get(t, ns, name)
		r, m := readyReason(s)
		return r == reason, r + ": " + m
	})
	return s
}

func (op *operator) stored(t *testing.T, keyID string) string {
	t.Helper()
	raw, err := op.emu.Webhooks(keyID)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func (op *operator) waitStored(t *testing.T, keyID, want string) {
	t.Helper()
	waitFor(t, "account "+keyID+" to hold "+want, func() (bool, string) {
		got := op.stored(t, keyID)
		return got == want, got
	})
}

// waitStoredAnyOrder waits until the account holds want, whatever the order
// of each list.
func (op *operator) waitStoredAnyOrder(t *testing.T, keyID, want string) {
	t.Helper()
	norm := func(doc string) string {
		var m map[string][]json.RawMessage
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			return "not a webhooks document: " + doc
		}
		out := map[string][]string{}
		for k, list := range m {
			for _, e := range list {
				out[k] = append(out[k], string(e))
			}
			sort.Strings(out[k])
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	waitFor(t, "account "+keyID+" to hold "+want+" (in any order)", func() (bool, string) {
		got := op.stored(t, keyID)
		return norm(got) == norm(want), got
	})
}

func events(t *testing.T, ns, name string) []eventsv1.Event {
	t.Helper()
	return testenv.Events(t, testClient, ns, name)
}

func waitEvent(t *testing.T, ns, name, reason string) eventsv1.Event {
	t.Helper()
	return testenv.WaitEvent(t, testClient, waitTimeout, ns, name, reason)
}

func update(t *testing.T, ns, name string, change func(*v1.SendblueWebhookSet)) {
	t.Helper()
	waitFor(t, "update of "+name, func() (bool, string) {
		s := get(t, ns, name)
		change(s)
		err := testClient.Update(context.Background(), s)
		return err == nil, fmt.Sprint(err)
	})
}

func hooks(urls ...string) []v1.Webhook {
	var out []v1.Webhook
	for _, u := range urls {
		out = append(out, v1.Webhook{URL: v1.WebhookURL(u)})
	}
	return out
}
