package controllers

import (
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

	unlock := w.lock("a", "p1", true)
	done := make(chan struct{})
	go func() {
		w.lock("c", "p3", false)()
		close(done)
	}()
	select {
	case <-done:
		t.Error("a write of an unrelated account ran during a first write")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	<-done
	if w.firsts.Load() != 1 {
		t.Errorf("first writes counted %d, want 1", w.firsts.Load())
	}
	// Two ordinary writes of unrelated accounts run together.
	u1 := w.lock("c", "p3", false)
	u2 := w.lock("d", "p4", false)
	u1()
	u2()
	for _, a := range []string{"a", "a2", "b", "c", "d"} {
		w.forget(a)
	}
	if len(w.family) != 0 || len(w.members) != 0 || len(w.locks) != 0 {
		t.Errorf("after forget: %d families, %d member sets, %d locks", len(w.family), len(w.members), len(w.locks))
	}
}
