// Command demo runs sendblue-operator locally with no cluster and no Sendblue
// account: a local control plane, the Sendblue emulator, the samples and the
// manager binary, until Ctrl-C. `make demo` builds what it needs and runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sendblue-operator/sendblue-operator/test/e2e/localenv"
)

const (
	demoKeyID  = "demo-key-0001" // config/samples/credentials-secret.yaml
	demoSecret = "demo-secret"
	// config/samples/everlytic_v1alpha1_everlyticsmswebhook.yaml
	everlyticSample   = "everlytic_v1alpha1_everlyticsmswebhook.yaml"
	demoEverlyticUser = "demo-user"
	demoEverlyticKey  = "demo-everlytic-key"
)

func main() {
	once := flag.Bool("once", false, "exit after showing the converged state instead of waiting for Ctrl-C")
	manager := flag.String("manager", "bin/manager", "the manager binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *manager, *once); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type stepper struct {
	n, total int
	start    time.Time
}

func (s *stepper) step(format string, args ...any) {
	s.n++
	fmt.Printf("[%d/%d] %s\n", s.n, s.total, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, manager string, once bool) (err error) {
	st := &stepper{total: 7, start: time.Now()}
	root, _ := os.Getwd()
	manager, _ = filepath.Abs(manager)

	st.step("Starting a local control plane (etcd, kube-apiserver) and the Sendblue emulator")
	env, err := localenv.Start(localenv.Options{RepoRoot: root, Manager: manager, Accounts: map[string]string{demoKeyID: demoSecret},
		EverlyticAccounts: map[string]string{demoEverlyticUser: demoEverlyticKey}})
	if err != nil {
		return fmt.Errorf("step %d: %w", st.n, err)
	}
	defer func() {
		if err != nil {
			env.KeepDir = true
			err = fmt.Errorf("%w\n  manager log: %s\n  kubeconfig:  %s", err, env.ManagerLog, env.Kubeconfig)
		}
		env.Stop()
	}()
	// Someone already configured a webhook in the dashboard.
	if err := env.Emulator.SetWebhooks(demoKeyID, json.RawMessage(`{"receive":["https://legacy.example.com/hook"],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`)); err != nil {
		return err
	}
	fmt.Printf("      emulator %s, account %s, with one webhook already configured\n", env.EmulatorURL, demoKeyID)

	st.step("Creating the credentials Secret and the samples (kubectl apply -k config/samples)")
	if out, err := env.Kubectl(ctx, nil, "apply", "-k", filepath.Join(root, "config", "samples")); err != nil {
		return fmt.Errorf("step %d: kubectl apply: %v\n%s", st.n, err, out)
	} else {
		fmt.Print(indent(out))
	}

	st.step("Creating an EverlyticSMSWebhook (config/samples/%s, endpoint: the emulator)", everlyticSample)
	sample, err := os.ReadFile(filepath.Join(root, "config", "samples", everlyticSample))
	if err != nil {
		return err
	}
	sample = bytes.Replace(sample, []byte("endpoint: https://live1.everlytic.net"), []byte("endpoint: "+env.EmulatorURL), 1)
	if out, err := env.Kubectl(ctx, bytes.NewReader(sample), "apply", "-n", "default", "-f", "-"); err != nil {
		return fmt.Errorf("step %d: kubectl apply: %v\n%s", st.n, err, out)
	} else {
		fmt.Print(indent(out))
	}

	st.step("Starting the operator (%s)", relative(root, manager))
	if err := env.StartManager(); err != nil {
		return fmt.Errorf("step %d: %w", st.n, err)
	}
	fmt.Printf("      log: %s\n      metrics: http://%s/metrics\n", env.ManagerLog, env.MetricsAddr)

	st.step("Waiting until every SendblueWebhookSet and EverlyticSMSWebhook is Ready")
	for _, kind := range []string{"sbws", "elsw"} {
		if out, err := env.Kubectl(ctx, nil, "wait", "--for=condition=Ready", kind, "--all", "-A", "--timeout=90s"); err != nil {
			return fmt.Errorf("step %d: kubectl wait %s: %v\n%s", st.n, kind, err, out)
		}
	}
	fmt.Printf("      converged %s after start\n", time.Since(st.start).Round(100*time.Millisecond))

	st.step("What the operator did")
	out, _ := env.Kubectl(ctx, nil, "get", "sbws", "-A")
	fmt.Printf("$ kubectl get sbws -A\n%s\n", out)
	out, _ = env.Kubectl(ctx, nil, "get", "sbws", "-A", "-o",
		`jsonpath={range .items[*]}{.metadata.name}{"\t"}{range .status.plan[*]}{.action}{" "}{.type}{" "}{.url}{"; "}{end}{"\n"}{end}`)
	fmt.Printf("Plans applied (status.plan):\n%s\n", indent(out))
	stored, err := env.Emulator.Webhooks(demoKeyID)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, stored, "      ", "  ")
	fmt.Printf("The emulator's account %s now holds:\n      %s\n\n", demoKeyID, pretty.String())
	out, _ = env.Kubectl(ctx, nil, "get", "messagingwebhooks", "-A")
	fmt.Printf("$ kubectl get messagingwebhooks -A   # both kinds, one category\n%s\n", out)
	hooks, err := env.Everlytic.Webhooks(demoEverlyticUser)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		fmt.Printf("The Everlytic emulator's account %s holds webhook %s: %s %s for %v, %s\n\n", demoEverlyticUser, h.ID, strings.ToUpper(h.Verb), h.URL, h.EventTypes, h.Status)
	}

	st.step("Running. Try it from another terminal:")
	fmt.Printf(`      export KUBECONFIG=%s
      kubectl edit sbws messaging          # change a URL, watch it converge
      kubectl get sbws -w
      kubectl get elsw sms-delivery -o yaml   # the Everlytic webhook's status
      curl -s %s/_emulator/everlytic/accounts/%s/webhooks   # the Everlytic account
      curl -s %s/_emulator/accounts/%s/webhooks   # the account as Sendblue would see it
      curl -s -X PUT %s/_emulator/accounts/%s/webhooks -d '{"receive":[],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}'   # "empty it in the dashboard": drift
`, env.Kubeconfig, env.EmulatorURL, demoEverlyticUser, env.EmulatorURL, demoKeyID, env.EmulatorURL, demoKeyID)
	if once {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop; every process started here is stopped and its files removed.")
	<-ctx.Done()
	fmt.Println("\nStopping the operator, the emulator and the control plane.")
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "      " + strings.ReplaceAll(s, "\n", "\n      ") + "\n"
}

func relative(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}
