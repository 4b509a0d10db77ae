package everlytictest

import (
	"crypto/subtle"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
)

// handler serves one call for an authenticated account. It takes s.mu itself.
type handler func(w http.ResponseWriter, r *http.Request, a *account)

func (s *Server) serveCollection(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.serve(w, r, OpList, s.handleList)
	case http.MethodPost:
		s.serve(w, r, OpCreate, s.handleCreate)
	default:
		s.serve(w, r, "", methodNotAllowed("GET, POST"))
	}
}

func (s *Server) serveItem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet:
		s.serve(w, r, OpGet, func(w http.ResponseWriter, r *http.Request, a *account) { s.handleGet(w, a, id) })
	case http.MethodPut:
		s.serve(w, r, OpUpdate, func(w http.ResponseWriter, r *http.Request, a *account) { s.handleUpdate(w, r, a, id) })
	case http.MethodDelete:
		s.serve(w, r, OpDelete, func(w http.ResponseWriter, r *http.Request, a *account) { s.handleDelete(w, a, id) })
	default:
		s.serve(w, r, "", methodNotAllowed("GET, PUT, DELETE"))
	}
}

// serve counts the request, applies a matching fault, authenticates, and
// runs h. An AfterStore fault runs h into a recorder first and then
// misbehaves; if the fault does not answer, the recorded answer is sent.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, op string, h handler) {
	username, key, _ := r.BasicAuth()
	s.mu.Lock()
	a := s.accounts[username]
	if a != nil && op != "" {
		a.requests[op]++
	}
	fault, faulted := s.takeFault(username, op)
	s.mu.Unlock()

	if faulted && !fault.AfterStore && s.applyFault(w, r, fault) {
		return
	}
	if a == nil || subtle.ConstantTimeCompare([]byte(key), []byte(a.apiKey)) != 1 {
		writeUnauthorized(w)
		return
	}
	if !faulted || !fault.AfterStore {
		h(w, r, a)
		return
	}
	rec := httptest.NewRecorder()
	h(rec, r, a)
	if s.applyFault(w, r, fault) {
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func methodNotAllowed(allow string) handler {
	return func(w http.ResponseWriter, _ *http.Request, _ *account) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed.")
	}
}

// readRequest reads a create or update body; false when it answered.
func readRequest(w http.ResponseWriter, r *http.Request) (object, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "Request body too large.")
		return nil, false
	}
	obj, ok := parseRequest(body)
	if !ok {
		writeProblems(w, webhookRequired())
		return nil, false
	}
	return obj, true
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, a *account) {
	obj, ok := readRequest(w, r)
	if !ok {
		return
	}
	hook, p := apply(obj, nil)
	if len(p) > 0 {
		writeProblems(w, p)
		return
	}
	s.mu.Lock()
	hook.ID = newUUID()
	hook = s.store(a, hook)
	s.mu.Unlock()
	writeWebhook(w, http.StatusCreated, hook)
}

func (s *Server) handleGet(w http.ResponseWriter, a *account, id string) {
	s.mu.Lock()
	available := s.getByID
	h, ok := a.hooks[id]
	s.mu.Unlock()
	switch {
	case !available:
		methodNotAllowed("PUT, DELETE")(w, nil, a)
	case !ok:
		writeError(w, http.StatusNotFound, "Webhook not found.")
	default:
		writeWebhook(w, http.StatusOK, h.hook)
	}
}

// handleUpdate finds the webhook before validating, as a framework that
// binds the route's model first does.
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, a *account, id string) {
	s.mu.Lock()
	h, found := a.hooks[id]
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	obj, ok := readRequest(w, r)
	if !ok {
		return
	}
	hook, p := apply(obj, &h.hook)
	if len(p) > 0 {
		writeProblems(w, p)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, still := a.hooks[id]; !still {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	writeWebhook(w, http.StatusOK, s.store(a, hook))
}

func (s *Server) handleDelete(w http.ResponseWriter, a *account, id string) {
	s.mu.Lock()
	_, ok := a.hooks[id]
	delete(a.hooks, id)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// listMeta is the list's pagination, members in the contract's order.
type listMeta struct {
	Total       int `json:"total"`
	PerPage     int `json:"per_page"`
	CurrentPage int `json:"current_page"`
	LastPage    int `json:"last_page"`
}

// handleList answers one page; a page that is not a positive integer is
// page 1, a page past the end is empty.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, a *account) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	s.mu.Lock()
	all := a.sorted()
	per := s.perPage
	s.mu.Unlock()
	meta := listMeta{Total: len(all), PerPage: per, CurrentPage: page, LastPage: max(1, (len(all)+per-1)/per)}
	hooks := []answerWebhook{}
	if page <= meta.LastPage {
		for _, h := range all[(page-1)*per : min(page*per, len(all))] {
			hooks = append(hooks, answerOf(h, false))
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Status string         `json:"status"`
		Data   map[string]any `json:"data"`
		Meta   listMeta       `json:"meta"`
	}{"success", map[string]any{"webhooks": hooks}, meta})
}
