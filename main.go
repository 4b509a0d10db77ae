// Command manager runs the sendblue-operator controller manager.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr, probeAddr, apiURL, apiPath, watchNamespace string
		leaderElect                                             bool
		maxConcurrent                                           int
		batchWindow, requestTimeout                             time.Duration
	)
	defaultURL := sendblue.DefaultBaseURL
	if v := os.Getenv("SENDBLUE_API_BASE_URL"); v != "" {
		defaultURL = v
	}
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; \"0\" disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Enable leader election, so that only one manager is active at a time.")
	flag.StringVar(&apiURL, "sendblue-api-url", defaultURL, "Sendblue API base URL (env SENDBLUE_API_BASE_URL). https only; http only for loopback hosts such as the emulator.")
	flag.StringVar(&apiPath, "sendblue-api-path", sendblue.DefaultPath, "Path of the account-webhooks API (or "+sendblue.V2Path+").")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 1, "How many SendblueWebhookSets are reconciled at once (one sync per account at a time regardless).")
	flag.DurationVar(&batchWindow, "batch-window", 100*time.Millisecond, "How long changes for one account are gathered before it is read and written once.")
	flag.DurationVar(&requestTimeout, "sendblue-request-timeout", sendblue.DefaultTimeout, "Timeout of each Sendblue API request.")
	flag.StringVar(&watchNamespace, "watch-namespace", "", "Watch only this namespace (default: all namespaces).")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(controllers.CapVerbosity(zap.New(zap.UseFlagOptions(&opts)), controllers.MaxLogVerbosity))
	log := ctrl.Log.WithName("setup")

	if batchWindow < 0 || maxConcurrent < 1 || requestTimeout <= 0 {
		return fmt.Errorf("--batch-window must be >= 0, --max-concurrent-reconciles >= 1 and --sendblue-request-timeout > 0")
	}
	metrics := controllers.NewMetrics(nil)
	factory, err := controllers.NewClientFactory(apiURL, apiPath, requestTimeout, metrics)
	if err != nil {
		return fmt.Errorf("--sendblue-api-url: %w", err)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(sendbluev1alpha1.AddToScheme(scheme))

	var namespaces []string
	if watchNamespace != "" {
		namespaces = []string{watchNamespace}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controllers.CacheOptions(namespaces),
		Client:                 controllers.ClientOptions(),
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "sendblue-operator.sendblue.webhooks.dev",
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	r := &controllers.SendblueWebhookSetReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("sendblue-operator"),
		NewClient: factory,
		Metrics:   metrics,
		Options:   controllers.Options{BatchWindow: batchWindow, MaxConcurrentReconciles: maxConcurrent},
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("Starting the manager", "sendblueAPI", apiURL+apiPath, "watchNamespace", watchNamespace, "batchWindow", batchWindow.String())
	return mgr.Start(ctx)
}
