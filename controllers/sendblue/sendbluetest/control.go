package sendbluetest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// The control surface, for tests and the demo. It has no authentication: the
// emulator program listens on loopback only.
//
//	POST   /_emulator/accounts                  {"keyId","secretKey","webhooks"?}
//	POST   /_emulator/accounts/{keyID}/keys      {"keyId","secretKey"}: another key of the account
//	GET    /_emulator/accounts/{keyID}/webhooks  the stored configuration
//	PUT    /_emulator/accounts/{keyID}/webhooks  overwrite it (any JSON object)
//	GET    /_emulator/accounts/{keyID}/requests  {"GET":n,"PUT":n,"POST":n,"DELETE":n}
//	DELETE /_emulator/accounts/{keyID}/requests  zero the counters
//	POST   /_emulator/faults                     a Fault; "latency" as a Go duration ("250ms")
//	DELETE /_emulator/faults                     drop every queued fault
func (s *Server) routeControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /_emulator/accounts", s.controlAddAccount)
	mux.HandleFunc("POST /_emulator/accounts/{keyID}/keys", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			KeyID     string `json:"keyId"`
			SecretKey string `json:"secretKey"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "body must be {\"keyId\",\"secretKey\"}")
			return
		}
		if err := s.AddKey(r.PathValue("keyID"), req.KeyID, req.SecretKey); err != nil {
			controlResult(w, err)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /_emulator/accounts/{keyID}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		cfg, err := s.Webhooks(r.PathValue("keyID"))
		if err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		writeRaw(w, http.StatusOK, string(cfg))
	})
	mux.HandleFunc("PUT /_emulator/accounts/{keyID}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		if err == nil {
			err = s.SetWebhooks(r.PathValue("keyID"), body)
		}
		controlResult(w, err)
	})
	mux.HandleFunc("GET /_emulator/accounts/{keyID}/requests", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Webhooks(r.PathValue("keyID")); err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s.Requests(r.PathValue("keyID")))
	})
	mux.HandleFunc("DELETE /_emulator/accounts/{keyID}/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests(r.PathValue("keyID"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_emulator/faults", s.controlAddFault)
	mux.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Server) controlAddAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		KeyID     string          `json:"keyId"`
		SecretKey string          `json:"secretKey"`
		Webhooks  json.RawMessage `json:"webhooks"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"keyId\",\"secretKey\",\"webhooks\"?}")
		return
	}
	err := s.AddAccount(req.KeyID, req.SecretKey)
	if err == nil && len(req.Webhooks) > 0 {
		err = s.SetWebhooks(req.KeyID, req.Webhooks)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) controlAddFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fault
		Latency string `json:"latency"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a fault object: "+err.Error())
		return
	}
	if req.Latency != "" {
		d, err := time.ParseDuration(req.Latency)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "latency must be a duration such as \"250ms\"")
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
	case errors.Is(err, ErrNoAccount):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
