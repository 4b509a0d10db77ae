package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// oversize is a set left out of a write because the account would be larger
// than may be written with it.
type oversize struct {
	ID    string
	Size  int // the body size with the set in
	Limit int
}

// fitPlan plans the account as PlanAccount does and, if the configuration to
// write would be larger than limit bytes, lets the writing sets in oldest
// first, each only if the account stays within the limit (or shrinks) with
// it. The sets left out are frozen (they write nothing and lose nothing) and
// returned, so that one set that grows the account too much names itself
// and stops no other set.
func fitPlan(actual *sendblue.Config, inputs []SetInput, guard Guard, limit int) (AccountPlan, []oversize, error) {
	plan, size, err := planSize(actual, inputs, guard)
	if err != nil || !plan.HasChanges() || size <= limit {
		return plan, nil, err
	}
	order := make([]int, 0, len(inputs))
	current := slices.Clone(inputs)
	for i, in := range inputs {
		if in.writes() {
			order = append(order, i)
			current[i].Frozen = true
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := inputs[order[a]], inputs[order[b]]
		if !x.Created.Equal(y.Created) {
			return x.Created.Before(y.Created)
		}
		return x.ID < y.ID
	})
	base, curSize, err := planSize(actual, current, guard)
	if err != nil {
		return base, nil, err
	}
	var over []oversize
	for _, i := range order {
		trial := slices.Clone(current)
		trial[i] = inputs[i]
		p, n, err := planSize(actual, trial, guard)
		if err != nil {
			return p, nil, err
		}
		if n <= limit || n <= curSize {
			current, curSize = trial, n
			continue
		}
		over = append(over, oversize{ID: inputs[i].ID, Size: n, Limit: limit})
	}
	plan, err = PlanAccount(actual, current, guard)
	return plan, over, err
}

// planSize plans and measures the body that would write the plan.
func planSize(actual *sendblue.Config, inputs []SetInput, guard Guard) (AccountPlan, int, error) {
	plan, err := PlanAccount(actual, inputs, guard)
	if err != nil {
		return plan, 0, err
	}
	n, err := plan.Desired.Size()
	return plan, n, err
}

// memberType marks, in an entryKey, a top-level member of the account's
// configuration this operator does not know (a type Sendblue added since):
// its URL field holds the member's name.
const memberType = "member"

// itemsOf is everything an account holds, by entry: webhooks by type and
// URL, members this operator does not know, the secrets.
func itemsOf(actual *sendblue.Config) map[entryKey]bool {
	items := map[entryKey]bool{}
	for _, k := range actual.UnknownKeys() {
		items[entryKey{memberType, k}] = true
	}
	for _, t := range sendblue.EventTypes() {
		for _, h := range actual.Webhooks(t) {
			items[entryKey{string(t), h.URL}] = true
		}
	}
	if _, ok := actual.GlobalSecret(); ok {
		items[entryKey{Type: globalSecretType}] = true
	}
	if _, ok := actual.LegacySecret(); ok {
		items[entryKey{Type: legacySecretType}] = true
	}
	return items
}

// outsideOf is what the account holds that none of the sets declares or
// applied: other people's webhooks, members this operator does not know,
// secrets no set manages. A write carries them over from the read it is
// built from, so a read that lost one would delete it.
func outsideOf(actual *sendblue.Config, inputs []SetInput) map[entryKey]bool {
	ours := map[entryKey]bool{}
	for _, s := range inputs {
		for _, w := range s.Webhooks {
			ours[w.key()] = true
		}
		for _, a := range s.Applied {
			ours[entryKey{a.Type, a.URL}] = true
		}
		for _, name := range []string{globalSecretType, legacySecretType} {
			if s.declaresSecret(name) {
				ours[entryKey{Type: name}] = true
			}
		}
	}
	out := itemsOf(actual)
	for k := range out {
		if ours[k] {
			delete(out, k)
		}
	}
	return out
}

// describeItems says how many items of each kind, naming no URL (the
// account's other webhooks may be other tenants').
func describeItems(items map[entryKey]bool) string {
	var hooks, members int
	var secrets []string
	for k := range items {
		switch k.Type {
		case memberType:
			members++
		case globalSecretType, legacySecretType:
			secrets = append(secrets, k.Type)
		default:
			hooks++
		}
	}
	var parts []string
	if hooks > 0 {
		parts = append(parts, fmt.Sprintf("%d webhook(s)", hooks))
	}
	if members > 0 {
		parts = append(parts, fmt.Sprintf("%d member(s) this operator does not know", members))
	}
	slices.Sort(secrets)
	for _, name := range secrets {
		parts = append(parts, "the "+name)
	}
	return strings.Join(parts, ", ")
}

// verifyStored compares what Sendblue says it stored with what the plan
// wrote and returns, by set, the planned changes it did not store as sent.
// Only the plan's changes are checked: anything else may have changed
// concurrently and is the next read's business.
func verifyStored(plan AccountPlan, stored *sendblue.Config) map[string][]string {
	problems := map[string][]string{}
	// Each configuration is decoded once, not once per change: a big
	// account's check stays linear.
	want, got := entriesOf(plan.Desired), entriesOf(stored)
	for _, c := range plan.Changes {
		problem := storedProblem(c, plan.Desired, stored, want, got)
		if problem == "" {
			continue
		}
		for id, sp := range plan.Sets {
			if slices.Contains(sp.Changes, c) {
				problems[id] = append(problems[id], problem)
			}
		}
	}
	return problems
}

// entriesOf lists a configuration's webhooks by (type, url), in order.
func entriesOf(c *sendblue.Config) map[entryKey][]sendblue.Webhook {
	out := map[entryKey][]sendblue.Webhook{}
	for _, t := range sendblue.EventTypes() {
		for _, h := range c.Webhooks(t) {
			k := entryKey{string(t), h.URL}
			out[k] = append(out[k], h)
		}
	}
	return out
}

func storedProblem(c sendbluev1alpha1.PlannedChange, desired, stored *sendblue.Config, desiredEntries, storedEntries map[entryKey][]sendblue.Webhook) string {
	what := c.Type + " " + c.URL
	switch c.Type {
	case globalSecretType, legacySecretType:
		want, wantOK := desired.GlobalSecret()
		got, gotOK := stored.GlobalSecret()
		if c.Type == legacySecretType {
			want, wantOK = desired.LegacySecret()
			got, gotOK = stored.LegacySecret()
		}
		switch {
		case wantOK && !gotOK:
			return c.Type + ": not stored"
		case !wantOK && gotOK:
			return c.Type + ": still there after its removal"
		case want != got:
			return c.Type + ": stored with another value than written"
		}
		return ""
	}
	found := storedEntries[entryKey{c.Type, c.URL}]
	if c.Action == sendbluev1alpha1.ActionRemove {
		if len(found) > 0 {
			return what + ": still there after its removal"
		}
		return ""
	}
	wanted := desiredEntries[entryKey{c.Type, c.URL}]
	if len(wanted) == 0 {
		return ""
	}
	want := wanted[0]
	switch {
	case len(found) == 0:
		return what + ": not stored"
	case len(found) > 1:
		return fmt.Sprintf("%s: stored %d times", what, len(found))
	case found[0].Secret != want.Secret:
		return what + ": stored with another secret than written"
	case !sameSet(found[0].SendblueNumbers, want.SendblueNumbers):
		return what + ": stored with other sendblueNumbers than written"
	}
	return ""
}

// sameSet compares sendblueNumbers as the set they are (listType=set): the
// planner, the write check and conflicts between sets all compare them this
// way, so that an account storing them in another order is not drift.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
