package everlyticsms

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// observed is what Everlytic held after a sync, and what the sync did.
type observed struct {
	id           string
	status       string
	mode         v1.DriftDetection
	authRevision string
	// corrected lists the fields written because they differed.
	corrected []string
	// created, adopted, recreated: how the id was found.
	created, adopted, recreated bool
	// account is the accountID of the account the webhook lives on.
	account string
}

// sync brings the webhook in line with the object: the external side.
// Errors are classified by classify.
func (r *Reconciler) sync(ctx context.Context, w *v1.EverlyticSMSWebhook) (outcome, error) {
	api, in, err := r.client(ctx, w)
	if err != nil {
		return outcome{}, err
	}
	if err := r.checkClaims(ctx, w); err != nil {
		return outcome{}, err
	}
	release, ok := r.gate.enter(normalEndpoint(string(w.Spec.Endpoint)), in.creds.Username)
	if !ok {
		return outcome{}, r.busy()
	}
	defer release()
	d := desiredOf(w, in.auth, in.authRevision)
	d.Account = in.account
	var o outcome
	switch {
	case w.Status.WebhookID != "":
		o, err = r.enforce(ctx, w, api, d, w.Status.WebhookID, observed{})
	case w.Adopted():
		o, err = r.enforce(ctx, w, api, d, string(w.Spec.WebhookID), observed{adopted: true})
	default:
		o, err = r.create(ctx, w, api, d, false)
	}
	if o.observed != nil {
		o.observed.account = in.account
	}
	if err == nil {
		r.lastCreds.remember(w, in)
	}
	return o, err
}

// enforce reads the webhook and writes it whole when it differs.
func (r *Reconciler) enforce(ctx context.Context, w *v1.EverlyticSMSWebhook, api API, d desired, id string, o observed) (outcome, error) {
	o.id, o.mode, o.authRevision = id, v1.DriftDetectionRead, w.Status.ReceiverAuthRevision
	got, err := api.Get(ctx, id)
	var nf *everlytic.NotFoundError
	switch {
	case errors.As(err, &nf):
		return r.rewrite(ctx, w, api, d, o)
	case err != nil:
		return outcome{}, &readFailure{err}
	}
	diffs := differences(d, *got, w.Status.ReceiverAuthRevision)
	if len(diffs) == 0 {
		o.status, o.authRevision = got.Status, d.AuthRevision
		return ready("the webhook on Everlytic is as declared", &o), nil
	}
	put, err := api.Update(ctx, d.webhook(id))
	if err != nil {
		return outcome{}, err
	}
	r.Metrics.writes.WithLabelValues("update").Inc()
	if err := stored(d, put); err != nil {
		return outcome{}, err
	}
	o.status, o.authRevision, o.corrected = put.Status, d.AuthRevision, diffs
	return ready("the webhook on Everlytic is as declared", &o), nil
}

// rewrite: reading by id answered 404 or 405. Either the webhook is gone or
// Everlytic has no read by id; the documented PUT tells which.
func (r *Reconciler) rewrite(ctx context.Context, w *v1.EverlyticSMSWebhook, api API, d desired, o observed) (outcome, error) {
	put, err := api.Update(ctx, d.webhook(o.id))
	var nf *everlytic.NotFoundError
	switch {
	case errors.As(err, &nf) && nf.StatusCode == 404:
		if w.Adopted() {
			return outcome{}, &stallError{ReasonWebhookNotFound, fmt.Sprintf(
				"webhook %s (spec.webhookID) does not exist on %s: it was deleted, or belongs to another account; nothing is created for an adopted id", o.id, w.Spec.Endpoint), true}
		}
		r.Recorder.Eventf(w, nil, "Warning", EventRecreated, "Sync", "webhook %s was deleted outside the operator; creating it again", o.id)
		if err := r.recordID(ctx, w, ""); err != nil {
			return outcome{}, err
		}
		return r.create(ctx, w, api, d, true)
	case err != nil:
		return outcome{}, err
	}
	r.Metrics.writes.WithLabelValues("update").Inc()
	if err := stored(d, put); err != nil {
		return outcome{}, err
	}
	o.mode, o.status, o.authRevision = v1.DriftDetectionRewrite, put.Status, d.AuthRevision
	return ready("Everlytic does not answer a read by id: the webhook is written whole each interval", &o), nil
}

// stored checks that Everlytic's answer to a write holds what was sent.
func stored(d desired, got *everlytic.Webhook) error {
	if diffs := differences(d, *got, d.AuthRevision); len(diffs) > 0 {
		return fmt.Errorf("everlytic answered the write of webhook %s with other values for %s", got.ID, strings.Join(diffs, ", "))
	}
	return nil
}

// create creates the webhook, marking the create in status first. A mark
// found set means an earlier create may have landed without its answer
// being recorded: the webhook is looked for before anything is created.
func (r *Reconciler) create(ctx context.Context, w *v1.EverlyticSMSWebhook, api API, d desired, recreated bool) (outcome, error) {
	if w.Status.CreatePending != nil {
		id, err := r.findLost(ctx, w, api)
		if err != nil {
			return outcome{}, err
		}
		if id != "" {
			if err := r.recordID(ctx, w, id); err != nil {
				return outcome{}, err
			}
			return r.enforce(ctx, w, api, d, id, observed{adopted: true})
		}
		if err := r.confirmAbsent(ctx, w); err != nil {
			return outcome{}, err
		}
		// Two lists, apart, found nothing: the create did not land.
	}
	if err := r.markPending(ctx, w, d); err != nil {
		return outcome{}, err
	}
	got, err := api.Create(ctx, d.webhook(""))
	if err != nil {
		if refused(err) {
			// Everlytic answered and created nothing.
			_ = r.recordID(ctx, w, "")
		}
		return outcome{}, err
	}
	r.Metrics.writes.WithLabelValues("create").Inc()
	if err := r.recordID(ctx, w, got.ID); err != nil {
		return outcome{}, err
	}
	if err := stored(d, got); err != nil {
		return outcome{}, err
	}
	o := observed{id: got.ID, status: got.Status, mode: v1.DriftDetectionRead, authRevision: d.AuthRevision, created: !recreated, recreated: recreated}
	return ready("the webhook on Everlytic is as declared", &o), nil
}

// refused says whether Everlytic answered a request without acting on it.
func refused(err error) bool {
	var (
		unauthorized *everlytic.UnauthorizedError
		badRequest   *everlytic.BadRequestError
		rateLimited  *everlytic.RateLimitedError
		notFound     *everlytic.NotFoundError
	)
	return errors.As(err, &unauthorized) || errors.As(err, &badRequest) || errors.As(err, &rateLimited) || errors.As(err, &notFound)
}

// findLost looks, after an interrupted create, for the webhook it may have
// made: the one with the url, verb and event types that create sent (the
// spec may have changed since), created after the create was marked (see
// CreatedSkew), that no other object claims. An older twin, such as one made
// in the dashboard, is never taken: adopting it would rewrite it, and
// deleting the object would delete it. "" when there is none. Any doubt (two
// candidates, a candidate without a creation time) stops with CreatePending.
func (r *Reconciler) findLost(ctx context.Context, w *v1.EverlyticSMSWebhook, api API) (string, error) {
	p := w.Status.CreatePending
	sent := desired{URL: p.URL, Verb: p.Verb}
	for _, t := range p.EventTypes {
		sent.EventTypes = append(sent.EventTypes, everlytic.EventType(t))
	}
	since := p.Since.UTC().Format("2006-01-02T15:04:05Z")
	list, err := api.List(ctx)
	var nf *everlytic.NotFoundError
	switch {
	case errors.As(err, &nf):
		return "", &stallError{ReasonCreatePending, fmt.Sprintf(
			"a create of this webhook was interrupted at %s and Everlytic cannot list webhooks (HTTP %d) to find out whether it landed; nothing is created. "+
				"Look for a webhook with this url on Everlytic, then delete this object and create it again, with spec.webhookID set to its id if there is one", since, nf.StatusCode), true}
	case err != nil:
		return "", fmt.Errorf("listing webhooks to find an interrupted create: %w", err)
	}
	var ids []string
	for _, h := range list {
		if !matches(sent, h) {
			continue
		}
		mine, err := r.claimable(ctx, w, h.ID)
		if err != nil {
			return "", err
		}
		if !mine {
			continue
		}
		after, known := createdSince(h, p.Since.Time)
		if !known {
			return "", &stallError{ReasonCreatePending, fmt.Sprintf(
				"a create of this webhook was interrupted at %s and webhook %s on Everlytic matches what it sent, but Everlytic's list gives no creation time "+
					"that tells whether the create made it or it existed before; nothing is created or adopted. If the operator made it, delete this object "+
					"with deletionPolicy Orphan and create it again with spec.webhookID %s; if not, delete this object and create it again", since, h.ID, h.ID), true}
		}
		if after {
			ids = append(ids, h.ID)
		}
	}
	sort.Strings(ids)
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		r.Recorder.Eventf(w, nil, "Normal", EventAdopted, "Sync", "found webhook %s, made by a create interrupted at %s", ids[0], since)
		return ids[0], nil
	}
	return "", &stallError{ReasonCreatePending, fmt.Sprintf(
		"a create of this webhook was interrupted at %s and %d webhooks on Everlytic match its url, verb and event types (%s); nothing is created or adopted. "+
			"Delete the extra ones on Everlytic, or delete this object and create it again with spec.webhookID", since, len(ids), strings.Join(ids, ", ")), true}
}

// confirmAbsent returns nil once two lists, Options.ConfirmDelay apart, have
// shown no webhook the interrupted create made: a create is not idempotent
// and a list is cheap, and one empty list is not proof (it may lag the
// create, or answer wrongly). After the first list it records when, in
// status, and asks for a requeue: the pause is never slept inside Reconcile.
func (r *Reconciler) confirmAbsent(ctx context.Context, w *v1.EverlyticSMSWebhook) error {
	p := w.Status.CreatePending
	now := r.now()
	if p.NotFoundAt == nil {
		before := w.DeepCopy()
		at := metav1.NewTime(now)
		w.Status.CreatePending.NotFoundAt = &at
		if err := r.Client.Status().Patch(ctx, w, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("recording that a list found no trace of an interrupted create: %w", err)
		}
		return r.absentOnce(w, r.Options.ConfirmDelay)
	}
	if wait := p.NotFoundAt.Add(r.Options.ConfirmDelay).Sub(now); wait > 0 {
		return r.absentOnce(w, wait)
	}
	return nil
}

// absentOnce says, in status, that one list found nothing and another is due.
func (r *Reconciler) absentOnce(w *v1.EverlyticSMSWebhook, after time.Duration) error {
	return &waitError{ReasonCreatePending, fmt.Sprintf(
		"a create of this webhook was interrupted at %s and a list of Everlytic's webhooks shows no webhook it made; one list is not proof, "+
			"so the webhooks are listed again before anything is created or released", w.Status.CreatePending.Since.UTC().Format(time.RFC3339)), after}
}

// CreatedSkew is how much earlier than status.createPending.since a webhook
// may be stamped and still be taken for the one that create made. since is
// stamped by the manager's clock, truncated to the second, and
// created_timestamp by Everlytic's: two clocks that NTP keeps within seconds
// of each other. Two minutes covers such a skew many times over; a manager
// clock ahead by more would miss its own webhook (and create it again, after
// two lists), while a webhook made by hand less than two minutes before the
// create, with the same url, verb and event types, is still taken for it.
const CreatedSkew = 2 * time.Minute

// createdSince says whether h was created after since (less CreatedSkew),
// and whether its creation time could be read at all.
func createdSince(h everlytic.Webhook, since time.Time) (after, known bool) {
	at, err := time.Parse(time.RFC3339, h.CreatedAt)
	if err != nil {
		return false, false
	}
	return !at.Before(since.Add(-CreatedSkew)), true
}

// markPending records, before a create, that a create is under way and what
// it sends. The
// patch carries the object's resourceVersion: a view of the object older
// than the last status write (which may hold an id or a mark) fails with a
// conflict, and is retried, instead of creating a second webhook.
func (r *Reconciler) markPending(ctx context.Context, w *v1.EverlyticSMSWebhook, d desired) error {
	before := w.DeepCopy()
	p := &v1.PendingCreate{Since: metav1.Now(), URL: d.URL, Verb: d.Verb}
	for _, t := range d.EventTypes {
		p.EventTypes = append(p.EventTypes, v1.EventType(t))
	}
	w.Status.CreatePending = p
	w.Status.Endpoint = normalEndpoint(string(w.Spec.Endpoint))
	w.Status.AccountID = d.Account
	if err := r.Client.Status().Patch(ctx, w, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	// Before the create is sent: a restore without status must still know
	// that a create may have landed.
	return r.mirrorIdentity(ctx, w, &w.Status)
}

// recordID writes status.webhookID (and clears the create mark) at once:
// the id is what a restart needs not to create the webhook again.
func (r *Reconciler) recordID(ctx context.Context, w *v1.EverlyticSMSWebhook, id string) error {
	before := w.DeepCopy()
	w.Status.WebhookID = id
	w.Status.CreatePending = nil
	w.Status.Endpoint = normalEndpoint(string(w.Spec.Endpoint))
	if id == "" {
		w.Status.ReceiverAuthRevision = ""
	}
	meant := w.Status.DeepCopy()
	if err := r.Client.Status().Patch(ctx, w, client.MergeFrom(before)); err != nil {
		return err
	}
	return r.mirrorIdentity(ctx, w, meant)
}

// checkClaims stops an object that claims a webhook an older object claims
// (the same id on the same endpoint): they would fight over it, and deleting
// one would delete the other's.
func (r *Reconciler) checkClaims(ctx context.Context, w *v1.EverlyticSMSWebhook) error {
	for _, c := range claims(w) {
		other, err := r.olderClaimant(ctx, w, c)
		if err != nil {
			return err
		}
		if other != "" {
			return &stallError{ReasonConflict, fmt.Sprintf("webhook %s is managed by %s, created earlier; nothing is written by this object", c[strings.LastIndex(c, " ")+1:], other), true}
		}
	}
	return nil
}

// claimable says whether no other object claims webhook id on w's endpoint.
func (r *Reconciler) claimable(ctx context.Context, w *v1.EverlyticSMSWebhook, id string) (bool, error) {
	var list v1.EverlyticSMSWebhookList
	if err := r.Client.List(ctx, &list, client.MatchingFields{indexClaims: normalEndpoint(string(w.Spec.Endpoint)) + " " + id}); err != nil {
		return false, err
	}
	for i := range list.Items {
		if list.Items[i].UID != w.UID {
			return false, nil
		}
	}
	return true, nil
}

// olderClaimant names an object created before w that claims c, or "".
func (r *Reconciler) olderClaimant(ctx context.Context, w *v1.EverlyticSMSWebhook, c string) (string, error) {
	var list v1.EverlyticSMSWebhookList
	if err := r.Client.List(ctx, &list, client.MatchingFields{indexClaims: c}); err != nil {
		return "", err
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == w.UID {
			continue
		}
		if older(o, w) {
			return o.Namespace + "/" + o.Name, nil
		}
	}
	return "", nil
}

// older orders objects by creation, then namespace and name.
func older(a, b *v1.EverlyticSMSWebhook) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}
