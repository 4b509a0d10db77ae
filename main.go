// Command manager runs the sendblue-operator controller manager.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	everlyticv1alpha1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlyticsms"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	metricsAddr, metricsCertDir, probeAddr, apiURL, apiPath string
	pprofAddr                                               string
	leaderElectionNamespace                                 string
	watchNamespaces, watchNamespace, secretSelector         string
	leaderElect, metricsSecure                              bool
	maxConcurrent, maxSyncs, kubeBurst                      int
	kubeQPS                                                 float64
	batchWindow, requestTimeout, rateLimitRetry             time.Duration
	syncTimeout                                             time.Duration
	readRetry, stalledRetry, releaseAfter                   time.Duration
	providers, everlyticEndpoints                           string
	everlyticTimeout                                        time.Duration
	everlyticWorkers                                        int
	everlyticPorts                                          string
}

func parseFlags() (config, zap.Options) {
	var c config
	defaultURL := sendblue.DefaultBaseURL
	if v := os.Getenv("SENDBLUE_API_BASE_URL"); v != "" {
		defaultURL = v
	}
	flag.StringVar(&c.metricsAddr, "metrics-bind-address", ":8443", "Address of the Prometheus metrics endpoint; \"0\" disables it.")
	flag.BoolVar(&c.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, to callers the cluster authenticates (TokenReview) and authorizes (SubjectAccessReview, get on /metrics). false: plain HTTP, for local use.")
	flag.StringVar(&c.metricsCertDir, "metrics-cert-dir", "", "Directory with tls.crt and tls.key for the metrics endpoint; empty: a self-signed certificate is generated at start.")
	flag.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.StringVar(&c.pprofAddr, "pprof-bind-address", "", "Address of Go's /debug/pprof profiles, for diagnosis (plain HTTP, unauthenticated: bind to localhost); empty: off.")
	flag.BoolVar(&c.leaderElect, "leader-elect", false, "Enable leader election, so that only one manager is active at a time.")
	flag.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election lease (default: the manager's own namespace in a cluster).")
	flag.StringVar(&c.apiURL, "sendblue-api-url", defaultURL, "Sendblue API base URL (env SENDBLUE_API_BASE_URL). https only; http only for loopback hosts such as the emulator.")
	flag.StringVar(&c.apiPath, "sendblue-api-path", sendblue.DefaultPath, "Path of the account-webhooks API (or "+sendblue.V2Path+").")
	flag.IntVar(&c.maxConcurrent, "max-concurrent-reconciles", 16, "How many SendblueWebhookSets are indexed at once (their Secrets read, their account found). No Sendblue call is made there.")
	flag.IntVar(&c.maxSyncs, "max-concurrent-syncs", 16, "How many Sendblue accounts are synced at once (one sync per account at a time regardless).")
	flag.DurationVar(&c.syncTimeout, "sync-timeout", 2*time.Minute, "Deadline of one account sync: its Sendblue requests and status reports.")
	flag.DurationVar(&c.batchWindow, "batch-window", 100*time.Millisecond, "How long a change waits before its account is read and written, so that changes arriving together are written with one PUT; 0: at once.")
	flag.Float64Var(&c.kubeQPS, "kube-api-qps", 500, "Requests per second the manager may make to the kube-apiserver (client-side limit; the server's priority and fairness applies too).")
	flag.IntVar(&c.kubeBurst, "kube-api-burst", 1000, "Burst of requests allowed above --kube-api-qps.")
	flag.DurationVar(&c.requestTimeout, "sendblue-request-timeout", sendblue.DefaultTimeout, "Timeout of each Sendblue API request.")
	flag.DurationVar(&c.rateLimitRetry, "rate-limit-retry", 30*time.Second, "Wait after a Sendblue 429 that gives no Retry-After.")
	flag.DurationVar(&c.releaseAfter, "release-after", 5*time.Minute, "How long a SendblueWebhookSet deleted with deletionPolicy Delete waits for credentials it cannot read (and the manager does not remember, as after a restart) before it is let go, leaving what it applied on the account.")
	flag.DurationVar(&c.stalledRetry, "stalled-retry", 5*time.Minute, "Wait before trying again what Sendblue refused and will refuse again unchanged: credentials (401/403), a request (400), a size (413).")
	flag.DurationVar(&c.readRetry, "read-retry", 5*time.Second, "Wait before reading an account again after a read that may not be the whole account, or writing again what Sendblue did not store as sent; also the least time between two reads that confirm a sudden loss of everything the operator did not write.")
	flag.StringVar(&c.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch (default: all). Sets and Secrets elsewhere are not seen; the RBAC may then be Roles in these namespaces only.")
	flag.StringVar(&c.watchNamespace, "watch-namespace", "", "Deprecated: one namespace to watch; use --watch-namespaces.")
	flag.StringVar(&c.secretSelector, "webhook-secret-selector", "", "Label selector every Secret referenced by secretRef, globalSecretRef or legacySecretRef must match (e.g. sendblue.webhooks.dev/referable=true); empty: any Secret of the set's namespace.")
	flag.StringVar(&c.providers, "providers", "sendblue,everlytic", "Comma-separated providers whose resources the manager reconciles: sendblue (SendblueWebhookSet), everlytic (EverlyticSMSWebhook). Each needs its CRD installed.")
	flag.StringVar(&c.everlyticEndpoints, "everlytic-endpoints", strings.Join(everlyticsms.DefaultAllowedEndpoints, ","), "Comma-separated hosts an EverlyticSMSWebhook's spec.endpoint may name: a host, or *.domain for any host below domain. Others are refused (EndpointNotAllowed) and never called.")
	flag.DurationVar(&c.everlyticTimeout, "everlytic-request-timeout", 30*time.Second, "Timeout of each Everlytic API request.")
	flag.IntVar(&c.everlyticWorkers, "everlytic-max-concurrent-reconciles", 4, "How many EverlyticSMSWebhooks are synced at once. One endpoint may hold all but one of them, one account (endpoint and username) half of that; others wait their turn without holding a worker.")
	flag.StringVar(&c.everlyticPorts, "everlytic-endpoint-ports", "443", "Comma-separated ports an EverlyticSMSWebhook's spec.endpoint may name for a host other than loopback. Others are refused (EndpointNotAllowed) and never called.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	return c, opts
}

func (c config) namespaces() ([]string, error) {
	list := c.watchNamespaces
	if c.watchNamespace != "" {
		if list != "" {
			return nil, errors.New("--watch-namespace and --watch-namespaces: give one")
		}
		list = c.watchNamespace
	}
	var out []string
	for _, ns := range strings.Split(list, ",") {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--watch-namespaces: %q is not a namespace name", ns)
		}
		out = append(out, ns)
	}
	return out, nil
}

func run() error {
	c, opts := parseFlags()
	// Above V(7), client-go logs response bodies, Secret data among them.
	ctrl.SetLogger(controllers.CapVerbosity(zap.New(zap.UseFlagOptions(&opts)), controllers.MaxLogVerbosity))
	log := ctrl.Log.WithName("setup")

	if c.batchWindow < 0 || c.maxConcurrent < 1 || c.maxSyncs < 1 || c.requestTimeout <= 0 || c.rateLimitRetry <= 0 || c.readRetry <= 0 || c.stalledRetry <= 0 || c.syncTimeout <= 0 || c.releaseAfter <= 0 {
		return fmt.Errorf("--batch-window must be >= 0, --max-concurrent-reconciles and --max-concurrent-syncs >= 1, and --sendblue-request-timeout, --rate-limit-retry, --read-retry, --stalled-retry, --release-after and --sync-timeout > 0")
	}
	if c.kubeQPS <= 0 || c.kubeBurst < 1 {
		return fmt.Errorf("--kube-api-qps must be > 0 and --kube-api-burst >= 1")
	}
	namespaces, err := c.namespaces()
	if err != nil {
		return err
	}
	var selector labels.Selector
	if c.secretSelector != "" {
		if selector, err = labels.Parse(c.secretSelector); err != nil {
			return fmt.Errorf("--webhook-secret-selector: %w", err)
		}
	}
	providers, err := c.providerSet()
	if err != nil {
		return err
	}
	if c.everlyticTimeout <= 0 || c.everlyticWorkers < 1 {
		return fmt.Errorf("--everlytic-request-timeout must be > 0 and --everlytic-max-concurrent-reconciles >= 1")
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(sendbluev1alpha1.AddToScheme(scheme))
	utilruntime.Must(everlyticv1alpha1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{BindAddress: c.metricsAddr, SecureServing: c.metricsSecure, CertDir: c.metricsCertDir}
	if c.metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the kube-apiserver: %w", err)
	}
	restConfig.QPS, restConfig.Burst = float32(c.kubeQPS), c.kubeBurst
	// The operator's metrics (sendblue_*, the kube-apiserver requests among
	// them), registered whatever the providers.
	metrics := controllers.NewMetrics(nil)
	metrics.InstrumentKubernetes(restConfig)
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controllers.CacheOptions(namespaces),
		Client:                  controllers.ClientOptions(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  c.probeAddr,
		PprofBindAddress:        c.pprofAddr,
		LeaderElection:          c.leaderElect,
		LeaderElectionID:        "sendblue-operator.sendblue.webhooks.dev",
		LeaderElectionNamespace: c.leaderElectionNamespace,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	if providers["sendblue"] {
		if err := setupSendblue(ctx, mgr, c, selector, metrics); err != nil {
			return err
		}
	}
	if providers["everlytic"] {
		if err := setupEverlytic(ctx, mgr, c, selector); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("caches", cacheSynced(mgr.GetCache())); err != nil {
		return err
	}
	log.Info("Starting the manager", "providers", c.providers, "sendblueAPI", c.apiURL+c.apiPath, "watchNamespaces", strings.Join(namespaces, ","),
		"batchWindow", c.batchWindow.String(), "metricsSecure", c.metricsSecure)
	return mgr.Start(ctx)
}

// providerSet parses --providers.
func (c config) providerSet() (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range strings.Split(c.providers, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "sendblue", "everlytic":
			out[p] = true
		default:
			return nil, fmt.Errorf("--providers: unknown provider %q (sendblue, everlytic)", p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--providers: name at least one provider")
	}
	return out, nil
}

// setupSendblue registers the SendblueWebhookSet controller.
func setupSendblue(ctx context.Context, mgr ctrl.Manager, c config, selector labels.Selector, metrics *controllers.Metrics) error {
	factory, err := controllers.NewClientFactory(c.apiURL, c.apiPath, c.requestTimeout, metrics)
	if err != nil {
		return fmt.Errorf("--sendblue-api-url: %w", err)
	}
	r := &controllers.SendblueWebhookSetReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("sendblue-operator"),
		NewClient: factory,
		Metrics:   metrics,
		Options: controllers.Options{BatchWindow: c.batchWindow, MaxConcurrentReconciles: c.maxConcurrent,
			MaxConcurrentSyncs: c.maxSyncs, SyncTimeout: c.syncTimeout,
			RateLimitRetry: c.rateLimitRetry, UnauthorizedRetry: c.stalledRetry, ConfirmDelay: c.readRetry, ReleaseAfter: c.releaseAfter,
			WebhookSecretSelector: selector},
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the SendblueWebhookSet controller: %w", err)
	}
	return nil
}

// everlyticPortList parses --everlytic-endpoint-ports: at least one port,
// each from 1 to 65535.
func (c config) everlyticPortList() ([]int, error) {
	var out []int
	for _, p := range strings.Split(c.everlyticPorts, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--everlytic-endpoint-ports: %q is not a port (1-65535)", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--everlytic-endpoint-ports: name at least one port")
	}
	return out, nil
}

// setupEverlytic registers the EverlyticSMSWebhook controller.
func setupEverlytic(ctx context.Context, mgr ctrl.Manager, c config, selector labels.Selector) error {
	var allowed []string
	for _, h := range strings.Split(c.everlyticEndpoints, ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			allowed = append(allowed, h)
		}
	}
	if len(allowed) == 0 {
		return errors.New("--everlytic-endpoints: name at least one host")
	}
	ports, err := c.everlyticPortList()
	if err != nil {
		return err
	}
	metrics := everlyticsms.NewMetrics(nil)
	r := &everlyticsms.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("sendblue-operator"),
		NewClient: everlyticsms.NewClientFactory(c.everlyticTimeout, metrics), Metrics: metrics,
		Options: everlyticsms.Options{AllowedEndpoints: allowed, AllowedPorts: ports, MaxConcurrentReconciles: c.everlyticWorkers,
			SyncTimeout: c.syncTimeout, StalledRetry: c.stalledRetry, RateLimitRetry: c.rateLimitRetry, WebhookSecretSelector: selector},
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the EverlyticSMSWebhook controller: %w", err)
	}
	return nil
}

// cacheSynced is a readiness check: not ready until the informers have
// listed what they watch, so that no sync runs on a partial view.
func cacheSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the informer caches have not synced yet")
		}
		return nil
	}
}
