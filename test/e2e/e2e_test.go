// Package e2e drives the real manager binary with the real kubectl against a
// local control plane and the Sendblue emulator, the way users do. `make
// test` runs it; without the control-plane binaries it fails, never skips.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sendblue-operator/sendblue-operator/test/e2e/localenv"
)

var env *localenv.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	bin, err := os.MkdirTemp("", "sendblue-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(bin)
	manager := filepath.Join(bin, "manager")
	build := exec.Command("go", "build", "-o", manager, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: building the manager:", err)
		return 1
	}
	env, err = localenv.Start(localenv.Options{RepoRoot: root, Manager: manager})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the e2e tests need the local control plane (run `make test`):", err)
		return 1
	}
	defer env.Stop()
	fmt.Fprintln(os.Stderr, "e2e: kubectl", env.KubectlPath, "- manager log", env.ManagerLog)
	if err := env.StartManager("--batch-window", "300ms"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		if log, err := os.ReadFile(env.ManagerLog); err == nil {
			fmt.Fprintf(os.Stderr, "--- manager log (last 4 KiB):\n%s\n", tail(string(log), 4096))
		}
	}
	return code
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlErr(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func kubectlErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return env.Kubectl(ctx, nil, args...)
}

// setup makes a namespace, an emulator account with optional existing
// configuration, and the credentials and hook Secrets in the namespace.
func setup(t *testing.T, key, existing string) string {
	t.Helper()
	ns := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(ns) > 50 {
		ns = ns[:50]
	}
	ns = strings.Trim(ns, "-")
	kubectl(t, "create", "namespace", ns)
	if err := env.Emulator.AddAccount(key, "secret-"+key); err != nil {
		t.Fatal(err)
	}
	if existing != "" {
		if err := env.Emulator.SetMembers(key, json.RawMessage(existing)); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: sendblue-credentials}
stringData: {apiKeyId: %s, apiSecretKey: secret-%s}
---
apiVersion: v1
kind: Secret
metadata: {name: sendblue-hook-secrets}
stringData: {receive: whsec-r-%s, outbound: whsec-o-%s}
`, key, key, key, key))
	return ns
}

// apply writes manifest to a file and runs kubectl apply -f on it; it
// returns the file for later kubectl diff or delete.
func apply(t *testing.T, ns, manifest string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "apply", "-n", ns, "-f", f)
	return f
}

func set(name, policy, deletion string, hooks string) string {
	return fmt.Sprintf(`apiVersion: sendblue.webhooks.dev/v1alpha1
kind: SendblueWebhookSet
metadata: {name: %s}
spec:
  credentialsRef: {name: sendblue-credentials}
  policy: %s
  deletionPolicy: %s
  webhooks:
%s`, name, policy, deletion, hooks)
}

func stored(t *testing.T, key string) string {
	t.Helper()
	raw, err := env.Emulator.Webhooks(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func waitStored(t *testing.T, key, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if stored(t, key) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("account %s:\n got %s\nwant %s", key, stored(t, key), want)
}

func waitReady(t *testing.T, ns string, names ...string) {
	t.Helper()
	args := []string{"wait", "-n", ns, "--for=condition=Ready", "--timeout=60s"}
	for _, n := range names {
		args = append(args, "sbws/"+n)
	}
	kubectl(t, args...)
}

const empty = `"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]`

func TestApplyThenWaitReadyHoldsDeclaredPlusExisting(t *testing.T) {
	const key = "e2e-merge-0001"
	ns := setup(t, key, `{"receive":["https://already.example.com"],"future_type":["kept"]}`)
	sample, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "sendblue_v1alpha1_sendbluewebhookset_merge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	apply(t, ns, string(sample))
	waitReady(t, ns, "messaging")
	waitStored(t, key, `{"receive":["https://already.example.com",{"url":"https://app.example.com/sendblue/receive","secret":"whsec-r-`+key+`","sendblue_numbers":["+15122164639"]}],`+
		`"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[{"url":"https://app.example.com/sendblue/status","secret":"whsec-o-`+key+`"}],"contact_created":[],"future_type":["kept"]}`)
}

func TestEditedManifestConvergesAndReapplyingWritesNothing(t *testing.T) {
	const key = "e2e-edit-0002"
	ns := setup(t, key, "")
	v1 := set("app", "Merge", "Delete", "    callLog: [{url: https://v1.example.com}]\n")
	apply(t, ns, v1)
	waitReady(t, ns, "app")
	waitStored(t, key, `{"receive":[],"call_log":["https://v1.example.com"],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`)

	v2 := set("app", "Merge", "Delete", "    callLog: [{url: https://v2.example.com}]\n    inboundCall: [{url: https://v2.example.com/calls}]\n")
	f := apply(t, ns, v2)
	waitStored(t, key, `{"receive":[],"call_log":["https://v2.example.com"],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[],"inbound_call":["https://v2.example.com/calls"]}`)
	waitReady(t, ns, "app")

	env.Emulator.ResetRequests(key)
	if out := kubectl(t, "apply", "-n", ns, "-f", f); !strings.Contains(out, "unchanged") {
		t.Errorf("re-apply: %q, want unchanged", out)
	}
	time.Sleep(2 * time.Second) // several batch windows
	if got := env.Emulator.Requests(key); got["PUT"] != 0 {
		t.Errorf("re-applying the same manifest caused writes: %v", got)
	}
	// A restarted manager remembers nothing: it reads the converged account
	// again, and must find nothing to write.
	if err := env.StopManager(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := env.StartManager("--batch-window", "300ms"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for env.Emulator.Requests(key)["GET"] == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if got := env.Emulator.Requests(key); got["GET"] == 0 || got["PUT"] != 0 {
		t.Errorf("after a restart on a converged account: %v, want reads and no write", got)
	}

	// GitOps: the operator changes no spec or metadata the manifest owns.
	out, err := kubectlErr("diff", "-n", ns, "-f", f)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("kubectl diff after reconcile: err %v, output:\n%s", err, out)
	}
}

func TestDeleteRemovesOrLeavesWebhooksAndTheObjectGoes(t *testing.T) {
	const key = "e2e-delete-0003"
	ns := setup(t, key, "")
	del := apply(t, ns, set("deleted", "Merge", "Delete", "    receive: [{url: https://d.example.com}]\n"))
	orph := apply(t, ns, set("orphaned", "Merge", "Orphan", "    outbound: [{url: https://o.example.com}]\n"))
	waitReady(t, ns, "deleted", "orphaned")
	waitStored(t, key, `{"receive":["https://d.example.com"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://o.example.com"],"contact_created":[]}`)

	kubectl(t, "delete", "-n", ns, "-f", del, "-f", orph, "--timeout=60s") // waits until the objects are gone
	waitStored(t, key, `{"receive":[],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":["https://o.example.com"],"contact_created":[]}`)
	if out, _ := kubectlErr("get", "sbws", "-n", ns, "-o", "name"); strings.TrimSpace(out) != "" && !strings.Contains(out, "No resources") {
		t.Errorf("sets left after delete: %s", out)
	}
}

func TestManagerKilledMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	const key = "e2e-kill-0004"
	ns := setup(t, key, `{"receive":["https://foreign.example.com"]}`)
	var manifest strings.Builder
	var names []string
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("set%d", i)
		names = append(names, name)
		fmt.Fprintf(&manifest, "---\n%s", set(name, "Merge", "Delete", fmt.Sprintf("    receive: [{url: 'https://s%d.example.com'}]\n    outbound: [{url: 'https://shared.example.com'}]\n", i)))
	}
	f := filepath.Join(t.TempDir(), "sets.yaml")
	if err := os.WriteFile(f, []byte(manifest.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "apply", "-n", ns, "-f", f)
	// Kill the manager as soon as the first write lands, mid-way through the sets.
	deadline := time.Now().Add(30 * time.Second)
	for env.Emulator.Requests(key)["PUT"] == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := env.StopManager(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := env.StartManager("--batch-window", "300ms"); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns, names...)

	var cfg map[string][]any
	if err := json.Unmarshal([]byte(stored(t, key)), &cfg); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for typ, entries := range cfg {
		for _, e := range entries {
			u, _ := e.(string)
			count[typ+" "+u]++
		}
	}
	want := map[string]int{"receive https://foreign.example.com": 1, "outbound https://shared.example.com": 1}
	for i := 0; i < 6; i++ {
		want[fmt.Sprintf("receive https://s%d.example.com", i)] = 1
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s appears %d times, want %d (account %s)", k, count[k], n, stored(t, key))
		}
	}
	if len(count) != len(want) {
		t.Errorf("account has %d webhooks, want %d: %s", len(count), len(want), stored(t, key))
	}
}

func TestInvalidManifestsAreRefusedNamingTheField(t *testing.T) {
	ns := setup(t, "e2e-invalid-0005", "")
	for _, tc := range []struct{ hooks, want string }{
		{"    receive: [{url: 'http://insecure.example.com'}]\n", "spec.webhooks.receive[0].url"},
		{"    contactCreated: [{url: 'https://c.example.com', secretRef: {name: s, key: k}}]\n", "secretRef is not allowed on contactCreated"},
		{"    outbound: [{url: 'https://o.example.com', sendblueNumbers: ['+15122164639']}]\n", "sendblueNumbers is only allowed on receive"},
	} {
		f := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(f, []byte(set("bad", "Merge", "Delete", tc.hooks)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := kubectlErr("apply", "-n", ns, "-f", f)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("kubectl apply of %q: err %v, output %q; want a refusal containing %q", tc.hooks, err, out, tc.want)
		}
	}
}

func TestGetShowsThePrinterColumns(t *testing.T) {
	const key = "e2e-columns-0006"
	ns := setup(t, key, "")
	apply(t, ns, set("cols", "Merge", "Delete", "    receive: [{url: 'https://a.example.com'}, {url: 'https://b.example.com'}]\n"))
	waitReady(t, ns, "cols")
	out := kubectl(t, "get", "sbws", "-n", ns)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get sbws:\n%s", out)
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME READY REASON POLICY WEBHOOKS ACCOUNT AGE" {
		t.Errorf("header %q", lines[0])
	}
	if got := strings.Fields(lines[1]); len(got) != 7 || strings.Join(got[:6], " ") != "cols True Synced Merge 2 …0006" {
		t.Errorf("row %q, want cols True Synced Merge 2 …0006 AGE", lines[1])
	}
}
