package controllers

import (
	"sync"
	"sync/atomic"
	"time"
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
//   - an account's first write (since a start, or ever) cannot know yet.
//     First writes run while no other write does, in batches: a batch's
//     first writes may overlap each other, and each one whose window (from
//     its read to its PUT's answer) saw another's PUT reads the account
//     again once every PUT that may have followed its read has answered. A
//     write that did not stick was overwritten by a key of the same
//     account: it is linked with the accounts that wrote in its window and
//     writes again alone (the gate held by it only). After a first write, a
//     second key of the same account reads what it wrote, and is linked.
//
// Every ordinary write reads the account again under its lock when a first
// write or a linked account may have written since the read it was planned
// from.
type writeLocks struct {
	// gate: first writes (a batch, or one alone) hold it exclusively,
	// other writes shared.
	gate sync.RWMutex
	// firsts counts first writes done: a write planned before one re-reads.
	firsts atomic.Uint64

	mu sync.Mutex
	// family maps an account id to its family (the pin, until linked).
	family  map[string]string
	members map[string]map[string]bool
	locks   map[string]*sync.Mutex

	// bmu guards the batches; bcond wakes members waiting for their batch
	// to open or for PUTs in flight to answer.
	bmu     sync.Mutex
	bcond   *sync.Cond
	forming *firstBatch
	// batchWindow and batchSize bound how long a batch admits first writes
	// and how many: ordinary writes wait while a batch holds the gate.
	batchWindow time.Duration
	batchSize   int
}

// firstBatch is first writes holding the gate together.
type firstBatch struct {
	open     bool
	opened   time.Time
	admitted int
	members  int
	// puts lists the accounts whose PUT answered, in order; inflight the
	// members between their read and their PUT's answer.
	puts     []string
	inflight map[*WriteLock]bool
}

func newWriteLocks() *writeLocks {
	w := &writeLocks{family: map[string]string{}, members: map[string]map[string]bool{}, locks: map[string]*sync.Mutex{},
		batchWindow: 250 * time.Millisecond, batchSize: 64}
	w.bcond = sync.NewCond(&w.bmu)
	return w
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

// writeMode is how a write takes the locks.
type writeMode int

const (
	// writeOrdinary: the account's reads were confirmed; the gate shared.
	writeOrdinary writeMode = iota
	// writeFirst: the account's first write; in a batch of first writes.
	writeFirst
	// writeAlone: a first write that another write of the same account
	// overwrote; the gate held by it alone.
	writeAlone
)

// WriteLock is what a write holds: the gate (shared, in a batch, or
// alone) and its family's lock.
type WriteLock struct {
	w       *writeLocks
	account string
	mode    writeMode
	batch   *firstBatch
	family  *sync.Mutex
	// readAt is the batch's PUT count when the write started reading.
	readAt   int
	familyOn bool
	done     bool
}

// lock takes what a write of the account needs. Unlock releases it.
func (w *writeLocks) lock(account, pin string, mode writeMode) *WriteLock {
	l := &WriteLock{w: w, account: account, mode: mode}
	switch mode {
	case writeOrdinary:
		w.gate.RLock()
	case writeAlone:
		w.gate.Lock()
	case writeFirst:
		l.batch = w.join()
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
	l.family, l.familyOn = m, true
	if b := l.batch; b != nil {
		w.bmu.Lock()
		l.readAt = len(b.puts)
		b.inflight[l] = true
		w.bmu.Unlock()
	}
	return l
}

// join enters the batch of first writes that admits one, or starts the
// next, and returns once the batch holds the gate.
func (w *writeLocks) join() *firstBatch {
	w.bmu.Lock()
	defer w.bmu.Unlock()
	b := w.forming
	if b != nil && b.open && (b.admitted >= w.batchSize || time.Since(b.opened) >= w.batchWindow) {
		w.forming, b = nil, nil // closed: it drains, the next waits for it
	}
	if b == nil {
		b = &firstBatch{inflight: map[*WriteLock]bool{}}
		w.forming = b
		b.members, b.admitted = 1, 1
		w.bmu.Unlock()
		w.gate.Lock()
		w.bmu.Lock()
		b.open, b.opened = true, time.Now()
		w.bcond.Broadcast()
		return b
	}
	b.members++
	b.admitted++
	for !b.open {
		w.bcond.Wait()
	}
	return b
}

// Wrote marks the write's PUT answered (or abandoned) and releases the
// family's lock. For a first write in a batch it waits until every member
// that may have read before that answer has had its own PUT answered, and
// returns the accounts whose PUTs answered within this write's window
// (from its read on; its own excluded): if any, the write reads the account
// again before trusting what it stored.
func (l *WriteLock) Wrote() []string {
	if l.familyOn {
		l.familyOn = false
		l.family.Unlock()
	}
	b := l.batch
	if b == nil || l.done {
		return nil
	}
	w := l.w
	w.bmu.Lock()
	defer w.bmu.Unlock()
	if !b.inflight[l] {
		return nil
	}
	delete(b.inflight, l)
	b.puts = append(b.puts, l.account)
	mine := len(b.puts)
	before := make([]*WriteLock, 0, len(b.inflight))
	for o := range b.inflight {
		before = append(before, o)
	}
	w.bcond.Broadcast()
	for {
		waiting := false
		for _, o := range before {
			if b.inflight[o] {
				waiting = true
				break
			}
		}
		if !waiting {
			break
		}
		w.bcond.Wait()
	}
	var others []string
	for i, a := range b.puts[l.readAt:] {
		if l.readAt+i != mine-1 && a != l.account {
			others = append(others, a)
		}
	}
	return others
}

// Unlock releases what the write holds; a first write is counted.
func (l *WriteLock) Unlock() {
	if l.done {
		return
	}
	if l.familyOn {
		l.familyOn = false
		l.family.Unlock()
	}
	l.done = true
	w := l.w
	switch l.mode {
	case writeOrdinary:
		w.gate.RUnlock()
		return
	case writeAlone:
		w.firsts.Add(1)
		w.gate.Unlock()
		return
	}
	w.firsts.Add(1)
	b := l.batch
	w.bmu.Lock()
	defer w.bmu.Unlock()
	if b.inflight[l] {
		// Ended before a PUT answered (nothing to write, or a failure):
		// nobody waits for it any more.
		delete(b.inflight, l)
		w.bcond.Broadcast()
	}
	b.members--
	if b.members == 0 {
		if w.forming == b {
			w.forming = nil
		}
		w.gate.Unlock()
		w.bcond.Broadcast()
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
