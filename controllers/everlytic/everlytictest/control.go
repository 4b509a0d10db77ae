package everlytictest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// ControlPrefix starts every control-surface path.
const ControlPrefix = "/_emulator/everlytic/"

// The control surface, for tests and the demo. It has no authentication: the
// emulator program listens on loopback only.
//
//	POST   /_emulator/everlytic/accounts                          {"username","apiKey"}
//	GET    /_emulator/everlytic/accounts/{username}/webhooks       stored webhooks, passwords included
//	PUT    /_emulator/everlytic/accounts/{username}/webhooks/{id}  a dashboard edit: the webhook object in wire form
//	DELETE /_emulator/everlytic/accounts/{username}/webhooks/{id}  a dashboard delete
//	GET    /_emulator/everlytic/accounts/{username}/requests       {"CREATE":n,"GET":n,"LIST":n,"UPDATE":n,"DELETE":n}
//	DELETE /_emulator/everlytic/accounts/{username}/requests       zero the counters
//	POST   /_emulator/everlytic/faults                             a Fault; "latency" as a Go duration ("250ms")
//	DELETE /_emulator/everlytic/faults                             drop every queued fault
//	PUT    /_emulator/everlytic/get-by-id                          {"available":bool}
//	PUT    /_emulator/everlytic/per-page                           {"perPage":n}
func (s *Server) routeControl(mux *http.ServeMux) {
	const accounts = ControlPrefix + "accounts"
	mux.HandleFunc("POST "+accounts, s.controlAddAccount)
	mux.HandleFunc("GET "+accounts+"/{username}/webhooks", s.controlWebhooks)
	mux.HandleFunc("PUT "+accounts+"/{username}/webhooks/{id}", s.controlPutWebhook)
	mux.HandleFunc("DELETE "+accounts+"/{username}/webhooks/{id}", func(w http.ResponseWriter, r *http.Request) {
		controlResult(w, s.DeleteWebhook(r.PathValue("username"), r.PathValue("id")))
	})
	mux.HandleFunc("GET "+accounts+"/{username}/requests", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Webhooks(r.PathValue("username")); err != nil {
			controlResult(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Requests(r.PathValue("username")))
	})
	mux.HandleFunc("DELETE "+accounts+"/{username}/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests(r.PathValue("username"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+ControlPrefix+"faults", s.controlAddFault)
	mux.HandleFunc("DELETE "+ControlPrefix+"faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT "+ControlPrefix+"get-by-id", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Available *bool `json:"available"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.Available == nil {
			writeError(w, http.StatusBadRequest, `body must be {"available":bool}`)
			return
		}
		s.SetGetByIDAvailable(*req.Available)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT "+ControlPrefix+"per-page", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			PerPage int `json:"perPage"`
		}
		if decode(w, r, &req) {
			s.SetPerPage(req.PerPage)
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// decode reads a JSON control body into v; false when it answered.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body is not the expected JSON object")
		return false
	}
	return true
}

func (s *Server) controlAddAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		APIKey   string `json:"apiKey"`
	}
	if !decode(w, r, &req) {
		return
	}
	if err := s.AddAccount(req.Username, req.APIKey); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) controlWebhooks(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.Webhooks(r.PathValue("username"))
	if err != nil {
		controlResult(w, err)
		return
	}
	out := make([]answerWebhook, len(hooks))
	for i, h := range hooks {
		out[i] = answerOf(h, true)
	}
	writeJSON(w, http.StatusOK, out)
}

// controlPutWebhook takes the webhook object, bare or as {"webhook":{...}},
// validates it as the API validates a create and answers it as stored,
// password included; a refusal is the API's 400.
func (s *Server) controlPutWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "Request body too large.")
		return
	}
	obj, ok := parseRequest(body)
	if !ok {
		_ = json.Unmarshal(body, &obj) // the bare object
	}
	if obj == nil {
		writeProblems(w, webhookRequired())
		return
	}
	hook, err := s.dashboardPut(r.PathValue("username"), r.PathValue("id"), obj, time.Time{})
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		writeProblems(w, invalid.Fields)
		return
	}
	if err != nil {
		controlResult(w, err)
		return
	}
	writeJSON(w, http.StatusOK, answerOf(hook, true))
}

func (s *Server) controlAddFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fault
		Latency string `json:"latency"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Latency != "" {
		d, err := time.ParseDuration(req.Latency)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, `latency must be a duration such as "250ms"`)
			return
		}
		req.Fault.Latency = d
	}
	if req.Status != 0 && (req.Status < 100 || req.Status > 599) {
		writeError(w, http.StatusBadRequest, "status must be an HTTP status code")
		return
	}
	s.InjectFault(req.Fault)
	w.WriteHeader(http.StatusNoContent)
}

func controlResult(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoAccount), errors.Is(err, ErrNoWebhook):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
