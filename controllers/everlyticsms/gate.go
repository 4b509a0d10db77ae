package everlyticsms

import (
	"math/rand/v2"
	"sync"
	"time"
)

// gate bounds the syncs in flight per endpoint and per account (endpoint and
// username), so that an endpoint or an account that does not answer (an
// allowed host on a filtered port, a hung install) holds a bounded share of
// the workers, never all of them. A sync that finds its endpoint or account
// full is requeued after a short pause instead of waiting on a worker.
type gate struct {
	perEndpoint, perAccount int

	mu       sync.Mutex
	inFlight map[string]int // by endpoint, and by endpoint + " " + username
}

func newGate(perEndpoint, perAccount int) *gate {
	return &gate{perEndpoint: perEndpoint, perAccount: perAccount, inFlight: map[string]int{}}
}

// enter takes a place for a sync on endpoint's account username, or says
// there is none; release gives it back (once).
func (g *gate) enter(endpoint, username string) (release func(), ok bool) {
	account := endpoint + " " + username
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight[endpoint] >= g.perEndpoint || g.inFlight[account] >= g.perAccount {
		return nil, false
	}
	g.inFlight[endpoint]++
	g.inFlight[account]++
	var once sync.Once
	return func() { once.Do(func() { g.leave(endpoint, account) }) }, true
}

func (g *gate) leave(keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		if g.inFlight[k]--; g.inFlight[k] <= 0 {
			delete(g.inFlight, k)
		}
	}
}

// busyError: the object's endpoint or account has as many syncs in flight as
// it may; the object is requeued after a pause, its status untouched (a
// state this short would only make its conditions flap).
type busyError struct{ after time.Duration }

func (e *busyError) Error() string {
	return "as many syncs of this endpoint or account are in flight as it may have"
}

// busy returns a busyError whose pause is BusyRetry plus up to half of it,
// so that the objects of a full endpoint do not come back in step.
func (r *Reconciler) busy() error {
	d := r.Options.BusyRetry
	return &busyError{d + rand.N(d/2+1)}
}
