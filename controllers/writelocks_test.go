package controllers

import (
	"slices"
	"testing"
	"time"
)

// Accounts of one key id share a family; linked accounts join one; a first
// write excludes every other write; forget drops an account.
func TestWriteLocksFamilies(t *testing.T) {
	w := newWriteLocks()
	if w.shared("a", "p1") || w.shared("b", "p2") {
		t.Fatal("fresh accounts share a family")
	}
	if !w.shared("a2", "p1") {
		t.Error("two accounts of one key id (a rotated secret) are not one family")
	}
	w.link("a", "p1", "b")
	if !w.shared("b", "p2") || w.familyOf("a", "p1") != w.familyOf("b", "p2") {
		t.Error("linked accounts are not one family")
	}

	// A first write excludes every ordinary write.
	first := w.lock("a", "p1", writeFirst)
	done := make(chan struct{})
	go func() {
		w.lock("c", "p3", writeOrdinary).Unlock()
		close(done)
	}()
	select {
	case <-done:
		t.Error("a write of an unrelated account ran during a first write")
	case <-time.After(100 * time.Millisecond):
	}
	first.Wrote()
	first.Unlock()
	<-done
	if w.firsts.Load() != 1 {
		t.Errorf("first writes counted %d, want 1", w.firsts.Load())
	}
	// Two ordinary writes of unrelated accounts run together.
	u1 := w.lock("c", "p3", writeOrdinary)
	u2 := w.lock("d", "p4", writeOrdinary)
	u1.Unlock()
	u2.Unlock()
	// A write alone excludes the batches too.
	alone := w.lock("e", "p5", writeAlone)
	done = make(chan struct{})
	go func() {
		w.lock("f", "p6", writeFirst).Unlock()
		done <- struct{}{}
	}()
	select {
	case <-done:
		t.Error("a first write ran during a write alone")
	case <-time.After(100 * time.Millisecond):
	}
	alone.Unlock()
	<-done
	for _, a := range []string{"a", "a2", "b", "c", "d", "e", "f"} {
		w.forget(a)
	}
	if len(w.family) != 0 || len(w.members) != 0 || len(w.locks) != 0 {
		t.Errorf("after forget: %d families, %d member sets, %d locks", len(w.family), len(w.members), len(w.locks))
	}
}

// First writes of unrelated accounts overlap in a batch; each learns whose
// PUT answered within its window, once every PUT that may have followed its
// read has answered.
func TestWriteLocksFirstWritesOverlapAndLearnWhoWrote(t *testing.T) {
	w := newWriteLocks()
	w.batchWindow = time.Hour
	a := w.lock("a", "p1", writeFirst)
	bDone := make(chan *WriteLock)
	go func() { bDone <- w.lock("b", "p2", writeFirst) }()
	var b *WriteLock
	select {
	case b = <-bDone:
	case <-time.After(5 * time.Second):
		t.Fatal("a second first write waited for the first: first writes do not overlap")
	}
	// a's PUT answers while b (which read before it) has not: a waits.
	aOthers := make(chan []string)
	go func() { aOthers <- a.Wrote() }()
	select {
	case o := <-aOthers:
		t.Fatalf("a's write trusted its answer while b, which read before it, had not written yet (others %v)", o)
	case <-time.After(100 * time.Millisecond):
	}
	if o := b.Wrote(); !slices.Equal(o, []string{"a"}) {
		t.Errorf("b's window saw PUTs of %v, want [a]", o)
	}
	if o := <-aOthers; !slices.Equal(o, []string{"b"}) {
		t.Errorf("a's window saw PUTs of %v, want [b]", o)
	}
	// A write that starts after both answered saw nothing in its window;
	// one that ends without a PUT is waited for by nobody.
	c := w.lock("c", "p3", writeFirst)
	d := w.lock("d", "p4", writeFirst)
	d.Unlock()
	if o := c.Wrote(); len(o) != 0 {
		t.Errorf("c's window saw PUTs of %v, want none", o)
	}
	for _, l := range []*WriteLock{a, b, c} {
		l.Unlock()
	}
	// The batch is over: the gate is free for ordinary writes.
	got := make(chan struct{})
	go func() { w.lock("e", "p5", writeOrdinary).Unlock(); close(got) }()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the gate stayed held after every first write of the batch ended")
	}
	if w.firsts.Load() != 4 {
		t.Errorf("first writes counted %d, want 4", w.firsts.Load())
	}
}

// A batch admits first writes for its window only: later ones wait for the
// ordinary writes that queued behind it.
func TestWriteLocksBatchCloses(t *testing.T) {
	w := newWriteLocks()
	w.batchWindow = 50 * time.Millisecond
	a := w.lock("a", "p1", writeFirst)
	ordinary := make(chan struct{})
	go func() { w.lock("o", "p9", writeOrdinary).Unlock(); close(ordinary) }()
	time.Sleep(100 * time.Millisecond)
	late := make(chan struct{})
	go func() { w.lock("b", "p2", writeFirst).Unlock(); close(late) }()
	select {
	case <-late:
		t.Fatal("a first write joined a batch after its window")
	case <-ordinary:
		t.Fatal("an ordinary write ran during a batch")
	case <-time.After(100 * time.Millisecond):
	}
	a.Unlock()
	<-ordinary
	<-late
}
