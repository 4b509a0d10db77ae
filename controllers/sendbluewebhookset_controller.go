package controllers

import (
	"context"

	"errors"
	"fmt"
	"github.com/go-logr/logr"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

const (
	// Finalizer lets a set remove its webhooks before it goes.
	Finalizer = "sendblue.webhooks.dev/finalizer"
)

// Options tune the reconciler. Zero values take the defaults, except
// BatchWindow, where zero means no window.
type Options struct {
	// BatchWindow is how long a change waits before its account is read, so
	// that changes arriving together (one kubectl apply of many sets) are
	// written with one PUT. Zero: synced at once. main's default is 100ms.
	BatchWindow time.Duration
	// MaxConcurrentReconciles is how many sets are indexed at once. Default 16.
	MaxConcurrentReconciles int
	// MaxConcurrentSyncs is how many accounts are synced at once (one sync per
	// account at a time regardless). Default 16.
	MaxConcurrentSyncs int
	// SyncTimeout bounds one account sync, every Sendblue request and status
	// report included. Default 2m.
	SyncTimeout time.Duration
	// IntervalOverride replaces every set's spec.interval (tests only).
	IntervalOverride time.Duration
	// UnauthorizedRetry is how long to wait after Sendblue refused the
	// credentials or the request. Default 5m.
	UnauthorizedRetry time.Duration
	// ReleaseAfter is how long a set deleted with deletionPolicy Delete
	// waits for credentials that cannot be read (and that this process does
	// not remember) before it is let go, leaving what it applied. Default 5m.
	ReleaseAfter time.Duration
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

	// beforeIndex, in tests, runs before a set is indexed; afterRead, after
	// its Secrets were read and before what was read is indexed.
	beforeIndex func(types.NamespacedName)
	afterRead   func(types.NamespacedName)
}

func (o Options) withDefaults() Options {
	if o.BatchWindow < 0 {
		o.BatchWindow = 0
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 16
	}
	if o.MaxConcurrentSyncs <= 0 {
		o.MaxConcurrentSyncs = 16
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 2 * time.Minute
	}
	if o.UnauthorizedRetry <= 0 {
		o.UnauthorizedRetry = 5 * time.Minute
	}
	if o.ReleaseAfter <= 0 {
		o.ReleaseAfter = 5 * time.Minute
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
// SendblueWebhookSets. Reconcile indexes one set (load -> resolve secrets ->
// index); the account syncer syncs one account (its sets from the index ->
// observe -> plan -> apply -> status). All sets of one account are planned
// together and written with one PUT, one sync at a time per account.
type SendblueWebhookSetReconciler struct {
	Client client.Client
	// APIReader reads Secrets from the kube-apiserver (never cached whole).
	APIReader client.Reader
	Recorder  EventRecorder
	NewClient ClientFactory
	Metrics   *Metrics
	Options   Options

	cache cache.Cache
	log   logr.Logger
	// initialListed reports whether the sets' informer has delivered its
	// initial list.
	initialListed func() bool
	ix            *accountIndex
	values        *secretValues
	queue         workqueue.TypedRateLimitingInterface[string]
	backoff       workqueue.TypedRateLimiter[string]

	batchMu sync.Mutex
	batches map[string]*batch
	// indexing counts the set reconciles in flight.
	indexing atomic.Int32

	mu       sync.Mutex
	accounts map[string]*accountState
	deferred map[string]bool
	owned    *ownership
	// writes serializes the writes that may reach one account.
	writes *writeLocks
	// lastCreds are, by set, the credentials of its last successful
	// resolve: a deletion uses them when its Secret is gone first (the
	// namespace controller deletes Secrets and sets in no fixed order).
	// In memory only, like every Secret value the manager holds.
	lastCreds map[types.UID]sendblue.Credentials
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

// reportedOther reports whether this process last reported another Ready
// reason for the set's generation than reason.
func (r *SendblueWebhookSetReconciler) reportedOther(s *v1.SendblueWebhookSet, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, ok := r.reported[s.UID]
	return ok && rep.generation == s.Generation && rep.reason != reason
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
	if c := explaining(s.Status.Conditions, s.Generation); c != nil {
		return c.Reason
	}
	return ""
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
	r.Recorder = limitNormalEvents(r.Recorder, func(reason string) { r.Metrics.skipped.WithLabelValues(reason).Inc() })
	r.cache = mgr.GetCache()
	r.log = mgr.GetLogger().WithName("accounts")
	r.accounts = map[string]*accountState{}
	r.deferred = map[string]bool{}
	r.batches = map[string]*batch{}
	r.owned = newOwnership()
	r.lastCreds = map[types.UID]sendblue.Credentials{}
	r.writes = newWriteLocks()
	r.reported = map[types.UID]reportedReason{}
	r.values = newSecretValues(r.cache, r.APIReader, r.Options.WebhookSecretSelector)
	r.values.onBytes = func(n int) { r.Metrics.secretBytes.Set(float64(n)) }
	r.ix = newAccountIndex()
	r.ix.onUnreferenced = r.values.forget
	r.ix.onPrimed = r.primed
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute)
	// Named: its depth, adds and latency are the workqueue_* metrics with
	// name="sendblue-accounts".
	r.queue = workqueue.NewTypedRateLimitingQueueWithConfig(r.backoff, workqueue.TypedRateLimitingQueueConfig[string]{Name: "sendblue-accounts"})
	r.Metrics.observeAccounts(r.oldestRead)
	// Register the sets' informer now, so that /readyz (the caches synced)
	// waits for it, and learn which sets it lists at start: no account is
	// written before each of them is indexed (see accountIndex).
	inf, err := r.cache.GetInformer(ctx, &v1.SendblueWebhookSet{}, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj interface{}, isInInitialList bool) {
			if o, ok := obj.(client.Object); ok && isInInitialList {
				r.ix.initial(client.ObjectKeyFromObject(o))
			}
		},
	})
	if err != nil {
		return err
	}
	r.initialListed = reg.HasSynced
	if err := mgr.Add(accountSyncer{r}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.SendblueWebhookSet{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.setsForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		Named("sendbluewebhookset").
		Complete(r)
}

// oldestRead is when the account read least recently was last read
// successfully (zero with no account).
func (r *SendblueWebhookSetReconciler) oldestRead() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest time.Time
	for _, a := range r.accounts {
		if oldest.IsZero() || a.lastRead.Before(oldest) {
			oldest = a.lastRead
		}
	}
	return oldest
}

// setsForSecret maps a Secret event to the indexed sets that reference the
// Secret and to the sets reading it to be indexed (a set whose reconcile has
// not begun reads it when it does: the watch's cache already shows the
// change).
func (r *SendblueWebhookSetReconciler) setsForSecret(_ context.Context, o client.Object) []reconcile.Request {
	keys := r.ix.referencing(client.ObjectKeyFromObject(o))
	reqs := make([]reconcile.Request, len(keys))
	for i, k := range keys {
		reqs[i] = reconcile.Request{NamespacedName: k}
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
		r.Metrics.accounts.Set(float64(len(r.accounts)))
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

// jitter spreads requeues by up to ±10% so that accounts synced together do
// not read in lockstep forever.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// Reconcile indexes one set: it reads the set's Secrets (from memory when
// their resourceVersion is unchanged), records which account the set is on
// and what it holds, reports what only the set itself can tell (a missing
// Secret, suspend, a changed account), and asks for a sync of its account
// when anything a sync reads changed. It never talks to Sendblue and never
// waits: the account syncer batches and writes.
func (r *SendblueWebhookSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.indexing.Add(1)
	defer r.indexing.Add(-1)
	var set v1.SendblueWebhookSet
	if err := r.Client.Get(ctx, req.NamespacedName, &set); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.forget(req.NamespacedName, "")
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !set.DeletionTimestamp.IsZero()
	switch {
	case deleting && !controllerutil.ContainsFinalizer(&set, Finalizer):
		r.forget(req.NamespacedName, set.UID)
		return ctrl.Result{}, nil
	case deleting && (set.Spec.DeletionPolicy == v1.DeletionPolicyOrphan || !r.owned.owns(&set)):
		// Orphan, or nothing applied to remove: no Sendblue call is needed.
		if err := r.release(ctx, &set); err != nil {
			r.guardUnindexed(&set, deleting, err)
			return ctrl.Result{}, err
		}
		r.forget(req.NamespacedName, set.UID)
		return ctrl.Result{}, nil
	case !deleting && !controllerutil.ContainsFinalizer(&set, Finalizer):
		patch := client.MergeFrom(set.DeepCopy())
		controllerutil.AddFinalizer(&set, Finalizer)
		if err := r.Client.Patch(ctx, &set, patch); err != nil {
			r.guardUnindexed(&set, deleting, err)
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
	}
	return r.indexSet(ctx, &set, deleting)
}

// guardUnindexed indexes a set whose reconcile failed before it could be
// indexed, and that was never indexed, as one whose account is unknown: what
// it declares or applied is guarded on every account, and the accounts are
// not held back waiting for it after a start (one set that cannot be patched
// must not stop every account). Its reconcile is retried.
func (r *SendblueWebhookSetReconciler) guardUnindexed(set *v1.SendblueWebhookSet, deleting bool, err error) {
	key := client.ObjectKeyFromObject(set)
	if r.ix.entry(key) != nil {
		return // what is indexed of it stays until its reconcile succeeds
	}
	r.ix.put(&indexEntry{key: key, uid: set.UID, generation: set.Generation, secrets: secretKeys(set),
		holds: holdsOf(set, deleting, true), blocks: appliedBlocks(set), why: "whose reconcile fails",
		sig: fmt.Sprintf("failed\x00%d\x00%v\x00%s", set.Generation, deleting, err)})
}

// forget drops a set that is gone (or let go) from the index and asks its
// account to sync without it.
func (r *SendblueWebhookSetReconciler) forget(key types.NamespacedName, uid types.UID) {
	e := r.ix.remove(key)
	if e != nil {
		if e.account != "" {
			r.enqueue(e.account)
		}
		uid = e.uid
	}
	if uid != "" {
		r.owned.forget(uid)
		r.mu.Lock()
		delete(r.reported, uid)
		delete(r.lastCreds, uid)
		r.mu.Unlock()
	}
	r.Metrics.setReason(key.String(), "")
}

// indexSet resolves the set's inputs and indexes it.
func (r *SendblueWebhookSetReconciler) indexSet(ctx context.Context, set *v1.SendblueWebhookSet, deleting bool) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(set)
	if r.Options.beforeIndex != nil {
		r.Options.beforeIndex(key)
	}
	e := &indexEntry{key: key, uid: set.UID, generation: set.Generation, secrets: secretKeys(set)}
	// A change of a Secret between this read and the index entry below
	// reconciles the set again: until then its Secrets map to it as being
	// read (a set indexed for the first time, or with a Secret it did not
	// reference before, is not in the index's references yet).
	defer r.ix.reading(key, e.secrets)()
	secrets := newSecretReader(r.values, r.Options.WebhookSecretSelector)
	self, err := secrets.resolve(ctx, set, deleting)
	if r.Options.afterRead != nil {
		r.Options.afterRead(key)
	}
	if err == nil {
		r.mu.Lock()
		r.lastCreds[set.UID] = self.creds
		r.mu.Unlock()
	} else if deleting {
		if creds, ok := r.rememberedCreds(set); ok {
			// Its Secret went first: remove what it applied with the
			// credentials that last worked, on the account it is pinned to.
			self, err = secrets.resolveWith(set, creds, deleting), nil
		}
	}
	var held *outcome
	switch {
	case err != nil:
		creds, cerr := secrets.credentials(ctx, set)
		if cerr != nil {
			// The account cannot be told: what the set declares or applied
			// is guarded on every account.
			e.holds, e.blocks, e.why = holdsOf(set, deleting, true), appliedBlocks(set), "whose credentials cannot be read"
			e.sig = fmt.Sprintf("unknown\x00%d\x00%v\x00%s\x00%v", set.Generation, deleting, cerr, set.Status.Applied)
		} else {
			res := &resolved{creds: creds, account: accountID(creds), pin: accountPin(creds), input: frozen(set)}
			e.account, e.member = res.account, &member{resolved: res, held: "its inputs cannot be read"}
			e.holds, e.why = holdsOf(set, deleting, false), "which uses other credentials"
			e.sig = fmt.Sprintf("frozen\x00%d\x00%v\x00%s", set.Generation, deleting, err)
		}
	case accountChanged(set, self.pin):
		self.input = frozen(set)
		e.account, e.member = self.account, &member{resolved: self, held: "its account changed", appliedFromStatus: true}
		e.holds, e.why = holdsOf(set, deleting, false), "which uses other credentials"
		e.sig = "moved\x00" + self.fingerprint + "\x00" + set.Status.AccountID + "\x00" + set.Annotations[AnnotationAcceptAccount] + "\x00" + set.Annotations[AnnotationRequestedAt]
		held = &outcome{reason: ReasonAccountChanged, message: accountChangedMessage(set, self), stalled: true}
	default:
		e.account, e.member = self.account, &member{resolved: self}
		e.holds, e.why = holdsOf(set, deleting, false), "which uses other credentials"
		e.sig = "member\x00" + self.fingerprint + "\x00" + set.Status.AccountID + "\x00" + set.Annotations[AnnotationAcceptAccount] + "\x00" + set.Annotations[AnnotationRequestedAt]
	}
	if e.member != nil {
		e.member.set = nil // the syncer reads the set from the cache when it syncs
	}
	last := r.lastReason(set)
	if c := meta.FindStatusCondition(set.Status.Conditions, ConditionReady); err == nil && held == nil && !set.Spec.Suspend && !deleting &&
		c != nil && c.ObservedGeneration != set.Generation && last == "" {
		// Replace at once what the status says of an older generation: this
		// one waits for its sync (reported before the sync is asked for, so
		// that it never follows the sync's report). A new set has no status
		// to replace; it gets one from its first sync.
		if rerr := r.report(ctx, set, outcome{reason: ReasonProgressing, message: "waiting for the sync of the Sendblue account to plan this generation"}); rerr != nil {
			return ctrl.Result{}, rerr
		}
	}
	accounts, changed := r.ix.put(e)
	for _, a := range accounts {
		if changed || !inLine(last) {
			r.enqueue(a)
		}
	}
	if set.Spec.Suspend && !deleting {
		return ctrl.Result{}, r.report(ctx, set, outcome{reason: ReasonSuspended, stalled: true,
			message: "spec.suspend is true: no Sendblue API calls are made for this set"})
	}
	if err != nil {
		return r.inputFailed(ctx, set, err, deleting)
	}
	if held != nil {
		return ctrl.Result{}, r.report(ctx, set, *held)
	}
	return ctrl.Result{}, nil
}

// inLine reports whether a Ready reason says the set's last sync handled it
// (written, or found in conflict or drift): nothing more to do until
// something changes.
func inLine(reason string) bool {
	return reason == ReasonSynced || reason == ReasonConflict || reason == ReasonDriftDetected
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
		o.message += fmt.Sprintf("; the set is being deleted with deletionPolicy Delete and waits for this to remove what it applied, "+
			"for %s after its deletion at most, then leaves it (set deletionPolicy: Orphan to let it go now)", r.Options.ReleaseAfter)
	}
	if err := r.report(ctx, s, o); err != nil {
		return ctrl.Result{}, err
	}
	if deleting {
		waited := time.Since(s.DeletionTimestamp.Time)
		if waited >= r.Options.ReleaseAfter {
			// The Secret did not come back (a namespace being deleted takes its
			// Secrets, and a restart forgot the credentials that worked): let
			// the set go rather than hold its namespace in Terminating, and say
			// what it left where a person will see it.
			r.leftBehind(ctx, s, ie.Reason, fmt.Sprintf("what status.applied lists (%d entries); %s for %s", len(s.Status.Applied), ie.Message, waited.Round(time.Second)))
			return ctrl.Result{}, r.release(ctx, s)
		}
		return ctrl.Result{RequeueAfter: min(30*time.Second, r.Options.ReleaseAfter-waited+time.Second)}, nil
	}
	return ctrl.Result{}, nil
}

// rememberedCreds returns the credentials that last worked for a set, if
// they reach the account it is pinned to.
func (r *SendblueWebhookSetReconciler) rememberedCreds(s *v1.SendblueWebhookSet) (sendblue.Credentials, bool) {
	r.mu.Lock()
	creds, ok := r.lastCreds[s.UID]
	r.mu.Unlock()
	return creds, ok && (s.Status.AccountID == "" || accountPin(creds) == s.Status.AccountID)
}
