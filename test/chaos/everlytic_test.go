package chaos

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ev1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
)

// The Everlytic part of the world: one account, objects in both namespaces,
// a webhook made in the dashboard that no object declares. Faults hit every
// call, including creates that land while their answer is lost (alone, or
// followed by a well-formed empty list); the rounds' SIGKILLs hit them too.
// Besides edits, deletes and dashboard changes, the rounds make:
//   - dashboard twins: a webhook identical (url, verb, event types) to one an
//     object is about to create, made long before it; it is never adopted,
//     rewritten or deleted, and the object's own webhook is one other;
//   - credentials moved: credentialsRef pointed at a second account's
//     Secret; the object stops with AccountChanged and neither account gets
//     a webhook created, written or deleted, until the credentials come back
//     a round or two later and it converges on the same webhook;
//   - namespaces deleted with their Secrets: the Secrets and objects of a
//     namespace deleted in random order (envtest has no namespace
//     controller; the Namespace stays Terminating); every webhook with
//     deletionPolicy Delete is deleted with the last credentials that worked;
//   - objects restored without status (status cleared through the status
//     subresource): the webhook is found again, never created a second time.
//
// Once quiet, every live object's webhook is on the account exactly once as
// declared (its password included), and nothing else is there but what may
// remain: the dashboard's webhook and the twins (untouched), and those of
// objects deleted with Orphan. A second webhook for one object is a create
// repeated; a webhook of an object deleted with Delete is a delete lost.
const (
	evUser = "chaos-everlytic"
	evKey  = "ek-chaos-7b1d40"
	// The second account, which only moved credentials reach: nothing is
	// ever written to it.
	evUser2 = "chaos-everlytic-other"
	evKey2  = "ek-chaos-other-51c9e2"

	evCreds, evCreds2 = "everlytic-creds", "everlytic-creds-other"
)

type evModel struct {
	ns, name, url, verb, deletion, password string
	types                                   []string
	enabled                                 bool
	born                                    int // the round it was created in
	touched                                 int // the last round an op changed it or its webhook
	// moved: credentialsRef names the second account's Secret until round
	// restoreAt; movedID is the webhook it must keep, frozenAt its
	// updated_at once first quiet (no write while moved).
	moved             bool
	restoreAt         int
	movedID, frozenAt string
	// wantID is the webhook id the object must have once quiet (after its
	// credentials came back, or its status was cleared); "" for any.
	wantID string
}

type evWorld struct {
	objs map[string]*evModel // by name
	// mayRemain: urls of objects deleted with Orphan, and the dashboard's.
	mayRemain map[string]bool
	foreign   everlytic.Webhook
	// twins: dashboard webhooks identical to an object's, made before it,
	// as they were made; by id.
	twins map[string]everlytic.Webhook
	// kept: the webhooks of objects deleted while their credentials were
	// moved, left behind untouched; id -> updated_at ("" unknown).
	kept map[string]string
	// doomed is the namespace whose deletion is due (populated in round
	// doomedBorn); dying, those deleted this round (their events are
	// scanned for secret values).
	doomed     string
	doomedBorn int
	dying      []string
	nsNext     int
	// round is the round under way (evNextRound moves it on); carry, what
	// evNextRound did for it, waits for its trace.
	round int
	carry []string
	// liedIn is the last round an empty list was queued in.
	liedIn int
	next   int
}

var evTypes = []string{"sent", "failed", "bounce", "reply", "delivered"}

func (w *world) evSetup() {
	w.ev = &evWorld{objs: map[string]*evModel{}, mayRemain: map[string]bool{}, twins: map[string]everlytic.Webhook{}, kept: map[string]string{}}
	w.secrets = append(w.secrets, evKey, evKey2)
	if err := w.env.Everlytic.AddAccount(evUser, evKey); err != nil {
		w.t.Fatal(err)
	}
	if err := w.env.Everlytic.AddAccount(evUser2, evKey2); err != nil {
		w.t.Fatal(err)
	}
	foreign, err := w.env.Everlytic.PutWebhook(evUser, everlytic.Webhook{URL: "https://dashboard.example.com/sms", Verb: "GET", EventTypes: []everlytic.EventType{everlytic.Bounce}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.ev.foreign = foreign
	w.ev.mayRemain[foreign.URL] = true
	for _, ns := range namespaces {
		w.evCredentials(ns, evCreds, evUser, evKey)
		w.evCredentials(ns, evCreds2, evUser2, evKey2)
	}
	for i := 0; i < 3; i++ {
		w.evCreate()
	}
	w.evPopulateNamespace()
	w.ev.round = 1
}

func (w *world) evCredentials(ns, name, user, key string) {
	w.retry("everlytic credentials", func(ctx context.Context) error {
		return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"username": user, "apiKey": key}}))
	})
}

// evNextRound, once round r is checked, readies round r+1: the moved
// credentials due back are restored, and a namespace is populated when none
// awaits its deletion. What it does goes to the next round's trace.
func (w *world) evNextRound(r int) {
	w.ev.round, w.ev.dying = r+1, nil
	trace := w.trace
	w.trace = nil
	names := mapKeys(w.ev.objs)
	slices.Sort(names)
	for _, name := range names {
		if m := w.ev.objs[name]; m.moved && m.restoreAt <= w.ev.round {
			m.moved, m.wantID, m.touched = false, m.movedID, w.ev.round
			w.evUpdate(m)
			w.event("everlytic credentials restored")
			w.evNote(m)
		}
	}
	if w.ev.doomed == "" {
		w.evPopulateNamespace()
	}
	w.ev.carry, w.trace = w.trace, trace
}

// evCarry puts what evNextRound did at the head of the round's trace.
func (w *world) evCarry() {
	if len(w.ev.carry) > 0 {
		w.trace = append(w.ev.carry, w.trace...)
		w.ev.carry = nil
	}
}

func (w *world) evNote(m *evModel) {
	w.trace[len(w.trace)-1] += fmt.Sprintf(" (%s/%s, %s, %s)", m.ns, m.name, m.url, m.deletion)
}

func (w *world) evObject(m *evModel) *ev1.EverlyticSMSWebhook {
	o := &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: m.name}}
	creds := ev1.SecretName(evCreds)
	if m.moved {
		creds = evCreds2
	}
	o.Spec = ev1.EverlyticSMSWebhookSpec{Endpoint: ev1.Endpoint(w.env.EmulatorURL), CredentialsRef: ev1.CredentialsReference{Name: creds},
		URL: ev1.ReceiverURL(m.url), Verb: ev1.Verb(m.verb), Enabled: ptr.To(m.enabled), DeletionPolicy: ev1.DeletionPolicy(m.deletion)}
	for _, t := range m.types {
		o.Spec.EventTypes = append(o.Spec.EventTypes, ev1.EventType(t))
	}
	if m.password != "" {
		o.Spec.ReceiverAuthRef = &ev1.ReceiverAuthReference{Name: ev1.SecretName(m.name + "-auth")}
	}
	return o
}

// evUpdate writes the model's spec to its object.
func (w *world) evUpdate(m *evModel) {
	w.retry("edit "+m.name, func(ctx context.Context) error {
		o := &ev1.EverlyticSMSWebhook{}
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: m.ns, Name: m.name}, o); err != nil {
			return err
		}
		o.Spec = w.evObject(m).Spec
		return w.c.Update(ctx, o)
	})
}

func (w *world) evRandomize(m *evModel) {
	m.verb = []string{"POST", "GET"}[w.rng.IntN(2)]
	m.enabled = w.rng.IntN(4) > 0
	m.types = nil
	for _, t := range evTypes {
		if w.rng.IntN(2) == 0 {
			m.types = append(m.types, t)
		}
	}
	if len(m.types) == 0 {
		m.types = []string{evTypes[w.rng.IntN(len(evTypes))]}
	}
}

// evNew models a new object in ns; evApply creates it.
func (w *world) evNew(ns string) *evModel {
	w.ev.next++
	m := &evModel{ns: ns, name: fmt.Sprintf("sms-%d", w.ev.next), url: fmt.Sprintf("https://ev%d.example.com/hook", w.ev.next),
		deletion: []string{"Delete", "Orphan"}[w.rng.IntN(2)], born: w.ev.round, touched: w.ev.round}
	w.evRandomize(m)
	if w.rng.IntN(2) == 0 {
		m.password = w.newSecret()
	}
	return m
}

func (w *world) evApply(m *evModel) {
	if m.password != "" {
		w.retry("receiver auth", func(ctx context.Context) error {
			return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.name + "-auth", Namespace: m.ns},
				StringData: map[string]string{"username": "hooks", "password": m.password}}))
		})
	}
	w.retry("create "+m.name, func(ctx context.Context) error { return client.IgnoreAlreadyExists(w.c.Create(ctx, w.evObject(m))) })
	w.ev.objs[m.name] = m
}

// evCreate creates an object, a third of the time with a fault of a
// create queued just before.
func (w *world) evCreate() {
	m := w.evNew(namespaces[w.rng.IntN(len(namespaces))])
	if w.rng.IntN(3) == 0 {
		w.evCreateFault()
	}
	w.evApply(m)
	w.event("everlytic create")
	w.evNote(m)
}

// evCreateFault queues one of the faults of a create; half of the time a
// lost answer followed by an empty list, which a random round rarely lines
// up.
func (w *world) evCreateFault() {
	var creates []int
	for i, k := range evFaults {
		if k.f.Op == everlytictest.OpCreate {
			if len(k.then) > 0 && w.rng.IntN(2) == 0 {
				w.evInject(i)
				return
			}
			creates = append(creates, i)
		}
	}
	w.evInject(creates[w.rng.IntN(len(creates))])
}

// evOp makes one random change to the Everlytic world.
func (w *world) evOp() {
	w.evCarry()
	var m *evModel
	names := mapKeys(w.ev.objs)
	slices.Sort(names)
	for _, name := range names {
		if m == nil || w.rng.IntN(3) == 0 {
			m = w.ev.objs[name]
		}
	}
	x := w.rng.IntN(100)
	switch {
	case m == nil || x < 20:
		w.evCreate()
	case x < 36:
		w.evRandomize(m)
		m.touched = w.ev.round
		w.evUpdate(m)
		w.event("everlytic edit")
		w.evNote(m)
	case x < 43 && m.password != "":
		m.password = w.newSecret()
		m.touched = w.ev.round
		w.retry("rotate "+m.name, func(ctx context.Context) error {
			return w.c.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.name + "-auth", Namespace: m.ns},
				StringData: map[string]string{"username": "hooks", "password": m.password}})
		})
		w.event("everlytic password rotated")
	case x < 53:
		w.evDelete(m)
	case x < 63:
		w.evDashboard(m)
	case x < 71:
		w.evTwin()
	case x < 79:
		w.evMove()
	case x < 88:
		w.evClearStatus()
	default:
		w.evDeleteNamespace()
	}
}

func (w *world) evDelete(m *evModel) {
	delete(w.ev.objs, m.name)
	w.retry("delete "+m.name, func(ctx context.Context) error {
		return client.IgnoreNotFound(w.c.Delete(ctx, &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: m.name}}))
	})
	switch {
	case m.moved:
		// Nothing is deleted on either account: the webhook is left
		// behind (a WebhookLeftBehind event says so), untouched.
		w.ev.mayRemain[m.url] = true
		w.ev.kept[m.movedID] = m.frozenAt
		w.event("everlytic delete while credentials moved (" + m.deletion + ")")
	case m.deletion == "Orphan":
		w.ev.mayRemain[m.url] = true
		fallthrough
	default:
		w.event("everlytic delete (" + m.deletion + ")")
	}
	w.evNote(m)
}

// evDashboard changes or deletes an object's webhook as a person in
// Everlytic's dashboard would, then asks for a sync (the interval is 5m).
func (w *world) evDashboard(m *evModel) {
	if m.moved {
		return // its webhook must stay as it is until the credentials are back
	}
	hooks, _ := w.env.Everlytic.Webhooks(evUser)
	m.touched = w.ev.round
	for _, h := range hooks {
		if h.URL != m.url || w.ev.twins[h.ID].ID != "" {
			continue
		}
		if w.rng.IntN(3) == 0 {
			_ = w.env.Everlytic.DeleteWebhook(evUser, h.ID)
			m.wantID = "" // created again
			w.event("everlytic dashboard delete")
		} else {
			h.Status, h.EventTypes = map[string]string{"enabled": "disabled", "disabled": "enabled"}[h.Status], []everlytic.EventType{everlytic.Sent}
			h.Auth = nil
			if _, err := w.env.Everlytic.PutWebhook(evUser, h); err != nil {
				w.t.Fatal(err)
			}
			w.event("everlytic dashboard edit")
		}
		w.evNote(m)
		break
	}
	w.evRequestSync(m)
}

// evRequestSync asks for a sync now, as `flux reconcile` would.
func (w *world) evRequestSync(m *evModel) string {
	at := time.Now().Format(time.RFC3339Nano)
	w.retry("requestedAt "+m.name, func(ctx context.Context) error {
		o := &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: m.name}}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, at)
		return client.IgnoreNotFound(w.c.Patch(ctx, o, client.RawPatch("application/merge-patch+json", []byte(patch))))
	})
	return at
}

// evTwin makes in the dashboard, long before, a webhook identical (url,
// verb, event types) to the one an object is about to create, then creates
// the object, often with a create fault queued: the operator must never
// take the twin for its own.
func (w *world) evTwin() {
	m := w.evNew(namespaces[w.rng.IntN(len(namespaces))])
	twin := everlytic.Webhook{URL: m.url, Verb: m.verb, Status: []string{"enabled", "disabled"}[w.rng.IntN(2)]}
	for _, t := range m.types {
		twin.EventTypes = append(twin.EventTypes, everlytic.EventType(t))
	}
	made := time.Now().Add(-time.Duration(1+w.rng.IntN(72)) * time.Hour)
	twin, err := w.env.Everlytic.PutOldWebhook(evUser, twin, made)
	if err != nil {
		w.t.Fatal(err)
	}
	w.ev.twins[twin.ID] = twin
	if w.rng.IntN(3) > 0 {
		w.evCreateFault()
	}
	w.evApply(m)
	w.event("everlytic dashboard twin made before the create")
	w.evNote(m)
}

// evMove points an object's credentialsRef at the second account's Secret.
// Only an object quiet at the round's start, untouched since, is moved: it
// has a webhook, and no create under way.
func (w *world) evMove() {
	var cands []string
	for name, m := range w.ev.objs {
		if !m.moved && slices.Contains(namespaces, m.ns) && m.born < w.ev.round && m.touched < w.ev.round {
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return
	}
	slices.Sort(cands)
	m := w.ev.objs[cands[w.rng.IntN(len(cands))]]
	var o ev1.EverlyticSMSWebhook
	w.retry("get "+m.name, func(ctx context.Context) error {
		return w.c.Get(ctx, client.ObjectKey{Namespace: m.ns, Name: m.name}, &o)
	})
	if o.Status.WebhookID == "" || o.Status.CreatePending != nil {
		return
	}
	m.moved, m.movedID, m.frozenAt, m.wantID = true, o.Status.WebhookID, "", ""
	m.restoreAt, m.touched = w.ev.round+1+w.rng.IntN(2), w.ev.round
	w.evUpdate(m)
	w.event("everlytic credentials moved to another account")
	w.evNote(m)
}

// evClearStatus empties an object's status through the status subresource,
// as a restore without status (Velero, a re-apply) leaves it, then asks for
// a sync (a restore's create would trigger one).
func (w *world) evClearStatus() {
	var cands []string
	for name, m := range w.ev.objs {
		if !m.moved {
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return
	}
	slices.Sort(cands)
	m := w.ev.objs[cands[w.rng.IntN(len(cands))]]
	var had string
	w.retry("clear status "+m.name, func(ctx context.Context) error {
		var o ev1.EverlyticSMSWebhook
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: m.ns, Name: m.name}, &o); err != nil {
			return err
		}
		had = ""
		if o.Status.CreatePending == nil {
			had = o.Status.WebhookID
		}
		o.Status = ev1.EverlyticSMSWebhookStatus{}
		return w.c.Status().Update(ctx, &o)
	})
	// The same webhook, unless the round already changed it (a dashboard
	// delete is created again, a create may be under way).
	if had != "" && m.born < w.ev.round && m.touched < w.ev.round {
		m.wantID = had
	}
	m.touched = w.ev.round
	w.evRequestSync(m)
	w.event("everlytic status cleared (restored without status)")
	w.evNote(m)
}

// evPopulateNamespace makes a namespace with Everlytic credentials and
// objects, to be deleted whole in a later round.
func (w *world) evPopulateNamespace() {
	w.ev.nsNext++
	ns := fmt.Sprintf("chaos-evns-%d", w.ev.nsNext)
	w.retry("namespace", func(ctx context.Context) error {
		return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	})
	w.evCredentials(ns, evCreds, evUser, evKey)
	for n := 1 + w.rng.IntN(3); n > 0; n-- {
		w.evApply(w.evNew(ns))
	}
	w.ev.doomed, w.ev.doomedBorn = ns, w.ev.round
	w.event("everlytic namespace populated")
}

// evDeleteNamespace deletes the doomed namespace as its deletion does:
// the Namespace is marked, then its Secrets and objects are deleted in no
// fixed order (envtest has no namespace controller: this is its work; the
// Namespace itself stays Terminating). First every object syncs once with
// this manager process, which then holds its last working credentials; and
// the round goes on once the objects are gone (or after quietWithin: the
// quiet check then says which is left), before a SIGKILL can take those
// credentials with the process (a webhook is then left behind, as
// documented: TestAWebhookLeftBehindIsLoggedAndCounted).
func (w *world) evDeleteNamespace() {
	ns := w.ev.doomed
	if ns == "" || w.ev.doomedBorn >= w.ev.round {
		return
	}
	var ms []*evModel
	names := mapKeys(w.ev.objs)
	slices.Sort(names)
	for _, name := range names {
		if m := w.ev.objs[name]; m.ns == ns {
			ms = append(ms, m)
		}
	}
	w.evPrime(ms)
	w.event("everlytic namespace deleted with its Secrets")
	w.trace[len(w.trace)-1] += fmt.Sprintf(" (%s, %d object(s))", ns, len(ms))
	w.retry("delete namespace", func(ctx context.Context) error {
		return client.IgnoreNotFound(w.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	})
	var objs []client.Object
	for _, m := range ms {
		objs = append(objs, &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name}})
		if m.password != "" {
			objs = append(objs, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name + "-auth"}})
		}
	}
	w.rng.Shuffle(len(objs), func(i, j int) { objs[i], objs[j] = objs[j], objs[i] })
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: evCreds}}
	if w.rng.IntN(2) == 0 {
		objs = append([]client.Object{creds}, objs...) // the credentials first
	} else {
		objs = slices.Insert(objs, w.rng.IntN(len(objs)+1), client.Object(creds))
	}
	var order []string
	for _, o := range objs {
		order = append(order, fmt.Sprintf("%T %s", o, o.GetName()))
		w.retry("delete "+o.GetName(), func(ctx context.Context) error { return client.IgnoreNotFound(w.c.Delete(ctx, o)) })
		time.Sleep(time.Duration(w.rng.IntN(80)) * time.Millisecond)
	}
	w.trace[len(w.trace)-1] += " order: " + strings.Join(order, ", ")
	for _, m := range ms {
		if m.deletion == "Orphan" {
			w.ev.mayRemain[m.url] = true
		}
		delete(w.ev.objs, m.name)
	}
	w.ev.dying = append(w.ev.dying, ns)
	w.ev.doomed = ""
	deadline := time.Now().Add(quietWithin)
	for time.Now().Before(deadline) {
		var list ev1.EverlyticSMSWebhookList
		ctx, cancel := w.ctx()
		err := w.c.List(ctx, &list, client.InNamespace(ns))
		cancel()
		if err == nil && len(list.Items) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// evPrime asks each object for a sync and waits until this manager process
// has synced it.
func (w *world) evPrime(ms []*evModel) {
	at := map[string]string{}
	for _, m := range ms {
		at[m.name] = w.evRequestSync(m)
	}
	deadline := time.Now().Add(quietWithin)
	for _, m := range ms {
		for {
			ctx, cancel := w.ctx()
			var o ev1.EverlyticSMSWebhook
			err := w.c.Get(ctx, client.ObjectKey{Namespace: m.ns, Name: m.name}, &o)
			cancel()
			c := meta.FindStatusCondition(o.Status.Conditions, "Ready")
			if err == nil && o.Status.LastHandledReconcileAt == at[m.name] && c != nil && c.Reason == "Synced" && c.ObservedGeneration == o.Generation &&
				!meta.IsStatusConditionTrue(o.Status.Conditions, "Reconciling") {
				break
			}
			if time.Now().After(deadline) {
				w.violate("round %d: %s/%s did not sync within %s of a requested sync (err %v, status %+v)", w.ev.round, m.ns, m.name, quietWithin, err, o.Status)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// evNamed is one fault as queued and reported.
type evNamed struct {
	name string
	f    everlytictest.Fault
}

var evFaults = []struct {
	name string
	f    everlytictest.Fault
	// then are queued with f, each named on its own: faults that mean
	// something only together (a lost create, then an empty list).
	then []evNamed
}{
	{name: "everlytic create stored, answer lost (502)", f: everlytictest.Fault{Op: everlytictest.OpCreate, Status: 502, AfterStore: true}},
	{name: "everlytic create stored, answer hangs", f: everlytictest.Fault{Op: everlytictest.OpCreate, Hang: true, AfterStore: true}},
	{name: "everlytic create 500 (not stored)", f: everlytictest.Fault{Op: everlytictest.OpCreate, Status: 500}},
	{name: "everlytic create stored, answer lost, then an empty list", f: everlytictest.Fault{Op: everlytictest.OpCreate, Status: 502, AfterStore: true},
		then: []evNamed{{"everlytic empty list after a lost create", everlytictest.Fault{Op: everlytictest.OpList, Body: evEmptyList}}}},
	{name: "everlytic get 503", f: everlytictest.Fault{Op: everlytictest.OpGet, Status: 503}},
	{name: "everlytic get hangs", f: everlytictest.Fault{Op: everlytictest.OpGet, Hang: true}},
	{name: "everlytic list malformed", f: everlytictest.Fault{Op: everlytictest.OpList, Malformed: true}},
	{name: "everlytic update 500", f: everlytictest.Fault{Op: everlytictest.OpUpdate, Status: 500}},
	{name: "everlytic update stored, answer lost", f: everlytictest.Fault{Op: everlytictest.OpUpdate, Status: 502, AfterStore: true}},
	{name: "everlytic delete 500", f: everlytictest.Fault{Op: everlytictest.OpDelete, Status: 500}},
	{name: "everlytic delete done, answer lost", f: everlytictest.Fault{Op: everlytictest.OpDelete, Status: 502, AfterStore: true}},
	{name: "everlytic 429", f: everlytictest.Fault{Status: 429, RetryAfter: "1"}},
}

// evEmptyList is a well-formed answer to a list that holds nothing.
const evEmptyList = `{"status":"success","data":{"webhooks":[]},"meta":{"total":0,"per_page":20,"current_page":1,"last_page":1}}`

func (w *world) evFault() {
	w.evCarry()
	w.evInject(w.rng.IntN(len(evFaults)))
}

func (w *world) evInject(i int) {
	k := evFaults[i]
	count := 1 + w.rng.IntN(2)
	if len(k.then) > 0 {
		// One empty list a round: the create is sent again only after two
		// lists, apart, show nothing, so two lies in a row make a second
		// webhook by design (the next list then finds two and stops with
		// CreatePending).
		if w.ev.liedIn == w.ev.round {
			k = evFaults[0]
		}
		w.ev.liedIn, count = w.ev.round, 1
	}
	for _, n := range append([]evNamed{{k.name, k.f}}, k.then...) {
		f := n.f
		f.Account, f.Name, f.Count = evUser, n.name, count
		w.env.Everlytic.InjectFault(f)
		w.faults[n.name] += f.Count
	}
	w.trace = append(w.trace, "fault "+k.name)
}

// evEndRound counts the faults no request met and drops them.
func (w *world) evEndRound() {
	for _, f := range w.env.Everlytic.PendingFaults() {
		w.unmet[f.Name] += f.Count
	}
	w.env.Everlytic.ClearFaults()
}

// evUnsettled says what is not yet as declared, or "".
func (w *world) evUnsettled() string {
	w.evCarry()
	ctx, cancel := w.ctx()
	defer cancel()
	var list ev1.EverlyticSMSWebhookList
	if err := w.c.List(ctx, &list); err != nil {
		return "listing Everlytic objects: " + err.Error()
	}
	ids := map[string]string{}
	for _, o := range list.Items {
		m, live := w.ev.objs[o.Name]
		if !live {
			return fmt.Sprintf("%s/%s is still there after its deletion", o.Namespace, o.Name)
		}
		c := meta.FindStatusCondition(o.Status.Conditions, "Ready")
		if m.moved {
			// Stopped, the webhook kept where it lives.
			if c == nil || c.ObservedGeneration != o.Generation || c.Reason != "AccountChanged" || c.Status != metav1.ConditionFalse ||
				!meta.IsStatusConditionTrue(o.Status.Conditions, "Stalled") {
				return fmt.Sprintf("%s, its credentials moved to another account, is not stopped with AccountChanged at generation %d: %+v", o.Name, o.Generation, o.Status.Conditions)
			}
		} else if c == nil || c.ObservedGeneration != o.Generation || c.Reason != "Synced" || c.Status != metav1.ConditionTrue ||
			meta.IsStatusConditionTrue(o.Status.Conditions, "Reconciling") {
			return fmt.Sprintf("%s has not synced generation %d: %+v", o.Name, o.Generation, o.Status.Conditions)
		}
		if o.Annotations["reconcile.fluxcd.io/requestedAt"] != o.Status.LastHandledReconcileAt {
			return o.Name + " has not handled its requestedAt"
		}
		ids[o.Name] = o.Status.WebhookID
	}
	hooks, err := w.env.Everlytic.Webhooks(evUser)
	if err != nil {
		return err.Error()
	}
	for name, m := range w.ev.objs {
		if t, ok := w.ev.twins[ids[name]]; ok {
			return fmt.Sprintf("%s took the dashboard's twin %s (made %s) for its webhook", name, t.ID, t.CreatedAt)
		}
		var found []everlytic.Webhook
		for _, h := range hooks {
			if _, twin := w.ev.twins[h.ID]; h.URL == m.url && !twin {
				found = append(found, h)
			}
		}
		if len(found) != 1 {
			var seen []string
			for _, h := range found {
				seen = append(seen, fmt.Sprintf("%s created %s updated %s", h.ID, h.CreatedAt, h.UpdatedAt))
			}
			return fmt.Sprintf("Everlytic holds %s %d time(s) besides any twin (%s), declared by %s (status.webhookID %q)", m.url, len(found), strings.Join(seen, "; "), name, ids[name])
		}
		h := found[0]
		if m.moved {
			if h.ID != m.movedID || ids[name] != m.movedID {
				return fmt.Sprintf("%s, its credentials moved, holds webhook %s (status says %s), not %s", name, h.ID, ids[name], m.movedID)
			}
			continue // not written while moved
		}
		if m.wantID != "" && (h.ID != m.wantID || ids[name] != m.wantID) {
			return fmt.Sprintf("%s's webhook is %s (status says %s), not %s which it had before its credentials moved or its status was cleared", name, h.ID, ids[name], m.wantID)
		}
		if h.ID != ids[name] || !strings.EqualFold(h.Verb, m.verb) || !sameSet(h.EventTypes, m.types) ||
			h.Status != map[bool]string{true: "enabled", false: "disabled"}[m.enabled] || (m.password == "") != (h.Auth == nil) || (h.Auth != nil && h.Auth.Password != m.password) {
			return fmt.Sprintf("%s's webhook %s (status says %s) is not as declared (verb %s, types %v, status %s, auth %v)", name, h.ID, ids[name], h.Verb, h.EventTypes, h.Status, h.Auth != nil)
		}
	}
	return ""
}

// evCheck, once quiet: nothing on the account but what is declared and what
// may remain, the dashboard's webhook and the twins untouched, the webhook
// of a moved object not written, and nothing ever written to the second
// account.
func (w *world) evCheck(r int) {
	hooks, err := w.env.Everlytic.Webhooks(evUser)
	if err != nil {
		w.t.Fatal(err)
	}
	live := map[string]bool{}
	for _, m := range w.ev.objs {
		live[m.url] = true
	}
	foreign := false
	byID := map[string]everlytic.Webhook{}
	for _, h := range hooks {
		byID[h.ID] = h
		if h.ID == w.ev.foreign.ID {
			foreign = true
			if h.URL != w.ev.foreign.URL || h.Status != w.ev.foreign.Status || h.Verb != w.ev.foreign.Verb {
				w.violate("round %d: the dashboard's webhook was changed: %+v", r, h)
			}
		}
		if _, twin := w.ev.twins[h.ID]; !twin && !live[h.URL] && !w.ev.mayRemain[h.URL] {
			w.violate("round %d: Everlytic holds %s (%s), which no object declares and no Orphan deletion left: a repeated create or a lost delete", r, h.URL, h.ID)
		}
	}
	if !foreign {
		w.violate("round %d: the dashboard's webhook %s was deleted", r, w.ev.foreign.ID)
	}
	ids := mapKeys(w.ev.twins)
	slices.Sort(ids)
	for _, id := range ids {
		t := w.ev.twins[id]
		h, ok := byID[id]
		switch {
		case !ok:
			w.violate("round %d: the dashboard's twin %s (%s) was deleted", r, id, t.URL)
		case h.URL != t.URL || h.Verb != t.Verb || h.Status != t.Status || !slices.Equal(h.EventTypes, t.EventTypes) || h.Auth != nil ||
			h.UpdatedAt != t.UpdatedAt || h.CreatedAt != t.CreatedAt:
			w.violate("round %d: the dashboard's twin %s was written: %+v, made as %+v", r, id, h, t)
		}
		if ok {
			w.ev.twins[id] = h // reported once
		} else {
			delete(w.ev.twins, id)
		}
	}
	kept := mapKeys(w.ev.kept)
	slices.Sort(kept)
	for _, id := range kept {
		h, ok := byID[id]
		switch was := w.ev.kept[id]; {
		case !ok:
			w.violate("round %d: webhook %s was deleted with its object while the object's credentials reached another account", r, id)
			delete(w.ev.kept, id)
		case was != "" && h.UpdatedAt != was:
			w.violate("round %d: webhook %s was written (updated %s, was %s) as its object was deleted while its credentials reached another account", r, id, h.UpdatedAt, was)
			w.ev.kept[id] = h.UpdatedAt
		}
	}
	names := mapKeys(w.ev.objs)
	slices.Sort(names)
	for _, name := range names {
		m := w.ev.objs[name]
		m.wantID = "" // held to once quiet
		if !m.moved {
			continue
		}
		h, ok := byID[m.movedID]
		switch {
		case !ok:
			w.violate("round %d: %s's webhook %s was deleted while its credentials reached another account", r, name, m.movedID)
		case m.frozenAt == "":
			m.frozenAt = h.UpdatedAt
		case h.UpdatedAt != m.frozenAt:
			w.violate("round %d: %s's webhook %s was written (updated %s, was %s) while its credentials reached another account", r, name, m.movedID, h.UpdatedAt, m.frozenAt)
			m.frozenAt = h.UpdatedAt
		}
	}
	other, err := w.env.Everlytic.Webhooks(evUser2)
	if err != nil {
		w.t.Fatal(err)
	}
	n := w.env.Everlytic.Requests(evUser2)
	if writes := n[everlytictest.OpCreate] + n[everlytictest.OpUpdate] + n[everlytictest.OpDelete]; len(other) > 0 || writes > 0 {
		w.violate("round %d: the second account, which only moved credentials reach, holds %d webhook(s) and got %d write(s): %v", r, len(other), writes, n)
		w.env.Everlytic.ResetRequests(evUser2) // reported once
		for _, h := range other {
			_ = w.env.Everlytic.DeleteWebhook(evUser2, h.ID)
		}
	}
	w.evScanEvents(r)
	w.evNextRound(r)
}

// evScanEvents looks for secret values in the events of the namespaces
// deleted this round (checkLeaks sees only the shared ones).
func (w *world) evScanEvents(r int) {
	for _, ns := range w.ev.dying {
		var events eventsv1.EventList
		w.retry("events of "+ns, func(ctx context.Context) error { return w.c.List(ctx, &events, client.InNamespace(ns)) })
		b, _ := json.Marshal(events.Items)
		for _, v := range w.secrets {
			for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
				if strings.Contains(string(b), form) {
					w.violate("round %d: secret value %q appears in an event of %s (as %q)", r, v, ns, form)
				}
			}
		}
	}
}

func sameSet(got []everlytic.EventType, want []string) bool {
	var g []string
	for _, t := range got {
		g = append(g, string(t))
	}
	slices.Sort(g)
	w := slices.Clone(want)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
