package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildCLI builds the kubectl plugin into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-sendblue")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-sendblue")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the kubectl plugin: %v\n%s", err, out)
	}
	return bin
}

// runCLI runs the plugin against the test cluster and the emulator, with
// none of the caller's Sendblue or kubeconfig variables, and returns its
// stdout and stderr apart.
func runCLI(t *testing.T, bin string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", env.Kubeconfig)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENDBLUE_API_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl-sendblue %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestExportThenApplyAdoptsTheAccountWithoutAWrite brings an existing account
// under a set the way the README says: export with the credentials Secret of
// the cluster, apply, wait Ready. The operator must adopt every webhook
// without writing: status.plan empty, no PUT, the account byte for byte.
func TestExportThenApplyAdoptsTheAccountWithoutAWrite(t *testing.T) {
	const key = "e2e-export-0107"
	ns := setup(t, key, `{"receive":[{"url":"https://app.example.com/sendblue/receive","secret":"whsec-e2e-receive","sendblue_numbers":["+15122164639","+15122164640"]},"https://crm.example.com/inbound"],`+
		`"outbound":[{"url":"https://app.example.com/sendblue/status","secret":"whsec-e2e-outbound"}],`+
		`"call_log":["https://ops.example.com/calls"],"inbound_call":[{"url":"https://ops.example.com/inbound-calls"}],`+
		`"future_type":["https://future.example.com"],"globalSecret":"whsec-e2e-global","secret":"whsec-e2e-legacy"}`)
	secrets := []string{"whsec-e2e-receive", "whsec-e2e-outbound", "whsec-e2e-global", "whsec-e2e-legacy", "secret-" + key}
	bin := buildCLI(t)
	before := stored(t, key)
	export := []string{"export", "imported", "-n", ns, "--credentials-secret", "sendblue-credentials", "--sendblue-api-url", env.EmulatorURL}

	// Without --include-secret-values no value is printed anywhere.
	out, errOut := runCLI(t, bin, export...)
	for _, v := range secrets {
		if strings.Contains(out, v) || strings.Contains(errOut, v) {
			t.Errorf("a secret value is printed without --include-secret-values: %q", v)
		}
	}
	if !strings.Contains(out, "kubectl create secret generic imported-webhook-secrets -n "+ns) {
		t.Errorf("the output does not say how to create the webhook-secrets Secret:\n%s", out)
	}

	out, errOut = runCLI(t, bin, append(export, "--include-secret-values")...)
	if !strings.Contains(errOut, `member "future_type" is not an event type the CRD knows`) {
		t.Errorf("stderr does not name what the set cannot declare:\n%s", errOut)
	}
	for _, v := range secrets {
		if strings.Contains(errOut, v) {
			t.Errorf("stderr holds a secret value: %q", v)
		}
	}
	env.Emulator.ResetRequests(key)
	// As the README says: server-side apply keeps the Secret values out of a
	// last-applied-configuration annotation.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if applied, err := env.Kubectl(ctx, strings.NewReader(out), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply --server-side: %v\n%s", err, applied)
	}
	waitReady(t, ns, "imported")
	if got := kubectl(t, "get", "secret", "imported-webhook-secrets", "-n", ns, "-o", "jsonpath={.metadata.annotations}"); strings.Contains(got, "whsec") {
		t.Errorf("the webhook-secrets Secret's annotations hold a value: %s", got)
	}
	time.Sleep(2 * time.Second) // several batch windows: a write would have happened by now

	if got := kubectl(t, "get", "sbws", "imported", "-n", ns, "-o", "jsonpath={.status.plan}"); got != "" {
		t.Errorf("status.plan = %s, want empty", got)
	}
	if got := kubectl(t, "get", "sbws", "imported", "-n", ns, "-o", "jsonpath={.status.webhookCount}"); got != "5" {
		t.Errorf("status.webhookCount = %s, want 5", got)
	}
	requests := env.Emulator.Requests(key)
	if requests[http.MethodGet] == 0 || requests[http.MethodPut]+requests[http.MethodPost]+requests[http.MethodDelete] != 0 {
		t.Errorf("requests %v: want reads and no write", requests)
	}
	if after := stored(t, key); after != before {
		t.Errorf("the account changed:\nbefore %s\n after %s", before, after)
	}

	table, _ := runCLI(t, bin, "status", "-n", ns)
	row := statusRow(t, table, "imported")
	if want := []string{ns, "imported", "…0107", "True", "Synced", "5", "-"}; strings.Join(row, " ") != strings.Join(want, " ") {
		t.Errorf("status row %q, want %q; table:\n%s", row, want, table)
	}
	table, _ = runCLI(t, bin, "status", "-A")
	if row := statusRow(t, table, "imported"); row[0] != ns {
		t.Errorf("status -A: row %q, table:\n%s", row, table)
	}
}

// statusRow returns the fields of the table row of the set name.
func statusRow(t *testing.T, table, name string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "NAMESPACE NAME ACCOUNT READY REASON WEBHOOKS PLAN" {
		t.Fatalf("status header %q", got)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 1 && f[1] == name {
			return f
		}
	}
	t.Fatalf("no row for %s in:\n%s", name, table)
	return nil
}
