package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

// The Sendblue faults of issue 15: reads that lie after a restart or lose
// part of what no set wrote, two key ids of one account, credentials that
// reach another account for a while, sets restored without status.

// sharedAccount is reached by a second key id from namespaces[1]: two key
// ids of one account, both writing (issue 15, item 4).
const sharedAccount = 0

func secondKeyID(a int) string     { return fmt.Sprintf("chaos-key-%d-second", a) }
func secondSecretKey(a int) string { return fmt.Sprintf("sk-chaos-%d-second-71be", a) }

// credsFor is the key id and secret key the credentials Secret creds-<a>
// holds in namespace ns.
func credsFor(ns string, a int) (string, string) {
	if a == sharedAccount && ns == namespaces[1] {
		return secondKeyID(a), secondSecretKey(a)
	}
	return keyID(a), secretKey(a)
}

// accountOf is the account a key id reaches.
func accountOf(key string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(key, "chaos-key-"), "-second"))
	return n
}

// addSecondKey gives the shared account its second key id.
func (w *world) addSecondKey() {
	if err := w.env.Emulator.AddKey(keyID(sharedAccount), secondKeyID(sharedAccount), secondSecretKey(sharedAccount)); err != nil {
		w.t.Fatal(err)
	}
	w.secrets = append(w.secrets, secondSecretKey(sharedAccount))
}

// newAccountBody is what a brand-new, empty account answers.
const newAccountBody = `{"status":"OK","webhooks":{"receive":[],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}}`

// lieAfterRestart makes the first read of one account after the manager
// restarts answer as a brand-new account would, and returns what to do once
// the manager runs: a change to a set there, so that a write is planned from
// that read (a converged account is not read again before its interval).
func (w *world) lieAfterRestart() func() {
	// A set that applied something (its status says so): the first reads
	// after the restart, which lie twice in a row, lack it.
	s := w.writingSet(false)
	if s == nil || !w.applied(s) {
		return func() {}
	}
	key, _ := credsFor(s.ns, s.account)
	kind := "first read after a restart answers a brand-new account"
	w.faults[kind] += 2
	w.trace = append(w.trace, fmt.Sprintf("fault %s on account %d (%s)", kind, s.account, key))
	w.env.Emulator.InjectFault(sendbluetest.Fault{Account: key, Method: "GET", Body: newAccountBody, Name: kind, Count: 2})
	return func() { w.addHookAfterLie(s) }
}

// writingSet picks a set that writes and may take a webhook more; with
// foreign, only one whose account holds something no set wrote.
func (w *world) writingSet(foreign bool) *setModel {
	names := slices.Sorted(maps.Keys(w.sets))
	w.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names {
		c := w.sets[name]
		if writes(c.policy) && len(c.hooks) < 4 && (!foreign || len(w.outside(c.account)) > 0) {
			return c
		}
	}
	return nil
}

// addHookAfterLie adds a webhook to s, as the "add a webhook" change does.
func (w *world) addHookAfterLie(s *setModel) {
	if _, live := w.sets[s.name]; !live {
		return
	}
	w.event("add a webhook after a lying read was queued")
	w.addHook(s)
	w.update(s)
}

// addHook adds a new webhook (and its secret) to s's model; the caller
// updates the set.
func (w *world) addHook(s *setModel) {
	w.note(s)
	h := w.newHook(s)
	s.hooks = append(s.hooks, h)
	w.urls[h.wire+" "+h.url] = &urlModel{account: s.account, owner: s.name, state: w.state(s)}
	w.putHookSecret(s)
}

// outside lists what account a holds that no set wrote: "member name" for a
// member of an unknown type, "wire url" for a dashboard webhook.
func (w *world) outside(a int) []string {
	cfg := w.config(a)
	var out []string
	for key, v := range cfg {
		if !slices.Contains(sendbluetest.OriginalTypes, key) && key != "globalSecret" && key != "secret" {
			out = append(out, "member "+key)
			continue
		}
		var entries []json.RawMessage
		_ = json.Unmarshal(v, &entries)
		for _, e := range entries {
			var u string
			if json.Unmarshal(e, &u) != nil {
				var o struct{ URL string }
				_ = json.Unmarshal(e, &o)
				u = o.URL
			}
			if m, ok := w.urls[key+" "+u]; ok && m.owner == "" {
				out = append(out, key+" "+u)
			}
		}
	}
	sort.Strings(out)
	return out
}

// config is account a's configuration as stored, by member.
func (w *world) config(a int) map[string]json.RawMessage {
	raw, err := w.env.Emulator.Webhooks(keyID(a))
	if err != nil {
		w.t.Fatal(err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		w.t.Fatal(err)
	}
	return cfg
}

// partialRead makes the next read of one account lose one thing no set
// wrote (a dashboard webhook or a member of an unknown type), and nothing
// else, then changes a set there so that a write is planned from that read.
func (w *world) partialRead() {
	s := w.writingSet(true)
	if s == nil {
		return
	}
	a := s.account
	candidates := w.outside(a)
	cfg := w.config(a)
	lost := candidates[w.rng.IntN(len(candidates))]
	if name, ok := strings.CutPrefix(lost, "member "); ok {
		delete(cfg, name)
	} else {
		wire, url, _ := strings.Cut(lost, " ")
		var entries, kept []json.RawMessage
		_ = json.Unmarshal(cfg[wire], &entries)
		for _, e := range entries {
			if !strings.Contains(string(e), strconv.Quote(url)) {
				kept = append(kept, e)
			}
		}
		if kept == nil {
			kept = []json.RawMessage{}
		}
		cfg[wire], _ = json.Marshal(kept)
	}
	body, _ := json.Marshal(map[string]any{"status": "OK", "webhooks": cfg})
	kind := "a read that loses part of what no set wrote"
	key, _ := credsFor(s.ns, a)
	w.faults[kind]++
	w.trace = append(w.trace, fmt.Sprintf("fault %s on account %d (%s)", kind, a, lost))
	// One lying read: what the operator never read (a dashboard change
	// since its last read) cannot be missed by it, so a lie repeated by
	// the reads in a row that plan and confirm a write is out of reach
	// (README, "No read is trusted blindly").
	w.env.Emulator.InjectFault(sendbluetest.Fault{Account: key, Method: "GET", Body: string(body), Name: kind, Count: 1})
	w.addHookAfterLie(s)
}

// moveCredentials points a namespace's credentials for one account at
// another account until the round's end: the sets there stop with
// AccountChanged and write to neither account.
func (w *world) moveCredentials() {
	ns, a := namespaces[w.rng.IntN(len(namespaces))], w.account()
	b := (a + 1 + w.rng.IntN(numAccounts-1)) % numAccounts
	key := client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("creds-%d", a)}
	if slices.Contains(w.missing, key) || slices.Contains(w.tornDown, key) {
		return // deleted this round
	}
	// Only sets pinned to their account (synced once) can tell a move: a
	// set that never synced takes the account its credentials reach.
	var list v1.SendblueWebhookSetList
	w.retry("list sets", func(ctx context.Context) error { return w.c.List(ctx, &list, client.InNamespace(ns)) })
	for _, o := range list.Items {
		if string(o.Spec.CredentialsRef.Name) == key.Name && o.Status.AccountID == "" {
			return
		}
	}
	w.event("credentials moved to another account")
	w.trace[len(w.trace)-1] += fmt.Sprintf(" (%s/creds-%d now reaches account %d)", ns, a, b)
	id, sk := credsFor(ns, b)
	w.retry("move credentials", func(ctx context.Context) error {
		return w.c.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("creds-%d", a), Namespace: ns},
			StringData: map[string]string{"apiKeyId": id, "apiSecretKey": sk}})
	})
	w.moved = append(w.moved, key)
}

// restoreMoved points moved credentials back at their account.
func (w *world) restoreMoved() {
	for _, k := range w.moved {
		a, _ := strconv.Atoi(strings.TrimPrefix(k.Name, "creds-"))
		id, sk := credsFor(k.Namespace, a)
		w.retry("restore moved credentials", func(ctx context.Context) error {
			return w.c.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: k.Name, Namespace: k.Namespace},
				StringData: map[string]string{"apiKeyId": id, "apiSecretKey": sk}})
		})
	}
	w.moved = nil
}

// restoreWithoutStatus clears a set's status, as a restore from a backup
// or a re-apply of an exported object leaves it.
func (w *world) restoreWithoutStatus() {
	s := w.randomSet()
	if s == nil {
		return
	}
	w.event("set restored without status")
	w.note(s)
	w.retry("clear status", func(ctx context.Context) error {
		o := &v1.SendblueWebhookSet{}
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: s.name}, o); err != nil {
			return client.IgnoreNotFound(err)
		}
		o.Status = v1.SendblueWebhookSetStatus{}
		return client.IgnoreNotFound(w.c.Status().Update(ctx, o))
	})
}

// teardown deletes, as the namespace controller does when a namespace is
// deleted, a credentials Secret and every set that uses it, in random order:
// a set whose Secret went first deletes with the credentials that last
// worked, or, after a restart, is let go after --release-after leaving its
// webhooks (which the model allows: they were dropped). The Secret comes
// back once the round is quiet, for the next rounds.
func (w *world) teardown() {
	ns, a := namespaces[w.rng.IntN(len(namespaces))], w.account()
	key := client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("creds-%d", a)}
	if slices.Contains(w.missing, key) || slices.Contains(w.moved, key) || slices.Contains(w.tornDown, key) {
		return
	}
	var doomed []*setModel
	for _, s := range w.sets {
		if s.ns == ns && s.account == a {
			doomed = append(doomed, s)
		}
	}
	sort.Slice(doomed, func(i, j int) bool { return doomed[i].name < doomed[j].name })
	w.event("namespace teardown: a credentials Secret and its sets deleted in random order")
	w.trace[len(w.trace)-1] += fmt.Sprintf(" (%s/creds-%d, %d sets)", ns, a, len(doomed))
	secretAt := w.rng.IntN(len(doomed) + 1)
	deleteSecret := func() {
		w.retry("delete credentials", func(ctx context.Context) error {
			return client.IgnoreNotFound(w.c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}))
		})
	}
	for i, s := range doomed {
		if i == secretAt {
			deleteSecret()
		}
		if s.policy == "Exclusive" {
			// It may remove what it does not declare before it goes.
			w.excl[1][s.account] = true
		}
		w.deleteSet(s)
	}
	if secretAt == len(doomed) {
		deleteSecret()
	}
	w.tornDown = append(w.tornDown, key)
}

// rebuild re-creates the credentials Secrets torn down this round.
func (w *world) rebuild() {
	for _, k := range w.tornDown {
		a, _ := strconv.Atoi(strings.TrimPrefix(k.Name, "creds-"))
		w.createCreds(k.Namespace, a)
	}
	w.tornDown = nil
}

// applied reports whether a set's status says it applied something.
func (w *world) applied(s *setModel) bool {
	var o v1.SendblueWebhookSet
	ok := false
	w.retry("read a set", func(ctx context.Context) error {
		err := w.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: s.name}, &o)
		ok = err == nil && len(o.Status.Applied) > 0
		return client.IgnoreNotFound(err)
	})
	return ok
}
