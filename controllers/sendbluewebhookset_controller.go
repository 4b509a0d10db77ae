package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/sendblue-operator/sendblue-operator/api/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

const (
	// Finalizer lets a set remove its webhooks before it goes.
	Finalizer = "sendblue.webhooks.dev/finalizer"

	secretIndex = "spec.secretNames"
)

// Options tune the reconciler. Zero values take the defaults.
type Options struct {
	// BatchWindow is how long a sync waits before reading the account, so
	// that changes arriving together (one kubectl apply of many sets) are
	// written with one PUT. Default 100ms.
	BatchWindow time.Duration
	// MaxConcurrentReconciles, default 1.
	MaxConcurrentReconciles int
	// IntervalOverride replaces every set's spec.interval (tests only).
	IntervalOverride time.Duration
	// UnauthorizedRetry is how long to wait after Sendblue refused the
	// credentials or the request. Default 5m.
	UnauthorizedRetry time.Duration
	// RateLimitRetry is the wait after a 429 without a Retry-After. Default 30s.
	RateLimitRetry time.Duration
	// ConfirmDelay is how long to wait before reading an account again
	// after a read that may not be the whole account, and the least time
	// between two reads that confirm a sudden loss of everything the
	// operator did not write. Default 5s.
	ConfirmDelay time.Duration
	// WebhookSecretSelector, when set, is what every Secret referenced by
	// secretRef, globalSecretRef or legacySecretRef must match.
	WebhookSecretSelector labels.Selector
}

func (o Options) withDefaults() Options {
	if o.BatchWindow == 0 {
		o.BatchWindow = 100 * time.Millisecond
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 1
	}
	if o.UnauthorizedRetry <= 0 {
		o.UnauthorizedRetry = 5 * time.Minute
	}
	if o.RateLimitRetry <= 0 {
		o.RateLimitRetry = 30 * time.Second
	}
	if o.ConfirmDelay <= 0 {
		o.ConfirmDelay = 5 * time.Second
	}
	return o
}

// EventRecorder is the part of the events API the reconciler uses.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...interface{})
}

// SendblueWebhookSetReconciler makes Sendblue accounts match their
// SendblueWebhookSets: load -> resolve secrets -> observe -> plan -> apply ->
// status. All sets of one account are planned together and written with one
// PUT, one sync at a time per account.
type SendblueWebhookSetReconciler struct {
	Client client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	Recorder  EventRecorder
	NewClient ClientFactory
	Metrics   *Metrics
	Options   Options

	mu       sync.Mutex
	accounts map[string]*accountState
	owned    *ownership
	// reported is the Ready reason this process last reported for each set
	// and generation: fresher than the cache's status.
	reported map[types.UID]reportedReason
}

type reportedReason struct {
	generation int64
	reason     string
}

func (r *SendblueWebhookSetReconciler) setReported(s *v1.SendblueWebhookSet, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reason == "" {
		delete(r.reported, s.UID)
		return
	}
	r.reported[s.UID] = reportedReason{s.Generation, reason}
}

// lastReason is the Ready reason last reported for the set's generation:
// from this process's memory, else from the (possibly older) cached status.
func (r *SendblueWebhookSetReconciler) lastReason(s *v1.SendblueWebhookSet) string {
	r.mu.Lock()
	rep, ok := r.reported[s.UID]
	r.mu.Unlock()
	if ok {
		if rep.generation != s.Generation {
			return ""
		}
		return rep.reason
	}
	c := meta.FindStatusCondition(s.Status.Conditions, ConditionReady)
	if c == nil || c.ObservedGeneration != s.Generation {
		return ""
	}
	return c.Reason
}

// +kubebuilder:rbac:groups=sendblue.webhooks.dev,resources=sendbluewebhooksets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sendblue.webhooks.dev,resources=sendbluewebhooksets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sendblue.webhooks.dev,resources=sendbluewebhooksets/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller. Secrets are watched as
// metadata only and read when needed, so memory does not grow with the
// cluster's Secrets.
func (r *SendblueWebhookSetReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.Options = r.Options.withDefaults()
	r.accounts = map[string]*accountState{}
	r.owned = newOwnership()
	r.reported = map[types.UID]reportedReason{}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.SendblueWebhookSet{}, secretIndex, func(o client.Object) []string {
		return secretNames(o.(*v1.SendblueWebhookSet))
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.SendblueWebhookSet{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.setsForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		Named("sendbluewebhookset").
		Complete(r)
}

func (r *SendblueWebhookSetReconciler) setsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1.SendblueWebhookSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretIndex: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing the sets that reference a Secret", "secret", o.GetNamespace()+"/"+o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, s := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
	}
	return reqs
}

func (r *SendblueWebhookSetReconciler) account(id string) *accountState {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.accounts[id]
	if !ok {
		a = newAccountState()
		r.accounts[id] = a
	}
	return a
}

func (r *SendblueWebhookSetReconciler) interval(s *v1.SendblueWebhookSet) time.Duration {
	if r.Options.IntervalOverride > 0 {
		return r.Options.IntervalOverride
	}
	if s.Spec.Interval != nil && s.Spec.Interval.Duration >= 30*time.Second {
		return s.Spec.Interval.Duration
	}
	return 5 * time.Minute
}

// jitter spreads requeues by up to ±10% so that sets created together do
// not read their accounts in lockstep forever.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// Reconcile handles one set; the account it belongs to is synced as a whole.
func (r *SendblueWebhookSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var set v1.SendblueWebhookSet
	if err := r.Client.Get(ctx, req.NamespacedName, &set); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.Metrics.setReason(req.String(), "")
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !set.DeletionTimestamp.IsZero()
	switch {
	case deleting && !controllerutil.ContainsFinalizer(&set, Finalizer):
		return ctrl.Result{}, nil
	case deleting && (set.Spec.DeletionPolicy == v1.DeletionPolicyOrphan || !r.owned.owns(&set)):
		// Orphan, or nothing applied to remove: no Sendblue call is needed.
		return ctrl.Result{}, r.release(ctx, &set)
	case !deleting && !controllerutil.ContainsFinalizer(&set, Finalizer):
		patch := client.MergeFrom(set.DeepCopy())
		controllerutil.AddFinalizer(&set, Finalizer)
		if err := r.Client.Patch(ctx, &set, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
	}
	if set.Spec.Suspend && !deleting {
		return ctrl.Result{}, r.report(ctx, &set, outcome{reason: ReasonSuspended,
			message: "spec.suspend is true: no Sendblue API calls are made for this set"})
	}

	secrets := newSecretReader(r.APIReader, r.Options.WebhookSecretSelector)
	self, err := secrets.resolve(ctx, &set, deleting)
	if err != nil {
		return r.inputFailed(ctx, &set, err, deleting)
	}
	if accountChanged(&set, self.pin) {
		return r.inputFailed(ctx, &set, &inputError{ReasonAccountChanged, accountChangedMessage(&set, self)}, deleting)
	}

	acct := r.account(self.account)
	acct.mu.Lock()
	defer acct.mu.Unlock()
	// Read ownership only now: a sibling's sync may have updated it while
	// this reconcile waited for the account.
	self.input.Applied = r.owned.applied(&set, self.pin, accountLabel(self.creds))
	interval := r.interval(&set)
	if wait, ok := coveredBySync(r.lastReason(&set), acct, self, interval); ok {
		return ctrl.Result{RequeueAfter: jitter(wait)}, nil
	}
	if c := meta.FindStatusCondition(set.Status.Conditions, ConditionReady); c == nil || c.ObservedGeneration != set.Generation {
		if err := r.report(ctx, &set, outcome{reason: ReasonProgressing, message: "reading the Sendblue account to plan this generation"}); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := sleep(ctx, r.Options.BatchWindow); err != nil {
		return ctrl.Result{}, err
	}
	return r.sync(ctx, acct, self, secrets, interval)
}

// coveredBySync reports whether a recent sync of the account (typically one
// started by a sibling set) handled the set as it is now and reported it in
// line, so that it can wait for its next check. A set whose last report was a
// failure is never covered: it syncs as soon as its inputs return.
func coveredBySync(lastReason string, acct *accountState, self *resolved, interval time.Duration) (time.Duration, bool) {
	if fp, ok := acct.fingerprints[self.set.UID]; !ok || fp != self.fingerprint || self.input.Deleting {
		return 0, false
	}
	if !slices.Contains([]string{ReasonSynced, ReasonConflict, ReasonDriftDetected}, lastReason) {
		return 0, false
	}
	age := time.Since(acct.lastSync)
	if age >= interval*9/10 {
		return 0, false
	}
	return interval - age, true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errStale: the set changed while its reconcile waited for the account.
var errStale = errors.New("the set changed while waiting for its account")

// member is a set of the account being synced.
type member struct {
	*resolved
	// held is why the set's own inputs cannot be used (its own reconcile
	// reports it); empty when they can.
	held string
}

// group returns every set of self's account, across namespaces, self first,
// and the Guard of what sets outside the account hold. A set whose inputs
// cannot be read is a frozen member if its credentials reach this account;
// if even its credentials cannot be read, it may belong to any account, and
// what it declares or applied is guarded from every removal.
func (r *SendblueWebhookSetReconciler) group(ctx context.Context, self *resolved, secrets *secretReader) ([]*member, Guard, error) {
	// The cache's own objects, not copies: read only, except the members,
	// copied below before their status is reported.
	var list v1.SendblueWebhookSetList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("listing SendblueWebhookSets: %w", err)
	}
	group := []*member{{resolved: self}}
	guard := Guard{}
	for i := range list.Items {
		s := &list.Items[i]
		deleting := !s.DeletionTimestamp.IsZero()
		if s.UID == self.set.UID {
			if s.Generation != self.set.Generation || deleting != self.input.Deleting {
				// The cache holds a newer self than this reconcile read; its
				// siblings are as new. Planning with the old self would treat
				// what it now declares as foreign: let the newer one sync.
				return nil, nil, errStale
			}
			continue
		}
		if deleting && (s.Spec.DeletionPolicy == v1.DeletionPolicyOrphan || !controllerutil.ContainsFinalizer(s, Finalizer)) {
			continue
		}
		res, err := secrets.resolve(ctx, s, deleting)
		if err != nil {
			creds, cerr := secrets.credentials(ctx, s)
			switch {
			case cerr != nil:
				guardSet(guard, s, deleting, "whose credentials cannot be read", true)
			case accountID(creds) != self.account:
				guardSet(guard, s, deleting, "which uses other credentials", false)
			default:
				res = &resolved{set: s.DeepCopy(), creds: creds, account: self.account, pin: accountPin(creds), input: frozen(s)}
				res.input.Applied = r.owned.applied(s, res.pin, accountLabel(creds))
				group = append(group, &member{resolved: res, held: "its inputs cannot be read"})
			}
			continue
		}
		if res.account == self.account {
			res.set = s.DeepCopy()
		}
		switch {
		case res.account != self.account:
			guardSet(guard, s, deleting, "which uses other credentials", false)
		case accountChanged(s, res.pin):
			res.input = frozen(s)
			res.input.Applied = slices.Clone(s.Status.Applied)
			group = append(group, &member{resolved: res, held: "its account changed"})
		default:
			res.input.Applied = r.owned.applied(s, res.pin, accountLabel(res.creds))
			group = append(group, &member{resolved: res})
		}
	}
	return group, guard, nil
}

// guardSet adds what a set outside the account declares to guard, and what
// it applied when its account is unknown (uncertain).
func guardSet(guard Guard, s *v1.SendblueWebhookSet, deleting bool, why string, uncertain bool) {
	holder := s.Namespace + "/" + s.Name + ", " + why
	if s.Spec.Policy != v1.PolicyObserve && !deleting {
		for _, k := range declaredKeys(s) {
			guard.Add(k, holder, uncertain)
		}
	}
	if uncertain {
		for _, a := range s.Status.Applied {
			guard.Add(entryKey{a.Type, a.URL}, holder, true)
		}
	}
}

// frozen is the plan input of a set whose inputs cannot be used: it writes
// nothing, and nothing it declares is removed.
func frozen(s *v1.SendblueWebhookSet) SetInput {
	in := SetInput{ID: s.Namespace + "/" + s.Name, Created: s.CreationTimestamp.Time, Policy: s.Spec.Policy, Frozen: true,
		DeclaresGlobalSecret: s.Spec.GlobalSecretRef != nil, DeclaresLegacySecret: s.Spec.LegacySecretRef != nil}
	for _, t := range wireTypes(&s.Spec.Webhooks) {
		for _, h := range t.Hooks {
			in.Webhooks = append(in.Webhooks, DesiredWebhook{Type: t.Type, URL: string(h.URL)})
		}
	}
	return in
}

// sync reads the account once, plans for every set on it, writes at most
// once, checks what was stored, and reports to every set it synced.
func (r *SendblueWebhookSetReconciler) sync(ctx context.Context, acct *accountState, self *resolved, secrets *secretReader, interval time.Duration) (ctrl.Result, error) {
	group, guard, err := r.group(ctx, self, secrets)
	if errors.Is(err, errStale) {
		return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	inputs := make([]SetInput, len(group))
	refused := map[string]mismatch{}
	for i, g := range group {
		inputs[i] = g.input
		if m, ok := acct.refusedWrite(g.resolved); ok && g.held == "" {
			inputs[i].Frozen = true
			refused[g.input.ID] = m
		}
	}
	api, err := r.NewClient(self.creds, secretsOf(inputs))
	if err != nil {
		return r.failed(ctx, self.set, err)
	}
	actual, err := api.Get(ctx)
	if err != nil {
		return r.failed(ctx, self.set, err)
	}
	if missing := actual.MissingTypes(); len(missing) > 0 {
		return r.failed(ctx, self.set, &readError{fmt.Sprintf("the account's configuration as read lacks %s, which Sendblue lists in every account (empty or not): "+
			"it may not be the whole account, so nothing was written", joinTypes(missing)), r.Options.ConfirmDelay})
	}
	plan, over, err := fitPlan(actual, inputs, guard, acct.writeLimit(time.Now()))
	if err != nil {
		return r.failed(ctx, self.set, err)
	}
	var problems map[string][]string
	if plan.HasChanges() {
		if err := r.confirmRead(acct, actual, inputs); err != nil {
			return r.failed(ctx, self.set, err)
		}
		if problems, err = r.write(ctx, api, acct, plan, len(group)); err != nil {
			return r.failed(ctx, self.set, err)
		}
	}
	acct.foreign = foreignCount(plan.Desired, inputs)
	res, err := r.reportGroup(ctx, acct, group, plan, over, refused, problems)
	acct.lastSync = time.Now()
	if res.RequeueAfter == 0 || res.RequeueAfter > interval {
		res.RequeueAfter = jitter(interval)
	}
	return res, err
}

// confirmRead refuses to plan a write from a read in which everything the
// operator did not write vanished at once, until another read at least
// ConfirmDelay later shows the same.
func (r *SendblueWebhookSetReconciler) confirmRead(acct *accountState, actual *sendblue.Config, inputs []SetInput) error {
	if acct.foreign <= 0 || foreignCount(actual, inputs) > 0 {
		acct.suspect = ""
		return nil
	}
	raw, err := actual.MarshalJSON()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	h := hex.EncodeToString(sum[:])
	if acct.suspect == h && time.Since(acct.suspectSeen) >= r.Options.ConfirmDelay {
		acct.suspect = ""
		return nil
	}
	if acct.suspect != h {
		acct.suspect, acct.suspectSeen = h, time.Now()
	}
	return &readError{fmt.Sprintf("everything on the account that no set declares (%d item(s) at the last read) is gone from this read: "+
		"nothing was written until another read confirms it", acct.foreign), r.Options.ConfirmDelay}
}

// write sends the plan and checks what Sendblue stored against it. It
// returns, by set, the changes that were not stored as sent.
func (r *SendblueWebhookSetReconciler) write(ctx context.Context, api SendblueAPI, acct *accountState, plan AccountPlan, sets int) (map[string][]string, error) {
	stored, err := api.Replace(ctx, plan.Desired)
	var tooLarge *sendblue.TooLargeError
	if errors.As(err, &tooLarge) && tooLarge.StatusCode != 0 {
		// Sendblue's limit is below this body: send none as large again
		// before --stalled-retry has passed.
		if size, serr := plan.Desired.Size(); serr == nil && size-1 < acct.limit {
			acct.limit, acct.limitUntil = size-1, time.Now().Add(r.Options.UnauthorizedRetry)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	r.Metrics.writes.Inc()
	if stored == nil {
		if stored, err = api.Get(ctx); err != nil {
			return nil, fmt.Errorf("reading back what was written: %w", err)
		}
	}
	problems := verifyStored(plan, stored)
	logf.FromContext(ctx).Info("Wrote the account's webhooks", "changes", len(plan.Changes), "sets", sets, "notStoredAsSent", len(problems))
	return problems, nil
}

// reportGroup reports the sync to every set of the account it handled.
func (r *SendblueWebhookSetReconciler) reportGroup(ctx context.Context, acct *accountState, group []*member, plan AccountPlan, over []oversize, refused map[string]mismatch, problems map[string][]string) (ctrl.Result, error) {
	now := metav1.Now()
	var (
		errs []error
		res  ctrl.Result
	)
	for _, g := range group {
		if g.input.Suspended || g.held != "" {
			continue // its own reconcile reports it
		}
		uid := g.set.UID
		if g.input.Deleting {
			delete(acct.fingerprints, uid)
			delete(acct.mismatches, uid)
			r.owned.forget(uid)
			errs = append(errs, r.release(ctx, g.set))
			continue
		}
		id := g.input.ID
		o, done := r.heldOutcome(acct, g, over, refused, problems[id])
		if !done {
			sp := plan.Sets[id]
			delete(acct.mismatches, uid)
			r.owned.record(uid, g.pin, sp.Applied)
			o = r.syncedOutcome(acct, g, sp, now)
		} else if o.requeue > 0 && (res.RequeueAfter == 0 || o.requeue < res.RequeueAfter) {
			res.RequeueAfter = o.requeue
		}
		o.account, o.accountID = accountLabel(g.creds), g.pin
		if err := r.report(ctx, g.set, o); err != nil {
			delete(acct.fingerprints, uid) // not reported: the next reconcile syncs again
			errs = append(errs, err)
			continue
		}
		if done {
			delete(acct.fingerprints, uid)
		} else {
			acct.fingerprints[uid] = g.fingerprint
		}
	}
	return res, errors.Join(errs...)
}

// heldOutcome is the report of a set whose changes were not written as
// planned: too large, or not stored as sent. done is false for every other
// set.
func (r *SendblueWebhookSetReconciler) heldOutcome(acct *accountState, g *member, over []oversize, refused map[string]mismatch, problems []string) (outcome, bool) {
	id := g.input.ID
	if i := slices.IndexFunc(over, func(o oversize) bool { return o.ID == id }); i >= 0 {
		o := over[i]
		out := outcome{reason: ReasonAccountTooLarge, stalled: true, message: fmt.Sprintf(
			"not written: with this set's webhooks the account's configuration would be %d bytes, more than the %d bytes that may be written%s; "+
				"remove webhooks from this set or from the account (other sets are written without it)", o.Size, o.Limit, learnedLimit(o.Limit))}
		if o.Limit < sendblue.MaxRequestBytes {
			out.requeue = max(time.Until(acct.limitUntil), time.Second) // then the full limit is tried again
		}
		return out, true
	}
	if m, ok := refused[id]; ok {
		return outcome{reason: ReasonWriteMismatch, stalled: true, message: mismatchMessage(m)}, true
	}
	if len(problems) == 0 {
		return outcome{}, false
	}
	m := acct.mismatches[g.set.UID]
	if m.fingerprint != g.fingerprint {
		m = mismatch{fingerprint: g.fingerprint}
	}
	m.count++
	sort.Strings(problems)
	m.detail = strings.Join(problems, "; ")
	acct.mismatches[g.set.UID] = m
	if m.count >= maxMismatches {
		return outcome{reason: ReasonWriteMismatch, stalled: true, message: mismatchMessage(m)}, true
	}
	return outcome{reason: ReasonWriteMismatch, message: "Sendblue did not store what was written: " + m.detail + "; writing once more",
		requeue: r.Options.ConfirmDelay}, true
}

func learnedLimit(limit int) string {
	if limit < sendblue.MaxRequestBytes {
		return " (Sendblue refused a larger one with HTTP 413; the full limit is tried again after --stalled-retry)"
	}
	return ""
}

func mismatchMessage(m mismatch) string {
	return fmt.Sprintf("Sendblue did not store what was written, %d times: %s. Not written again until this set or its Secrets change "+
		"(Sendblue may change such values; check the webhook's URL and secret)", m.count, m.detail)
}

func (r *SendblueWebhookSetReconciler) syncedOutcome(acct *accountState, g *member, sp *SetPlan, now metav1.Time) outcome {
	prev, seen := acct.fingerprints[g.set.UID]
	outsideChange := seen && prev == g.fingerprint // inputs unchanged, yet the account differed
	s := g.set
	o := outcome{plan: sp.Changes, applied: sp.Applied, synced: &now, setApplied: true}
	switch {
	case g.input.Policy == v1.PolicyObserve:
		o.applied = nil
		if len(sp.Changes) > 0 {
			o.reason, o.message = ReasonDriftDetected, fmt.Sprintf("%d difference(s) between the account and this set (Observe: nothing written): %s", len(sp.Changes), describe(sp.Changes))
		} else {
			o.ready, o.reason, o.message = true, ReasonSynced, "the account matches this set (Observe)"
		}
	case len(sp.Conflicts) > 0:
		c := append([]string(nil), sp.Conflicts...)
		sort.Strings(c)
		o.reason, o.stalled = ReasonConflict, true
		o.message = "not written: " + strings.Join(c, "; ")
	default:
		o.ready, o.reason = true, ReasonSynced
		o.message = fmt.Sprintf("%d webhook(s) of this set are in place on account %s", countWebhooks(&s.Spec.Webhooks), accountLabel(g.creds))
		if len(sp.Kept) > 0 {
			kept := slices.Clone(sp.Kept)
			sort.Strings(kept)
			o.message += "; kept what sets outside this account hold: " + strings.Join(kept, "; ")
		}
	}
	if len(sp.Changes) > 0 && g.input.Policy != v1.PolicyObserve {
		if outsideChange {
			r.Metrics.corrections.Inc()
			r.Recorder.Eventf(s, nil, corev1.EventTypeNormal, EventDriftCorrected, "Sync",
				"corrected changes made outside the operator: %s", describe(sp.Changes))
		} else {
			r.Recorder.Eventf(s, nil, corev1.EventTypeNormal, EventApplied, "Sync", "%s", counts(sp.Changes))
		}
	}
	return o
}

func joinTypes(ts []sendblue.EventType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ", ")
}

func describe(changes []v1.PlannedChange) string {
	var parts []string
	for i, c := range changes {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(changes)-5))
			break
		}
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Action, c.Type, c.URL)))
	}
	return strings.Join(parts, ", ")
}

func counts(changes []v1.PlannedChange) string {
	n := map[v1.Action]int{}
	for _, c := range changes {
		n[c.Action]++
	}
	return fmt.Sprintf("added %d, removed %d, updated %d", n[v1.ActionAdd], n[v1.ActionRemove], n[v1.ActionUpdate])
}

// release removes the finalizer: the set's webhooks are gone or orphaned.
func (r *SendblueWebhookSetReconciler) release(ctx context.Context, s *v1.SendblueWebhookSet) error {
	if !controllerutil.ContainsFinalizer(s, Finalizer) {
		return nil
	}
	patch := client.MergeFrom(s.DeepCopy())
	controllerutil.RemoveFinalizer(s, Finalizer)
	if err := r.Client.Patch(ctx, s, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.owned.forget(s.UID)
	r.setReported(s, "")
	r.Metrics.setReason(s.Namespace+"/"+s.Name, "")
	return nil
}

// inputFailed reports a set whose inputs cannot be used. It waits for the
// Secret watch (or a change of the set) rather than retrying, except while
// deleting.
func (r *SendblueWebhookSetReconciler) inputFailed(ctx context.Context, s *v1.SendblueWebhookSet, err error, deleting bool) (ctrl.Result, error) {
	var ie *inputError
	if !errors.As(err, &ie) {
		return ctrl.Result{}, err
	}
	o := outcome{reason: ie.Reason, message: ie.Message, stalled: ie.stalls() || ie.Reason == ReasonAccountChanged}
	if deleting {
		o.message += "; the set is being deleted with deletionPolicy Delete and waits for this to remove what it applied (set deletionPolicy: Orphan to let it go)"
	}
	if err := r.report(ctx, s, o); err != nil {
		return ctrl.Result{}, err
	}
	if deleting {
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	return ctrl.Result{}, nil
}
