package controllers

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// accountIndex knows, for every set the reconciler has seen, which account
// it belongs to and what it holds, so that a sync of one account reads only
// that account's sets, never the cluster's. The set reconciler fills it;
// the account syncer reads it.
//
// After a start, no account may be synced until every set that existed when
// the caches synced has been indexed (prime, primed): an Exclusive set must
// never remove what a sibling holds because the sibling was not indexed yet.
type accountIndex struct {
	mu        sync.Mutex
	sets      map[types.NamespacedName]*indexEntry
	byAccount map[string]map[types.NamespacedName]*indexEntry
	// holds lists, by entry, the sets that hold it against other accounts:
	// what they declare (not Observe, not deleting), and for sets whose
	// account is unknown what they applied too.
	holds map[entryKey][]*indexEntry
	// refs lists the sets that reference each Secret: a change of the Secret
	// reconciles them, and its value is kept in memory only while it is
	// referenced.
	refs map[client.ObjectKey][]types.NamespacedName
	// readers lists, for each Secret, the sets reading it to be indexed
	// (reading), with how many reads are in flight.
	readers map[client.ObjectKey]map[types.NamespacedName]int

	// pending are the sets listed at start that are not indexed yet; nil
	// until the list is taken. touched are those indexed before it was.
	pending     map[types.NamespacedName]bool
	touched     map[types.NamespacedName]bool
	initialKeys []types.NamespacedName
	primed      bool
	// onPrimed runs once, when the index becomes primed.
	onPrimed func()
	// onUnreferenced runs (under mu) for a Secret no set references any more.
	onUnreferenced func(client.ObjectKey)
}

// indexEntry is what the index holds of one set.
type indexEntry struct {
	key        types.NamespacedName
	uid        types.UID
	generation int64
	// account is the account id; "" when the set's account is unknown
	// (its credentials cannot be read).
	account string
	// member is the set's part in its account's plan; nil when the account
	// is unknown.
	member *member
	// holds are the entries the set holds against other accounts (no
	// Exclusive set removes them); blocks are those of them whose every
	// removal it blocks: what it applied, when its account is unknown (it may
	// be this very one). What it merely declares never blocks a Merge
	// removal: another tenant's set cannot pin a webhook by declaring it.
	holds  []entryKey
	blocks map[entryKey]bool
	// why says why the set holds them, for the kept notes.
	why     string
	secrets []client.ObjectKey
	// sig changes whenever anything a sync reads from the entry changes.
	sig string
}

func newAccountIndex() *accountIndex {
	return &accountIndex{
		sets:      map[types.NamespacedName]*indexEntry{},
		byAccount: map[string]map[types.NamespacedName]*indexEntry{},
		holds:     map[entryKey][]*indexEntry{},
		refs:      map[client.ObjectKey][]types.NamespacedName{},
		readers:   map[client.ObjectKey]map[types.NamespacedName]int{},
		touched:   map[types.NamespacedName]bool{},
	}
}

// put indexes e in place of what was indexed for its set. It returns the
// accounts whose sync the change concerns (the old and the new one) and
// whether anything a sync reads changed.
func (ix *accountIndex) put(e *indexEntry) (accounts []string, changed bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	old := ix.sets[e.key]
	changed = old == nil || old.sig != e.sig || old.account != e.account
	if old != nil && old.account != "" && old.account != e.account {
		accounts = append(accounts, old.account)
	}
	if e.account != "" {
		accounts = append(accounts, e.account)
	}
	ix.unlink(old)
	ix.sets[e.key] = e
	if e.account != "" && e.member != nil {
		m := ix.byAccount[e.account]
		if m == nil {
			m = map[types.NamespacedName]*indexEntry{}
			ix.byAccount[e.account] = m
		}
		m[e.key] = e
	}
	for _, k := range e.holds {
		if h := ix.holds[k]; len(h) == 0 || h[len(h)-1] != e {
			ix.holds[k] = append(h, e)
		}
	}
	for _, s := range e.secrets {
		if r := ix.refs[s]; !slices.Contains(r, e.key) {
			ix.refs[s] = append(r, e.key)
		}
	}
	ix.touch(e.key)
	return accounts, changed
}

// remove forgets a set; it returns what was indexed for it (nil if nothing).
func (ix *accountIndex) remove(key types.NamespacedName) *indexEntry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	old := ix.sets[key]
	ix.unlink(old)
	delete(ix.sets, key)
	ix.touch(key)
	return old
}

// unlink drops e from every map but sets; the caller holds mu.
func (ix *accountIndex) unlink(e *indexEntry) {
	if e == nil {
		return
	}
	if m := ix.byAccount[e.account]; m != nil && m[e.key] == e {
		delete(m, e.key)
		if len(m) == 0 {
			delete(ix.byAccount, e.account)
		}
	}
	for _, k := range e.holds {
		h := slices.DeleteFunc(ix.holds[k], func(o *indexEntry) bool { return o == e })
		if len(h) == 0 {
			delete(ix.holds, k)
		} else {
			ix.holds[k] = h
		}
	}
	for _, s := range e.secrets {
		r := slices.DeleteFunc(ix.refs[s], func(k types.NamespacedName) bool { return k == e.key })
		if len(r) > 0 {
			ix.refs[s] = r
		} else {
			delete(ix.refs, s)
			if ix.onUnreferenced != nil {
				ix.onUnreferenced(s)
			}
		}
	}
}

// touch marks a set as indexed since start; the caller holds mu.
func (ix *accountIndex) touch(key types.NamespacedName) {
	if ix.primed {
		return
	}
	if ix.pending == nil {
		ix.touched[key] = true
		return
	}
	delete(ix.pending, key)
	ix.checkPrimed()
}

// initial records a set of the informer's initial list: one that existed
// when the operator started.
func (ix *accountIndex) initial(key types.NamespacedName) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.pending == nil && !ix.primed {
		ix.initialKeys = append(ix.initialKeys, key)
	}
}

// prime is called once the informer's initial list has been delivered
// (initial): the index is primed once each of those sets has been indexed
// (or removed). Sets created later are not waited for.
func (ix *accountIndex) prime() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.primed || ix.pending != nil {
		return
	}
	ix.pending = map[types.NamespacedName]bool{}
	for _, k := range ix.initialKeys {
		if !ix.touched[k] {
			ix.pending[k] = true
		}
	}
	ix.touched, ix.initialKeys = nil, nil
	ix.checkPrimed()
}

func (ix *accountIndex) checkPrimed() {
	if ix.primed || ix.pending == nil || len(ix.pending) > 0 {
		return
	}
	ix.primed, ix.pending = true, nil
	if ix.onPrimed != nil {
		go ix.onPrimed()
	}
}

// isPrimed reports whether every set present at start is indexed, and how
// many are still waiting.
func (ix *accountIndex) isPrimed() (bool, int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.primed, len(ix.pending)
}

// members returns the account's sets.
func (ix *accountIndex) members(account string) []*indexEntry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]*indexEntry, 0, len(ix.byAccount[account]))
	for _, e := range ix.byAccount[account] {
		out = append(out, e)
	}
	return out
}

// entry returns what is indexed for a set.
func (ix *accountIndex) entry(key types.NamespacedName) *indexEntry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.sets[key]
}

// sharers are the other accounts whose sets declare or applied a webhook
// this read of account shows: they may be the same Sendblue account (see
// writeLocks). Its cost follows the account, like guard's.
func (ix *accountIndex) sharers(account string, actual *sendblue.Config) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, t := range sendblue.EventTypes() {
		for _, h := range actual.Webhooks(t) {
			for _, e := range ix.holds[entryKey{string(t), h.URL}] {
				if e.account != "" && e.account != account && e.member != nil && !seen[e.account] {
					seen[e.account] = true
					out = append(out, e.account)
				}
			}
		}
	}
	return out
}

// guard is what sets outside the account hold among the entries the account
// has now: its cost follows the account, not the cluster.
func (ix *accountIndex) guard(account string, actual *sendblue.Config) Guard {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	g := Guard{}
	check := func(k entryKey) {
		for _, e := range ix.holds[k] {
			if e.account != account || e.member == nil {
				g.Add(k, e.key.String(), e.why, e.blocks[k])
			}
		}
	}
	for _, t := range sendblue.EventTypes() {
		for _, h := range actual.Webhooks(t) {
			check(entryKey{string(t), h.URL})
		}
	}
	if _, ok := actual.GlobalSecret(); ok {
		check(entryKey{Type: globalSecretType})
	}
	if _, ok := actual.LegacySecret(); ok {
		check(entryKey{Type: legacySecretType})
	}
	return g
}

// referencing returns the sets that reference the Secret, indexed or being
// read to be indexed.
func (ix *accountIndex) referencing(k client.ObjectKey) []types.NamespacedName {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := slices.Clone(ix.refs[k])
	for key := range ix.readers[k] {
		if !slices.Contains(out, key) {
			out = append(out, key)
		}
	}
	return out
}

// reading marks the Secrets a set is reading to be indexed, until the
// returned func is called: meanwhile a change of one of them reconciles the
// set again, whether or not its index entry references the Secret yet.
func (ix *accountIndex) reading(key types.NamespacedName, secrets []client.ObjectKey) (done func()) {
	ix.countReaders(key, secrets, 1)
	return func() { ix.countReaders(key, secrets, -1) }
}

func (ix *accountIndex) countReaders(key types.NamespacedName, secrets []client.ObjectKey, d int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, s := range secrets {
		m := ix.readers[s]
		if m == nil {
			m = map[types.NamespacedName]int{}
			ix.readers[s] = m
		}
		if m[key] += d; m[key] <= 0 {
			delete(m, key)
		}
		if len(m) == 0 {
			delete(ix.readers, s)
		}
	}
}

// counts returns how many sets and accounts are indexed.
func (ix *accountIndex) counts() (sets, accounts int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.sets), len(ix.byAccount)
}

// holdsOf lists what a set holds against accounts other than its own: what
// it declares (unless Observe or deleting), and, when its account is
// unknown, what it applied.
// appliedBlocks is what a set whose account is unknown blocks every removal
// of: what its status says it applied.
func appliedBlocks(s *v1.SendblueWebhookSet) map[entryKey]bool {
	out := map[entryKey]bool{}
	for _, a := range s.Status.Applied {
		out[entryKey{a.Type, a.URL}] = true
	}
	return out
}

func holdsOf(s *v1.SendblueWebhookSet, deleting, unknown bool) []entryKey {
	var out []entryKey
	if s.Spec.Policy != v1.PolicyObserve && !deleting {
		out = declaredKeys(s)
	}
	if unknown {
		for _, a := range s.Status.Applied {
			out = append(out, entryKey{a.Type, a.URL})
		}
	}
	return out
}

// secretKeys lists the Secrets a set references, as object keys.
func secretKeys(s *v1.SendblueWebhookSet) []client.ObjectKey {
	names := secretNames(s)
	out := make([]client.ObjectKey, len(names))
	for i, n := range names {
		out[i] = client.ObjectKey{Namespace: s.Namespace, Name: n}
	}
	return out
}
