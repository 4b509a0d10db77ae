package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
)

// everlyticSetup makes a namespace, an Everlytic emulator account and its
// credentials Secret.
func everlyticSetup(t *testing.T, user string) string {
	t.Helper()
	ns := strings.Trim(strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")), "-")
	if len(ns) > 50 {
		ns = strings.Trim(ns[:50], "-")
	}
	kubectl(t, "create", "namespace", ns)
	if err := env.Everlytic.AddAccount(user, "ek-"+user); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: everlytic-credentials}
stringData: {username: %s, apiKey: ek-%s}
`, user, user))
	return ns
}

func smsWebhook(name, extra string) string {
	return fmt.Sprintf(`apiVersion: everlytic.webhooks.dev/v1alpha1
kind: EverlyticSMSWebhook
metadata: {name: %s}
spec:
  endpoint: %s
  credentialsRef: {name: everlytic-credentials}
  url: https://app.example.com/everlytic/%s
%s`, name, env.EmulatorURL, name, extra)
}

func everlyticHooks(t *testing.T, user string) []everlytic.Webhook {
	t.Helper()
	hooks, err := env.Everlytic.Webhooks(user)
	if err != nil {
		t.Fatal(err)
	}
	return hooks
}

func waitEverlytic(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestEverlyticApplyWaitEditDelete(t *testing.T) {
	const user = "e2e-everlytic-apply"
	ns := everlyticSetup(t, user)
	f := apply(t, ns, smsWebhook("orders", "  eventTypes: [delivered, failed]\n"))
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "everlyticsmswebhook/orders")
	hooks := everlyticHooks(t, user)
	if len(hooks) != 1 || hooks[0].Verb != "post" || hooks[0].Status != "enabled" {
		t.Fatalf("Everlytic holds %+v", hooks)
	}
	id := hooks[0].ID

	// The shared category lists both kinds; the printer columns show the id.
	out := kubectl(t, "get", "messagingwebhooks", "-n", ns)
	if !strings.Contains(out, "everlyticsmswebhook.everlytic.webhooks.dev/orders") {
		t.Errorf("kubectl get messagingwebhooks:\n%s", out)
	}
	out = kubectl(t, "get", "elsw", "-n", ns)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME READY REASON ENABLED WEBHOOK ID AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "orders True Synced enabled "+id) {
		t.Errorf("kubectl get elsw:\n%s", out)
	}

	// Edit: the same webhook, updated in place.
	apply(t, ns, smsWebhook("orders", "  eventTypes: [reply]\n  verb: GET\n  enabled: false\n"))
	waitEverlytic(t, "the edit on Everlytic", func() bool {
		h := everlyticHooks(t, user)
		return len(h) == 1 && h[0].ID == id && h[0].Verb == "get" && h[0].Status == "disabled" && slices.Equal(h[0].EventTypes, []everlytic.EventType{everlytic.Reply})
	})
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "everlyticsmswebhook/orders")
	if n := env.Everlytic.Requests(user); n[everlytictest.OpCreate] != 1 {
		t.Errorf("requests %v: want one create", n)
	}

	kubectl(t, "delete", "-n", ns, "-f", f, "--timeout=60s")
	if h := everlyticHooks(t, user); len(h) != 0 {
		t.Errorf("after kubectl delete Everlytic holds %+v", h)
	}
}

// The worst moment: Everlytic stored the webhook, the manager dies before it
// reads the answer. The restarted manager finds the webhook instead of
// creating a second one.
func TestEverlyticCreateInterruptedBySIGKILLIsNotRepeated(t *testing.T) {
	const user = "e2e-everlytic-kill"
	ns := everlyticSetup(t, user)
	env.Everlytic.InjectFault(everlytictest.Fault{Account: user, Op: everlytictest.OpCreate, AfterStore: true, Hang: true, Name: "lost answer"})
	apply(t, ns, smsWebhook("crash", "  eventTypes: [reply]\n"))
	waitEverlytic(t, "the create to land", func() bool { return len(everlyticHooks(t, user)) == 1 })
	if err := env.StopManager(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pending := kubectl(t, "get", "-n", ns, "elsw", "crash", "-o", "jsonpath={.status.createPending.since}|{.status.webhookID}")
	if !strings.HasSuffix(pending, "|") || len(pending) < 2 {
		t.Errorf("before the restart status holds %q: want a create-pending mark and no id", pending)
	}
	if err := env.StartManager("--batch-window", "300ms"); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "everlyticsmswebhook/crash")
	hooks := everlyticHooks(t, user)
	got := kubectl(t, "get", "-n", ns, "elsw", "crash", "-o", "jsonpath={.status.webhookID}|{.status.createPending.since}")
	if len(hooks) != 1 || got != hooks[0].ID+"|" {
		t.Errorf("Everlytic holds %d webhooks (%+v), status %q: want one, recorded, mark cleared", len(hooks), hooks, got)
	}
	if n := env.Everlytic.Requests(user); n[everlytictest.OpCreate] != 1 || n[everlytictest.OpList] < 1 {
		t.Errorf("requests %v: want one create and a list", n)
	}
}

func TestEverlyticInvalidManifestsAreRefusedNamingTheField(t *testing.T) {
	ns := everlyticSetup(t, "e2e-everlytic-invalid")
	for _, tc := range []struct{ manifest, want string }{
		{strings.Replace(smsWebhook("bad", "  eventTypes: [sent]\n"), "url: https://", "url: http://", 1), "spec.url"},
		{smsWebhook("bad", "  eventTypes: []\n"), "spec.eventTypes"},
		{smsWebhook("bad", "  eventTypes: [opened]\n"), `spec.eventTypes[0]: Unsupported value: "opened"`},
		{smsWebhook("bad", "  eventTypes: [sent, sent]\n"), "spec.eventTypes[1]: Duplicate value"},
		{smsWebhook("bad", "  eventTypes: [sent]\n  verb: PATCH\n"), "spec.verb"},
		{strings.Replace(smsWebhook("bad", "  eventTypes: [sent]\n"), "endpoint: "+env.EmulatorURL, "endpoint: https://live1.everlytic.net/api", 1), "spec.endpoint"},
		{strings.Replace(smsWebhook("bad", "  eventTypes: [sent]\n"), "endpoint: "+env.EmulatorURL, "endpoint: http://live1.everlytic.net", 1), "spec.endpoint"},
		{smsWebhook("bad", "  eventTypes: [sent]\n  interval: 1s\n"), "interval must be at least 30s"},
	} {
		f := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(f, []byte(tc.manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := kubectlErr("apply", "-n", ns, "-f", f)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("kubectl apply: err %v, output %q; want a refusal containing %q", err, out, tc.want)
		}
	}
	// webhookID is set at creation only.
	apply(t, ns, smsWebhook("fixed", "  eventTypes: [sent]\n  webhookID: 4e54180d-597e-4e24-b712-862f04d385ad\n  suspend: true\n"))
	out, err := kubectlErr("patch", "-n", ns, "elsw", "fixed", "--type=merge", "-p", `{"spec":{"webhookID":"0e54180d-597e-4e24-b712-862f04d385ad"}}`)
	if err == nil || !strings.Contains(out, "webhookID is immutable") {
		t.Errorf("changing webhookID: err %v, output %q", err, out)
	}
}

// kubectl explain documents every field of the spec, as the CRD lists them.
func TestEverlyticExplainDocumentsEveryField(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "everlytic.webhooks.dev_everlyticsmswebhooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties map[string]struct {
							Properties map[string]any `json:"properties"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	fields := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties
	if len(fields) < 11 {
		t.Fatalf("the CRD's spec has %d fields", len(fields))
	}
	whole := kubectl(t, "explain", "everlyticsmswebhook.spec")
	for name := range fields {
		if !regexp.MustCompile(`(?m)^  ` + name + `\t`).MatchString(whole) {
			t.Errorf("kubectl explain everlyticsmswebhook.spec does not list %s:\n%s", name, whole)
		}
		out := kubectl(t, "explain", "everlyticsmswebhook.spec."+name)
		desc := out[strings.Index(out, "DESCRIPTION:")+len("DESCRIPTION:"):]
		if i := strings.Index(desc, "FIELDS:"); i >= 0 {
			desc = desc[:i]
		}
		if len(strings.Fields(desc)) < 5 || !strings.Contains(strings.ToLower(desc), strings.ToLower(name)) {
			t.Errorf("kubectl explain everlyticsmswebhook.spec.%s documents it as %q: want a sentence starting with its name", name, strings.TrimSpace(desc))
		}
	}
}
