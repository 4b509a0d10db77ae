package everlyticsms

import (
	"net"
	"net/http"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// DialTimeout bounds connecting to an Everlytic install: an install answers
// a connection in well under a second, and a host that drops connections (a
// filtered port) would otherwise hold a worker for the whole request timeout.
const DialTimeout = 5 * time.Second

// NewClientFactory returns a factory of real clients sharing one
// instrumented HTTP client (connections are pooled across objects).
func NewClientFactory(timeout time.Duration, m *Metrics) ClientFactory {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	hc := &http.Client{Transport: m.Instrument(transport)}
	return func(endpoint string, creds everlytic.Credentials, known []string) (API, error) {
		return everlytic.New(endpoint, creds, hc, everlytic.WithTimeout(timeout), everlytic.WithSecrets(known...))
	}
}
