package controllers

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sendblue-operator/sendblue-operator/controllers/httpmetrics"
)

// Metrics are the operator's Prometheus metrics. Labels never carry secrets,
// URLs or account identifiers.
type Metrics struct {
	api         httpmetrics.API
	writes      prometheus.Counter
	corrections prometheus.Counter
	sets        *prometheus.GaugeVec
	syncs       *prometheus.CounterVec
	accounts    prometheus.Gauge
	kube        *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	vanished    *prometheus.CounterVec
	syncTime    prometheus.Histogram
	readGap     prometheus.Histogram
	secretBytes prometheus.Gauge
	leftBehind  *prometheus.CounterVec
	oldest      func() time.Time

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
		api: httpmetrics.New("sendblue", "Sendblue"),
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
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendblue_account_syncs_total",
			Help: "Account syncs by result: unchanged (read, nothing to write), written, failed, stale (a set changed meanwhile: synced again), deferred (before every set present at start was indexed).",
		}, []string{"result"}),
		accounts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sendblue_accounts",
			Help: "Sendblue accounts (pairs of credentials) the operator syncs.",
		}),
		kube: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendblue_operator_kubernetes_requests_total",
			Help: "Requests the operator made to the kube-apiserver, by verb and resource.",
		}, []string{"verb", "resource"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendblue_events_skipped_total",
			Help: "Normal (informational) events not sent because more than 100 came at once (then 10 a second), by reason. Warnings are always sent.",
		}, []string{"reason"}),
		vanished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendblue_webhooks_vanished_total",
			Help: "Webhooks a set had applied that were found removed from the account by someone else (Sendblue deletes a webhook whose receiver answers 410 Gone) and added again, by event type.",
		}, []string{"type"}),
		syncTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sendblue_account_sync_duration_seconds",
			Help:    "How long an account sync took: its read, plan, write and status reports.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		readGap: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sendblue_account_read_age_seconds",
			Help:    "Freshness, observed at each account read: seconds since that account's previous read (a converged account is read once per interval). No label names the account.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		secretBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sendblue_secret_value_bytes",
			Help: "Bytes of Secret values the operator holds in memory: only the keys sets reference, each at most 4096 bytes (larger ones are refused, not held).",
		}),
		leftBehind: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendblue_webhooks_left_behind_total",
			Help: "Sets deleted (deletionPolicy Delete) that left webhooks or secrets on their account: kept because another set holds them (Kept), or their credentials could not be read or used (the reason).",
		}, []string{"reason"}),
		reasons: map[string]string{},
	}
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sendblue_account_oldest_read_timestamp_seconds",
		Help: "When the account read least recently was last read from Sendblue (Unix seconds; 0 with no account). " +
			"A converged set's status.lastSyncTime is not refreshed: this says how fresh the operator's view is.",
	}, func() float64 {
		m.mu.Lock()
		f := m.oldest
		m.mu.Unlock()
		if f == nil {
			return 0
		}
		if t := f(); !t.IsZero() {
			return float64(t.UnixNano()) / 1e9
		}
		return 0
	})
	reg.MustRegister(append(m.api.Collectors(), m.writes, m.corrections, m.sets, m.syncs, m.accounts, m.kube, m.skipped, m.vanished, m.syncTime, m.readGap, m.secretBytes, m.leftBehind, oldest)...)
	for _, r := range AllReasons {
		m.sets.WithLabelValues(r).Set(0)
	}
	return m
}

// observeAccounts tells the metrics where to find the oldest account read.
func (m *Metrics) observeAccounts(oldest func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.oldest = oldest
}

// InstrumentKubernetes counts the requests made with cfg by verb and
// resource (sendblue_operator_kubernetes_requests_total).
func (m *Metrics) InstrumentKubernetes(cfg *rest.Config) {
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return httpmetrics.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			verb, resource := kubeVerb(r)
			m.kube.WithLabelValues(verb, resource).Inc()
			return next.RoundTrip(r)
		})
	})
}

// kubeVerb names a kube-apiserver request the way audit logs do: verb
// (get, list, watch, create, update, patch, delete) and resource (with its
// subresource: sendbluewebhooksets/status).
func kubeVerb(r *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /api/v1/... or /apis/group/version/...
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(r.Method), "other"
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		parts = parts[2:]
	}
	named := len(parts) >= 2
	if len(parts) == 0 {
		return strings.ToLower(r.Method), "other"
	}
	resource = parts[0]
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = strings.ToLower(r.Method)
	}
	return verb, resource
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
func (m *Metrics) instrument(next http.RoundTripper) http.RoundTripper { return m.api.Instrument(next) }
