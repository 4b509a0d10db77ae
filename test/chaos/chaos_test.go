// Package chaos runs the real manager binary against a local control plane
// and the Sendblue and Everlytic emulators through many seeded, randomized rounds of
// changes and faults, and checks after each round, once quiet, that nothing
// was lost and nothing leaked. `make chaos` runs 200 rounds; `make test` a
// short fixed-seed run.
//
//	CHAOS_ROUNDS=200 CHAOS_SEED=7 go test ./test/chaos -run TestChaos -v
package chaos

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ev1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
	"github.com/sendblue-operator/sendblue-operator/test/e2e/localenv"
)

const (
	numAccounts = 3
	quietWithin = 90 * time.Second
)

var namespaces = []string{"chaos-a", "chaos-b"}

// managerArgs make the manager fast to recover in a test: short request
// timeout and retries, and logs at the highest verbosity there is.
var managerArgs = []string{
	"--batch-window", "50ms", "--max-concurrent-reconciles", "2",
	"--sendblue-request-timeout", "1s", "--everlytic-request-timeout", "1s", "--rate-limit-retry", "1s", "--read-retry", "1s", "--stalled-retry", "2s",
	"--release-after", "20s",
	"--zap-log-level", "127",
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func TestChaos(t *testing.T) {
	rounds, seed := envInt("CHAOS_ROUNDS", 12), uint64(envInt("CHAOS_SEED", 1))
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	manager := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", manager, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building the manager: %v", err)
	}
	accounts := map[string]string{}
	for a := 0; a < numAccounts; a++ {
		accounts[keyID(a)] = secretKey(a)
	}
	env, err := localenv.Start(localenv.Options{RepoRoot: root, Manager: manager, Accounts: accounts})
	if err != nil {
		t.Fatalf("the chaos suite needs the local control plane (run `make test` or `make chaos`): %v", err)
	}
	defer env.Stop()
	w := newWorld(t, env, seed)
	w.setup()
	if err := env.StartManager(managerArgs...); err != nil {
		t.Fatal(err)
	}
	w.waitQuiet(0)
	begin := time.Now()
	for r := 1; r <= rounds && len(w.violations) < 5; r++ {
		w.round(r)
	}
	w.checkLeaks()
	w.report(rounds, time.Since(begin))
	if len(w.violations) > 0 {
		env.KeepDir = true
		t.Errorf("%d violation(s); reproduce with CHAOS_SEED=%d CHAOS_ROUNDS=%d (manager log kept: %s):\n%s",
			len(w.violations), seed, rounds, env.ManagerLog, strings.Join(w.violations, "\n"))
	}
}

func keyID(a int) string     { return fmt.Sprintf("chaos-key-%d", a) }
func secretKey(a int) string { return fmt.Sprintf("sk-chaos-%d-9f3c2a", a) }

// What the world holds, as the harness intends it.
type (
	hookModel struct {
		wire, field, url string
		key              string // its secret's key in the set's hooks Secret; "" for none
	}
	setModel struct {
		ns, name, policy, deletion string
		account, interval          int // interval in seconds
		hooks                      []hookModel
		secrets                    map[string]string // hooks Secret data
	}
	// urlModel is what may happen to a URL on its account.
	urlModel struct {
		account int
		owner   string // set name, "" for a dashboard webhook
		state   urlState
	}
)

type urlState int

const (
	declared urlState = iota // a writing set declares it: never removed
	dropped                  // its set no longer declares it (or was deleted with Delete): may be removed
	released                 // orphaned, foreign, or only observed: only an Exclusive set may remove it
)

type world struct {
	t        *testing.T
	env      *localenv.Env
	c        client.Client
	rng      *rand.Rand
	seed     uint64
	sets     map[string]*setModel // by name
	urls     map[string]*urlModel // by "wire url"
	unknown  map[int][]string     // unknown members added, by account
	secrets  []string             // every secret value ever used
	next     int
	journal  int
	excl     [2]map[int]bool    // accounts with an Exclusive set: last round, this round
	missing  []client.ObjectKey // credentials Secrets deleted this round, re-created at its end
	moved    []client.ObjectKey // credentials Secrets pointed at another account this round, restored at its end
	tornDown []client.ObjectKey // credentials Secrets deleted with their sets ("namespace teardown"), re-created once quiet
	trace    []string           // what the round did, for a violation's report
	focus    int                // the account most of the round's changes and faults go to
	faults   map[string]int     // injected, by kind (uses)
	unmet    map[string]int     // of those, cleared unused at a round's end
	events   map[string]int
	puts     int
	roundDur []time.Duration

	violations []string

	ev *evWorld // the Everlytic part (everlytic_test.go)
}

func newWorld(t *testing.T, env *localenv.Env, seed uint64) *world {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1.AddToScheme(scheme))
	utilruntime.Must(ev1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, env: env, c: c, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), seed: seed,
		sets: map[string]*setModel{}, urls: map[string]*urlModel{}, unknown: map[int][]string{},
		faults: map[string]int{}, unmet: map[string]int{}, events: map[string]int{}}
	w.excl = [2]map[int]bool{{}, {}}
	for a := 0; a < numAccounts; a++ {
		w.secrets = append(w.secrets, secretKey(a))
	}
	return w
}

func (w *world) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// retry runs f until it succeeds: the apiserver may be restarting.
func (w *world) retry(what string, f func(context.Context) error) {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := w.ctx()
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *world) setup() {
	w.addSecondKey()
	for _, ns := range namespaces {
		w.retry("namespace", func(ctx context.Context) error {
			return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		})
		for a := 0; a < numAccounts; a++ {
			w.createCreds(ns, a)
		}
	}
	for i := 0; i < 6; i++ {
		w.createSet()
	}
	w.evSetup()
}

func (w *world) createCreds(ns string, a int) {
	w.retry("credentials", func(ctx context.Context) error {
		return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("creds-%d", a), Namespace: ns},
			StringData: func() map[string]string {
				id, sk := credsFor(ns, a)
				return map[string]string{"apiKeyId": id, "apiSecretKey": sk}
			}()}))
	})
}

var hookTypes = []struct{ wire, field string }{{"receive", "receive"}, {"outbound", "outbound"}, {"call_log", "callLog"}, {"line_blocked", "lineBlocked"}}

func writes(policy string) bool { return policy != string(v1.PolicyObserve) }

func (w *world) pick(weights ...int) int {
	total := 0
	for _, x := range weights {
		total += x
	}
	n := w.rng.IntN(total)
	for i, x := range weights {
		if n < x {
			return i
		}
		n -= x
	}
	return len(weights) - 1
}

func (w *world) newHook(s *setModel) hookModel {
	w.next++
	ht := hookTypes[w.rng.IntN(len(hookTypes))]
	h := hookModel{wire: ht.wire, field: ht.field, url: fmt.Sprintf("https://%s-h%d.example.com/hook", s.name, w.next)}
	if w.rng.IntN(2) == 0 {
		h.key = fmt.Sprintf("h%d", w.next)
		s.secrets[h.key] = w.newSecret()
	}
	return h
}

func (w *world) newSecret() string {
	s := fmt.Sprintf("whsec-%016x", w.rng.Uint64())
	w.secrets = append(w.secrets, s)
	return s
}

func (w *world) state(s *setModel) urlState {
	if writes(s.policy) {
		return declared
	}
	return released
}

func (w *world) createSet() *setModel {
	w.next++
	s := &setModel{ns: namespaces[w.rng.IntN(len(namespaces))], name: fmt.Sprintf("s%d", w.next), account: w.account(),
		policy: []string{"Merge", "Exclusive", "Observe"}[w.pick(55, 15, 30)], deletion: []string{"Delete", "Orphan"}[w.rng.IntN(2)],
		secrets: map[string]string{}, interval: 30} // the shortest: drift reads overlap the changes
	for n := 1 + w.rng.IntN(3); n > 0; n-- {
		s.hooks = append(s.hooks, w.newHook(s))
	}
	w.sets[s.name] = s
	for _, h := range s.hooks {
		w.urls[h.wire+" "+h.url] = &urlModel{account: s.account, owner: s.name, state: w.state(s)}
	}
	w.putHookSecret(s)
	w.retry("create set", func(ctx context.Context) error {
		return client.IgnoreAlreadyExists(w.c.Create(ctx, w.object(s)))
	})
	return s
}

func (w *world) putHookSecret(s *setModel) {
	w.retry("hook Secret", func(ctx context.Context) error {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks-" + s.name, Namespace: s.ns}}
		err := w.c.Get(ctx, client.ObjectKeyFromObject(sec), sec)
		data := map[string][]byte{}
		for k, v := range s.secrets {
			data[k] = []byte(v)
		}
		if err != nil {
			sec.Data = data
			return w.c.Create(ctx, sec)
		}
		sec.Data = data
		return w.c.Update(ctx, sec)
	})
}

func (w *world) object(s *setModel) *v1.SendblueWebhookSet {
	o := &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.ns}}
	w.fill(o, s)
	return o
}

func (w *world) fill(o *v1.SendblueWebhookSet, s *setModel) {
	o.Spec.CredentialsRef = v1.CredentialsReference{Name: v1.SecretName(fmt.Sprintf("creds-%d", s.account))}
	o.Spec.Policy, o.Spec.DeletionPolicy = v1.Policy(s.policy), v1.DeletionPolicy(s.deletion)
	o.Spec.Interval = &metav1.Duration{Duration: time.Duration(s.interval) * time.Second}
	o.Spec.Webhooks = v1.Webhooks{}
	for _, h := range s.hooks {
		hook := v1.Webhook{URL: v1.WebhookURL(h.url)}
		if h.key != "" {
			hook.SecretRef = &v1.SecretKeyReference{Name: v1.SecretName("hooks-" + s.name), Key: v1.SecretDataKey(h.key)}
		}
		switch h.field {
		case "receive":
			o.Spec.Webhooks.Receive = append(o.Spec.Webhooks.Receive, hook)
		case "outbound":
			o.Spec.Webhooks.Outbound = append(o.Spec.Webhooks.Outbound, hook)
		case "callLog":
			o.Spec.Webhooks.CallLog = append(o.Spec.Webhooks.CallLog, hook)
		case "lineBlocked":
			o.Spec.Webhooks.LineBlocked = append(o.Spec.Webhooks.LineBlocked, hook)
		}
	}
}

// update writes the set's model to its object.
func (w *world) update(s *setModel) {
	w.retry("update set", func(ctx context.Context) error {
		var o v1.SendblueWebhookSet
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: s.name}, &o); err != nil {
			return err
		}
		w.fill(&o, s)
		return w.c.Update(ctx, &o)
	})
}

// note adds the set to the last entry of the round's trace.
func (w *world) note(s *setModel) {
	w.trace[len(w.trace)-1] += fmt.Sprintf(" (%s/%s, %s, account %d)", s.ns, s.name, s.policy, s.account)
}

// account is the round's focus account, most of the time.
func (w *world) account() int {
	if w.rng.IntN(10) < 7 {
		return w.focus
	}
	return w.rng.IntN(numAccounts)
}

// randomSet picks a set, most of the time one of the focus account.
func (w *world) randomSet() *setModel {
	if len(w.sets) == 0 {
		return nil
	}
	names := make([]string, 0, len(w.sets))
	focus := w.rng.IntN(10) < 7
	for n, s := range w.sets {
		if !focus || s.account == w.focus {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		for n := range w.sets {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return w.sets[names[w.rng.IntN(len(names))]]
}

// op makes one random change, as people and tools around the operator do.
func (w *world) op() {
	s := w.randomSet()
	switch k := w.pick(16, 10, 14, 10, 10, 12, 10); {
	case k == 0 || s == nil || len(w.sets) < 3:
		w.event("create set")
		w.note(w.createSet())
	case k == 1 && len(w.sets) > 3:
		w.event("delete set (" + s.deletion + ")")
		w.deleteSet(s)
	case k == 2:
		if len(s.hooks) > 1 && w.rng.IntN(2) == 0 {
			w.event("drop a webhook")
			w.note(s)
			i := w.rng.IntN(len(s.hooks))
			u := w.urls[s.hooks[i].wire+" "+s.hooks[i].url]
			if u.state == declared {
				u.state = dropped
			}
			s.hooks = slices.Delete(s.hooks, i, i+1)
		} else if len(s.hooks) < 4 {
			w.event("add a webhook")
			w.addHook(s)
		}
		w.update(s)
	case k == 3:
		to := []string{"Merge", "Exclusive", "Observe"}[w.rng.IntN(3)]
		w.event("policy " + s.policy + " -> " + to)
		w.note(s)
		s.policy = to
		if to == "Exclusive" {
			// Whatever happens to the set later this round, it may remove
			// what it does not declare.
			w.excl[1][s.account] = true
		}
		for _, h := range s.hooks {
			w.urls[h.wire+" "+h.url].state = w.state(s)
		}
		w.update(s)
	case k == 4:
		var keys []string
		for k := range s.secrets {
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			return
		}
		sort.Strings(keys)
		w.event("rotate a webhook secret")
		w.note(s)
		s.secrets[keys[w.rng.IntN(len(keys))]] = w.newSecret()
		w.putHookSecret(s)
	case k == 5:
		w.dashboard()
	default:
		w.flapCredentials()
	}
}

// deleteSet deletes a set and tells the model what may happen to its
// webhooks: with Delete, removed; otherwise, left to Exclusive sets.
func (w *world) deleteSet(s *setModel) {
	w.note(s)
	for _, h := range s.hooks {
		if u := w.urls[h.wire+" "+h.url]; u.state == declared && s.deletion == "Delete" {
			u.state = dropped
		} else {
			u.state = released
		}
	}
	delete(w.sets, s.name)
	w.retry("delete set", func(ctx context.Context) error {
		return client.IgnoreNotFound(w.c.Delete(ctx, &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.ns}}))
	})
}

// dashboard adds, as a person in the Sendblue dashboard would, a webhook
// nobody declares or a member of a type this operator does not know.
func (w *world) dashboard() {
	a := w.account()
	w.next++
	if w.rng.IntN(3) == 0 {
		w.event("dashboard: unknown type")
		key := fmt.Sprintf("future_%d", w.next)
		w.unknown[a] = append(w.unknown[a], key)
		w.edit(a, func(m map[string]any) {
			m[key] = []any{map[string]any{"url": fmt.Sprintf("https://unknown%d.example.com", w.next), "x": w.next}}
		})
		return
	}
	w.event("dashboard: foreign webhook")
	ht := hookTypes[w.rng.IntN(len(hookTypes))]
	u := fmt.Sprintf("https://foreign%d.example.com/x", w.next)
	w.urls[ht.wire+" "+u] = &urlModel{account: a, state: released}
	w.edit(a, func(m map[string]any) {
		list, _ := m[ht.wire].([]any)
		m[ht.wire] = append(list, u)
	})
}

func (w *world) edit(a int, f func(map[string]any)) {
	err := w.env.Emulator.EditWebhooks(keyID(a), func(cur json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		if err := json.Unmarshal(cur, &m); err != nil {
			return nil, err
		}
		f(m)
		return json.Marshal(m)
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// flapCredentials deletes a credentials Secret for the rest of the round,
// and makes a set of the same account in the other namespace (which still
// reads its own credentials) sync meanwhile.
func (w *world) flapCredentials() {
	ns, a := namespaces[w.rng.IntN(len(namespaces))], w.account()
	w.event("credentials Secret deleted and re-created")
	w.trace[len(w.trace)-1] += fmt.Sprintf(" (%s/creds-%d)", ns, a)
	key := client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("creds-%d", a)}
	w.retry("delete credentials", func(ctx context.Context) error {
		return client.IgnoreNotFound(w.c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}))
	})
	w.missing = append(w.missing, key)
	time.Sleep(200 * time.Millisecond) // the sets that use it notice
	for _, s := range w.sets {
		if s.account == a && s.ns != ns {
			w.event("a sibling syncs while credentials are missing")
			s.interval = 30 + (s.interval-29)%600 // a spec change, nothing else
			w.update(s)
			break
		}
	}
}

func (w *world) restoreCredentials() {
	for _, k := range w.missing {
		a, _ := strconv.Atoi(strings.TrimPrefix(k.Name, "creds-"))
		w.createCreds(k.Namespace, a)
	}
	w.missing = nil
}

func (w *world) event(kind string) {
	w.events[kind]++
	w.trace = append(w.trace, kind)
}

// fault queues one misbehaviour of the Sendblue API.
func (w *world) fault(dropped map[int]bool) {
	a := w.account()
	f := sendbluetest.Fault{Account: keyID(a)}
	var kind string
	switch w.pick(3, 2, 2, 2, 2, 2, 2, 1) {
	case 0:
		kind, f.Status, f.Count = "5xx", []int{500, 502, 503}[w.rng.IntN(3)], 1+w.rng.IntN(2)
		f.BodyStyle = []string{"", "error", "errorObject"}[w.rng.IntN(3)]
	case 1:
		kind, f.Status, f.RetryAfter = "429 with Retry-After", 429, "1"
	case 2:
		kind, f.Status = "429 without Retry-After", 429
	case 3:
		kind, f.Hang = "hang past the request timeout", true
	case 4:
		kind, f.Malformed, f.Method = "truncated body", true, []string{"GET", "PUT"}[w.rng.IntN(2)]
	case 5:
		kind, f.Method, f.Body = "empty 200 GET", "GET", `{"status":"OK","webhooks":{}}`
	case 6:
		if dropped[a] {
			return
		}
		dropped[a] = true
		kind, f.Method, f.DropWrite = "200 PUT that does not persist", "PUT", true
	default:
		kind, f.Method, f.Status = "413", "PUT", 413
	}
	if f.Count == 0 {
		f.Count = 1
	}
	f.Name = kind
	w.faults[kind] += f.Count
	w.trace = append(w.trace, fmt.Sprintf("fault %s on account %d", kind, a))
	w.env.Emulator.InjectFault(f)
}

func (w *world) exclusiveAccounts() map[int]bool {
	out := map[int]bool{}
	for _, s := range w.sets {
		if s.policy == "Exclusive" {
			out[s.account] = true
		}
	}
	return out
}

func (w *world) round(r int) {
	begin := time.Now()
	w.trace = nil
	w.focus = w.rng.IntN(numAccounts)
	w.excl = [2]map[int]bool{w.excl[1], w.exclusiveAccounts()}
	dropped := map[int]bool{}
	for n := w.rng.IntN(4); n > 0; n-- {
		w.fault(dropped)
	}
	for n := w.rng.IntN(3); n > 0; n-- {
		w.evFault()
	}
	for n := 1 + w.rng.IntN(4); n > 0; n-- {
		w.op()
		time.Sleep(time.Duration(w.rng.IntN(150)) * time.Millisecond)
	}
	for n := w.rng.IntN(3); n > 0; n-- {
		w.evOp()
	}
	switch x := w.rng.IntN(100); {
	case x < 20:
		w.partialRead()
	case x < 30:
		w.moveCredentials()
	case x < 40:
		w.restoreWithoutStatus()
	case x < 48:
		w.teardown()
	}
	for a := range w.exclusiveAccounts() {
		w.excl[1][a] = true
	}
	w.restoreCredentials()
	if len(w.moved) > 0 {
		time.Sleep(time.Duration(300+w.rng.IntN(700)) * time.Millisecond) // the sets notice
		w.restoreMoved()
	}
	switch x := w.rng.IntN(100); {
	case x < 12:
		time.Sleep(time.Duration(w.rng.IntN(600)) * time.Millisecond)
		w.event("manager SIGKILL")
		if err := w.env.StopManager(syscall.SIGKILL); err != nil {
			w.t.Fatal(err)
		}
		after := func() {}
		if w.rng.IntN(2) == 0 {
			after = w.lieAfterRestart()
		}
		if err := w.env.StartManager(managerArgs...); err != nil {
			w.t.Fatal(err)
		}
		after()
	case x < 16:
		time.Sleep(time.Duration(w.rng.IntN(300)) * time.Millisecond)
		w.event("kube-apiserver restart")
		if err := w.env.RestartAPIServer(); err != nil {
			w.t.Fatal(err)
		}
	}
	w.waitQuiet(r) // the faults stay queued until the round is quiet
	w.rebuild()
	for _, f := range w.env.Emulator.PendingFaults() {
		w.unmet[f.Name] += f.Count
	}
	w.env.Emulator.ClearFaults()
	w.evEndRound()
	w.checkJournal(r)
	w.evCheck(r)
	w.roundDur = append(w.roundDur, time.Since(begin))
}

func (w *world) violate(format string, args ...any) {
	w.violations = append(w.violations, fmt.Sprintf(format, args...)+"\n          the round: "+strings.Join(w.trace, "; "))
}

// waitQuiet waits until every set reports having handled its generation
// and every declared webhook is on its account exactly once with its secret.
func (w *world) waitQuiet(r int) {
	deadline := time.Now().Add(quietWithin)
	var last string
	for time.Now().Before(deadline) {
		if last = w.unsettled(); last == "" {
			return
		}
		time.Sleep(150 * time.Millisecond)
	}
	w.violate("round %d: not quiet within %s: %s", r, quietWithin, last)
}

// unsettled says what is not yet as the model wants it, or "".
func (w *world) unsettled() string {
	ctx, cancel := w.ctx()
	defer cancel()
	var list v1.SendblueWebhookSetList
	if err := w.c.List(ctx, &list); err != nil {
		return "listing sets: " + err.Error()
	}
	seen := map[string]bool{}
	for _, o := range list.Items {
		s, live := w.sets[o.Name]
		if !live {
			return fmt.Sprintf("%s/%s is still there after its deletion", o.Namespace, o.Name)
		}
		seen[o.Name] = true
		c := meta.FindStatusCondition(o.Status.Conditions, "Ready")
		if c == nil || c.ObservedGeneration != o.Generation {
			return fmt.Sprintf("%s has not reported generation %d", o.Name, o.Generation)
		}
		ok := c.Reason == "Synced" || (!writes(s.policy) && c.Reason == "DriftDetected")
		if !ok {
			return fmt.Sprintf("%s: %s: %s", o.Name, c.Reason, c.Message)
		}
	}
	for name := range w.sets {
		if !seen[name] {
			return name + " is missing"
		}
	}
	if s := w.evUnsettled(); s != "" {
		return s
	}
	for a := 0; a < numAccounts; a++ {
		raw, err := w.env.Emulator.Webhooks(keyID(a))
		if err != nil {
			return err.Error()
		}
		cfg, err := sendblue.ParseConfig(raw)
		if err != nil {
			return fmt.Sprintf("account %d does not parse: %v", a, err)
		}
		for _, s := range w.sets {
			if s.account != a || !writes(s.policy) {
				continue
			}
			for _, h := range s.hooks {
				var found []sendblue.Webhook
				for _, e := range cfg.Webhooks(sendblue.EventType(h.wire)) {
					if e.URL == h.url {
						found = append(found, e)
					}
				}
				want := s.secrets[h.key] // "" for none
				if len(found) != 1 || found[0].Secret != want {
					return fmt.Sprintf("account %d holds %s %s %d time(s) (secret as declared: %v), declared by %s", a, h.wire, h.url, len(found), len(found) == 1 && found[0].Secret == want, s.name)
				}
			}
		}
	}
	return ""
}

// checkJournal checks every write of the round: it removed nothing that was
// declared, nothing foreign or orphaned unless an Exclusive set was on the
// account, and no member of an unknown type.
func (w *world) checkJournal(r int) {
	writes, next := w.env.Emulator.Journal(w.journal)
	w.journal = next
	for _, wr := range writes {
		w.puts++
		a := accountOf(wr.KeyID)
		var before, after map[string]json.RawMessage
		if json.Unmarshal(wr.Before, &before) != nil || json.Unmarshal(wr.After, &after) != nil {
			w.violate("round %d: a write left a configuration that is not an object: %s", r, wr.After)
			continue
		}
		for key, old := range before {
			if sendblue.EventType(key).Known() {
				for _, u := range removed(old, after[key]) {
					w.checkRemoval(r, a, key, u)
				}
				continue
			}
			if key != "globalSecret" && key != "secret" && string(after[key]) != string(old) {
				w.violate("round %d: account %d: the unknown member %s changed from %s to %s", r, a, key, old, after[key])
			}
		}
	}
}

func (w *world) checkRemoval(r, a int, wire, url string) {
	u, ok := w.urls[wire+" "+url]
	switch {
	case !ok:
		w.violate("round %d: account %d: %s %s, which the harness never made, was removed", r, a, wire, url)
	case u.state == declared:
		w.violate("round %d: account %d: %s %s, declared by %s, was removed", r, a, wire, url, u.owner)
	case u.state == released && !w.excl[0][a] && !w.excl[1][a]:
		w.violate("round %d: account %d: %s %s (foreign or orphaned, owner %q) was removed with no Exclusive set on the account", r, a, wire, url, u.owner)
	}
}

// removed lists the URLs whose count went down from old to new.
func removed(old, new json.RawMessage) []string {
	count := func(raw json.RawMessage) map[string]int {
		var entries []json.RawMessage
		_ = json.Unmarshal(raw, &entries)
		n := map[string]int{}
		for _, e := range entries {
			var s string
			if json.Unmarshal(e, &s) != nil {
				var o struct{ URL string }
				_ = json.Unmarshal(e, &o)
				s = o.URL
			}
			n[s]++
		}
		return n
	}
	before, after := count(old), count(new)
	var out []string
	for u, n := range before {
		if after[u] < n {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// checkLeaks looks for every secret value used in the manager's log (at the
// highest verbosity), events, statuses and metrics.
func (w *world) checkLeaks() {
	var text strings.Builder
	log, err := os.ReadFile(w.env.ManagerLog)
	if err != nil {
		w.t.Fatal(err)
	}
	text.Write(log)
	ctx, cancel := w.ctx()
	defer cancel()
	for _, ns := range namespaces {
		var events eventsv1.EventList
		var sets v1.SendblueWebhookSetList
		if err := w.c.List(ctx, &events, client.InNamespace(ns)); err != nil {
			w.t.Fatal(err)
		}
		if err := w.c.List(ctx, &sets, client.InNamespace(ns)); err != nil {
			w.t.Fatal(err)
		}
		b, _ := json.Marshal(events.Items)
		text.Write(b)
		for _, s := range sets.Items {
			b, _ := json.Marshal(s.Status)
			text.Write(b)
		}
		var hooks ev1.EverlyticSMSWebhookList
		if err := w.c.List(ctx, &hooks, client.InNamespace(ns)); err != nil {
			w.t.Fatal(err)
		}
		for _, h := range hooks.Items {
			b, _ := json.Marshal(h.Status)
			text.Write(b)
		}
	}
	resp, err := http.Get("http://" + w.env.MetricsAddr + "/metrics")
	if err != nil {
		w.t.Fatalf("metrics: %v", err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "sendblue_account_writes_total") {
		w.t.Errorf("metrics lack sendblue_account_writes_total")
	}
	text.Write(metrics)
	all := text.String()
	for _, v := range w.secrets {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(all, form) {
				w.violate("secret value %q appears in the log, an event, a status or the metrics (as %q)", v, form)
			}
		}
	}
}

func (w *world) report(rounds int, took time.Duration) {
	durs := slices.Clone(w.roundDur)
	slices.Sort(durs)
	pct := func(p int) time.Duration {
		if len(durs) == 0 {
			return 0
		}
		return durs[min(len(durs)-1, len(durs)*p/100)].Round(time.Millisecond)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: seed %d, %d rounds in %s (round p50 %s, p95 %s, max %s), %d PUTs, %d violation(s)\n",
		w.seed, len(w.roundDur), took.Round(time.Second), pct(50), pct(95), pct(100), w.puts, len(w.violations))
	met := map[string]int{}
	for k, n := range w.faults {
		met[k] = n - w.unmet[k]
	}
	fmt.Fprintf(&b, "faults met (of injected):%s\nchanges and crashes:%s\n", tally(met, w.faults), tally(w.events, nil))
	w.t.Log(b.String())
	fmt.Fprint(os.Stderr, b.String())
}

// tally lists m by key; with of, each count is followed by "(of N)".
func tally(m, of map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-46s %d", k, m[k])
		if of != nil {
			fmt.Fprintf(&b, " (of %d)", of[k])
		}
	}
	return b.String()
}
