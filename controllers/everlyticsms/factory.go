package everlyticsms

import (
	"net/http"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// NewClientFactory returns a factory of real clients sharing one
// instrumented HTTP client (connections are pooled across objects).
func NewClientFactory(timeout time.Duration, m *Metrics) ClientFactory {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: m.Instrument(transport)}
	return func(endpoint string, creds everlytic.Credentials, known []string) (API, error) {
		return everlytic.New(endpoint, creds, hc, everlytic.WithTimeout(timeout), everlytic.WithSecrets(known...))
	}
}
