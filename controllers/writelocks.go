package controllers

import (
	"sync"
	"sync/atomic"
)

// writeLocks serializes the writes that may reach one Sendblue account.
//
// The operator cannot tell which key ids reach one account: Sendblue answers
// a key's requests without naming the account, and two keys of one account
// (or one key while a rotated secret reaches copies of its Secret at
// different times) look like two accounts. A PUT replaces the whole
// account, so two syncs that read, then write, one after the other's read
// would undo each other's writes. What the operator can know:
//   - accounts with the same key id (a secret rotation) are one account;
//   - two accounts whose reads show what the other's sets declare may be
//     one: they are linked, and write one at a time from then on;
//   - an account's first write (since a start, or ever) cannot know yet: it
//     writes alone, every other write waiting, reading the account again
//     once every other write has finished. After it, a second key of the
//     same account reads what it wrote, and is linked.
//
// Every write reads the account again under its lock when a first write or
// a linked account may have written since the read it was planned from.
type writeLocks struct {
	// gate: first writes hold it exclusively, other writes shared.
	gate sync.RWMutex
	// firsts counts first writes done: a write planned before one re-reads.
	firsts atomic.Uint64

	mu sync.Mutex
	// family maps an account id to its family (the pin, until linked).
	family  map[string]string
	members map[string]map[string]bool
	locks   map[string]*sync.Mutex
}

func newWriteLocks() *writeLocks {
	return &writeLocks{family: map[string]string{}, members: map[string]map[string]bool{}, locks: map[string]*sync.Mutex{}}
}

// familyOf returns the account's family, the key id's pin until linked;
// the caller holds mu.
func (w *writeLocks) familyOf(account, pin string) string {
	f, ok := w.family[account]
	if !ok {
		f = "pin:" + pin
		w.family[account] = f
		if w.members[f] == nil {
			w.members[f] = map[string]bool{}
		}
		w.members[f][account] = true
	}
	return f
}

// link puts the accounts in one family (they may be one account).
func (w *writeLocks) link(account, pin string, others ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	into := w.familyOf(account, pin)
	for _, o := range others {
		from, ok := w.family[o]
		if !ok || from == into {
			continue
		}
		for a := range w.members[from] {
			w.family[a] = into
			w.members[into][a] = true
		}
		delete(w.members, from)
	}
}

// shared reports whether the account's family holds more than one account.
func (w *writeLocks) shared(account, pin string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.members[w.familyOf(account, pin)]) > 1
}

// lock takes what a write of the account needs: the gate (exclusively for
// a first write) and its family's lock. It returns the unlock.
func (w *writeLocks) lock(account, pin string, first bool) func() {
	if first {
		w.gate.Lock()
	} else {
		w.gate.RLock()
	}
	w.mu.Lock()
	f := w.familyOf(account, pin)
	m := w.locks[f]
	if m == nil {
		m = &sync.Mutex{}
		w.locks[f] = m
	}
	w.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		if first {
			w.firsts.Add(1)
			w.gate.Unlock()
		} else {
			w.gate.RUnlock()
		}
	}
}

// forget drops an account no set uses any more.
func (w *writeLocks) forget(account string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.family[account]
	if !ok {
		return
	}
	delete(w.family, account)
	delete(w.members[f], account)
	if len(w.members[f]) == 0 {
		delete(w.members, f)
		delete(w.locks, f)
	}
}
