package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/status"
)

// member is a set of the account being synced.
type member struct {
	*resolved
	// held is why the set's own inputs cannot be used (its own reconcile
	// reports it); empty when they can.
	held string
	// appliedFromStatus: what the set owns is what its status says (its
	// account changed and the move is not accepted).
	appliedFromStatus bool
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

// accountSyncer runs the account syncs: a work queue of account ids, so that
// at most one sync per account is in flight, served by
// Options.MaxConcurrentSyncs workers, so that one slow account never delays
// another. A change waits in the queue for the batch window, not in a worker.
type accountSyncer struct{ r *SendblueWebhookSetReconciler }

// NeedLeaderElection: only the leader syncs.
func (accountSyncer) NeedLeaderElection() bool { return true }

// Start primes the index from the sets present at start, then serves the
// queue until ctx ends.
func (s accountSyncer) Start(ctx context.Context) error {
	r := s.r
	ctx = logf.IntoContext(ctx, r.log)
	go func() {
		// Wait until the informer has handed over its initial list: those
		// sets existed at start, and no account is written before each is
		// indexed.
		for !r.initialListed() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		r.ix.prime()
		if primed, pending := r.ix.isPrimed(); !primed {
			r.log.Info("No account is written until the sets present at start are indexed", "waitingFor", pending)
		}
	}()
	done := make(chan struct{})
	for i := 0; i < r.Options.MaxConcurrentSyncs; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for r.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	r.queue.ShutDown()
	for i := 0; i < r.Options.MaxConcurrentSyncs; i++ {
		<-done
	}
	return nil
}

// enqueue asks for a sync of the account once no change for it has arrived
// for the batch window and no set is being indexed (at the latest
// maxBatchWindows windows after the first change), so that changes arriving
// together, one kubectl apply of many sets, are written with one PUT.
// Waiting takes a timer, not a worker.
// A sync already asked for sooner (or running) is not postponed.
func (r *SendblueWebhookSetReconciler) enqueue(account string) {
	window := r.Options.BatchWindow
	if window <= 0 {
		r.queue.Add(account)
		return
	}
	now := time.Now()
	r.batchMu.Lock()
	defer r.batchMu.Unlock()
	b, ok := r.batches[account]
	if !ok {
		b = &batch{first: now}
		r.batches[account] = b
		b.timer = time.AfterFunc(window, func() { r.fire(account, b) })
		return
	}
	deadline := b.first.Add(maxBatchWindows * window)
	b.timer.Reset(min(window, max(deadline.Sub(now), 0)))
}

// maxBatchWindows bounds how long a stream of changes can hold its
// account's sync back, in batch windows.
const maxBatchWindows = 20

// batch is the changes for one account waiting for the batch window.
type batch struct {
	first time.Time
	timer *time.Timer
}

// fire ends a batch, unless sets are being indexed right now (a burst: one
// of them may be on this account) and the batch may still wait.
func (r *SendblueWebhookSetReconciler) fire(account string, b *batch) {
	r.batchMu.Lock()
	if r.batches[account] != b {
		r.batchMu.Unlock()
		return
	}
	window := r.Options.BatchWindow
	if left := time.Until(b.first.Add(maxBatchWindows * window)); r.indexing.Load() > 0 && left > 0 {
		b.timer.Reset(min(window, left))
		r.batchMu.Unlock()
		return
	}
	delete(r.batches, account)
	r.batchMu.Unlock()
	r.queue.Add(account)
}

// processNext runs one account sync; false once the queue is shut down.
func (r *SendblueWebhookSetReconciler) processNext(ctx context.Context) bool {
	id, shutdown := r.queue.Get()
	if shutdown {
		return false
	}
	defer r.queue.Done(id)
	if primed, _ := r.ix.isPrimed(); !primed {
		r.mu.Lock()
		r.deferred[id] = true
		r.mu.Unlock()
		r.Metrics.syncs.WithLabelValues("deferred").Inc()
		return true
	}
	sctx, cancel := context.WithTimeout(ctx, r.Options.SyncTimeout)
	defer cancel()
	start := time.Now()
	after, backoff := r.syncAccount(sctx, id)
	r.Metrics.syncTime.Observe(time.Since(start).Seconds())
	switch {
	case ctx.Err() != nil:
	case backoff:
		r.queue.AddAfter(id, jitter(r.backoff.When(id)))
	case after > 0:
		r.backoff.Forget(id)
		r.queue.AddAfter(id, after)
	default:
		r.backoff.Forget(id)
	}
	return true
}

// primed runs once the index holds every set present at start: the
// accounts asked for meanwhile are synced now.
func (r *SendblueWebhookSetReconciler) primed() {
	r.log.Info("Every set present at start is indexed: accounts are synced from now on")
	r.mu.Lock()
	ids := make([]string, 0, len(r.deferred))
	for id := range r.deferred {
		ids = append(ids, id)
	}
	r.deferred = map[string]bool{}
	r.mu.Unlock()
	for _, id := range ids {
		r.queue.Add(id)
	}
}

// evict forgets an account no set uses any more.
func (r *SendblueWebhookSetReconciler) evict(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.accounts, id)
	r.Metrics.accounts.Set(float64(len(r.accounts)))
	r.writes.forget(id)
}

// errStale: a set of the account changed since it was indexed; its
// reconcile indexes it again and asks for the sync.
var errStale = errors.New("a set changed since it was indexed")

// groupOf returns the account's members as the index holds them, each with
// its set as the cache holds it now, and the shortest interval among them.
func (r *SendblueWebhookSetReconciler) groupOf(ctx context.Context, id string) ([]*member, time.Duration, error) {
	entries := r.ix.members(id)
	group := make([]*member, 0, len(entries))
	var interval time.Duration
	for _, e := range entries {
		s := &v1.SendblueWebhookSet{}
		if err := r.Client.Get(ctx, e.key, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, 0, errStale
			}
			return nil, 0, err
		}
		m := *e.member
		res := *m.resolved
		if s.UID != e.uid || s.Generation != e.generation || !s.DeletionTimestamp.IsZero() != res.input.Deleting {
			return nil, 0, errStale
		}
		res.set = s
		if m.appliedFromStatus {
			res.input.Applied = slices.Clone(s.Status.Applied)
		} else {
			res.input.Applied = r.owned.applied(s, res.pin, accountLabel(res.creds))
		}
		m.resolved = &res
		group = append(group, &m)
		if iv := r.interval(s); interval == 0 || iv < interval {
			interval = iv
		}
	}
	// In a stable order: reports and logs do not depend on map order.
	sort.Slice(group, func(i, j int) bool { return group[i].input.ID < group[j].input.ID })
	return group, interval, nil
}

// syncAccount reads the account once, plans for every set on it, writes at
// most once, checks what was stored, and reports to every set it synced.
// It returns when to sync again, or backoff for the queue's exponential
// backoff.
func (r *SendblueWebhookSetReconciler) syncAccount(ctx context.Context, id string) (after time.Duration, backoff bool) {
	log := logf.FromContext(ctx)
	group, interval, err := r.groupOf(ctx, id)
	switch {
	case errors.Is(err, errStale):
		r.Metrics.syncs.WithLabelValues("stale").Inc()
		return time.Second, false
	case err != nil:
		log.Error(err, "Reading an account's sets")
		return 0, true
	case len(group) == 0:
		r.evict(id)
		return 0, false
	case !slices.ContainsFunc(group, func(g *member) bool { return g.held == "" && !g.input.Suspended }):
		// Every set of the account is held or suspended: no one to sync for.
		return 0, false
	}
	acct := r.account(id)
	inputs := make([]SetInput, len(group))
	refused := map[string]mismatch{}
	for i, g := range group {
		inputs[i] = g.input
		if m, ok := acct.refusedWrite(g.resolved); ok && g.held == "" {
			inputs[i].Frozen = true
			refused[g.input.ID] = m
		}
	}
	failed := func(err error, read bool) (time.Duration, bool) {
		r.Metrics.syncs.WithLabelValues("failed").Inc()
		retry := r.failedAll(ctx, acct, group, err, read)
		if retry == 0 {
			return 0, true
		}
		return jitter(retry), false
	}
	fail := func(err error) (time.Duration, bool) { return failed(err, false) }
	failRead := func(err error) (time.Duration, bool) { return failed(err, true) }
	api, err := r.NewClient(group[0].creds, secretsOf(inputs))
	if err != nil {
		return fail(err)
	}
	firsts := r.writes.firsts.Load()
	actual, err := api.Get(ctx)
	if err != nil {
		return failRead(err)
	}
	now := time.Now()
	if !acct.lastRead.IsZero() {
		r.Metrics.readGap.Observe(now.Sub(acct.lastRead).Seconds())
	}
	acct.lastRead = now
	if err := r.wholeAccount(actual); err != nil {
		return failRead(err)
	}
	plan, over, err := fitPlan(actual, inputs, r.ix.guard(id, actual), acct.writeLimit(time.Now()))
	if err != nil {
		return fail(err)
	}
	var problems map[string][]string
	result := "unchanged"
	if plan.HasChanges() {
		// Writes that may reach one account go one at a time, each from a
		// read made under its lock (see writeLocks).
		pin := group[0].pin
		mode := writeOrdinary
		if !acct.confirmed {
			mode = writeFirst
			if acct.alone {
				mode = writeAlone
			}
		}
		lk := r.writes.lock(id, pin, mode)
		defer lk.Unlock() // a panic must not keep every write waiting (Unlock is idempotent)
		prev := actual
		if mode != writeOrdinary || r.writes.firsts.Load() != firsts || r.writes.shared(id, pin) {
			if actual, err = api.Get(ctx); err != nil {
				lk.Unlock()
				return failRead(err)
			}
			if err := r.wholeAccount(actual); err != nil {
				lk.Unlock()
				return failRead(err)
			}
			if plan, over, err = fitPlan(actual, inputs, r.ix.guard(id, actual), acct.writeLimit(time.Now())); err != nil {
				lk.Unlock()
				return fail(err)
			}
		}
		if others := r.ix.sharers(id, actual); len(others) > 0 {
			r.writes.link(id, pin, others...)
		}
		if plan.HasChanges() {
			if err := r.confirmRead(ctx, api, acct, prev, actual, inputs); err != nil {
				lk.Unlock()
				return failRead(err)
			}
			problems, err = r.write(ctx, api, acct, plan, len(group))
			overlapped := lk.Wrote()
			if err != nil {
				lk.Unlock()
				return fail(err)
			}
			if len(overlapped) > 0 {
				if err := r.stuck(ctx, api, acct, id, pin, plan, overlapped); err != nil {
					lk.Unlock()
					return failRead(err)
				}
			}
			acct.alone = false
			result = "written"
		}
		lk.Unlock()
	}
	r.Metrics.syncs.WithLabelValues(result).Inc()
	if result == "written" {
		// What the write kept outside the sets is what the account holds
		// now (an Exclusive set removed the rest).
		acct.seen = outsideOf(plan.Desired, inputs)
	} else {
		acct.observe(outsideOf(actual, inputs))
	}
	soon, err := r.reportGroup(ctx, acct, group, plan, over, refused, problems)
	if err != nil {
		log.Error(err, "Reporting a sync")
		return 0, true
	}
	next := jitter(interval)
	if soon > 0 && soon < next {
		next = soon
	}
	return next, false
}

// wholeAccount refuses a read that lacks a type Sendblue lists in every
// account (empty or not): it may not be the whole account.
func (r *SendblueWebhookSetReconciler) wholeAccount(actual *sendblue.Config) error {
	if missing := actual.MissingTypes(); len(missing) > 0 {
		return &readError{fmt.Sprintf("the account's configuration as read lacks %s, which Sendblue lists in every account (empty or not): "+
			"it may not be the whole account, so nothing was written", joinTypes(missing)), r.Options.ConfirmDelay}
	}
	return nil
}

// leftBehind says, where a person will see it, that a deleted set left
// what it applied on the account: a Warning event, the manager's log at
// error level, and sendblue_webhooks_left_behind_total (a terminating
// namespace refuses the event).
func (r *SendblueWebhookSetReconciler) leftBehind(ctx context.Context, s *v1.SendblueWebhookSet, reason, why string) {
	msg := status.Bound("deleted with deletionPolicy Delete; left on the account: " + why)
	r.Metrics.leftBehind.WithLabelValues(reason).Inc()
	logf.FromContext(ctx).Error(nil, "A deleted set left webhooks on its account", "set", s.Namespace+"/"+s.Name, "reason", reason, "detail", msg)
	r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, EventLeftBehind, "Delete", "%s", msg)
}

// failedAll reports a failed sync to every set it concerned and returns
// when to try again (zero: the queue's exponential backoff).
// A failure to read the account that is retried on its own leaves the sets
// the account held at the last read Ready (transient).
func (r *SendblueWebhookSetReconciler) failedAll(ctx context.Context, acct *accountState, group []*member, err error, read bool) time.Duration {
	for _, g := range group {
		if g.held != "" || g.input.Suspended {
			continue
		}
		o := classify(g.set, err, r.Options).outcome
		o.transient = read && !o.stalled
		if rerr := r.report(ctx, g.set, o); rerr != nil {
			logf.FromContext(ctx).Error(rerr, "Reporting a failed sync", "set", g.input.ID)
		}
		delete(acct.fingerprints, g.set.UID)
	}
	return classify(group[0].set, err, r.Options).retry
}

// stuck checks that a first write made in a batch was not overwritten by
// another write of the batch that answered within its window (overlapped,
// their accounts): it reads the account once more. A write that did not
// stick was overwritten by another key of the same account (or Sendblue did
// not store it, which a write made alone then shows): the accounts are
// linked and this one writes again alone.
func (r *SendblueWebhookSetReconciler) stuck(ctx context.Context, api SendblueAPI, acct *accountState, id, pin string, plan AccountPlan, overlapped []string) error {
	got, err := api.Get(ctx)
	if err == nil && len(verifyStored(plan, got)) == 0 {
		return nil
	}
	r.writes.link(id, pin, overlapped...)
	acct.confirmed, acct.alone = false, true
	logf.FromContext(ctx).Info("A first write was not found as written after writes of other accounts made at the same moment; linking the accounts and writing again alone",
		"accountsWrittenMeanwhile", len(overlapped), "readBackFailed", err != nil)
	if err != nil {
		return fmt.Errorf("reading back a write made while other accounts were written: %w", err)
	}
	return &readError{"a write to another account, made at the same moment, overwrote this one (two keys of one account): " +
		"nothing is reported as synced; written again while no other write runs", time.Second}
}

// confirmRead decides whether a read may be written over. A write replaces
// the whole account with what the read held plus the plan's changes, so a
// read that lost anything (a lagging replica, a proxy's cached answer, a
// brand-new account's answer for the wrong key) would delete it. No read is
// trusted blindly:
//   - anything seen on the account before (outside what the sets declare or
//     applied), or, before the first confirmed read, anything a set applied,
//     that is missing from this read must be missing again from a read at
//     least ConfirmDelay later that shows the same configuration;
//   - the first write after a start (or for an account first seen) reads the
//     account once more at once, and writes only if both reads agree.
func (r *SendblueWebhookSetReconciler) confirmRead(ctx context.Context, api SendblueAPI, acct *accountState, prev, actual *sendblue.Config, inputs []SetInput) error {
	now := outsideOf(actual, inputs)
	missing := map[entryKey]bool{}
	held := itemsOf(actual)
	for k := range acct.seen {
		if !held[k] {
			missing[k] = true
		}
	}
	if !acct.confirmed {
		for _, s := range inputs {
			for _, a := range s.Applied {
				if k := (entryKey{a.Type, a.URL}); !held[k] {
					missing[k] = true
				}
			}
		}
	}
	if len(missing) == 0 {
		acct.suspect = ""
		if !acct.confirmed {
			// The read before the lock must agree with the one under it;
			// if something wrote in between, one more read must agree.
			same, err := sameConfig(prev, actual)
			if err != nil {
				return err
			}
			if !same {
				again, err := api.Get(ctx)
				if err != nil {
					return err
				}
				if same, err = sameConfig(actual, again); err != nil {
					return err
				}
				if !same {
					acct.observe(outsideOf(again, inputs))
					acct.observe(now)
					return &readError{"reads of the account in a row differ: nothing was written until a read confirms what the account holds", r.Options.ConfirmDelay}
				}
			}
		}
		acct.confirmed, acct.seen = true, now
		return nil
	}
	raw, err := actual.MarshalJSON()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	h := hex.EncodeToString(sum[:])
	if acct.suspect == h && time.Since(acct.suspectSeen) >= r.Options.ConfirmDelay {
		acct.suspect, acct.confirmed, acct.seen = "", true, now
		return nil
	}
	if acct.suspect != h {
		acct.suspect, acct.suspectSeen = h, time.Now()
	}
	acct.observe(now)
	return &readError{fmt.Sprintf("%s seen on the account before %s missing from this read: "+
		"nothing was written until another read confirms it", describeItems(missing), map[bool]string{true: "is", false: "are"}[len(missing) == 1]), r.Options.ConfirmDelay}
}

// observe adds what a read held outside the sets to what a write must not
// lose (until a confirmed read says otherwise).
func (a *accountState) observe(items map[entryKey]bool) {
	if a.seen == nil {
		a.seen = map[entryKey]bool{}
	}
	for k := range items {
		a.seen[k] = true
	}
}

// sameConfig reports whether two reads hold the same configuration.
func sameConfig(a, b *sendblue.Config) (bool, error) {
	x, err := a.MarshalJSON()
	if err != nil {
		return false, err
	}
	y, err := b.MarshalJSON()
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
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
func (r *SendblueWebhookSetReconciler) reportGroup(ctx context.Context, acct *accountState, group []*member, plan AccountPlan, over []oversize, refused map[string]mismatch, problems map[string][]string) (time.Duration, error) {
	now := metav1.Now()
	var soon time.Duration
	// Decide every report first (the account's memory is this sync's alone),
	// then send them in parallel: a big account's reports do not wait for
	// each other's round trips.
	type report struct {
		g        *member
		o        outcome
		done     bool
		deleting bool
		err      error
	}
	var reports []*report
	for _, g := range group {
		if g.input.Suspended || g.held != "" {
			continue // its own reconcile reports it
		}
		uid := g.set.UID
		if g.input.Deleting {
			delete(acct.fingerprints, uid)
			delete(acct.mismatches, uid)
			r.owned.forget(uid)
			if sp := plan.Sets[g.input.ID]; sp != nil && len(sp.Kept) > 0 {
				kept := slices.Clone(sp.Kept)
				sort.Strings(kept)
				r.leftBehind(ctx, g.set, "Kept", "kept because other sets hold them: "+strings.Join(kept, "; "))
			}
			reports = append(reports, &report{g: g, deleting: true})
			continue
		}
		id := g.input.ID
		o, done := r.heldOutcome(acct, g, over, refused, problems[id])
		if !done {
			sp := plan.Sets[id]
			delete(acct.mismatches, uid)
			r.owned.record(uid, g.pin, sp.Applied)
			o = r.syncedOutcome(acct, g, sp, now)
		} else if o.requeue > 0 && (soon == 0 || o.requeue < soon) {
			soon = o.requeue
		}
		o.account, o.accountID = accountLabel(g.creds), g.pin
		reports = append(reports, &report{g: g, o: o, done: done})
	}
	work := make(chan *report)
	var wg sync.WaitGroup
	for range min(reportWorkers, len(reports)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := range work {
				if rep.deleting {
					rep.err = r.release(ctx, rep.g.set)
				} else {
					rep.err = r.report(ctx, rep.g.set, rep.o)
				}
			}
		}()
	}
	for _, rep := range reports {
		work <- rep
	}
	close(work)
	wg.Wait()
	var errs []error
	for _, rep := range reports {
		uid := rep.g.set.UID
		switch {
		case rep.err != nil:
			delete(acct.fingerprints, uid) // not reported: the next reconcile syncs again
			errs = append(errs, rep.err)
		case rep.deleting:
		case rep.done:
			delete(acct.fingerprints, uid)
		default:
			acct.fingerprints[uid] = rep.g.fingerprint
		}
	}
	return soon, errors.Join(errs...)
}

// reportWorkers is how many status reports one sync sends at once.
const reportWorkers = 8

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
	if len(sp.Changes) == 0 && g.input.Policy != v1.PolicyObserve {
		// status.plan is what the last sync that changed something changed:
		// a sync that finds the account in line writes nothing to status.
		o.plan = s.Status.Plan
	}
	switch {
	case g.input.Policy == v1.PolicyObserve:
		o.applied = nil
		if len(sp.Changes) > 0 {
			o.reason, o.stalled, o.message = ReasonDriftDetected, true, fmt.Sprintf("%d difference(s) between the account and this set (Observe: nothing written): %s", len(sp.Changes), describe(sp.Changes))
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
	if gone := vanished(g.input.Applied, sp.Changes); len(gone) > 0 && g.input.Policy != v1.PolicyObserve {
		for _, c := range gone {
			r.Metrics.vanished.WithLabelValues(c.Type).Inc()
		}
		r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, EventWebhookVanished, "Sync",
			"removed from the account by someone else, added again: %s. A receiver that answers HTTP 410 Gone makes Sendblue delete its webhook: "+
				"if this repeats every interval, fix the receiver or remove the webhook from this set", describe(gone))
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

// vanished returns the additions of webhooks the set had applied and still
// owned: removed from the account by someone else (or by Sendblue, for a
// receiver answering 410 Gone), not by the operator.
func vanished(applied []v1.AppliedWebhook, changes []v1.PlannedChange) []v1.PlannedChange {
	var out []v1.PlannedChange
	for _, c := range changes {
		if c.Action == v1.ActionAdd && c.URL != "" && slices.Contains(applied, v1.AppliedWebhook{Type: c.Type, URL: c.URL}) {
			out = append(out, c)
		}
	}
	return out
}
