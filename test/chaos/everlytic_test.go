package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
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
// call, including creates that land while their answer is lost; the rounds'
// SIGKILLs hit them too. Once quiet, every live object's webhook is on the
// account exactly once as declared (its password included), and nothing
// else is there but what may remain: the dashboard's webhook (untouched) and
// those of objects deleted with Orphan. A second webhook for one object is a
// create repeated; a webhook of an object deleted with Delete is a delete
// lost.
const (
	evUser = "chaos-everlytic"
	evKey  = "ek-chaos-7b1d40"
)

type evModel struct {
	ns, name, url, verb, deletion, password string
	types                                   []string
	enabled                                 bool
}

type evWorld struct {
	objs map[string]*evModel // by name
	// mayRemain: urls of objects deleted with Orphan, and the dashboard's.
	mayRemain map[string]bool
	foreign   everlytic.Webhook
	next      int
}

var evTypes = []string{"sent", "failed", "bounce", "reply", "delivered"}

func (w *world) evSetup() {
	w.ev = &evWorld{objs: map[string]*evModel{}, mayRemain: map[string]bool{}}
	w.secrets = append(w.secrets, evKey)
	if err := w.env.Everlytic.AddAccount(evUser, evKey); err != nil {
		w.t.Fatal(err)
	}
	foreign, err := w.env.Everlytic.PutWebhook(evUser, everlytic.Webhook{URL: "https://dashboard.example.com/sms", Verb: "GET", EventTypes: []everlytic.EventType{everlytic.Bounce}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.ev.foreign = foreign
	w.ev.mayRemain[foreign.URL] = true
	for _, ns := range namespaces {
		w.retry("everlytic credentials", func(ctx context.Context) error {
			return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "everlytic-creds", Namespace: ns},
				StringData: map[string]string{"username": evUser, "apiKey": evKey}}))
		})
	}
	for i := 0; i < 3; i++ {
		w.evCreate()
	}
}

func (w *world) evObject(m *evModel) *ev1.EverlyticSMSWebhook {
	o := &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: m.name}}
	o.Spec = ev1.EverlyticSMSWebhookSpec{Endpoint: ev1.Endpoint(w.env.EmulatorURL), CredentialsRef: ev1.CredentialsReference{Name: "everlytic-creds"},
		URL: ev1.ReceiverURL(m.url), Verb: ev1.Verb(m.verb), Enabled: ptr.To(m.enabled), DeletionPolicy: ev1.DeletionPolicy(m.deletion)}
	for _, t := range m.types {
		o.Spec.EventTypes = append(o.Spec.EventTypes, ev1.EventType(t))
	}
	if m.password != "" {
		o.Spec.ReceiverAuthRef = &ev1.ReceiverAuthReference{Name: ev1.SecretName(m.name + "-auth")}
	}
	return o
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

func (w *world) evCreate() {
	w.ev.next++
	m := &evModel{ns: namespaces[w.rng.IntN(len(namespaces))], name: fmt.Sprintf("sms-%d", w.ev.next),
		url: fmt.Sprintf("https://ev%d.example.com/hook", w.ev.next), deletion: []string{"Delete", "Orphan"}[w.rng.IntN(2)]}
	w.evRandomize(m)
	if w.rng.IntN(2) == 0 {
		m.password = w.newSecret()
		w.retry("receiver auth", func(ctx context.Context) error {
			return client.IgnoreAlreadyExists(w.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.name + "-auth", Namespace: m.ns},
				StringData: map[string]string{"username": "hooks", "password": m.password}}))
		})
	}
	w.retry("create "+m.name, func(ctx context.Context) error { return w.c.Create(ctx, w.evObject(m)) })
	w.ev.objs[m.name] = m
	w.event("everlytic create")
}

// evOp makes one random change to the Everlytic world.
func (w *world) evOp() {
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
	case m == nil || x < 30:
		w.evCreate()
	case x < 55:
		w.evRandomize(m)
		w.retry("edit "+m.name, func(ctx context.Context) error {
			o := &ev1.EverlyticSMSWebhook{}
			if err := w.c.Get(ctx, client.ObjectKey{Namespace: m.ns, Name: m.name}, o); err != nil {
				return err
			}
			o.Spec = w.evObject(m).Spec
			return w.c.Update(ctx, o)
		})
		w.event("everlytic edit")
	case x < 65 && m.password != "":
		m.password = w.newSecret()
		w.retry("rotate "+m.name, func(ctx context.Context) error {
			return w.c.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.name + "-auth", Namespace: m.ns},
				StringData: map[string]string{"username": "hooks", "password": m.password}})
		})
		w.event("everlytic password rotated")
	case x < 80:
		if m.deletion == "Orphan" {
			w.ev.mayRemain[m.url] = true
		}
		delete(w.ev.objs, m.name)
		w.retry("delete "+m.name, func(ctx context.Context) error {
			return client.IgnoreNotFound(w.c.Delete(ctx, &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: m.name}}))
		})
		w.event("everlytic delete (" + m.deletion + ")")
	default:
		w.evDashboard(m)
	}
}

// evDashboard changes or deletes an object's webhook as a person in
// Everlytic's dashboard would, then asks for a sync (the interval is 5m).
func (w *world) evDashboard(m *evModel) {
	hooks, _ := w.env.Everlytic.Webhooks(evUser)
	for _, h := range hooks {
		if h.URL != m.url {
			continue
		}
		if w.rng.IntN(3) == 0 {
			_ = w.env.Everlytic.DeleteWebhook(evUser, h.ID)
			w.event("everlytic dashboard delete")
		} else {
			h.Status, h.EventTypes = map[string]string{"enabled": "disabled", "disabled": "enabled"}[h.Status], []everlytic.EventType{everlytic.Sent}
			h.Auth = nil
			if _, err := w.env.Everlytic.PutWebhook(evUser, h); err != nil {
				w.t.Fatal(err)
			}
			w.event("everlytic dashboard edit")
		}
		break
	}
	w.retry("requestedAt "+m.name, func(ctx context.Context) error {
		o := &ev1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: m.name}}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
		return client.IgnoreNotFound(w.c.Patch(ctx, o, client.RawPatch("application/merge-patch+json", []byte(patch))))
	})
}

var evFaults = []struct {
	name string
	f    everlytictest.Fault
}{
	{"everlytic create stored, answer lost (502)", everlytictest.Fault{Op: everlytictest.OpCreate, Status: 502, AfterStore: true}},
	{"everlytic create stored, answer hangs", everlytictest.Fault{Op: everlytictest.OpCreate, Hang: true, AfterStore: true}},
	{"everlytic create 500 (not stored)", everlytictest.Fault{Op: everlytictest.OpCreate, Status: 500}},
	{"everlytic get 503", everlytictest.Fault{Op: everlytictest.OpGet, Status: 503}},
	{"everlytic get hangs", everlytictest.Fault{Op: everlytictest.OpGet, Hang: true}},
	{"everlytic list malformed", everlytictest.Fault{Op: everlytictest.OpList, Malformed: true}},
	{"everlytic update 500", everlytictest.Fault{Op: everlytictest.OpUpdate, Status: 500}},
	{"everlytic update stored, answer lost", everlytictest.Fault{Op: everlytictest.OpUpdate, Status: 502, AfterStore: true}},
	{"everlytic delete 500", everlytictest.Fault{Op: everlytictest.OpDelete, Status: 500}},
	{"everlytic delete done, answer lost", everlytictest.Fault{Op: everlytictest.OpDelete, Status: 502, AfterStore: true}},
	{"everlytic 429", everlytictest.Fault{Status: 429, RetryAfter: "1"}},
}

func (w *world) evFault() {
	k := evFaults[w.rng.IntN(len(evFaults))]
	f := k.f
	f.Account, f.Name, f.Count = evUser, k.name, 1+w.rng.IntN(2)
	w.env.Everlytic.InjectFault(f)
	w.faults[k.name] += f.Count
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
	ctx, cancel := w.ctx()
	defer cancel()
	var list ev1.EverlyticSMSWebhookList
	if err := w.c.List(ctx, &list); err != nil {
		return "listing Everlytic objects: " + err.Error()
	}
	ids := map[string]string{}
	for _, o := range list.Items {
		if _, live := w.ev.objs[o.Name]; !live {
			return fmt.Sprintf("%s/%s is still there after its deletion", o.Namespace, o.Name)
		}
		c := meta.FindStatusCondition(o.Status.Conditions, "Ready")
		if c == nil || c.ObservedGeneration != o.Generation || c.Reason != "Synced" || c.Status != metav1.ConditionTrue ||
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
		var found []everlytic.Webhook
		for _, h := range hooks {
			if h.URL == m.url {
				found = append(found, h)
			}
		}
		if len(found) != 1 {
			var seen []string
			for _, h := range found {
				seen = append(seen, fmt.Sprintf("%s created %s updated %s", h.ID, h.CreatedAt, h.UpdatedAt))
			}
			return fmt.Sprintf("Everlytic holds %s %d time(s) (%s), declared by %s (status.webhookID %q)", m.url, len(found), strings.Join(seen, "; "), name, ids[name])
		}
		if h := found[0]; h.ID != ids[name] || !strings.EqualFold(h.Verb, m.verb) || !sameSet(h.EventTypes, m.types) ||
			h.Status != map[bool]string{true: "enabled", false: "disabled"}[m.enabled] || (m.password == "") != (h.Auth == nil) || (h.Auth != nil && h.Auth.Password != m.password) {
			return fmt.Sprintf("%s's webhook %s (status says %s) is not as declared (verb %s, types %v, status %s, auth %v)", name, h.ID, ids[name], h.Verb, h.EventTypes, h.Status, h.Auth != nil)
		}
	}
	return ""
}

// evCheck, once quiet: nothing on the account but what is declared and what
// may remain, and the dashboard's webhook untouched.
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
	for _, h := range hooks {
		if h.ID == w.ev.foreign.ID {
			foreign = true
			if h.URL != w.ev.foreign.URL || h.Status != w.ev.foreign.Status || h.Verb != w.ev.foreign.Verb {
				w.violate("round %d: the dashboard's webhook was changed: %+v", r, h)
			}
		}
		if !live[h.URL] && !w.ev.mayRemain[h.URL] {
			w.violate("round %d: Everlytic holds %s (%s), which no object declares and no Orphan deletion left: a repeated create or a lost delete", r, h.URL, h.ID)
		}
	}
	if !foreign {
		w.violate("round %d: the dashboard's webhook %s was deleted", r, w.ev.foreign.ID)
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
