package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func cfg(t testing.TB, doc string) *sendblue.Config {
	t.Helper()
	c, err := sendblue.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func marshal(t testing.TB, c *sendblue.Config) string {
	t.Helper()
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hook(typ sendblue.EventType, url, secret string) DesiredWebhook {
	return DesiredWebhook{Type: typ, URL: url, Secret: secret}
}

func applied(pairs ...string) []v1.AppliedWebhook {
	var out []v1.AppliedWebhook
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, v1.AppliedWebhook{Type: pairs[i], URL: pairs[i+1]})
	}
	return out
}

func change(a v1.Action, typ, url string) v1.PlannedChange {
	return v1.PlannedChange{Action: a, Type: typ, URL: url}
}

func strp(s string) *string { return &s }

func TestPlanAccount(t *testing.T) {
	tests := []struct {
		name        string
		actual      string
		sets        []SetInput
		want        string
		wantChanges []v1.PlannedChange
		wantSets    map[string]SetPlan // only the sets listed are checked
		guard       Guard
	}{
		{
			name:   "merge adds a missing webhook and leaves foreign ones alone",
			actual: `{"receive":["https://foreign.example.com"],"future":[1]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
				Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://mine.example.com", "s")}}},
			want:        `{"receive":["https://foreign.example.com",{"url":"https://mine.example.com","secret":"s"}],"future":[1]}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionAdd, "receive", "https://mine.example.com")},
			wantSets: map[string]SetPlan{"a/one": {
				Changes: []v1.PlannedChange{change(v1.ActionAdd, "receive", "https://mine.example.com")},
				Applied: applied("receive", "https://mine.example.com")}},
		},
		{
			name:   "merge adopts an identical webhook without a write",
			actual: `{"outbound":["https://mine.example.com"]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
				Webhooks: []DesiredWebhook{hook(sendblue.Outbound, "https://mine.example.com", "")}}},
			want:     `{"outbound":["https://mine.example.com"]}`,
			wantSets: map[string]SetPlan{"a/one": {Applied: applied("outbound", "https://mine.example.com")}},
		},
		{
			name:   "sendblueNumbers are a set: the account storing them in another order is not drift",
			actual: `{"receive":[{"url":"https://mine.example.com","sendblue_numbers":["+15550000002","+15550000001"]}]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
				Webhooks: []DesiredWebhook{{Type: sendblue.Receive, URL: "https://mine.example.com", Numbers: []string{"+15550000001", "+15550000002"}}}}},
			want:     `{"receive":[{"url":"https://mine.example.com","sendblue_numbers":["+15550000002","+15550000001"]}]}`,
			wantSets: map[string]SetPlan{"a/one": {Applied: applied("receive", "https://mine.example.com")}},
		},
		{
			name:   "two sets declaring the same sendblueNumbers in another order do not conflict",
			actual: `{}`,
			sets: []SetInput{
				{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
					Webhooks: []DesiredWebhook{{Type: sendblue.Receive, URL: "https://shared.example.com", Numbers: []string{"+15550000001", "+15550000002"}}}},
				{ID: "b/two", Created: t0.Add(time.Hour), Policy: v1.PolicyMerge,
					Webhooks: []DesiredWebhook{{Type: sendblue.Receive, URL: "https://shared.example.com", Numbers: []string{"+15550000002", "+15550000001"}}}},
			},
			want:        `{"receive":[{"url":"https://shared.example.com","sendblue_numbers":["+15550000001","+15550000002"]}]}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionAdd, "receive", "https://shared.example.com")},
			wantSets: map[string]SetPlan{"b/two": {Changes: []v1.PlannedChange{change(v1.ActionAdd, "receive", "https://shared.example.com")},
				Applied: applied("receive", "https://shared.example.com")}},
		},
		{
			name:   "merge updates a changed secret in place, keeping the entry's other members",
			actual: `{"receive":[{"url":"https://mine.example.com","secret":"old","x":1}]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
				Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://mine.example.com", "new")}}},
			want:        `{"receive":[{"url":"https://mine.example.com","secret":"new","x":1}]}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionUpdate, "receive", "https://mine.example.com")},
		},
		{
			name:   "merge removes what it applied and no longer declares, and nothing else",
			actual: `{"receive":["https://old.example.com","https://foreign.example.com","https://old.example.com"]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
				Applied: applied("receive", "https://old.example.com")}},
			want:        `{"receive":["https://foreign.example.com"]}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://old.example.com")},
			wantSets:    map[string]SetPlan{"a/one": {Changes: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://old.example.com")}}},
		},
		{
			name:   "merge keeps a webhook another set still declares",
			actual: `{"receive":["https://shared.example.com"]}`,
			sets: []SetInput{
				{ID: "a/one", Created: t0, Policy: v1.PolicyMerge, Applied: applied("receive", "https://shared.example.com")},
				{ID: "b/two", Created: t0.Add(time.Hour), Policy: v1.PolicyMerge,
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://shared.example.com", "")}},
			},
			want: `{"receive":["https://shared.example.com"]}`,
		},
		{
			name:   "exclusive removes every undeclared webhook of known types, but not unknown members",
			actual: `{"receive":["https://foreign.example.com","https://mine.example.com"],"outbound":["https://f2.example.com"],"globalSecret":"g","future":["x"]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyExclusive,
				Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://mine.example.com", "")}}},
			want: `{"receive":["https://mine.example.com"],"outbound":[],"future":["x"]}`,
			wantChanges: []v1.PlannedChange{
				change(v1.ActionRemove, "receive", "https://foreign.example.com"),
				change(v1.ActionRemove, "outbound", "https://f2.example.com"),
				change(v1.ActionRemove, "globalSecret", ""),
			},
		},
		{
			name:   "exclusive keeps what a suspended set declares",
			actual: `{"receive":["https://paused.example.com"]}`,
			sets: []SetInput{
				{ID: "a/one", Created: t0, Policy: v1.PolicyExclusive},
				{ID: "b/two", Created: t0, Policy: v1.PolicyMerge, Suspended: true,
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://paused.example.com", "")}},
			},
			want: `{"receive":["https://paused.example.com"]}`,
		},
		{
			name:   "observe never changes the account and reports what merge would do",
			actual: `{"receive":[{"url":"https://a.example.com","secret":"x"}]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyObserve,
				Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://a.example.com", "y"), hook(sendblue.CallLog, "https://c.example.com", "")},
				Applied:  applied("receive", "https://gone.example.com")}},
			want: `{"receive":[{"url":"https://a.example.com","secret":"x"}]}`,
			wantSets: map[string]SetPlan{"a/one": {Changes: []v1.PlannedChange{
				change(v1.ActionUpdate, "receive", "https://a.example.com"), change(v1.ActionAdd, "call_log", "https://c.example.com")}}},
		},
		{
			name:   "the older set wins a conflict and the younger one's entry is not written",
			actual: `{}`,
			sets: []SetInput{
				{ID: "b/young", Created: t0.Add(time.Minute), Policy: v1.PolicyMerge,
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "young"), hook(sendblue.Outbound, "https://y.example.com", "")}},
				{ID: "a/old", Created: t0, Policy: v1.PolicyMerge,
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "old")}},
			},
			want: `{"receive":[{"url":"https://x.example.com","secret":"old"}],"outbound":["https://y.example.com"]}`,
			wantChanges: []v1.PlannedChange{
				change(v1.ActionAdd, "receive", "https://x.example.com"), change(v1.ActionAdd, "outbound", "https://y.example.com")},
			wantSets: map[string]SetPlan{
				"b/young": {
					Changes:   []v1.PlannedChange{change(v1.ActionAdd, "outbound", "https://y.example.com")},
					Conflicts: []string{"receive webhook https://x.example.com is declared with a different secret or sendblueNumbers by a set in another namespace, which is older and wins"},
					Applied:   applied("outbound", "https://y.example.com")},
				"a/old": {
					Changes: []v1.PlannedChange{change(v1.ActionAdd, "receive", "https://x.example.com")},
					Applied: applied("receive", "https://x.example.com")},
			},
		},
		{
			name:   "a conflict does not remove what the loser applied before",
			actual: `{"receive":[{"url":"https://x.example.com","secret":"young"}]}`,
			sets: []SetInput{
				{ID: "a/old", Created: t0, Policy: v1.PolicyObserve,
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "old")}},
				{ID: "b/young", Created: t0.Add(time.Minute), Policy: v1.PolicyMerge, Applied: applied("receive", "https://x.example.com"),
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "young")}},
			},
			want: `{"receive":[{"url":"https://x.example.com","secret":"young"}]}`,
		},
		{
			name:   "global secrets: the older set wins, and the loser gets a conflict",
			actual: `{"globalSecret":"g0"}`,
			sets: []SetInput{
				{ID: "a/old", Created: t0, Policy: v1.PolicyMerge, GlobalSecret: strp("g1")},
				{ID: "b/young", Created: t0.Add(time.Second), Policy: v1.PolicyMerge, GlobalSecret: strp("g2"), LegacySecret: strp("l")},
			},
			want:        `{"globalSecret":"g1","secret":"l"}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionUpdate, "globalSecret", ""), change(v1.ActionAdd, "secret", "")},
			wantSets: map[string]SetPlan{"b/young": {
				Changes:   []v1.PlannedChange{change(v1.ActionAdd, "secret", "")},
				Conflicts: []string{"globalSecret is declared with a different value by a set in another namespace, which is older and wins"},
				Applied:   []v1.AppliedWebhook{{Type: "secret"}}}},
		},
		{
			name:   "a deleting set gives up its webhooks except those still declared elsewhere",
			actual: `{"receive":["https://mine.example.com","https://shared.example.com"],"globalSecret":"g"}`,
			sets: []SetInput{
				{ID: "a/gone", Created: t0, Policy: v1.PolicyMerge, Deleting: true,
					Applied:  []v1.AppliedWebhook{{Type: "receive", URL: "https://mine.example.com"}, {Type: "receive", URL: "https://shared.example.com"}, {Type: "globalSecret"}},
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://mine.example.com", "")}},
				{ID: "b/stays", Created: t0, Policy: v1.PolicyMerge,
					Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://shared.example.com", "")}},
			},
			want:        `{"receive":["https://shared.example.com"]}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://mine.example.com"), change(v1.ActionRemove, "globalSecret", "")},
			wantSets:    map[string]SetPlan{"a/gone": {Changes: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://mine.example.com"), change(v1.ActionRemove, "globalSecret", "")}}},
		},
		{
			name:        "exclusive removes an undeclared globalSecret but leaves the legacy root secret",
			actual:      `{"receive":["https://f.example.com"],"globalSecret":"g","secret":"legacy"}`,
			sets:        []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyExclusive}},
			want:        `{"receive":[],"secret":"legacy"}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://f.example.com"), change(v1.ActionRemove, "globalSecret", "")},
		},
		{
			name:   "a merge set still removes the legacy secret it applied",
			actual: `{"secret":"legacy"}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge, Applied: []v1.AppliedWebhook{{Type: "secret"}}},
				{ID: "b/all", Created: t0, Policy: v1.PolicyExclusive}},
			want:        `{}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "secret", "")},
		},
		{
			name:   "exclusive keeps what a set on other credentials declares, and says so",
			actual: `{"receive":["https://other-key.example.com","https://f.example.com"],"globalSecret":"g"}`,
			sets:   []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyExclusive}},
			guard: Guard{entryKey{"receive", "https://other-key.example.com"}: {Holder: "a/two", Why: "which uses other credentials"},
				entryKey{Type: "globalSecret"}: {Holder: "a/two", Why: "which uses other credentials"}},
			want:        `{"receive":["https://other-key.example.com"],"globalSecret":"g"}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://f.example.com")},
			wantSets: map[string]SetPlan{"a/one": {
				Changes: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://f.example.com")},
				Kept:    []string{"receive https://other-key.example.com (held by a/two, which uses other credentials)", "globalSecret (held by a/two, which uses other credentials)"}}},
		},
		{
			name:   "a merge set removes what it applied although a set on other credentials declares it",
			actual: `{"receive":["https://mine.example.com"]}`,
			sets:   []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge, Applied: applied("receive", "https://mine.example.com")}},
			guard:  Guard{entryKey{"receive", "https://mine.example.com"}: {Holder: "b/two", Why: "which uses other credentials"}},
			want:   `{"receive":[]}`, wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://mine.example.com")},
		},
		{
			name:   "no removal touches what a set whose account is unknown applied, and the remover keeps owning it",
			actual: `{"receive":["https://mine.example.com","https://theirs.example.com"]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge, Applied: applied("receive", "https://mine.example.com")},
				{ID: "a/all", Created: t0, Policy: v1.PolicyExclusive}},
			guard: Guard{entryKey{"receive", "https://mine.example.com"}: {Holder: "c/x", Why: "whose credentials cannot be read", All: true},
				entryKey{"receive", "https://theirs.example.com"}: {Holder: "c/x", Why: "whose credentials cannot be read", All: true}},
			want: `{"receive":["https://mine.example.com","https://theirs.example.com"]}`,
			wantSets: map[string]SetPlan{"a/one": {Applied: applied("receive", "https://mine.example.com"),
				Kept: []string{"receive https://mine.example.com (held by a set in another namespace, whose credentials cannot be read)"}},
				"a/all": {Kept: []string{"receive https://theirs.example.com (held by a set in another namespace, whose credentials cannot be read)"}}},
		},
		{
			name:   "a frozen set writes nothing, and what it declares or applied stays",
			actual: `{"receive":["https://declared.example.com","https://applied.example.com","https://f.example.com"],"globalSecret":"g"}`,
			sets: []SetInput{{ID: "a/frozen", Created: t0, Policy: v1.PolicyMerge, Frozen: true, DeclaresGlobalSecret: true,
				Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://declared.example.com", ""), hook(sendblue.Outbound, "https://new.example.com", "")},
				Applied:  applied("receive", "https://applied.example.com")},
				{ID: "b/all", Created: t0, Policy: v1.PolicyExclusive}},
			want:        `{"receive":["https://declared.example.com","https://applied.example.com"],"globalSecret":"g"}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionRemove, "receive", "https://f.example.com")},
			wantSets:    map[string]SetPlan{"a/frozen": {Applied: applied("receive", "https://applied.example.com")}},
		},
		{
			name:   "receive numbers are part of the declaration",
			actual: `{"receive":[{"url":"https://a.example.com","sendblue_numbers":["+15122164639"]}]}`,
			sets: []SetInput{{ID: "a/one", Created: t0, Policy: v1.PolicyMerge,
				Webhooks: []DesiredWebhook{{Type: sendblue.Receive, URL: "https://a.example.com", Numbers: []string{"+15122164639", "+14155550100"}}}}},
			want:        `{"receive":[{"url":"https://a.example.com","sendblue_numbers":["+15122164639","+14155550100"]}]}`,
			wantChanges: []v1.PlannedChange{change(v1.ActionUpdate, "receive", "https://a.example.com")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			actual := cfg(t, tc.actual)
			before := marshal(t, actual)
			got, err := PlanAccount(actual, tc.sets, tc.guard)
			if err != nil {
				t.Fatal(err)
			}
			if g := marshal(t, got.Desired); g != tc.want {
				t.Errorf("desired:\n got %s\nwant %s", g, tc.want)
			}
			if diff := cmp.Diff(tc.wantChanges, got.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if got.HasChanges() != (len(tc.wantChanges) > 0) {
				t.Errorf("HasChanges() = %v", got.HasChanges())
			}
			for id, want := range tc.wantSets {
				if diff := cmp.Diff(&want, got.Sets[id]); diff != "" {
					t.Errorf("set %s (-want +got):\n%s", id, diff)
				}
			}
			if after := marshal(t, actual); after != before {
				t.Errorf("PlanAccount modified its input: %s -> %s", before, after)
			}
		})
	}
}

// FuzzPlanAccount checks the plan's invariants on generated accounts and sets:
//   - Merge never removes an entry that no set applied;
//   - the desired configuration holds every winning declaration;
//   - planning the desired configuration again, with the new ownership
//     records, changes nothing;
//   - members the plan does not model are untouched.
func FuzzPlanAccount(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, false)
	f.Add([]byte{9, 0, 200, 17, 33, 4, 250, 1, 2, 3, 77, 12}, true)
	f.Add([]byte("receive outbound secret"), false)
	f.Fuzz(func(t *testing.T, data []byte, exclusive bool) {
		actual, sets, guard := genInputs(data, exclusive)
		plan, err := PlanAccount(actual, sets, guard)
		if err != nil {
			t.Fatal(err)
		}
		appliedBy := map[entryKey]bool{} // by a set that may remove what it applied
		held := map[entryKey]bool{}      // declared or applied by a frozen set
		for _, s := range sets {
			for _, a := range s.Applied {
				if s.writes() || s.Deleting {
					appliedBy[entryKey{a.Type, a.URL}] = true
				}
				if s.Frozen {
					held[entryKey{a.Type, a.URL}] = true
				}
			}
			for _, w := range s.Webhooks {
				if s.Frozen {
					held[w.key()] = true
				}
			}
		}
		for _, c := range plan.Changes {
			k := entryKey{c.Type, c.URL}
			if c.Action != v1.ActionRemove {
				continue
			}
			switch g, guarded := guard[k]; {
			case !exclusive && !appliedBy[k]:
				t.Fatalf("merge removed %s %s, which no set applied", c.Type, c.URL)
			case held[k]:
				t.Fatalf("removed %s %s, which a frozen set holds", c.Type, c.URL)
			case guarded && (g.All || !appliedBy[k]):
				t.Fatalf("removed %s %s, which the guard holds (%+v)", c.Type, c.URL, g)
			case c.Type == legacySecretType && !appliedBy[k]:
				t.Fatalf("removed the legacy secret, which no set applied")
			}
		}
		for _, s := range sets {
			if !s.writes() {
				continue
			}
			for _, a := range plan.Sets[s.ID].Applied {
				if a.Type == globalSecretType || a.Type == legacySecretType {
					continue
				}
				at := slices.IndexFunc(s.Webhooks, func(w DesiredWebhook) bool { return w.key() == entryKey{a.Type, a.URL} })
				if at < 0 {
					// Not declared: owned only while a guard keeps it.
					if g, ok := guard[entryKey{a.Type, a.URL}]; !ok || !g.All {
						t.Fatalf("%s owns %s %s, which it does not declare and no guard keeps", s.ID, a.Type, a.URL)
					}
					continue
				}
				w := s.Webhooks[at]
				hooks := plan.Desired.Webhooks(sendblue.EventType(a.Type))
				i := slices.IndexFunc(hooks, func(h sendblue.Webhook) bool { return h.URL == a.URL })
				if i < 0 || !w.matches(hooks[i]) {
					t.Fatalf("desired lacks %s's %s %s as declared", s.ID, a.Type, a.URL)
				}
			}
		}
		var unknownBefore, unknownAfter []string
		for _, k := range actual.UnknownKeys() {
			unknownBefore = append(unknownBefore, k)
		}
		unknownAfter = plan.Desired.UnknownKeys()
		if !slices.Equal(unknownBefore, unknownAfter) {
			t.Fatalf("unknown members changed: %v -> %v", unknownBefore, unknownAfter)
		}
		next := slices.Clone(sets)
		for i := range next {
			next[i].Applied = plan.Sets[next[i].ID].Applied
		}
		again, err := PlanAccount(plan.Desired, next, guard)
		if err != nil {
			t.Fatal(err)
		}
		if again.HasChanges() {
			t.Fatalf("planning twice is not a no-op: %v\nactual %s\ndesired %s", again.Changes, marshal(t, actual), marshal(t, plan.Desired))
		}
	})
}

// genInputs turns fuzz bytes into an account, up to three sets and a guard
// drawing from a small pool of types, URLs and secrets, so that overlaps,
// conflicts and duplicates are common.
func genInputs(data []byte, exclusive bool) (*sendblue.Config, []SetInput, Guard) {
	types := []sendblue.EventType{sendblue.Receive, sendblue.Outbound, sendblue.CallLog}
	urls := []string{"https://a.example.com", "https://b.example.com", "https://c.example.com", "https://d.example.com"}
	secrets := []string{"", "s1", "s2"}
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	doc := map[string]any{"unknown_type": []string{"kept"}}
	if next()%2 == 0 {
		doc["globalSecret"] = secrets[1+next()%2]
	}
	if next()%3 == 0 {
		doc["secret"] = "legacy"
	}
	for _, t := range types {
		var entries []any
		for n := next() % 4; n > 0; n-- {
			u, s := urls[next()%len(urls)], secrets[next()%len(secrets)]
			if s == "" {
				entries = append(entries, u)
			} else {
				entries = append(entries, map[string]string{"url": u, "secret": s})
			}
		}
		if entries != nil {
			doc[string(t)] = entries
		}
	}
	raw, _ := json.Marshal(doc)
	actual, err := sendblue.ParseConfig(raw)
	if err != nil {
		panic(err)
	}
	var sets []SetInput
	for i := 0; i < 1+next()%3; i++ {
		s := SetInput{ID: fmt.Sprintf("ns/set%d", i), Created: t0.Add(time.Duration(next()%3) * time.Minute), Policy: v1.PolicyMerge}
		switch p := next() % 6; {
		case exclusive && p == 0:
			s.Policy = v1.PolicyExclusive
		case p == 1:
			s.Policy = v1.PolicyObserve
		case p == 2:
			s.Suspended = true
		case p == 3:
			s.Deleting = true
		case p == 4 && next()%2 == 0:
			s.Frozen = true
		}
		seen := map[entryKey]bool{}
		for n := next() % 4; n > 0; n-- {
			w := hook(types[next()%len(types)], urls[next()%len(urls)], secrets[next()%len(secrets)])
			if !seen[w.key()] { // the CRD makes URLs unique within a type
				seen[w.key()] = true
				s.Webhooks = append(s.Webhooks, w)
			}
		}
		for n := next() % 3; n > 0; n-- {
			s.Applied = append(s.Applied, v1.AppliedWebhook{Type: string(types[next()%len(types)]), URL: urls[next()%len(urls)]})
		}
		if next()%3 == 0 {
			s.GlobalSecret = strp(secrets[1+next()%2])
		}
		if next()%4 == 0 {
			s.Applied = append(s.Applied, v1.AppliedWebhook{Type: legacySecretType})
		}
		sets = append(sets, s)
	}
	if exclusive && !slices.ContainsFunc(sets, func(s SetInput) bool { return s.Policy == v1.PolicyExclusive }) {
		sets[0].Policy, sets[0].Suspended, sets[0].Deleting, sets[0].Frozen = v1.PolicyExclusive, false, false, false
	}
	guard := Guard{}
	for n := next() % 3; n > 0; n-- {
		guard.Add(entryKey{string(types[next()%len(types)]), urls[next()%len(urls)]}, "x/outside", "", next()%2 == 0)
	}
	return actual, sets, guard
}

func TestPlanMessagesNameNoSecrets(t *testing.T) {
	plan, err := PlanAccount(cfg(t, `{}`), []SetInput{
		{ID: "a/old", Created: t0, Policy: v1.PolicyMerge, GlobalSecret: strp("top-secret-1"),
			Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "hook-secret-1")}},
		{ID: "b/young", Created: t0.Add(time.Second), Policy: v1.PolicyMerge, GlobalSecret: strp("top-secret-2"),
			Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "hook-secret-2")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("%v %v", plan.Changes, plan.Sets["b/young"].Conflicts)
	for _, s := range []string{"top-secret-1", "top-secret-2", "hook-secret-1", "hook-secret-2"} {
		if strings.Contains(text, s) {
			t.Errorf("plan text %q contains secret %q", text, s)
		}
	}
	// Issue 15, item 12: nor does a set's status name another tenant's set.
	if strings.Contains(text, "a/old") {
		t.Errorf("b/young's conflicts name a set of namespace a: %q", text)
	}
	if len(plan.Sets["b/young"].Conflicts) != 2 {
		t.Errorf("conflicts = %q, want 2", plan.Sets["b/young"].Conflicts)
	}
}

func TestObserveSeesTheAccountAsThePlanLeavesIt(t *testing.T) {
	plan, err := PlanAccount(cfg(t, `{}`), []SetInput{
		{ID: "a/writer", Created: t0, Policy: v1.PolicyMerge, Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "s")}},
		{ID: "a/audit", Created: t0, Policy: v1.PolicyObserve, Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://x.example.com", "s")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.HasChanges() || len(plan.Sets["a/audit"].Changes) != 0 {
		t.Errorf("writer changes %v, audit changes %v: want the audit to see the written account", plan.Changes, plan.Sets["a/audit"].Changes)
	}
}
