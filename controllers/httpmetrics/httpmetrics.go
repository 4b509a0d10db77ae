// Package httpmetrics counts and times a provider's API requests, with the
// metric names and labels every provider of the operator uses:
// <provider>_api_requests_total{method,code} (code 0: no answer) and
// <provider>_api_request_duration_seconds{method}. Labels never carry a
// URL, an account or a secret.
package httpmetrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// API is one provider's request metrics.
type API struct {
	Requests *prometheus.CounterVec
	Latency  *prometheus.HistogramVec
}

// New returns the request metrics of a provider ("sendblue", "everlytic"),
// unregistered; display is its name in the help texts.
func New(provider, display string) API {
	return API{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: provider + "_api_requests_total",
			Help: display + " API requests by HTTP method and status code (code 0: no answer).",
		}, []string{"method", "code"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    provider + "_api_request_duration_seconds",
			Help:    display + " API request latency by HTTP method.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
	}
}

// Collectors lists the metrics, for registering.
func (a API) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.Requests, a.Latency}
}

// Instrument wraps a transport to count and time every request.
func (a API) Instrument(next http.RoundTripper) http.RoundTripper {
	return RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		a.Latency.WithLabelValues(r.Method).Observe(time.Since(start).Seconds())
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		a.Requests.WithLabelValues(r.Method, strconv.Itoa(code)).Inc()
		return resp, err
	})
}

// RoundTripperFunc is a function that is an http.RoundTripper.
type RoundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
