// Command measure-memory measures the manager's memory with many
// SendblueWebhookSets of the largest size the CRD admits, to size the
// Deployment's memory limit and GOMEMLIMIT (README, "Sizing"). It runs the
// manager binary against a local control plane and the emulator (as make
// demo does) and prints the manager's peak and current resident memory once
// every set has a status.
//
//	go build -o bin/manager . && KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) \
//	  go run ./hack/measure-memory --manager bin/manager --sets 1000 --accounts 10
//
// With --fat-secrets it measures a tenant who fills Secrets instead: that
// many Secrets of about 1 MB (a 10-byte key and filler) referenced, 22 to a
// set, by sets whose credentials reach no account, the manager run with the
// Deployment's GOMEMLIMIT and GOGC (--gomemlimit, --gogc):
//
//	go run ./hack/measure-memory --manager bin/manager --fat-secrets 264
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/test/e2e/localenv"
)

func main() {
	manager := flag.String("manager", "bin/manager", "the manager binary")
	sets := flag.Int("sets", 1000, "how many sets of the largest admitted size")
	accounts := flag.Int("accounts", 0, "spread the sets over this many emulator accounts; 0: no credentials, the sets only sit in the cache")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after")
	fat := flag.Int("fat-secrets", 0, "instead: this many ~1 MB Secrets, a 10-byte key of each referenced by sets (22 per set) whose credentials reach no account")
	memLimit := flag.String("gomemlimit", "220MiB", "the manager's GOMEMLIMIT (the chart's default)")
	gogc := flag.String("gogc", "25", "the manager's GOGC (the chart's default)")
	flag.DurationVar(&hold, "hold", 0, "keep sampling this long after every set reported (the steady state)")
	flag.Parse()
	env := []string{"GOMEMLIMIT=" + *memLimit, "GOGC=" + *gogc}
	if *fat > 0 {
		*sets, *accounts = (*fat+perSet-1)/perSet, 0
	}
	if err := run(*manager, *sets, *accounts, *fat, env, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "measure-memory:", err)
		os.Exit(1)
	}
}

// hold is how long to keep sampling once every set reported.
var hold time.Duration

// perSet is how many fat Secrets one set references (its webhooks' secrets).
const perSet = 22

func run(manager string, n, accounts, fat int, managerEnv []string, timeout time.Duration) error {
	root, _ := os.Getwd()
	manager, _ = filepath.Abs(manager)
	keys := map[string]string{}
	for i := 0; i < accounts; i++ {
		keys[fmt.Sprintf("mem-key-%04d", i)] = fmt.Sprintf("mem-secret-%04d", i)
	}
	env, err := localenv.Start(localenv.Options{RepoRoot: root, Manager: manager, Accounts: keys})
	if err != nil {
		return err
	}
	defer env.Stop()
	env.ManagerEnv = append(env.ManagerEnv, managerEnv...)
	fmt.Printf("manager environment: %s\n", strings.Join(managerEnv, " "))
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	const ns = "memory"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	secretName := strings.Repeat("s", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("r", 61)
	secretKey := strings.Repeat("k", 253)
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns},
		StringData: map[string]string{secretKey: "whsec-" + strings.Repeat("x", 58)}}); err != nil {
		return err
	}
	for i := 0; i < accounts; i++ {
		id := fmt.Sprintf("mem-key-%04d", i)
		if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("creds-%d", i), Namespace: ns},
			StringData: map[string]string{"apiKeyId": id, "apiSecretKey": keys[id]}}); err != nil {
			return err
		}
	}
	begin := time.Now()
	if fat > 0 {
		if err := fatSecrets(ctx, c, ns, n, fat); err != nil {
			return err
		}
	} else {
		fmt.Printf("creating %d sets of the largest admitted size in %d account(s)\n", n, accounts)
		for i := 0; i < n; i++ {
			creds := "missing"
			if accounts > 0 {
				creds = fmt.Sprintf("creds-%d", i%accounts)
			}
			if err := c.Create(ctx, largest(ns, i, creds, secretName, secretKey)); err != nil {
				return fmt.Errorf("set %d: %w", i, err)
			}
		}
	}
	fmt.Printf("created in %s; starting the manager\n", time.Since(begin).Round(time.Second))
	if err := env.StartManager(); err != nil {
		return err
	}
	begin = time.Now()
	for {
		var list v1.SendblueWebhookSetList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		done := 0
		for _, s := range list.Items {
			if len(s.Status.Conditions) > 0 && s.Status.Conditions[0].Reason != "Progressing" {
				done++
			}
		}
		peak, rss := memory(env.ManagerPID())
		fmt.Printf("%6s  %d/%d sets reported  manager RSS %s, peak %s\n", time.Since(begin).Round(time.Second), done, n, rss, peak)
		if done == n {
			if hold <= 0 {
				return nil
			}
			for end := time.Now().Add(hold); time.Now().Before(end); {
				time.Sleep(5 * time.Second)
				peak, rss := memory(env.ManagerPID())
				fmt.Printf("%6s  steady  manager RSS %s, peak %s\n", time.Since(begin).Round(time.Second), rss, peak)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not every set was reported in time; manager log: %s", env.ManagerLog)
		case <-time.After(5 * time.Second):
		}
	}
}

// fatSecrets creates a tenant's Secrets of about 1 MB each (a 10-byte key
// "k" and filler) and n sets referencing them, perSet to a set, with
// credentials (a Secret of the same size) that reach no account.
func fatSecrets(ctx context.Context, c client.Client, ns string, n, fat int) error {
	fmt.Printf("creating %d Secrets of ~1 MB and %d sets referencing them\n", fat, n)
	filler := map[string][]byte{"k": []byte("0123456789"), "apiKeyId": []byte("no-such-key"), "apiSecretKey": []byte("no-such-secret")}
	for i := 0; i < 9; i++ {
		filler[fmt.Sprintf("filler-%d", i)] = []byte(strings.Repeat("f", 100<<10))
	}
	for i := 0; i < fat; i++ {
		if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fat-%d", i), Namespace: ns}, Data: filler}); err != nil {
			return fmt.Errorf("secret %d: %w", i, err)
		}
	}
	for i := 0; i < n; i++ {
		s := &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("set-%05d", i), Namespace: ns},
			Spec: v1.SendblueWebhookSetSpec{CredentialsRef: v1.CredentialsReference{Name: v1.SecretName(fmt.Sprintf("fat-%d", i*perSet))}}}
		// 10 receive and 10 outbound webhooks, the global and the legacy
		// secret: 22 references, the most a set holds.
		for j := 0; j < perSet && i*perSet+j < fat; j++ {
			ref := &v1.SecretKeyReference{Name: v1.SecretName(fmt.Sprintf("fat-%d", i*perSet+j)), Key: "k"}
			hook := v1.Webhook{URL: v1.WebhookURL(fmt.Sprintf("https://set%d-%d.example.com/", i, j)), SecretRef: ref}
			switch {
			case j < 10:
				s.Spec.Webhooks.Receive = append(s.Spec.Webhooks.Receive, hook)
			case j < 20:
				s.Spec.Webhooks.Outbound = append(s.Spec.Webhooks.Outbound, hook)
			case j == 20:
				s.Spec.GlobalSecretRef = ref
			default:
				s.Spec.LegacySecretRef = ref
			}
		}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("set %d: %w", i, err)
		}
	}
	return nil
}

// largest is a set of the largest size the CRD admits: 20 webhooks with
// 1024-character URLs and the longest Secret names and keys, ten of them
// receive webhooks with 100 numbers each.
func largest(ns string, i int, creds, secretName, secretKey string) *v1.SendblueWebhookSet {
	ref := &v1.SecretKeyReference{Name: v1.SecretName(secretName), Key: v1.SecretDataKey(secretKey)}
	url := func(kind string, j int) v1.WebhookURL {
		u := fmt.Sprintf("https://set%d-%s%d.example.com/", i, kind, j)
		return v1.WebhookURL(u + strings.Repeat("p", 1024-len(u)))
	}
	var numbers []string
	for k := 0; k < 100; k++ {
		numbers = append(numbers, fmt.Sprintf("+1512%07d", k))
	}
	s := &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("set-%05d", i), Namespace: ns},
		Spec: v1.SendblueWebhookSetSpec{CredentialsRef: v1.CredentialsReference{Name: v1.SecretName(creds)}}}
	for j := 0; j < 10; j++ {
		s.Spec.Webhooks.Receive = append(s.Spec.Webhooks.Receive, v1.Webhook{URL: url("r", j), SecretRef: ref, SendblueNumbers: numbers})
		s.Spec.Webhooks.Outbound = append(s.Spec.Webhooks.Outbound, v1.Webhook{URL: url("o", j), SecretRef: ref})
	}
	return s
}

// memory reads the process's peak and current resident set size.
func memory(pid int) (peak, rss string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?", "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "VmHWM:" {
			peak = f[1] + " kB"
		}
		if len(f) == 3 && f[0] == "VmRSS:" {
			rss = f[1] + " kB"
		}
	}
	return peak, rss
}
