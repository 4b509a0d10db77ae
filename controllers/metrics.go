package controllers

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics are the operator's Prometheus metrics. Labels never carry secrets,
// URLs or account identifiers.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	writes      prometheus.Counter
	corrections prometheus.Counter
	sets        *prometheus.GaugeVec

	mu      sync.Mutex
	reasons map[string]string
}

// NewMetrics creates the metrics and registers them with reg (nil: the
// controller-runtime registry served on --metrics-bind-address).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = metrics.Registry
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendblue_api_requests_total",
			Help: "Sendblue API requests by HTTP method and status code (code 0: no answer).",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sendblue_api_request_duration_seconds",
			Help:    "Sendblue API request latency by HTTP method.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
		writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendblue_account_writes_total",
			Help: "Account configurations written (PUT) by the operator.",
		}),
		corrections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendblue_drift_corrections_total",
			Help: "Writes that corrected a change made outside the operator.",
		}),
		sets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sendblue_webhooksets",
			Help: "SendblueWebhookSets by the reason of their Ready condition.",
		}, []string{"reason"}),
		reasons: map[string]string{},
	}
	reg.MustRegister(m.requests, m.latency, m.writes, m.corrections, m.sets)
	for _, r := range AllReasons {
		m.sets.WithLabelValues(r).Set(0)
	}
	return m
}

func (m *Metrics) setReason(uid string, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.reasons[uid]; ok {
		if old == reason {
			return
		}
		m.sets.WithLabelValues(old).Dec()
	}
	if reason == "" {
		delete(m.reasons, uid)
		return
	}
	m.reasons[uid] = reason
	m.sets.WithLabelValues(reason).Inc()
}

// instrument wraps a transport to count and time Sendblue requests.
func (m *Metrics) instrument(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		m.latency.WithLabelValues(r.Method).Observe(time.Since(start).Seconds())
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		m.requests.WithLabelValues(r.Method, strconv.Itoa(code)).Inc()
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
