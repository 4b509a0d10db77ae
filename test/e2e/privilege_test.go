package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The service account the namespaced installation binds its Roles to, as
// RBAC sees a client certificate with this name.
const (
	operatorNS = "sendblue-operator-system"
	operatorSA = "system:serviceaccount:" + operatorNS + ":sendblue-operator-controller-manager"
)

// TestNamespacedInstallReadsOnlyItsNamespacesAndGuardsItsMetrics installs
// the namespaced RBAC as `make namespaced-manifests` renders it, runs the
// manager under that identity with --watch-namespaces and secure metrics,
// and checks what it can and cannot do.
func TestNamespacedInstallReadsOnlyItsNamespacesAndGuardsItsMetrics(t *testing.T) {
	for _, ns := range []string{"priv-a", "priv-b", "priv-other"} {
		kubectl(t, "create", "namespace", ns)
	}
	applyWithout(t, renderNamespaced(t, "priv-a,priv-b"), "Deployment", "CustomResourceDefinition")
	as := "--as=" + operatorSA
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "secrets", "--all-namespaces"}, "no"},
		{[]string{"get", "secrets", "-n", "priv-other"}, "no"},
		{[]string{"get", "secrets", "-n", "priv-a"}, "yes"},
		{[]string{"patch", "sendbluewebhooksets.sendblue.webhooks.dev/status", "-n", "priv-b"}, "yes"},
		{[]string{"create", "secrets", "-n", "priv-a"}, "no"},
		{[]string{"create", "tokenreviews.authentication.k8s.io"}, "yes"},
	} {
		out, _ := kubectlErr(append([]string{"auth", "can-i", as}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n") // after any warning
		if got := lines[len(lines)-1]; got != tc.want {
			t.Errorf("can the operator %s? %q, want %s", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	kc, err := env.AddUser(operatorSA, "system:serviceaccounts", "system:serviceaccounts:"+operatorNS, "system:authenticated")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.StopManager(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.StopManager(syscall.SIGTERM); err != nil {
			t.Error(err)
		}
		if err := env.StartManager("--batch-window", "300ms"); err != nil {
			t.Fatal(err)
		}
	}()
	logBefore := managerLog(t)
	if err := env.StartManager("--batch-window", "300ms", "--kubeconfig", kc, "--watch-namespaces", "priv-a,priv-b",
		"--leader-elect", "--leader-election-namespace", operatorNS, "--metrics-secure=true"); err != nil {
		t.Fatal(err)
	}
	const key = "e2e-priv-0007"
	if err := env.Emulator.AddAccount(key, "secret-"+key); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"priv-a", "priv-b", "priv-other"} {
		apply(t, ns, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: sendblue-credentials}\nstringData: {apiKeyId: %s, apiSecretKey: secret-%s}\n", key, key))
		apply(t, ns, set("app-"+ns, "Merge", "Delete", fmt.Sprintf("    receive: [{url: 'https://%s.example.com'}]\n", ns)))
	}
	waitReady(t, "priv-a", "app-priv-a")
	waitReady(t, "priv-b", "app-priv-b")
	waitStored(t, key, `{"receive":["https://priv-a.example.com","https://priv-b.example.com"],`+empty+`}`)
	// Its status is the CRD's default alone (observedGeneration 0).
	if out := kubectl(t, "get", "sbws", "app-priv-other", "-n", "priv-other", "-o", "jsonpath={.status}"); strings.TrimSpace(out) != `{"observedGeneration":0}` {
		t.Errorf("a set outside the watched namespaces got a status: %s", out)
	}
	if log := strings.TrimPrefix(managerLog(t), logBefore); strings.Contains(strings.ToLower(log), "forbidden") {
		t.Errorf("the namespaced manager was refused something:\n%s", tail(log, 2000))
	}

	// Readiness reports synced caches; metrics need an authorized token.
	if code, _ := get(t, "http://"+env.ProbeAddr+"/readyz", ""); code != 200 {
		t.Errorf("/readyz = %d, want 200 once the caches are synced", code)
	}
	kubectl(t, "create", "serviceaccount", "scraper", "-n", "priv-other")
	kubectl(t, "create", "serviceaccount", "stranger", "-n", "priv-other")
	kubectl(t, "create", "clusterrolebinding", "priv-scraper-metrics", "--clusterrole=sendblue-operator-metrics-reader", "--serviceaccount=priv-other:scraper")
	scraper := strings.TrimSpace(kubectl(t, "create", "token", "scraper", "-n", "priv-other"))
	stranger := strings.TrimSpace(kubectl(t, "create", "token", "stranger", "-n", "priv-other"))
	url := "https://" + env.MetricsAddr + "/metrics"
	waitFor(t, "the secure metrics endpoint", func() bool { code, _ := get(t, url, ""); return code != 0 })
	for _, tc := range []struct {
		name, token string
		want        int
	}{{"no token", "", 401}, {"a token without the role", stranger, 403}, {"the metrics reader", scraper, 200}} {
		code, body := get(t, url, tc.token)
		if code != tc.want {
			t.Errorf("metrics with %s: HTTP %d, want %d", tc.name, code, tc.want)
		}
		if tc.want == 200 && !strings.Contains(body, "sendblue_account_writes_total") {
			t.Errorf("metrics body lacks sendblue_account_writes_total:\n%s", tail(body, 500))
		}
	}
	if code, _ := get(t, "http://"+env.MetricsAddr+"/metrics", ""); code == 200 {
		t.Error("metrics are also served in plain HTTP")
	}
}

// renderNamespaced renders the namespaced installation as
// `make namespaced-manifests NAMESPACES=...` does.
func renderNamespaced(t *testing.T, namespaces string) []byte {
	t.Helper()
	root := filepath.Join("..", "..")
	rendered, err := kubectlErr("kustomize", filepath.Join(root, "config", "namespaced"))
	if err != nil {
		t.Fatalf("kubectl kustomize config/namespaced: %v\n%s", err, rendered)
	}
	cmd := exec.Command("go", "run", "./hack/namespaced", "--namespaces", namespaces)
	cmd.Dir = root
	cmd.Stdin = strings.NewReader(rendered)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hack/namespaced: %v\n%s", err, stderr.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("--watch-namespaces="+namespaces)) {
		t.Fatalf("the rendered Deployment does not watch %s", namespaces)
	}
	return out.Bytes()
}

// applyWithout applies every document of a YAML stream but those of the
// given kinds.
func applyWithout(t *testing.T, stream []byte, kinds ...string) {
	t.Helper()
	var kept []string
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		skip := meta.Kind == ""
		for _, k := range kinds {
			skip = skip || meta.Kind == k
		}
		if !skip {
			kept = append(kept, doc)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := env.Kubectl(ctx, strings.NewReader(strings.Join(kept, "\n---\n")), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the manager's self-signed certificate
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func managerLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(env.ManagerLog)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
