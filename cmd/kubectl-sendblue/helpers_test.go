package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

const (
	testKeyID     = "test-key-id-0001"
	testSecretKey = "test-secret-key-9f8e7d"
)

// emulator serves a Sendblue emulator with one account holding cfg (a whole
// `webhooks` object) and returns its base URL.
func emulator(t *testing.T, cfg string) (string, *sendbluetest.Server) {
	t.Helper()
	emu := sendbluetest.NewServer()
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); srv.Close() })
	if err := emu.AddAccount(testKeyID, testSecretKey); err != nil {
		t.Fatal(err)
	}
	if err := emu.SetWebhooks(testKeyID, json.RawMessage(cfg)); err != nil {
		t.Fatal(err)
	}
	return srv.URL, emu
}

// fakeCluster serves Secrets and sets from memory; unit tests only (the e2e
// test runs the binary against a real kube-apiserver).
type fakeCluster struct {
	secrets map[string]*corev1.Secret // by namespace/name
	sets    []v1.SendblueWebhookSet
	err     error
}

func (f *fakeCluster) Secret(_ context.Context, namespace, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[namespace+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f *fakeCluster) Sets(_ context.Context, namespace string) ([]v1.SendblueWebhookSet, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []v1.SendblueWebhookSet
	for _, s := range f.sets {
		if namespace == "" || s.Namespace == namespace {
			out = append(out, s)
		}
	}
	return out, nil
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command line with the given environment variables and
// cluster (nil: connecting fails the test).
func cli(t *testing.T, vars map[string]string, c cluster, args ...string) result {
	t.Helper()
	env := environment{
		getenv: func(k string) string { return vars[k] },
		connect: func(kubeFlags) (cluster, error) {
			if c == nil {
				t.Fatal("the command connected to the cluster")
			}
			return c, nil
		},
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, env)
	return result{stdout.String(), stderr.String(), code}
}

func envCreds(baseURL string) map[string]string {
	return map[string]string{envKeyID: testKeyID, envSecretKey: testSecretKey, envBaseURL: baseURL}
}

// exported is an export's output read back as the kube-apiserver would.
type exported struct {
	sets    []v1.SendblueWebhookSet
	secrets map[string]corev1.Secret
}

// parseExport reads every document of out strictly: a field the types do not
// know fails the test.
func parseExport(t *testing.T, out string) exported {
	t.Helper()
	e := exported{secrets: map[string]corev1.Secret{}}
	for _, doc := range strings.Split(out, "\n---\n") {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		switch head.Kind {
		case "":
			if strings.TrimSpace(stripComments(doc)) != "" && strings.TrimSpace(stripComments(doc)) != "---" {
				t.Fatalf("a document without a kind:\n%s", doc)
			}
		case "Secret":
			var s corev1.Secret
			if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
				t.Fatalf("Secret: %v\n%s", err, doc)
			}
			e.secrets[s.Name] = s
		case "SendblueWebhookSet":
			var s v1.SendblueWebhookSet
			if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
				t.Fatalf("SendblueWebhookSet: %v\n%s", err, doc)
			}
			e.sets = append(e.sets, s)
		default:
			t.Fatalf("unexpected kind %q", head.Kind)
		}
	}
	return e
}

func stripComments(doc string) string {
	var keep []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// specHooks pairs the spec's lists with wire types from the API types'
// field names, independently of the CLI's own table.
func specHooks(w v1.Webhooks) map[sendblue.EventType][]v1.Webhook {
	return map[sendblue.EventType][]v1.Webhook{
		sendblue.Receive: w.Receive, sendblue.Outbound: w.Outbound, sendblue.CallLog: w.CallLog,
		sendblue.LineBlocked: w.LineBlocked, sendblue.LineAssigned: w.LineAssigned,
		sendblue.ContactCreated: w.ContactCreated, sendblue.TypingIndicator: w.TypingIndicator,
		sendblue.InboundCall: w.InboundCall, sendblue.ContactProfile: w.ContactProfile,
	}
}

// planOf resolves the exported sets with the exported Secrets, as the
// operator does, and plans them against the account with the operator's own
// planner. It also returns how many webhooks the sets declare.
func planOf(t *testing.T, account string, e exported) (controllers.AccountPlan, int) {
	t.Helper()
	cfg, err := sendblue.ParseConfig([]byte(account))
	if err != nil {
		t.Fatal(err)
	}
	value := func(ref *v1.SecretKeyReference) string {
		s, ok := e.secrets[string(ref.Name)]
		if !ok {
			t.Fatalf("secretRef to Secret %s, which the export does not hold", ref.Name)
		}
		v, ok := s.StringData[string(ref.Key)]
		if !ok {
			t.Fatalf("secretRef to key %s of Secret %s, which it does not hold", ref.Key, ref.Name)
		}
		if p := valueProblem(v, false); p != "" {
			t.Fatalf("key %s of Secret %s %s", ref.Key, ref.Name, p)
		}
		return v
	}
	var inputs []controllers.SetInput
	declared := 0
	for _, s := range e.sets {
		if s.Spec.Policy != v1.PolicyMerge {
			t.Errorf("set %s has policy %q, want Merge", s.Name, s.Spec.Policy)
		}
		in := controllers.SetInput{ID: s.Namespace + "/" + s.Name, Policy: s.Spec.Policy}
		for typ, hooks := range specHooks(s.Spec.Webhooks) {
			for _, h := range hooks {
				d := controllers.DesiredWebhook{Type: typ, URL: string(h.URL), Numbers: h.SendblueNumbers}
				if h.SecretRef != nil {
					d.Secret = value(h.SecretRef)
				}
				in.Webhooks = append(in.Webhooks, d)
				declared++
			}
		}
		if r := s.Spec.GlobalSecretRef; r != nil {
			v := value(r)
			in.GlobalSecret = &v
		}
		if r := s.Spec.LegacySecretRef; r != nil {
			v := value(r)
			in.LegacySecret = &v
		}
		inputs = append(inputs, in)
	}
	plan, err := controllers.PlanAccount(cfg, inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return plan, declared
}

// assertAdopts checks that the export, applied, changes nothing on the
// account and declares want webhooks.
func assertAdopts(t *testing.T, account, out string, want int) exported {
	t.Helper()
	e := parseExport(t, out)
	plan, declared := planOf(t, account, e)
	if plan.HasChanges() {
		t.Errorf("the operator would change the account: %v", plan.Changes)
	}
	for id, sp := range plan.Sets {
		if len(sp.Conflicts) > 0 {
			t.Errorf("set %s has conflicts: %v", id, sp.Conflicts)
		}
	}
	if declared != want {
		t.Errorf("the export declares %d webhooks, want %d", declared, want)
	}
	return e
}

func assertAbsent(t *testing.T, where, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the secret value %q", where, v)
		}
	}
}

func assertPresent(t *testing.T, where, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if !strings.Contains(text, v) {
			t.Errorf("%s lacks %q", where, v)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
