package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

// The index is primed once every set listed at start is indexed or gone,
// counting those indexed before the list was taken, and not before.
func TestIndexPrimesOnceEverySetPresentAtStartIsIndexed(t *testing.T) {
	ix := newAccountIndex()
	primed := make(chan struct{})
	ix.onPrimed = func() { close(primed) }
	ix.put(&indexEntry{key: nn("a", "early"), account: "acct", member: &member{resolved: &resolved{}}, sig: "1"})
	if ok, _ := ix.isPrimed(); ok {
		t.Fatal("primed before the list of sets present at start was taken")
	}
	for _, k := range []types.NamespacedName{nn("a", "early"), nn("b", "late"), nn("c", "gone")} {
		ix.initial(k)
	}
	ix.prime()
	if ok, n := ix.isPrimed(); ok || n != 2 {
		t.Fatalf("primed=%v pending=%d with two sets not indexed, want false, 2", ok, n)
	}
	ix.put(&indexEntry{key: nn("b", "late"), sig: "1"}) // account unknown still counts: it is guarded
	if ok, _ := ix.isPrimed(); ok {
		t.Fatal("primed with a set neither indexed nor removed")
	}
	ix.remove(nn("c", "gone"))
	if ok, n := ix.isPrimed(); !ok || n != 0 {
		t.Fatalf("primed=%v pending=%d once every set is indexed or removed", ok, n)
	}
	<-primed
}

// What a set holds guards only the entries an account has, and only against
// other accounts (or every account when its own is unknown); removing it
// frees what it held, its account and its Secrets.
func TestIndexGuardsAndForgets(t *testing.T) {
	ix := newAccountIndex()
	var dropped []client.ObjectKey
	ix.onUnreferenced = func(k client.ObjectKey) { dropped = append(dropped, k) }
	creds := client.ObjectKey{Namespace: "a", Name: "creds"}
	ix.put(&indexEntry{key: nn("a", "one"), account: "A", member: &member{resolved: &resolved{}}, holds: []entryKey{{"receive", "https://one.example.com"}},
		secrets: []client.ObjectKey{creds}, sig: "1"})
	ix.put(&indexEntry{key: nn("a", "two"), account: "A", member: &member{resolved: &resolved{}}, holds: []entryKey{{"outbound", "https://two.example.com"}},
		secrets: []client.ObjectKey{creds}, sig: "1"})
	// An unknown-account set applied lost and merely declares declared.
	ix.put(&indexEntry{key: nn("b", "lost"), holds: []entryKey{{"call_log", "https://lost.example.com"}, {"call_log", "https://declared.example.com"}},
		blocks: map[entryKey]bool{{"call_log", "https://lost.example.com"}: true}, sig: "1"})

	actual := sendblue.NewConfig()
	for typ, urls := range map[sendblue.EventType][]string{sendblue.Receive: {"https://one.example.com"}, sendblue.Outbound: {"https://two.example.com"},
		sendblue.CallLog: {"https://lost.example.com", "https://declared.example.com"}} {
		var hooks []sendblue.Webhook
		for _, u := range urls {
			hooks = append(hooks, sendblue.Webhook{URL: u})
		}
		if err := actual.SetWebhooks(typ, hooks); err != nil {
			t.Fatal(err)
		}
	}
	if g := ix.guard("A", actual); len(g) != 2 || !g[entryKey{"call_log", "https://lost.example.com"}].All || g[entryKey{"call_log", "https://declared.example.com"}].All {
		t.Errorf("guard of account A = %v, want the unknown set's entries: what it applied blocking every removal, what it declares Exclusive removals only", g)
	}
	if g := ix.guard("B", actual); len(g) != 4 || g[entryKey{"receive", "https://one.example.com"}].All {
		t.Errorf("guard of account B = %v, want A's entries (Exclusive removals only) and the unknown set's", g)
	}
	if g := ix.guard("B", sendblue.NewConfig()); len(g) != 0 {
		t.Errorf("guard of an empty account = %v, want nothing: its cost follows the account", g)
	}
	if got := len(ix.members("A")); got != 2 {
		t.Errorf("account A has %d members, want 2", got)
	}
	// Moving one set to account B: it leaves A, and both are to be synced.
	accounts, changed := ix.put(&indexEntry{key: nn("a", "one"), account: "B", member: &member{resolved: &resolved{}}, secrets: []client.ObjectKey{creds}, sig: "2"})
	if !changed || len(accounts) != 2 || accounts[0] != "A" || accounts[1] != "B" {
		t.Errorf("a move reported accounts %v changed=%v, want [A B] true", accounts, changed)
	}
	if _, changed := ix.put(&indexEntry{key: nn("a", "one"), account: "B", member: &member{resolved: &resolved{}}, secrets: []client.ObjectKey{creds}, sig: "2"}); changed {
		t.Error("the same entry again reported a change")
	}
	for _, k := range []types.NamespacedName{nn("a", "one"), nn("a", "two")} {
		ix.remove(k)
	}
	if len(dropped) != 1 || dropped[0] != creds {
		t.Errorf("Secrets dropped %v, want the credentials once their last set is gone", dropped)
	}
	if sets, accounts := ix.counts(); sets != 1 || accounts != 0 {
		t.Errorf("%d sets and %d accounts left, want 1 (the unknown one) and 0", sets, accounts)
	}
	if g := ix.guard("B", actual); len(g) != 2 {
		t.Errorf("guard after removal = %v, want only the unknown set's two entries", g)
	}
}

// A Secret maps to the sets reading it to be indexed as well as to those
// whose entries reference it, and stops mapping to a reader once it is done
// (and indexed with other Secrets).
func TestSecretsMapToSetsBeingRead(t *testing.T) {
	ix := newAccountIndex()
	old, fresh := client.ObjectKey{Namespace: "a", Name: "old"}, client.ObjectKey{Namespace: "a", Name: "new"}
	ix.put(&indexEntry{key: nn("a", "s"), secrets: []client.ObjectKey{old}, sig: "1"})
	done := ix.reading(nn("a", "s"), []client.ObjectKey{fresh})
	again := ix.reading(nn("a", "s"), []client.ObjectKey{fresh}) // a second read in flight
	if got := ix.referencing(fresh); len(got) != 1 || got[0] != nn("a", "s") {
		t.Fatalf("a Secret being read maps to %v, want the set reading it", got)
	}
	if got := ix.referencing(old); len(got) != 1 {
		t.Fatalf("the Secret of the index entry maps to %v, want the set", got)
	}
	ix.put(&indexEntry{key: nn("a", "s"), secrets: []client.ObjectKey{fresh}, sig: "2"})
	done()
	if got := ix.referencing(fresh); len(got) != 1 {
		t.Fatalf("after one of two reads: %v, want the set once", got)
	}
	again()
	if got := ix.referencing(old); len(got) != 0 {
		t.Fatalf("a Secret the set no longer references or reads maps to %v", got)
	}
	ix.remove(nn("a", "s"))
	if got, n := ix.referencing(fresh), len(ix.readers); len(got) != 0 || n != 0 {
		t.Fatalf("after the set is gone: %v, %d Secrets being read", got, n)
	}
}
