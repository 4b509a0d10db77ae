// Package sendbluetest is an in-memory emulator of Sendblue's account-webhooks
// API, for tests, the demo and benchmarks (the real service cannot be reached
// from them). It enforces the API's documented rules rather than trusting its
// callers: credentials per account, HTTPS-only URLs, the shape of every entry,
// known types for POST and DELETE. It stores what it was sent as sent (member
// order, entry form, unknown members), as a JSON document store would.
//
// Besides the API (under /api/account/webhooks and /api/v2/account/webhooks)
// it serves a control surface under /_emulator/ for tests: read or overwrite
// an account's configuration as a person editing in the Sendblue dashboard
// would, count requests per account and method, and inject faults. The same
// operations are methods on Server for Go tests.
package sendbluetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/internal/wirejson"
)

// API paths served.
const (
	Path   = "/api/account/webhooks"
	V2Path = "/api/v2/account/webhooks"

	maxRequestBytes = 1 << 20
)

// Types are the event types the emulated API accepts for POST and DELETE.
var Types = []string{
	"receive", "outbound", "call_log", "line_blocked", "line_assigned",
	"contact_created", "typing_indicator", "inbound_call", "contact_profile",
}

// ErrNoAccount is returned for a key id the emulator does not know.
var ErrNoAccount = errors.New("sendbluetest: no such account")

// Fault makes matching API requests misbehave. Faults are consumed in the
// order they were added; the first that matches a request is used.
type Fault struct {
	// Account limits the fault to requests carrying this key id; empty
	// matches every request.
	Account string `json:"account,omitempty"`
	// Method limits the fault to one HTTP method; empty matches all.
	Method string `json:"method,omitempty"`
	// Count is how many requests the fault affects; 0 means 1.
	Count int `json:"count,omitempty"`
	// Latency delays the request; it is then answered as Status (or
	// normally). The delay ends early if the client goes away.
	Latency time.Duration `json:"-"`
	// Hang holds the request until the client gives up or the server closes.
	Hang bool `json:"hang,omitempty"`
	// Status answers with this HTTP status and an error body.
	Status int `json:"status,omitempty"`
	// Message is the error body's message (default: the status text).
	Message string `json:"message,omitempty"`
	// BodyStyle picks the error body's shape: "status" (default)
	// {"status":"ERROR","message":...}, "error" {"error":"..."}, or
	// "errorObject" {"error":{"code":...,"message":...}}.
	BodyStyle string `json:"bodyStyle,omitempty"`
	// RetryAfter is sent verbatim as the Retry-After header.
	RetryAfter string `json:"retryAfter,omitempty"`
	// RetryAfterMs is sent verbatim as the retry-after-ms header.
	RetryAfterMs string `json:"retryAfterMs,omitempty"`
	// ShouldRetry is sent verbatim as the x-should-retry header ("true",
	// "false"), which the official SDK obeys before the status code.
	ShouldRetry string `json:"shouldRetry,omitempty"`
	// Malformed answers 200 with a body that is not JSON.
	Malformed bool `json:"malformed,omitempty"`
	// Body answers 200 with this body instead of the real answer: a GET
	// that lies, such as {"status":"OK","webhooks":{}}. Nothing is stored.
	Body string `json:"body,omitempty"`
	// DropWrite answers a PUT, POST or DELETE with 200 and the configuration
	// as stored, without storing anything: a write that does not persist.
	DropWrite bool `json:"dropWrite,omitempty"`
	// Name labels the fault in reports (PendingFaults); it changes nothing.
	Name string `json:"name,omitempty"`
}

// account is one Sendblue account; several API keys may reach it.
type account struct {
	webhooks wirejson.Object
}

// apiKey is one credential pair and the account it reaches.
type apiKey struct {
	secretKey string
	account   *account
	requests  map[string]int
}

// Write is one change an API request made to an account's configuration.
type Write struct {
	// KeyID is the key the request carried; Method its HTTP method.
	KeyID, Method string
	// Before and After are the configuration around the change.
	Before, After json.RawMessage
	// At is when the change was stored.
	At time.Time
}

// Server is the emulator. Use it as an http.Handler (httptest.NewServer).
type Server struct {
	mu      sync.Mutex
	keys    map[string]*apiKey // by key id
	faults  []Fault
	journal []Write
	closed  chan struct{}
	once    sync.Once
	mux     *http.ServeMux
}

// NewServer returns an emulator with no accounts.
func NewServer() *Server {
	s := &Server{keys: map[string]*apiKey{}, closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, s.serveAPI)
	mux.HandleFunc(V2Path, s.serveAPI)
	s.routeControl(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases requests held by a Hang fault. Call it before closing the
// httptest.Server, whose Close waits for every handler.
func (s *Server) Close() { s.once.Do(func() { close(s.closed) }) }

// AddAccount creates an account whose configuration starts as the one
// Sendblue shows a new account: every original type as an empty list.
func (s *Server) AddAccount(keyID, secretKey string) error {
	if keyID == "" || secretKey == "" {
		return errors.New("sendbluetest: an account needs a key id and a secret key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[keyID]; ok {
		return fmt.Errorf("sendbluetest: account %q exists", keyID)
	}
	var cfg wirejson.Object
	for _, t := range OriginalTypes {
		cfg.Set(t, json.RawMessage("[]"))
	}
	s.keys[keyID] = &apiKey{secretKey: secretKey, account: &account{webhooks: cfg}, requests: map[string]int{}}
	return nil
}

// OriginalTypes are the event types Sendblue lists, as empty lists when they
// have no webhook, in every account's configuration.
var OriginalTypes = []string{"receive", "call_log", "line_blocked", "line_assigned", "outbound", "contact_created"}

// AddKey gives the account reached by existingKeyID another API key, as a
// second key created in the Sendblue dashboard would.
func (s *Server) AddKey(existingKeyID, keyID, secretKey string) error {
	if keyID == "" || secretKey == "" {
		return errors.New("sendbluetest: a key needs an id and a secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, ok := s.keys[existingKeyID]
	if !ok {
		return ErrNoAccount
	}
	if _, ok := s.keys[keyID]; ok {
		return fmt.Errorf("sendbluetest: key %q exists", keyID)
	}
	s.keys[keyID] = &apiKey{secretKey: secretKey, account: existing.account, requests: map[string]int{}}
	return nil
}

// RotateSecret replaces the secret key of keyID (the old one stops working).
func (s *Server) RotateSecret(keyID, secretKey string) error {
	if secretKey == "" {
		return errors.New("sendbluetest: a key needs a secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		return ErrNoAccount
	}
	k.secretKey = secretKey
	return nil
}

// Webhooks returns the account's stored configuration as it would be served.
func (s *Server) Webhooks(keyID string) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		return nil, ErrNoAccount
	}
	return k.account.webhooks.MarshalJSON()
}

// SetWebhooks overwrites the account's configuration with any JSON object,
// unvalidated, as an edit in the Sendblue dashboard (or a future API) might.
func (s *Server) SetWebhooks(keyID string, cfg json.RawMessage) error {
	obj, err := wirejson.ParseObject(cfg)
	if err != nil {
		return fmt.Errorf("sendbluetest: configuration: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		return ErrNoAccount
	}
	k.account.webhooks = obj
	return nil
}

// SetMembers sets the members of the JSON object members on the account's
// configuration, unvalidated; a member already there keeps its place, a new
// one goes last, the others stay as they are (a dashboard edit of a few
// types).
func (s *Server) SetMembers(keyID string, members json.RawMessage) error {
	obj, err := wirejson.ParseObject(members)
	if err != nil {
		return fmt.Errorf("sendbluetest: members: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		return ErrNoAccount
	}
	cfg := k.account.webhooks.Clone()
	for _, m := range obj.Members() {
		cfg.Set(m.Key, m.Value)
	}
	k.account.webhooks = cfg
	return nil
}

// EditWebhooks changes the account's configuration atomically with edit, as
// a person in the dashboard would: edit receives the stored configuration
// and returns the new one (any JSON object, unvalidated).
func (s *Server) EditWebhooks(keyID string, edit func(json.RawMessage) (json.RawMessage, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		return ErrNoAccount
	}
	cur, err := k.account.webhooks.MarshalJSON()
	if err != nil {
		return err
	}
	next, err := edit(cur)
	if err != nil {
		return err
	}
	obj, err := wirejson.ParseObject(next)
	if err != nil {
		return fmt.Errorf("sendbluetest: configuration: %w", err)
	}
	k.account.webhooks = obj
	return nil
}

// Requests returns how many API requests carried the account's key id, by
// HTTP method, whatever their outcome (faulted and refused ones included).
func (s *Server) Requests(keyID string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{http.MethodGet: 0, http.MethodPut: 0, http.MethodPost: 0, http.MethodDelete: 0}
	if k, ok := s.keys[keyID]; ok {
		for m, n := range k.requests {
			out[m] = n
		}
	}
	return out
}

// ResetRequests zeroes the key's request counters.
func (s *Server) ResetRequests(keyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[keyID]; ok {
		k.requests = map[string]int{}
	}
}

// Journal returns the changes API requests made to configurations since the
// n-th (0: all), in order, and the number to pass next time. Dashboard edits
// (SetWebhooks, SetMembers, EditWebhooks) are not in it.
func (s *Server) Journal(n int) ([]Write, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(max(n, 0), len(s.journal))
	return append([]Write(nil), s.journal[n:]...), len(s.journal)
}

// record appends a change to the journal; the caller holds s.mu.
func (s *Server) record(keyID, method string, before wirejson.Object, after wirejson.Object) {
	b, _ := before.MarshalJSON()
	a, _ := after.MarshalJSON()
	s.journal = append(s.journal, Write{KeyID: keyID, Method: method, Before: b, After: a, At: time.Now()})
}

// InjectFault queues a fault.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	f.Method = strings.ToUpper(f.Method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// PendingFaults returns the queued faults, each with the uses it has left.
func (s *Server) PendingFaults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault(nil), s.faults...)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault consumes one use of the first fault matching the request.
func (s *Server) takeFault(keyID, method string) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if (f.Account != "" && f.Account != keyID) || (f.Method != "" && f.Method != method) {
			continue
		}
		taken := *f
		if f.Count--; f.Count == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return taken, true
	}
	return Fault{}, false
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	keyID := r.Header.Get("sb-api-key-id")
	s.mu.Lock()
	key := s.keys[keyID]
	if key != nil {
		key.requests[r.Method]++
	}
	fault, faulted := s.takeFault(keyID, r.Method)
	s.mu.Unlock()

	if faulted && s.applyFault(w, r, fault) {
		return
	}
	if key == nil || r.Header.Get("sb-api-secret-key") != key.secretKey {
		writeError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	acct := key.account
	switch r.Method {
	case http.MethodGet:
		s.handleGet(w, acct)
	case http.MethodPut, http.MethodPost, http.MethodDelete:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "Request body too large")
			return
		}
		if faulted && fault.DropWrite {
			s.handleGet(w, acct)
			return
		}
		switch r.Method {
		case http.MethodPut:
			s.handlePut(w, keyID, acct, body)
		case http.MethodPost:
			s.handlePost(w, keyID, acct, body)
		default:
			s.handleDelete(w, keyID, acct, body)
		}
	default:
		w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// applyFault misbehaves as f says; it reports whether it answered.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.closed:
			return true
		}
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return true
	case f.Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"OK","webhooks":{"receive":[`)
		return true
	case f.Body != "":
		writeRaw(w, http.StatusOK, f.Body)
		return true
	case f.Status != 0:
		if f.RetryAfterMs != "" {
			w.Header().Set("retry-after-ms", f.RetryAfterMs)
		}
		if f.ShouldRetry != "" {
			w.Header().Set("x-should-retry", f.ShouldRetry)
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		switch f.BodyStyle {
		case "error":
			writeJSON(w, f.Status, map[string]any{"error": msg})
		case "errorObject":
			writeJSON(w, f.Status, map[string]any{"error": map[string]any{"code": f.Status, "message": msg}})
		default:
			writeError(w, f.Status, msg)
		}
		return true
	}
	return false
}

func (s *Server) handleGet(w http.ResponseWriter, acct *account) {
	s.mu.Lock()
	cfg, _ := acct.webhooks.MarshalJSON()
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, `{"status":"OK","webhooks":`+string(cfg)+`}`)
}

func (s *Server) handlePut(w http.ResponseWriter, keyID string, acct *account, body []byte) {
	root, err := wirejson.ParseObject(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Request body must be a JSON object")
		return
	}
	raw, ok := root.Get("webhooks")
	if !ok {
		writeError(w, http.StatusBadRequest, "Missing or invalid webhooks array")
		return
	}
	cfg, err := wirejson.ParseObject(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Missing or invalid webhooks array: webhooks must be an object of event types")
		return
	}
	if err := validateConfig(cfg); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.record(keyID, http.MethodPut, acct.webhooks, cfg)
	acct.webhooks = cfg
	stored, _ := cfg.MarshalJSON()
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, `{"status":"OK","message":"Webhooks updated successfully","webhooks":`+string(stored)+`}`)
}

type listRequest struct {
	Webhooks     []json.RawMessage `json:"webhooks"`
	Type         *string           `json:"type"`
	GlobalSecret *string           `json:"globalSecret"`
}

// decodeList decodes a POST or DELETE body and its type (default receive).
func decodeList(body []byte) (listRequest, string, error) {
	var req listRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, "", errors.New("Request body must be a JSON object with a webhooks array")
	}
	if len(req.Webhooks) == 0 {
		return req, "", errors.New("Missing or invalid webhooks array")
	}
	t := "receive"
	if req.Type != nil {
		t = *req.Type
	}
	if !knownType(t) {
		return req, "", fmt.Errorf("Invalid webhook type %q: must be one of %s", t, strings.Join(Types, ", "))
	}
	return req, t, nil
}

func (s *Server) handlePost(w http.ResponseWriter, keyID string, a *account, body []byte) {
	req, t, err := decodeList(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for i, e := range req.Webhooks {
		if err := validateEntry(t, e); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("webhooks[%d]: %v", i, err))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := storedEntries(a.webhooks, t)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	before := a.webhooks.Clone()
	a.webhooks.Set(t, mustJSON(append(entries, req.Webhooks...)))
	if req.GlobalSecret != nil {
		a.webhooks.Set("globalSecret", mustJSON(*req.GlobalSecret))
	}
	s.record(keyID, http.MethodPost, before, a.webhooks)
	stored, _ := a.webhooks.MarshalJSON()
	writeRaw(w, http.StatusOK, `{"status":"OK","message":"Webhooks added successfully","webhooks":`+string(stored)+`}`)
}

func (s *Server) handleDelete(w http.ResponseWriter, keyID string, a *account, body []byte) {
	req, t, err := decodeList(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	remove := map[string]bool{}
	for i, e := range req.Webhooks {
		var u string
		if json.Unmarshal(e, &u) != nil || u == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("webhooks[%d]: must be a URL string", i))
			return
		}
		remove[u] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := storedEntries(a.webhooks, t)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	kept := []json.RawMessage{}
	for _, e := range entries {
		if !remove[entryURL(e)] {
			kept = append(kept, e)
		}
	}
	if _, present := a.webhooks.Get(t); present || len(kept) > 0 {
		before := a.webhooks.Clone()
		a.webhooks.Set(t, mustJSON(kept))
		s.record(keyID, http.MethodDelete, before, a.webhooks)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "OK", "message": "Webhooks deleted successfully"})
}

func storedEntries(cfg wirejson.Object, t string) ([]json.RawMessage, error) {
	raw, ok := cfg.Get(t)
	if !ok {
		return []json.RawMessage{}, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("stored webhooks.%s is not a list", t)
	}
	return entries, nil
}

func knownType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with values that always encode
	}
	return b
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"status": "ERROR", "message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeRaw(w, code, string(mustJSON(v)))
}

func writeRaw(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
