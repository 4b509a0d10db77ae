package everlyticsms

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/httpmetrics"
)

// Metrics are the Everlytic controller's Prometheus metrics, named and
// labelled as the Sendblue ones are (everlytic_ for sendblue_). Labels never
// carry secrets, URLs, ids or account names.
type Metrics struct {
	api         httpmetrics.API
	writes      *prometheus.CounterVec
	corrections *prometheus.CounterVec
	objects     *prometheus.GaugeVec
	leftBehind  *prometheus.CounterVec

	mu      sync.Mutex
	reasons map[types.NamespacedName]string
}

// NewMetrics creates the metrics and registers them with reg (nil: the
// controller-runtime registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = metrics.Registry
	}
	m := &Metrics{
		api: httpmetrics.New("everlytic", "Everlytic"),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "everlytic_webhook_writes_total",
			Help: "Webhooks written by the operator, by operation: create, update, delete.",
		}, []string{"operation"}),
		corrections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "everlytic_webhook_updates_total",
			Help: "Updates of an existing webhook, by the fields that differed (a change of the object, or drift on Everlytic).",
		}, []string{"fields"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "everlytic_smswebhooks",
			Help: "EverlyticSMSWebhooks by the reason of their Ready condition.",
		}, []string{"reason"}),
		leftBehind: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "everlytic_webhooks_left_behind_total",
			Help: "Webhooks left on Everlytic when their object was deleted with deletionPolicy Delete, because deleting them could not be done, by the reason (credentials gone or refused, account or endpoint changed, the call refused).",
		}, []string{"reason"}),
		reasons: map[types.NamespacedName]string{},
	}
	reg.MustRegister(append(m.api.Collectors(), m.writes, m.corrections, m.objects, m.leftBehind)...)
	for _, r := range AllReasons() {
		m.objects.WithLabelValues(r).Set(0)
	}
	return m
}

func (m *Metrics) setReason(w *v1.EverlyticSMSWebhook, reason string) {
	k := types.NamespacedName{Namespace: w.Namespace, Name: w.Name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.reasons[k]; ok {
		if old == reason {
			return
		}
		m.objects.WithLabelValues(old).Dec()
	}
	m.reasons[k] = reason
	m.objects.WithLabelValues(reason).Inc()
}

// forget drops an object that is gone (or going) from the gauge.
func (m *Metrics) forget(k types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.reasons[k]; ok {
		m.objects.WithLabelValues(old).Dec()
		delete(m.reasons, k)
	}
}

// Instrument wraps a transport to count and time Everlytic requests.
func (m *Metrics) Instrument(next http.RoundTripper) http.RoundTripper { return m.api.Instrument(next) }
