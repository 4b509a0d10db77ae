package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
}

// accountState is what the reconciler remembers of one account.
type accountState struct {
	mu           sync.Mutex // one sync, so at most one write, in flight per account
	lastSync     time.Time
	fingerprints map[types.UID]string
	applied      map[types.UID][]v1.AppliedWebhook // fresher than the cache's status
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
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.SendblueWebhookSet{}, secretIndex, func(o client.Object) []string {
		return secretNames(o.(*v1.SendblueWebhookSet))
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.SendblueWebhookSet{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
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
		a = &accountState{fingerprints: map[types.UID]string{}, applied: map[types.UID][]v1.AppliedWebhook{}}
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
	case deleting && set.Spec.DeletionPolicy == v1.DeletionPolicyOrphan:
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

	secrets := newSecretReader(r.APIReader)
	self, err := secrets.resolve(ctx, &set, deleting)
	if err != nil {
		return r.inputFailed(ctx, &set, err, deleting)
	}

	acct := r.account(self.account)
	acct.mu.Lock()
	defer acct.mu.Unlock()
	interval := r.interval(&set)
	if fp, ok := acct.fingerprints[set.UID]; ok && fp == self.fingerprint && !deleting {
		// A sync of this account already covered this set as it is now
		// (typically one started by a sibling set): wait for the next check.
		if age := time.Since(acct.lastSync); age < interval*9/10 {
			return ctrl.Result{RequeueAfter: jitter(interval - age)}, nil
		}
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

// group returns every set of self's account, across namespaces, self first.
// A set of the account whose Secrets cannot be read is included frozen: it
// writes nothing and nothing it declares or owns is removed.
func (r *SendblueWebhookSetReconciler) group(ctx context.Context, acct *accountState, self *resolved, secrets *secretReader) ([]*resolved, error) {
	var list v1.SendblueWebhookSetList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing SendblueWebhookSets: %w", err)
	}
	group := []*resolved{self}
	for i := range list.Items {
		s := &list.Items[i]
		deleting := !s.DeletionTimestamp.IsZero()
		if s.UID == self.set.UID || (deleting && (s.Spec.DeletionPolicy == v1.DeletionPolicyOrphan || !controllerutil.ContainsFinalizer(s, Finalizer))) {
			continue
		}
		res, err := secrets.resolve(ctx, s, deleting)
		if err != nil {
			creds, cerr := secrets.credentials(ctx, s)
			if cerr != nil || accountID(creds) != self.account {
				continue
			}
			res = &resolved{set: s, creds: creds, account: self.account, input: frozen(s)}
		}
		if res.account == self.account {
			group = append(group, res)
		}
	}
	for _, g := range group {
		if a, ok := acct.applied[g.set.UID]; ok {
			g.input.Applied = a
		}
	}
	return group, nil
}

func frozen(s *v1.SendblueWebhookSet) SetInput {
	in := SetInput{ID: s.Namespace + "/" + s.Name, Created: s.CreationTimestamp.Time, Policy: s.Spec.Policy, Suspended: true, Applied: s.Status.Applied}
	for _, t := range wireTypes(&s.Spec.Webhooks) {
		for _, h := range t.Hooks {
			in.Webhooks = append(in.Webhooks, DesiredWebhook{Type: t.Type, URL: string(h.URL)})
		}
	}
	return in
}

// sync reads the account once, plans for every set on it, writes at most
// once, and reports to every set it synced.
func (r *SendblueWebhookSetReconciler) sync(ctx context.Context, acct *accountState, self *resolved, secrets *secretReader, interval time.Duration) (ctrl.Result, error) {
	group, err := r.group(ctx, acct, self, secrets)
	if err != nil {
		return ctrl.Result{}, err
	}
	api, err := r.NewClient(self.creds)
	if err != nil {
		return r.apiFailed(ctx, self.set, err)
	}
	actual, err := api.Get(ctx)
	if err != nil {
		return r.apiFailed(ctx, self.set, err)
	}
	inputs := make([]SetInput, len(group))
	for i, g := range group {
		inputs[i] = g.input
	}
	plan, err := PlanAccount(actual, inputs)
	if err != nil {
		return r.apiFailed(ctx, self.set, err)
	}
	if plan.HasChanges() {
		if _, err := api.Replace(ctx, plan.Desired); err != nil {
			return r.apiFailed(ctx, self.set, err)
		}
		r.Metrics.writes.Inc()
		logf.FromContext(ctx).Info("Wrote the account's webhooks", "account", accountLabel(self.creds), "changes", len(plan.Changes), "sets", len(group))
	}

	now := metav1.Now()
	var errs []error
	for _, g := range group {
		if g.input.Suspended {
			continue // suspended or frozen: its own reconcile reports it
		}
		uid := g.set.UID
		if g.input.Deleting {
			delete(acct.fingerprints, uid)
			delete(acct.applied, uid)
			errs = append(errs, r.release(ctx, g.set))
			continue
		}
		prev, seen := acct.fingerprints[uid]
		outsideChange := seen && prev == g.fingerprint // inputs unchanged, yet the account differed
		sp := plan.Sets[g.input.ID]
		acct.applied[uid] = sp.Applied
		if err := r.reportSynced(ctx, g, sp, now, outsideChange); err != nil {
			delete(acct.fingerprints, uid) // not reported: the next reconcile syncs again
			errs = append(errs, err)
			continue
		}
		acct.fingerprints[uid] = g.fingerprint
	}
	acct.lastSync = now.Time
	return ctrl.Result{RequeueAfter: jitter(interval)}, errors.Join(errs...)
}

func (r *SendblueWebhookSetReconciler) reportSynced(ctx context.Context, g *resolved, sp *SetPlan, now metav1.Time, outsideChange bool) error {
	s := g.set
	o := outcome{account: accountLabel(g.creds), plan: sp.Changes, applied: sp.Applied, synced: &now, setApplied: true}
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
		o.message = fmt.Sprintf("%d webhook(s) of this set are in place on account %s", countWebhooks(&s.Spec.Webhooks), o.account)
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
	return r.report(ctx, s, o)
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
	r.Metrics.setReason(s.Namespace+"/"+s.Name, "")
	return nil
}

// inputFailed reports a set whose Secrets cannot be used. It waits for the
// Secret watch rather than retrying (no hot loop), except while deleting.
func (r *SendblueWebhookSetReconciler) inputFailed(ctx context.Context, s *v1.SendblueWebhookSet, err error, deleting bool) (ctrl.Result, error) {
	var ie *inputError
	if !errors.As(err, &ie) {
		return ctrl.Result{}, err
	}
	o := outcome{reason: ie.Reason, message: ie.Message, stalled: ie.Reason == ReasonInvalidSpec}
	if deleting {
		o.message += "; the set is being deleted with deletionPolicy Delete and waits for this (set deletionPolicy: Orphan to let it go)"
	}
	if err := r.report(ctx, s, o); err != nil {
		return ctrl.Result{}, err
	}
	if deleting {
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// apiFailed turns a Sendblue error into a condition and a retry schedule.
func (r *SendblueWebhookSetReconciler) apiFailed(ctx context.Context, s *v1.SendblueWebhookSet, err error) (ctrl.Result, error) {
	var (
		unauthorized *sendblue.UnauthorizedError
		badRequest   *sendblue.BadRequestError
		rateLimited  *sendblue.RateLimitedError
	)
	o := outcome{reason: ReasonAPIError, message: err.Error()}
	res := ctrl.Result{}
	var ret error
	switch {
	case errors.As(err, &unauthorized):
		o.reason, o.stalled = ReasonUnauthorized, true
		o.message = fmt.Sprintf("Sendblue refused the credentials in Secret %s (HTTP %d); check spec.credentialsRef", s.Spec.CredentialsRef.Name, unauthorized.StatusCode)
		res.RequeueAfter = r.Options.UnauthorizedRetry
	case errors.As(err, &rateLimited):
		o.reason = ReasonRateLimited
		res.RequeueAfter = rateLimited.RetryAfter
		if res.RequeueAfter <= 0 {
			res.RequeueAfter = r.Options.RateLimitRetry
		}
		o.message = fmt.Sprintf("Sendblue is rate limiting this account; retrying in %s", res.RequeueAfter.Round(time.Second))
	case errors.As(err, &badRequest):
		o.stalled = true // the same request will be refused again
		res.RequeueAfter = r.Options.UnauthorizedRetry
	default:
		ret = err // transport, 5xx, protocol: the workqueue's exponential backoff
	}
	if rerr := r.report(ctx, s, o); rerr != nil && ret == nil {
		ret = rerr
	}
	if ret != nil {
		return ctrl.Result{}, ret
	}
	return res, nil
}

// outcome is what a reconcile reports in status.
type outcome struct {
	ready      bool
	stalled    bool
	reason     string
	message    string
	account    string
	plan       []v1.PlannedChange
	applied    []v1.AppliedWebhook
	setApplied bool
	synced     *metav1.Time
}

// report writes status (only if it changed) and, when the Ready condition
// changes to a failure, a Warning event.
func (r *SendblueWebhookSetReconciler) report(ctx context.Context, s *v1.SendblueWebhookSet, o outcome) error {
	before := s.DeepCopy()
	st := &s.Status
	st.ObservedGeneration = s.Generation
	st.WebhookCount = countWebhooks(&s.Spec.Webhooks)
	if o.account != "" {
		st.Account = o.account
	}
	if o.synced != nil {
		st.Plan, st.LastSyncTime = o.plan, o.synced
	}
	if o.setApplied {
		st.Applied = o.applied
	}
	ready := metav1.ConditionFalse
	if o.ready {
		ready = metav1.ConditionTrue
	}
	old := meta.FindStatusCondition(st.Conditions, ConditionReady)
	changed := old == nil || old.Reason != o.reason || old.Message != o.message
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: ConditionReady, Status: ready, Reason: o.reason, Message: o.message, ObservedGeneration: s.Generation})
	stalled := metav1.Condition{Type: ConditionStalled, Status: metav1.ConditionFalse, Reason: o.reason, Message: "", ObservedGeneration: s.Generation}
	if o.stalled {
		stalled.Status, stalled.Message = metav1.ConditionTrue, o.message
	}
	meta.SetStatusCondition(&st.Conditions, stalled)
	r.Metrics.setReason(s.Namespace+"/"+s.Name, o.reason)
	if !o.ready && changed && o.reason != ReasonSuspended && o.reason != ReasonProgressing {
		r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, o.reason, "Sync", "%s", o.message)
	}
	if equality.Semantic.DeepEqual(before.Status, s.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, s, client.MergeFrom(before)); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}
