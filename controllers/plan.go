package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// Pseudo event types under which the account's secrets appear in ownership
// records and plans.
const (
	globalSecretType = "globalSecret"
	legacySecretType = "secret"
)

// DesiredWebhook is one declared webhook with its secret resolved.
type DesiredWebhook struct {
	Type    sendblue.EventType
	URL     string
	Secret  string
	Numbers []string
}

func (d DesiredWebhook) key() entryKey { return entryKey{string(d.Type), d.URL} }

func (d DesiredWebhook) matches(w sendblue.Webhook) bool {
	return d.Secret == w.Secret && sameSet(d.Numbers, w.SendblueNumbers)
}

type entryKey struct{ Type, URL string }

func (k entryKey) applied() sendbluev1alpha1.AppliedWebhook {
	return sendbluev1alpha1.AppliedWebhook{Type: k.Type, URL: k.URL}
}

// SetInput is everything the plan needs to know of one SendblueWebhookSet,
// secrets resolved.
type SetInput struct {
	// ID is namespace/name.
	ID      string
	Created time.Time
	Policy  sendbluev1alpha1.Policy
	// Deleting: the set is being deleted with DeletionPolicy Delete; it
	// declares nothing and its applied webhooks are to be removed.
	Deleting bool
	// Suspended: the set writes nothing, but what it declares is protected
	// from removal by other sets.
	Suspended bool
	// Frozen: the set's inputs cannot be used as they are (a Secret missing,
	// its changes refused, its account in doubt). It writes nothing, and
	// nothing it declares or applied is removed. Its Webhooks carry types and
	// URLs only.
	Frozen       bool
	Webhooks     []DesiredWebhook
	GlobalSecret *string
	LegacySecret *string
	// Declares* say that a frozen set declares the account's global or legacy
	// secret (whose value it could not read).
	DeclaresGlobalSecret, DeclaresLegacySecret bool
	Applied                                    []sendbluev1alpha1.AppliedWebhook
}

func (s SetInput) writes() bool {
	return s.Policy != sendbluev1alpha1.PolicyObserve && !s.Suspended && !s.Deleting && !s.Frozen
}

// holds reports whether the set keeps what it declares on the account
// whatever the other sets do.
func (s SetInput) holds() bool { return s.writes() || s.Suspended || s.Frozen }

func (s SetInput) declaresSecret(name string) bool {
	if name == globalSecretType {
		return s.GlobalSecret != nil || s.DeclaresGlobalSecret
	}
	return s.LegacySecret != nil || s.DeclaresLegacySecret
}

// Guard lists what no set of the account may remove although none of the
// account's own sets declares it: what sets elsewhere in the cluster declare
// (two keys may reach one account) or may own (a set whose account cannot
// be told). By entry, who holds it, for messages.
type Guard map[entryKey]Guarded

// Guarded says who holds an entry, and whether only Exclusive removals are
// blocked (a set on another account declares it) or every removal (a set
// that may be on this account holds it).
type Guarded struct {
	// Holder is the holding set's id (namespace/name); Why says why it
	// holds ("which uses other credentials").
	Holder, Why string
	All         bool
}

// Add records that holder holds k, and why; all blocks Merge removals too.
func (g Guard) Add(k entryKey, holder, why string, all bool) {
	cur, ok := g[k]
	if !ok || (all && !cur.All) {
		g[k] = Guarded{Holder: holder, Why: why, All: all}
	}
}

// nameFor names the set other in a message shown on the set viewer: by its
// id in viewer's namespace, and not at all in another (a tenant's status
// must not tell the names of other tenants' objects).
func nameFor(viewer, other string) string {
	if ns, _, ok := strings.Cut(other, "/"); ok && strings.HasPrefix(viewer, ns+"/") {
		return other
	}
	return "a set in another namespace"
}

// SetPlan is the plan's outcome for one set.
type SetPlan struct {
	// Changes to this set's webhooks: made by the account's write or, for
	// Observe, the ones Merge would make.
	Changes []sendbluev1alpha1.PlannedChange
	// Conflicts explain declarations that lost to an older set.
	Conflicts []string
	// Applied is the set's ownership record once the write has succeeded.
	Applied []sendbluev1alpha1.AppliedWebhook
	// Kept explains what an Exclusive set left on the account because a set
	// outside it holds it.
	Kept []string
}

// AccountPlan is the result of planning one account.
type AccountPlan struct {
	// Desired is the configuration to PUT: the actual one with Changes
	// applied, everything else as read.
	Desired *sendblue.Config
	// Changes made to the account, in a stable order.
	Changes []sendbluev1alpha1.PlannedChange
	// Sets by ID.
	Sets map[string]*SetPlan
}

// HasChanges reports whether the account needs a write.
func (p AccountPlan) HasChanges() bool { return len(p.Changes) > 0 }

type claim struct {
	owner string
	hook  DesiredWebhook
	// declarers are the writing sets whose declaration is the one that won.
	declarers []string
}

// PlanAccount computes, without I/O, what the account must become for the
// given sets. See the package README for the policies; in short: the oldest
// set wins a conflicting declaration, Merge removes only what a set applied
// and no longer declares, Exclusive removes every webhook no set declares
// (but never the legacy root secret), Observe never changes the account, and
// nothing in guard is removed.
func PlanAccount(actual *sendblue.Config, inputs []SetInput, guard Guard) (AccountPlan, error) {
	p := newPlanner(actual, inputs, guard)
	for _, t := range sendblue.EventTypes() {
		if err := p.planType(t); err != nil {
			return AccountPlan{}, err
		}
	}
	p.planSecret(globalSecretType, p.global)
	p.planSecret(legacySecretType, p.legacy)
	p.recordOwnership()
	return p.plan, nil
}

// planner holds one PlanAccount call's state; each method is one step.
type planner struct {
	actual         *sendblue.Config
	sets           []SetInput // oldest first
	plan           AccountPlan
	claims         map[entryKey]claim
	order          []entryKey // claims in declaration order
	global, legacy secretClaim
	protected      map[entryKey]bool     // declared by a writing, suspended or frozen set; applied by a frozen one
	removable      map[entryKey][]string // applied by these writing or deleting sets
	exclusive      []string              // writing sets with policy Exclusive
	guard          Guard
	removed        map[entryKey]bool          // entries already planned for removal
	kept           map[string]map[string]bool // Kept notes by set, to list each once
	// stillOwned are the entries a set would have removed and a guard
	// kept: they stay in its ownership record.
	stillOwned map[string][]entryKey
	desired    map[entryKey]sendblue.Webhook // the planned configuration by entry (the first of each), when a set is Observe
}

func newPlanner(actual *sendblue.Config, inputs []SetInput, guard Guard) *planner {
	sets := slices.Clone(inputs)
	sort.SliceStable(sets, func(i, j int) bool {
		if !sets[i].Created.Equal(sets[j].Created) {
			return sets[i].Created.Before(sets[j].Created)
		}
		return sets[i].ID < sets[j].ID
	})
	p := &planner{
		actual:     actual,
		sets:       sets,
		plan:       AccountPlan{Desired: actual.Clone(), Sets: map[string]*SetPlan{}},
		protected:  map[entryKey]bool{},
		removable:  map[entryKey][]string{},
		guard:      guard,
		removed:    map[entryKey]bool{},
		kept:       map[string]map[string]bool{},
		stillOwned: map[string][]entryKey{},
	}
	for _, s := range sets {
		p.plan.Sets[s.ID] = &SetPlan{}
	}
	p.claims, p.order = claimWebhooks(sets, p.plan.Sets)
	p.global = claimSecret(sets, p.plan.Sets, globalSecretType)
	p.legacy = claimSecret(sets, p.plan.Sets, legacySecretType)
	for _, s := range sets {
		if s.Policy == sendbluev1alpha1.PolicyObserve && p.desired == nil {
			p.desired = map[entryKey]sendblue.Webhook{}
		}
		if s.writes() && s.Policy == sendbluev1alpha1.PolicyExclusive {
			p.exclusive = append(p.exclusive, s.ID)
		}
		if s.holds() {
			for _, w := range s.Webhooks {
				p.protected[w.key()] = true
			}
			for _, name := range []string{globalSecretType, legacySecretType} {
				if s.declaresSecret(name) {
					p.protected[entryKey{Type: name}] = true
				}
			}
		}
		if s.Frozen {
			for _, a := range s.Applied {
				p.protected[entryKey{a.Type, a.URL}] = true
			}
		}
		if s.writes() || s.Deleting {
			for _, a := range s.Applied {
				k := entryKey{a.Type, a.URL}
				p.removable[k] = append(p.removable[k], s.ID)
			}
		}
	}
	return p
}

// removalOwners are the sets on whose behalf k is removed; none if it stays.
func (p *planner) removalOwners(k entryKey) []string {
	if p.protected[k] {
		return nil
	}
	g, guarded := p.guard[k]
	if owners := p.removable[k]; len(owners) > 0 {
		if guarded && g.All {
			p.keep(owners, k, g)
			// Still theirs: removed once nothing holds it.
			for _, id := range owners {
				p.stillOwned[id] = append(p.stillOwned[id], k)
			}
			return nil
		}
		return owners
	}
	if k.Type == legacySecretType {
		return nil // Exclusive leaves the v2-era root secret alone
	}
	if guarded && len(p.exclusive) > 0 {
		p.keep(p.exclusive, k, g)
		return nil
	}
	return p.exclusive
}

// keep notes, for the sets that would have removed k, why it stays.
func (p *planner) keep(ids []string, k entryKey, g Guarded) {
	for _, id := range ids {
		note := strings.TrimSpace(k.Type+" "+k.URL) + " (held by " + nameFor(id, g.Holder)
		if g.Why != "" {
			note += ", " + g.Why
		}
		note += ")"
		seen := p.kept[id]
		if seen == nil {
			seen = map[string]bool{}
			p.kept[id] = seen
		}
		if !seen[note] {
			seen[note] = true
			p.plan.Sets[id].Kept = append(p.plan.Sets[id].Kept, note)
		}
	}
}

func (p *planner) record(c sendbluev1alpha1.PlannedChange, owners []string) {
	p.plan.Changes = append(p.plan.Changes, c)
	for _, id := range owners {
		p.plan.Sets[id].Changes = append(p.plan.Sets[id].Changes, c)
	}
}

// planType removes, adds and updates the entries of one event type.
func (p *planner) planType(t sendblue.EventType) error {
	hooks := p.actual.Webhooks(t)
	// Removals first, so that an entry is never both removed and kept.
	kept := hooks[:0:0]
	for _, h := range hooks {
		k := entryKey{string(t), h.URL}
		if _, declared := p.claims[k]; !declared {
			if owners := p.removalOwners(k); len(owners) > 0 {
				if !p.removed[k] { // a URL listed twice is one change
					p.removed[k] = true
					p.record(sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionRemove, Type: k.Type, URL: k.URL}, owners)
				}
				continue
			}
		}
		kept = append(kept, h)
	}
	at := make(map[string]int, len(kept)) // the first entry of each URL
	for i := len(kept) - 1; i >= 0; i-- {
		at[kept[i].URL] = i
	}
	for _, k := range p.order {
		if k.Type != string(t) {
			continue
		}
		c := p.claims[k]
		owners := c.declarers
		i, found := at[k.URL]
		switch {
		case !found:
			at[k.URL] = len(kept)
			kept = append(kept, sendblue.Webhook{URL: k.URL, Secret: c.hook.Secret, SendblueNumbers: slices.Clone(c.hook.Numbers)})
			p.record(sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionAdd, Type: k.Type, URL: k.URL}, owners)
		case !c.hook.matches(kept[i]):
			kept[i].Secret, kept[i].SendblueNumbers = c.hook.Secret, slices.Clone(c.hook.Numbers)
			p.record(sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionUpdate, Type: k.Type, URL: k.URL}, owners)
		}
	}
	for _, h := range kept {
		if k := (entryKey{string(t), h.URL}); p.desired != nil {
			if _, ok := p.desired[k]; !ok {
				p.desired[k] = h
			}
		}
	}
	if err := p.plan.Desired.SetWebhooks(t, kept); err != nil {
		return fmt.Errorf("planning %s: %w", t, err)
	}
	return nil
}

// planSecret sets, updates or removes the account's global or legacy secret.
func (p *planner) planSecret(name string, c secretClaim) {
	current, set, clear := p.actual.GlobalSecret, p.plan.Desired.SetGlobalSecret, p.plan.Desired.ClearGlobalSecret
	if name == legacySecretType {
		current, set, clear = p.actual.LegacySecret, p.plan.Desired.SetLegacySecret, p.plan.Desired.ClearLegacySecret
	}
	cur, present := current()
	if c.value != nil {
		if present && cur == *c.value {
			return
		}
		var owners []string
		for _, s := range p.sets {
			if v := secretOf(s, name); s.writes() && v != nil && *v == *c.value {
				owners = append(owners, s.ID)
			}
		}
		set(*c.value)
		action := sendbluev1alpha1.ActionAdd
		if present {
			action = sendbluev1alpha1.ActionUpdate
		}
		p.record(sendbluev1alpha1.PlannedChange{Action: action, Type: name}, owners)
		return
	}
	if !present {
		return
	}
	if owners := p.removalOwners(entryKey{Type: name}); len(owners) > 0 {
		clear()
		p.record(sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionRemove, Type: name}, owners)
	}
}

// recordOwnership fills each set's ownership record and, for Observe sets,
// what Merge would change.
func (p *planner) recordOwnership() {
	for _, s := range p.sets {
		sp := p.plan.Sets[s.ID]
		switch {
		case s.Policy == sendbluev1alpha1.PolicyObserve && !s.Deleting:
			// Against the account as this plan leaves it: a sibling's write in
			// this very sync must not show as drift until the next interval.
			sp.Changes = observe(p.plan.Desired, p.desired, s)
			sp.Applied = nil
		case s.writes():
			sp.Applied = ownedAfterWrite(s, p.claims, p.global, p.legacy)
			for _, k := range p.stillOwned[s.ID] {
				if a := k.applied(); !slices.Contains(sp.Applied, a) {
					sp.Applied = append(sp.Applied, a)
				}
			}
		default: // suspended and frozen keep their record; deleting gives it up
			if s.Suspended || s.Frozen {
				sp.Applied = slices.Clone(s.Applied)
			}
		}
	}
}

// claimWebhooks gives each (type, url) to the oldest writing set declaring
// it; a younger set declaring it differently gets a conflict.
func claimWebhooks(sets []SetInput, plans map[string]*SetPlan) (map[entryKey]claim, []entryKey) {
	claims := map[entryKey]claim{}
	var order []entryKey
	for _, s := range sets {
		if !s.writes() {
			continue
		}
		for _, w := range s.Webhooks {
			k := w.key()
			c, taken := claims[k]
			switch {
			case !taken:
				claims[k] = claim{owner: s.ID, hook: w, declarers: []string{s.ID}}
				order = append(order, k)
			case sameDeclaration(c.hook, w):
				if c.declarers[len(c.declarers)-1] != s.ID {
					c.declarers = append(c.declarers, s.ID)
					claims[k] = c
				}
			default:
				plans[s.ID].Conflicts = append(plans[s.ID].Conflicts,
					fmt.Sprintf("%s webhook %s is declared with a different secret or sendblueNumbers by %s, which is older and wins", k.Type, k.URL, nameFor(s.ID, c.owner)))
			}
		}
	}
	return claims, order
}

func sameDeclaration(a, b DesiredWebhook) bool {
	return a.Secret == b.Secret && sameSet(a.Numbers, b.Numbers)
}

type secretClaim struct {
	owner string
	value *string
}

func claimSecret(sets []SetInput, plans map[string]*SetPlan, name string) secretClaim {
	var c secretClaim
	for _, s := range sets {
		v := secretOf(s, name)
		if !s.writes() || v == nil {
			continue
		}
		switch {
		case c.value == nil:
			c = secretClaim{owner: s.ID, value: v}
		case *c.value != *v:
			plans[s.ID].Conflicts = append(plans[s.ID].Conflicts,
				fmt.Sprintf("%s is declared with a different value by %s, which is older and wins", name, nameFor(s.ID, c.owner)))
		}
	}
	return c
}

func secretOf(s SetInput, name string) *string {
	if name == globalSecretType {
		return s.GlobalSecret
	}
	return s.LegacySecret
}

// ownedAfterWrite is what a writing set owns after the write: every declaration
// that is the winning one.
func ownedAfterWrite(s SetInput, claims map[entryKey]claim, global, legacy secretClaim) []sendbluev1alpha1.AppliedWebhook {
	var out []sendbluev1alpha1.AppliedWebhook
	for _, w := range s.Webhooks {
		if c, ok := claims[w.key()]; ok && sameDeclaration(c.hook, w) {
			out = append(out, w.key().applied())
		}
	}
	if s.GlobalSecret != nil && global.value != nil && *global.value == *s.GlobalSecret {
		out = append(out, sendbluev1alpha1.AppliedWebhook{Type: globalSecretType})
	}
	if s.LegacySecret != nil && legacy.value != nil && *legacy.value == *s.LegacySecret {
		out = append(out, sendbluev1alpha1.AppliedWebhook{Type: legacySecretType})
	}
	return out
}

// observe is what Merge would change for s alone: adds and updates only (an
// Observe set has applied nothing, so Merge would remove nothing). hooks is
// actual's webhooks by entry.
func observe(actual *sendblue.Config, hooks map[entryKey]sendblue.Webhook, s SetInput) []sendbluev1alpha1.PlannedChange {
	var out []sendbluev1alpha1.PlannedChange
	for _, w := range s.Webhooks {
		h, found := hooks[w.key()]
		switch {
		case !found:
			out = append(out, sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionAdd, Type: string(w.Type), URL: w.URL})
		case !w.matches(h):
			out = append(out, sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionUpdate, Type: string(w.Type), URL: w.URL})
		}
	}
	for _, sec := range []struct {
		name string
		want *string
		get  func() (string, bool)
	}{{globalSecretType, s.GlobalSecret, actual.GlobalSecret}, {legacySecretType, s.LegacySecret, actual.LegacySecret}} {
		if sec.want == nil {
			continue
		}
		if cur, ok := sec.get(); !ok {
			out = append(out, sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionAdd, Type: sec.name})
		} else if cur != *sec.want {
			out = append(out, sendbluev1alpha1.PlannedChange{Action: sendbluev1alpha1.ActionUpdate, Type: sec.name})
		}
	}
	return out
}
