package everlytictest

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Fault makes matching API requests misbehave. Faults are consumed in the
// order they were added; the first that matches a request is used.
type Fault struct {
	// Account limits the fault to requests naming this username; empty
	// matches every request.
	Account string `json:"account,omitempty"`
	// Op limits the fault to one call (OpCreate, OpGet, OpList, OpUpdate,
	// OpDelete); empty matches all.
	Op string `json:"op,omitempty"`
	// Count is how many requests the fault affects; 0 means 1.
	Count int `json:"count,omitempty"`
	// Latency delays the answer; it is then answered as Status (or
	// normally). The delay ends early if the client goes away.
	Latency time.Duration `json:"-"`
	// Hang holds the request until the client gives up or the server closes.
	Hang bool `json:"hang,omitempty"`
	// Status answers with this HTTP status and an Everlytic-shaped error
	// body: {"status":"error","data":Message}, or for 401 the JSON string
	// "Invalid credentials.".
	Status int `json:"status,omitempty"`
	// Message is the error body's data (default: the status text).
	Message string `json:"message,omitempty"`
	// RetryAfter is sent verbatim as the Retry-After header.
	RetryAfter string `json:"retryAfter,omitempty"`
	// Malformed answers 200 with a body that is not JSON.
	Malformed bool `json:"malformed,omitempty"`
	// Body answers 200 with this body verbatim; nothing is stored (unless
	// AfterStore).
	Body string `json:"body,omitempty"`
	// AfterStore applies the request first (stores it), then the fault: the
	// write landed but its answer was lost or late.
	AfterStore bool `json:"afterStore,omitempty"`
	// Name labels the fault in reports (PendingFaults); it changes nothing.
	Name string `json:"name,omitempty"`
}

// InjectFault queues a fault.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	f.Op = strings.ToUpper(f.Op)
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

// takeFault consumes one use of the first fault matching the request; the
// caller holds s.mu.
func (s *Server) takeFault(username, op string) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if (f.Account != "" && f.Account != username) || (f.Op != "" && f.Op != op) {
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

// applyFault misbehaves as f says; it reports whether it answered (or
// dropped the request).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Latency > 0 && !s.wait(r, f.Latency) {
		return true
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return true
	case f.Malformed:
		writeRaw(w, http.StatusOK, `{"status":"success","data":{"webhook":`)
		return true
	case f.Body != "":
		writeRaw(w, http.StatusOK, f.Body)
		return true
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Status == http.StatusUnauthorized && f.Message == "" {
			writeUnauthorized(w)
			return true
		}
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		writeError(w, f.Status, msg)
		return true
	}
	return false
}

// wait sleeps for d; false when the client left or the server closed first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

func writeRaw(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
