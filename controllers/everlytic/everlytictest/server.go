// Package everlytictest is an in-memory emulator of Everlytic's
// transactional-SMS webhooks API, for tests, the demo and benchmarks (the
// real service cannot be reached from them). It answers in the documented
// shapes (the success envelope, the 400 message with its trailing field
// object, the JSON-string 401, lower-case verbs, timestamps with an offset)
// and enforces the documented rules rather than trusting its callers:
// credentials per account (HTTP Basic), the validation messages, required
// members. Reads never return a receiver's password.
//
// Only PUT is documented; POST, GET by id, the paged list and DELETE follow
// the contract the everlytic client assumes, and GET by id can be switched
// off to answer 405, as an install without that call would.
//
// Besides the API (under everlytic.CollectionPath) it serves a control
// surface under /_emulator/everlytic/ for tests: read the stored webhooks
// with their passwords, edit or delete them as a person in the dashboard
// would, count requests per account and call, and inject faults. The same
// operations are methods on Server for Go tests.
package everlytictest

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// Calls, as counted by Requests and matched by Fault.Op.
const (
	OpCreate = "CREATE"
	OpGet    = "GET"
	OpList   = "LIST"
	OpUpdate = "UPDATE"
	OpDelete = "DELETE"
)

// DefaultPerPage is the list page size until SetPerPage.
const DefaultPerPage = 20

const maxRequestBytes = 1 << 20

// Errors of the Go methods.
var (
	ErrNoAccount = errors.New("everlytictest: no such account")
	ErrNoWebhook = errors.New("everlytictest: no such webhook")
)

// ValidationError is PutWebhook's refusal of a webhook the API would refuse.
type ValidationError struct {
	// Fields maps field paths to the API's messages.
	Fields map[string][]string
}

// Error implements error.
func (e *ValidationError) Error() string { return "everlytictest: " + problems(e.Fields).data() }

// zone is the offset the emulated install answers timestamps in.
var zone = time.FixedZone("SAST", 2*3600)

// account is one Everlytic account with its webhooks.
type account struct {
	apiKey   string
	hooks    map[string]stored // by id
	requests map[string]int    // by call
}

// stored is a webhook as the server keeps it, password included.
type stored struct {
	hook everlytic.Webhook
	seq  int // creation order
}

// Server is the emulator. Use it as an http.Handler (httptest.NewServer).
type Server struct {
	mu       sync.Mutex
	accounts map[string]*account // by username
	faults   []Fault
	getByID  bool
	perPage  int
	seq      int
	closed   chan struct{}
	once     sync.Once
	mux      *http.ServeMux
}

// NewServer returns an emulator with no accounts, GET by id available and
// DefaultPerPage webhooks per list page.
func NewServer() *Server {
	s := &Server{accounts: map[string]*account{}, getByID: true, perPage: DefaultPerPage, closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(everlytic.CollectionPath, s.serveCollection)
	mux.HandleFunc(everlytic.CollectionPath+"/{id}", s.serveItem)
	s.routeControl(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found.")
	})
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases requests held by a Hang fault. Call it before closing the
// httptest.Server, whose Close waits for every handler.
func (s *Server) Close() { s.once.Do(func() { close(s.closed) }) }

// AddAccount creates an account with no webhooks.
func (s *Server) AddAccount(username, apiKey string) error {
	if username == "" || apiKey == "" || strings.Contains(username, ":") {
		return errors.New("everlytictest: an account needs a username without ':' and an API key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[username]; ok {
		return fmt.Errorf("everlytictest: account %q exists", username)
	}
	s.accounts[username] = &account{apiKey: apiKey, hooks: map[string]stored{}, requests: map[string]int{}}
	return nil
}

// Webhooks returns the account's webhooks in creation order, as the API
// answers them but with the stored password filled in.
func (s *Server) Webhooks(username string) ([]everlytic.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[username]
	if !ok {
		return nil, ErrNoAccount
	}
	return a.sorted(), nil
}

// sorted returns copies of the webhooks in creation order; the caller
// holds s.mu.
func (a *account) sorted() []everlytic.Webhook {
	all := make([]stored, 0, len(a.hooks))
	for _, h := range a.hooks {
		all = append(all, h)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	out := make([]everlytic.Webhook, len(all))
	for i, h := range all {
		out[i] = clone(h.hook)
	}
	return out
}

// Webhook returns one stored webhook, password included.
func (s *Server) Webhook(username, id string) (everlytic.Webhook, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[username]
	if !ok {
		return everlytic.Webhook{}, false
	}
	h, ok := a.hooks[id]
	return clone(h.hook), ok
}

// PutWebhook stores w as a person in the dashboard would: a new webhook when
// w.ID is empty (or unknown), else an overwrite of every member. It is
// validated as the API validates a create, and returned as stored.
func (s *Server) PutWebhook(username string, w everlytic.Webhook) (everlytic.Webhook, error) {
	obj, err := toObject(w)
	if err != nil {
		return everlytic.Webhook{}, err
	}
	return s.dashboardPut(username, w.ID, obj, time.Time{})
}

// PutOldWebhook stores a new webhook as PutWebhook does, stamped as created
// (and last updated) at made: one that existed long before, such as a
// dashboard twin of a webhook the operator is about to create.
func (s *Server) PutOldWebhook(username string, w everlytic.Webhook, made time.Time) (everlytic.Webhook, error) {
	if w.ID != "" {
		return everlytic.Webhook{}, errors.New("everlytictest: PutOldWebhook makes a new webhook: leave the id empty")
	}
	obj, err := toObject(w)
	if err != nil {
		return everlytic.Webhook{}, err
	}
	return s.dashboardPut(username, "", obj, made)
}

// dashboardPut validates a wire object as a create and stores it under id,
// stamped at made (zero: now).
func (s *Server) dashboardPut(username, id string, obj object, made time.Time) (everlytic.Webhook, error) {
	hook, problems := apply(obj, nil)
	if len(problems) > 0 {
		return everlytic.Webhook{}, &ValidationError{Fields: problems}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[username]
	if !ok {
		return everlytic.Webhook{}, ErrNoAccount
	}
	if id == "" {
		id = newUUID()
	}
	hook.ID = id
	return clone(s.storeAt(a, hook, made)), nil
}

// store creates or overwrites hook (by ID), stamping it now; the caller
// holds s.mu. An overwrite keeps the creation time and order.
func (s *Server) store(a *account, hook everlytic.Webhook) everlytic.Webhook {
	return s.storeAt(a, hook, time.Time{})
}

// storeAt is store, stamping at (zero: now).
func (s *Server) storeAt(a *account, hook everlytic.Webhook, at time.Time) everlytic.Webhook {
	if at.IsZero() {
		at = time.Now()
	}
	now := at.In(zone).Format(time.RFC3339)
	hook.UpdatedAt = now
	prev, exists := a.hooks[hook.ID]
	if exists {
		hook.CreatedAt = prev.hook.CreatedAt
	} else {
		hook.CreatedAt = now
		s.seq++
		prev.seq = s.seq
	}
	a.hooks[hook.ID] = stored{hook: clone(hook), seq: prev.seq}
	return hook
}

// DeleteWebhook removes a webhook as a person in the dashboard would.
func (s *Server) DeleteWebhook(username, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[username]
	if !ok {
		return ErrNoAccount
	}
	if _, ok := a.hooks[id]; !ok {
		return ErrNoWebhook
	}
	delete(a.hooks, id)
	return nil
}

// Requests returns how many API requests named the account's username, by
// call (OpCreate, OpGet, OpList, OpUpdate, OpDelete; each list page counts
// once), whatever their outcome (faulted and refused ones included).
func (s *Server) Requests(username string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{OpCreate: 0, OpGet: 0, OpList: 0, OpUpdate: 0, OpDelete: 0}
	if a, ok := s.accounts[username]; ok {
		for op, n := range a.requests {
			out[op] = n
		}
	}
	return out
}

// ResetRequests zeroes the account's request counters.
func (s *Server) ResetRequests(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[username]; ok {
		a.requests = map[string]int{}
	}
}

// SetGetByIDAvailable switches GET by id on or off; off, it answers 405 as
// an install without the call would.
func (s *Server) SetGetByIDAvailable(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getByID = ok
}

// SetPerPage sets the list page size; n < 1 restores DefaultPerPage.
func (s *Server) SetPerPage(n int) {
	if n < 1 {
		n = DefaultPerPage
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perPage = n
}

func clone(w everlytic.Webhook) everlytic.Webhook {
	w.EventTypes = append([]everlytic.EventType(nil), w.EventTypes...)
	if w.Auth != nil {
		auth := *w.Auth
		w.Auth = &auth
	}
	return w
}
