package controllers

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// accountState is what the reconciler remembers of one account (one pair of
// credentials) between syncs. Only the account's sync reads or writes it, and
// the account queue runs one sync per account at a time. It is dropped when
// no set uses the account any more.
type accountState struct {
	// lastRead is when the account was last read.
	lastRead time.Time
	// fingerprints are the inputs of each set as the last sync reported it.
	fingerprints map[types.UID]string

	// seen is what reads of the account held that no set declares or
	// applied (see outsideOf), since the last confirmed read: what a write
	// must not lose. confirmed: a read was confirmed since this process
	// started (see confirmRead).
	seen      map[entryKey]bool
	confirmed bool
	// alone: the account's last first write was overwritten by a write of
	// another account made at the same moment; the next writes alone.
	alone bool
	// suspect is the last read that was not trusted, and when it was seen.
	suspect     string
	suspectSeen time.Time

	// limit is the largest body that may be written: MaxRequestBytes, or
	// less until limitUntil once Sendblue refused a smaller one with 413.
	limit      int
	limitUntil time.Time
	// mismatches counts, per set, writes of the set's changes that Sendblue
	// did not store as sent; refused holds the sets whose changes are no
	// longer written until their inputs change.
	mismatches map[types.UID]mismatch
}

type mismatch struct {
	fingerprint string
	count       int
	detail      string
}

func newAccountState() *accountState {
	return &accountState{
		fingerprints: map[types.UID]string{},
		limit:        sendblue.MaxRequestBytes,
		mismatches:   map[types.UID]mismatch{},
	}
}

// writeLimit is the largest body that may be written now: a limit learned
// from a 413 holds for a while (the stalled retry), then the full one is
// tried again.
func (a *accountState) writeLimit(now time.Time) int {
	if a.limit < sendblue.MaxRequestBytes && now.After(a.limitUntil) {
		a.limit = sendblue.MaxRequestBytes
	}
	return a.limit
}

// refusedWrite reports whether the set's changes, as they are now, were
// already written twice and not stored as sent.
func (a *accountState) refusedWrite(g *resolved) (mismatch, bool) {
	m, ok := a.mismatches[g.set.UID]
	return m, ok && m.fingerprint == g.fingerprint && m.count >= maxMismatches
}

// maxMismatches is how many times the same changes are written and found not
// stored as sent before the operator stops writing them.
const maxMismatches = 2

// ownership is the one place that decides what a set owns on an account:
// what it applied there, from its status or, fresher, from the reconciler's
// memory of its last sync (the cache may not show that status yet). Either
// counts only for the account the set is pinned to.
type ownership struct {
	mu      sync.Mutex
	records map[types.UID]ownershipRecord
}

type ownershipRecord struct {
	pin     string
	applied []v1.AppliedWebhook
}

func newOwnership() *ownership { return &ownership{records: map[types.UID]ownershipRecord{}} }

// applied returns what s owns on the account identified by pin: nothing if
// s is pinned to another account or has moved to this one.
func (o *ownership) applied(s *v1.SendblueWebhookSet, pin, label string) []v1.AppliedWebhook {
	o.mu.Lock()
	rec, ok := o.records[s.UID]
	o.mu.Unlock()
	if ok {
		if rec.pin != pin {
			return nil
		}
		return slices.Clone(rec.applied)
	}
	if pinnedTo(s, pin, label) && !movedHere(s, pin) {
		return slices.Clone(s.Status.Applied)
	}
	return nil
}

// record remembers what s owns after a sync of the account pin.
func (o *ownership) record(uid types.UID, pin string, applied []v1.AppliedWebhook) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.records[uid] = ownershipRecord{pin: pin, applied: slices.Clone(applied)}
}

// forget drops what is remembered of a set that is gone.
func (o *ownership) forget(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.records, uid)
}

// owns reports whether s may own anything at all, on any account: deleting
// such a set with deletionPolicy Delete has something to remove.
func (o *ownership) owns(s *v1.SendblueWebhookSet) bool {
	o.mu.Lock()
	rec, ok := o.records[s.UID]
	o.mu.Unlock()
	if ok {
		return len(rec.applied) > 0
	}
	return len(s.Status.Applied) > 0
}

// pinnedTo reports whether the set's status says it belongs to the account
// pin. A set that never synced is pinned to nothing yet; one synced by a
// version that only recorded the key id's last characters is trusted when
// they match.
func pinnedTo(s *v1.SendblueWebhookSet, pin, label string) bool {
	if s.Status.AccountID != "" {
		return s.Status.AccountID == pin
	}
	return s.Status.Account == "" || s.Status.Account == label
}

// movedHere reports whether the set's move to account pin was accepted with
// the annotation (it then owns nothing there until it writes).
func movedHere(s *v1.SendblueWebhookSet, pin string) bool {
	return s.Status.AccountID != "" && s.Status.AccountID != pin && s.Annotations[AnnotationAcceptAccount] == pin
}

// accountChanged reports whether the set's credentials now reach another
// account than the one it is pinned to, without the move being accepted.
func accountChanged(s *v1.SendblueWebhookSet, pin string) bool {
	return s.Status.AccountID != "" && s.Status.AccountID != pin && !movedHere(s, pin)
}

func accountChangedMessage(s *v1.SendblueWebhookSet, r *resolved) string {
	return fmt.Sprintf("spec.credentialsRef now reaches account %s (key id %s), but this set is pinned to account %s: nothing is written to either. "+
		"If the move is intended, annotate the set with %s=%s (it then owns nothing on the new account, and what it applied on the old one stays there); "+
		"otherwise restore the credentials", r.pin, accountLabel(r.creds), s.Status.AccountID, AnnotationAcceptAccount, r.pin)
}
