// Command bench measures the operator at scale (`make bench`). For each
// scale it starts a local control plane, the Sendblue emulator and the real
// manager binary (as `make demo` does), creates the sets, and prints:
//
//   - seconds from the first set created to every set Ready at its current
//     generation (the credentials Secrets, one per set, exist beforehand);
//
//   - Sendblue GETs and PUTs per account (max and mean);
//
//   - kube-apiserver requests by verb and resource, as the manager's own
//     client counts them (sendblue_operator_kubernetes_requests_total);
//
//   - the manager's peak RSS and CPU seconds;
//
//   - a steady-state window of two intervals: Sendblue GETs per account per
//     interval, PUTs, apiserver writes;
//
//   - the manager's RSS before and after 10,000 unrelated 1 KiB Secrets;
//
//   - 20 sequential edits of one set: from the update returning to the
//     emulator storing the PUT, p50 and p95.
//
//     make bench BENCH_ARGS='--scales 1000/100'
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
	"github.com/sendblue-operator/sendblue-operator/test/e2e/localenv"
)

type scale struct{ sets, accounts int }

func (s scale) String() string { return fmt.Sprintf("%d sets / %d accounts", s.sets, s.accounts) }

func parseScales(arg string) ([]scale, error) {
	var out []scale
	for _, f := range strings.Split(arg, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(f), "/")
		sets, err1 := strconv.Atoi(a)
		accounts, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || sets < 1 || accounts < 1 || accounts > sets {
			return nil, fmt.Errorf("--scales: %q is not SETS/ACCOUNTS", f)
		}
		out = append(out, scale{sets, accounts})
	}
	return out, nil
}

type options struct {
	manager     string
	managerArgs []string
	interval    time.Duration
	edits       int
	unrelated   int
	namespaces  int
	timeout     time.Duration
	createsOnly bool
}

func main() {
	var o options
	scales := flag.String("scales", "100/10,1000/100,10000/1000,1000/1", "comma-separated SETS/ACCOUNTS")
	margs := flag.String("manager-args", "", "extra flags for the manager, space-separated")
	flag.StringVar(&o.manager, "manager", "bin/manager", "the manager binary")
	flag.DurationVar(&o.interval, "interval", 30*time.Second, "spec.interval of every set (the steady-state window is two of them)")
	flag.IntVar(&o.edits, "edits", 20, "sequential edits of one set whose latency is measured")
	flag.IntVar(&o.unrelated, "unrelated-secrets", 10000, "unrelated 1 KiB Secrets created to see whether the manager's memory follows them")
	flag.IntVar(&o.namespaces, "namespaces", 10, "namespaces the sets are spread over")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a scale after")
	flag.BoolVar(&o.createsOnly, "creates-only", false, "no manager: time only the control plane accepting the sets (the floor of the burst on this machine)")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	list, err := parseScales(*scales)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	o.managerArgs = strings.Fields(*margs)
	o.manager, _ = filepath.Abs(o.manager)
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s; manager %s %s (with the Deployment's env)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal(), o.manager, strings.Join(o.managerArgs, " "))
	failed := false
	for _, s := range list {
		if err := runScale(o, s); err != nil {
			fmt.Printf("\n%s: FAILED: %v\n", s, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func keyID(a int) string     { return fmt.Sprintf("bench-key-%05d", a) }
func secretKey(a int) string { return fmt.Sprintf("bench-secret-%05d", a) }

func runScale(o options, s scale) (err error) {
	fmt.Printf("\n== %s, %d namespaces, 2 webhooks per set, policy Merge, interval %s\n", s, o.namespaces, o.interval)
	root, _ := os.Getwd()
	accounts := map[string]string{}
	for a := 0; a < s.accounts; a++ {
		accounts[keyID(a)] = secretKey(a)
	}
	env, err := localenv.Start(localenv.Options{RepoRoot: root, Manager: o.manager, Accounts: accounts})
	if err != nil {
		return err
	}
	// Ctrl-C (or a timeout's SIGTERM) stops the control plane and the
	// manager too, so that no stray process skews the next measurement.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			env.Stop()
			os.Exit(130)
		}
	}()
	defer func() {
		if err != nil {
			env.KeepDir = true
			fmt.Printf("manager log kept: %s\n", env.ManagerLog)
		}
		env.Stop()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	c, watch, err := clients(ctx, env.Kubeconfig)
	if err != nil {
		return err
	}
	namespaces := make([]string, o.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("team-%02d", i)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i]}}); err != nil {
			return err
		}
	}
	ns := func(i int) string { return namespaces[i%len(namespaces)] }
	// Set i is on account i*accounts/sets: an account's sets are created one
	// after another (one team's manifests applied together), spread over the
	// namespaces (i % namespaces).
	if err := parallel(ctx, s.sets, func(i int) error {
		a := i * s.accounts / s.sets
		return c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("creds-%05d", i), Namespace: ns(i)},
			StringData: map[string]string{"apiKeyId": keyID(a), "apiSecretKey": secretKey(a)}})
	}); err != nil {
		return fmt.Errorf("creating the credentials Secrets: %w", err)
	}
	if o.createsOnly {
		cp := controlPlaneCPU()
		start := time.Now()
		if err := parallel(ctx, s.sets, func(i int) error {
			return c.Create(ctx, newSet(ns(i), i, o.interval))
		}); err != nil {
			return fmt.Errorf("creating the sets: %w", err)
		}
		fmt.Printf("creates only, no manager: %d sets created in %.1f s; kube-apiserver and etcd: CPU %.1f s\n",
			s.sets, time.Since(start).Seconds(), controlPlaneCPU()-cp)
		return nil
	}
	args := append([]string{"--zap-devel=false", "--zap-log-level=info"}, o.managerArgs...)
	// The manager runs with the environment of the Deployment (its memory
	// settings: GOMEMLIMIT, GOGC).
	env2, err := deploymentEnv(filepath.Join(root, "config", "manager", "manager.yaml"))
	if err != nil {
		return err
	}
	for k, v := range env2 {
		env.ManagerEnv = append(env.ManagerEnv, k+"="+v) // the manager's only, not the control plane's
	}
	if err := env.StartManager(args...); err != nil {
		return err
	}
	if err := waitReady(ctx, env.ProbeAddr); err != nil {
		return err
	}
	pid := env.ManagerPID()
	kubeBefore, err := scrape(env.MetricsAddr)
	if err != nil {
		return err
	}
	cpuBefore := cpuSeconds(pid)
	cpBefore := controlPlaneCPU()

	// The burst.
	start := time.Now()
	if err := parallel(ctx, s.sets, func(i int) error {
		return c.Create(ctx, newSet(ns(i), i, o.interval))
	}); err != nil {
		return fmt.Errorf("creating the sets: %w", err)
	}
	created := time.Since(start)
	if err := waitAllReady(ctx, watch, s.sets, start, env.MetricsAddr); err != nil {
		return err
	}
	converged := time.Since(start)
	kubeAfter, err := scrape(env.MetricsAddr)
	if err != nil {
		return err
	}
	gets, puts := perAccount(env, s.accounts)
	fmt.Printf("burst: all %d sets Ready %.1f s after the first create (creates took %.1f s)\n", s.sets, converged.Seconds(), created.Seconds())
	fmt.Printf("  Sendblue per account: GET max %d mean %.2f; PUT max %d mean %.2f (accounts with more than one PUT: %d)\n",
		slices.Max(gets), mean(gets), slices.Max(puts), mean(puts), countAbove(puts, 1))
	burst, syncs := split(diff(kubeAfter, kubeBefore))
	fmt.Printf("  kube-apiserver requests: %d in all, %.2f per set: %s\n", total(burst), float64(total(burst))/float64(s.sets), burst)
	fmt.Printf("  account syncs: %s\n", syncs)
	fmt.Printf("  manager: peak RSS %s, CPU %.1f s; kube-apiserver and etcd: CPU %.1f s\n", kb(peakRSS(pid)), cpuSeconds(pid)-cpuBefore, controlPlaneCPU()-cpBefore)

	// Steady state: two intervals with nothing changing, from half an
	// interval after the burst (the accounts were synced together: a window
	// starting on the burst would cut their reads at its edges).
	time.Sleep(o.interval / 2)
	if kubeBefore, err = scrape(env.MetricsAddr); err != nil {
		return err
	}
	for a := 0; a < s.accounts; a++ {
		env.Emulator.ResetRequests(keyID(a))
	}
	time.Sleep(2 * o.interval)
	kubeAfter, err = scrape(env.MetricsAddr)
	if err != nil {
		return err
	}
	gets, puts = perAccount(env, s.accounts)
	steady, _ := split(diff(kubeAfter, kubeBefore))
	fmt.Printf("steady state (%s = 2 intervals, from half an interval after the burst): Sendblue GETs %d (%.2f per account per interval, %d accounts), PUTs %d; kube-apiserver writes %d (%s)\n",
		2*o.interval, sum(gets), float64(sum(gets))/float64(2*s.accounts), s.accounts, sum(puts), writes(steady), steady)

	// Unrelated Secrets.
	if o.unrelated > 0 {
		runtime.GC()
		before := rss(pid)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}}); err != nil {
			return err
		}
		value := strings.Repeat("u", 1024)
		if err := parallel(ctx, o.unrelated, func(i int) error {
			return c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Namespace: "unrelated"},
				StringData: map[string]string{"data": value}})
		}); err != nil {
			return fmt.Errorf("creating unrelated Secrets: %w", err)
		}
		time.Sleep(15 * time.Second)
		after := rss(pid)
		fmt.Printf("%d unrelated 1 KiB Secrets: manager RSS %s before, %s after (%+.1f%%)\n", o.unrelated, kb(before), kb(after), 100*float64(after-before)/float64(before))
	}

	// Sequential edits of one set.
	if o.edits > 0 {
		lat, err := edits(ctx, c, env, ns(0), o.edits)
		if err != nil {
			return err
		}
		fmt.Printf("%d sequential edits of one set, update returned -> PUT stored: p50 %s, p95 %s, max %s\n", o.edits,
			percentile(lat, 50), percentile(lat, 95), percentile(lat, 100))
	}
	return nil
}

func clients(ctx context.Context, kubeconfig string) (client.Client, cache.Cache, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	scheme := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	ca, err := cache.New(cfg, cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{}})
	if err != nil {
		return nil, nil, err
	}
	if _, err := ca.GetInformer(ctx, &v1.SendblueWebhookSet{}); err != nil {
		return nil, nil, err
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, nil, errors.New("the bench's cache did not sync")
	}
	return c, ca, nil
}

func newSet(ns string, i int, interval time.Duration) *v1.SendblueWebhookSet {
	return &v1.SendblueWebhookSet{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("set-%05d", i), Namespace: ns},
		Spec: v1.SendblueWebhookSetSpec{
			CredentialsRef: v1.CredentialsReference{Name: v1.SecretName(fmt.Sprintf("creds-%05d", i))},
			Policy:         v1.PolicyMerge,
			Interval:       &metav1.Duration{Duration: interval},
			Webhooks: v1.Webhooks{
				Receive:  []v1.Webhook{{URL: v1.WebhookURL(fmt.Sprintf("https://app-%05d.example.com/sendblue/receive", i))}},
				Outbound: []v1.Webhook{{URL: v1.WebhookURL(fmt.Sprintf("https://app-%05d.example.com/sendblue/outbound", i))}},
			},
		},
	}
}

// parallel runs f(0..n-1) on 16 workers; the first error stops it.
func parallel(ctx context.Context, n int, f func(int) error) error {
	var (
		next  atomic.Int64
		first error
		once  sync.Once
		wg    sync.WaitGroup
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// waitAllReady waits until n sets are Ready at their current generation.
func waitAllReady(ctx context.Context, ca cache.Cache, n int, start time.Time, metrics string) error {
	last := time.Now()
	for {
		var list v1.SendblueWebhookSetList
		if err := ca.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			s := &list.Items[i]
			if c := meta.FindStatusCondition(s.Status.Conditions, "Ready"); c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == s.Generation {
				ready++
			}
		}
		if ready == n {
			return nil
		}
		if time.Since(last) >= 10*time.Second {
			m, _ := scrape(metrics)
			_, syncs := split(m)
			fmt.Printf("  %5.0f s: %d/%d Ready; %d sets listed; account syncs so far: %s\n", time.Since(start).Seconds(), ready, n, len(list.Items), syncs)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d sets Ready when the time ran out", ready, n)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitReady(ctx context.Context, addr string) error {
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("the manager never became ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// counts are kube-apiserver requests by "verb resource".
type counts map[string]float64

func (c counts) String() string {
	keys := make([]string, 0, len(c))
	for k, v := range c {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return c[keys[i]] > c[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.0f", k, c[k])
	}
	return strings.Join(parts, ", ")
}

func scrape(addr string) (counts, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := counts{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "sendblue_account_syncs_total{") {
			labels, value, _ := strings.Cut(strings.TrimPrefix(line, "sendblue_account_syncs_total{"), "} ")
			n, _ := strconv.ParseFloat(value, 64)
			out["sync "+strings.Trim(strings.TrimPrefix(labels, "result="), `"`)] += n
			continue
		}
		if !strings.HasPrefix(line, "sendblue_operator_kubernetes_requests_total{") {
			continue
		}
		labels, value, _ := strings.Cut(strings.TrimPrefix(line, "sendblue_operator_kubernetes_requests_total{"), "} ")
		var verb, resource string
		for _, l := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(l, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "verb":
				verb = v
			case "resource":
				resource = v
			}
		}
		n, _ := strconv.ParseFloat(value, 64)
		out[verb+" "+resource] += n
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, sc.Err()
}

// split separates apiserver requests from account syncs.
func split(c counts) (kube, syncs counts) {
	kube, syncs = counts{}, counts{}
	for k, v := range c {
		if rest, ok := strings.CutPrefix(k, "sync "); ok {
			syncs[rest] = v
		} else {
			kube[k] = v
		}
	}
	return kube, syncs
}

func diff(a, b counts) counts {
	out := counts{}
	for k, v := range a {
		out[k] = v - b[k]
	}
	return out
}

func total(c counts) int {
	n := 0.0
	for _, v := range c {
		n += v
	}
	return int(n)
}

// writes counts the requests that change objects (events excluded: they
// are what a write is reported with, not objects the operator manages).
func writes(c counts) int {
	n := 0.0
	for k, v := range c {
		verb, _, _ := strings.Cut(k, " ")
		if verb == "create" || verb == "update" || verb == "patch" || verb == "delete" {
			n += v
		}
	}
	return int(n)
}

func perAccount(env *localenv.Env, accounts int) (gets, puts []int) {
	for a := 0; a < accounts; a++ {
		r := env.Emulator.Requests(keyID(a))
		gets, puts = append(gets, r[http.MethodGet]), append(puts, r[http.MethodPut])
	}
	return gets, puts
}

func edits(ctx context.Context, c client.Client, env *localenv.Env, ns string, n int) ([]time.Duration, error) {
	key := client.ObjectKey{Namespace: ns, Name: "set-00000"}
	_, next := env.Emulator.Journal(0)
	var lat []time.Duration
	for i := 0; i < n; i++ {
		var s v1.SendblueWebhookSet
		if err := c.Get(ctx, key, &s); err != nil {
			return nil, err
		}
		s.Spec.Webhooks.Receive[0].URL = v1.WebhookURL(fmt.Sprintf("https://app-00000.example.com/sendblue/receive/edit-%d", i))
		if err := c.Update(ctx, &s); err != nil {
			return nil, err
		}
		applied := time.Now()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ws, n2 := env.Emulator.Journal(next)
			w := slices.IndexFunc(ws, func(w sendbluetest.Write) bool { return w.KeyID == keyID(0) && w.Method == http.MethodPut })
			if w >= 0 {
				lat = append(lat, ws[w].At.Sub(applied))
				next = n2
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("edit %d never reached the account", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // idle between edits
	}
	return lat, nil
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return s[i].Round(time.Millisecond)
}

func mean(v []int) float64 { return float64(sum(v)) / float64(len(v)) }

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

func countAbove(v []int, limit int) int {
	n := 0
	for _, x := range v {
		if x > limit {
			n++
		}
	}
	return n
}

// procStatus reads a field of /proc/PID/status in kB.
func procStatus(pid int, field string) int {
	return procStatusFile(fmt.Sprintf("/proc/%d/status", pid), field)
}

func peakRSS(pid int) int { return procStatus(pid, "VmHWM") }
func rss(pid int) int     { return procStatus(pid, "VmRSS") }

func kb(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/1024) }

// cpuSeconds is the process's user+system CPU time (clock ticks of 1/100 s).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// controlPlaneCPU is the CPU time of every kube-apiserver and etcd process.
func controlPlaneCPU() float64 {
	entries, _ := os.ReadDir("/proc")
	total := 0.0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if name := strings.TrimSpace(string(comm)); name == "kube-apiserver" || name == "etcd" {
			total += cpuSeconds(pid)
		}
	}
	return total
}

// deploymentEnv reads the literal env values of the manager Deployment.
func deploymentEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var name string
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(t, "- name: "); ok {
			name = v
		} else if v, ok := strings.CutPrefix(t, "value: "); ok && name != "" {
			out[name] = strings.Trim(v, `"'`)
			name = ""
		}
	}
	return out, nil
}

func memTotal() string {
	return kb(procStatusFile("/proc/meminfo", "MemTotal"))
}

func procStatusFile(path, field string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
