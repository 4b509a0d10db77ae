package everlyticsms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// +kubebuilder:rbac:groups=everlytic.webhooks.dev,resources=everlyticsmswebhooks,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=everlytic.webhooks.dev,resources=everlyticsmswebhooks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=everlytic.webhooks.dev,resources=everlyticsmswebhooks/finalizers,verbs=update

// API is what the reconciler needs of one Everlytic account.
type API interface {
	Create(ctx context.Context, w everlytic.Webhook) (*everlytic.Webhook, error)
	Get(ctx context.Context, id string) (*everlytic.Webhook, error)
	Update(ctx context.Context, w everlytic.Webhook) (*everlytic.Webhook, error)
	List(ctx context.Context) ([]everlytic.Webhook, error)
	Delete(ctx context.Context, id string) error
}

// ClientFactory returns a client of the install at endpoint for one pair of
// credentials. known are secret values to keep out of its errors.
type ClientFactory func(endpoint string, creds everlytic.Credentials, known []string) (API, error)

// EventRecorder is the events API the reconciler uses.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{})
}

// Options tune the reconciler. Zero values take the defaults.
type Options struct {
	// AllowedEndpoints are the hosts spec.endpoint may name: a name, or
	// "*.domain" for any host below domain. Another endpoint is Stalled
	// (EndpointNotAllowed) and never called. Default: *.everlytic.net,
	// *.everlytic.com.
	AllowedEndpoints []string
	// MaxConcurrentReconciles is how many objects are synced at once. Default 4.
	MaxConcurrentReconciles int
	// MaxInFlightPerEndpoint is how many of those may call one endpoint at
	// once, so that an endpoint that does not answer cannot hold every
	// worker. Default MaxConcurrentReconciles-1 (at least 1).
	MaxInFlightPerEndpoint int
	// MaxInFlightPerAccount is how many may call one account (endpoint and
	// username) at once. Default half of MaxInFlightPerEndpoint (at least 1).
	MaxInFlightPerAccount int
	// BusyRetry is the pause, plus up to half of it, before an object whose
	// endpoint or account is full is tried again. Default 1s.
	BusyRetry time.Duration
	// AllowedPorts are the ports spec.endpoint may name for a host other
	// than loopback. Default 443.
	AllowedPorts []int
	// SyncTimeout bounds one sync, every Everlytic request included. Default 2m.
	SyncTimeout time.Duration
	// StalledRetry is the wait after Everlytic refused the credentials or
	// the request, or after a problem only a change resolves. Default 5m.
	StalledRetry time.Duration
	// RateLimitRetry is the wait after a 429 without a Retry-After. Default 30s.
	RateLimitRetry time.Duration
	// ConfirmDelay is the pause between the two lists that must both show
	// no trace of an interrupted create before it is sent again. Default 10s.
	ConfirmDelay time.Duration
	// WebhookSecretSelector, when set, must match every Secret that
	// receiverAuthRef names.
	WebhookSecretSelector labels.Selector
	// IntervalOverride replaces every spec.interval (tests only).
	IntervalOverride time.Duration
}

// DefaultAllowedEndpoints are the Everlytic hosts allowed by default.
var DefaultAllowedEndpoints = []string{"*.everlytic.net", "*.everlytic.com"}

func (o Options) withDefaults() Options {
	if len(o.AllowedEndpoints) == 0 {
		o.AllowedEndpoints = DefaultAllowedEndpoints
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	if o.MaxInFlightPerEndpoint <= 0 {
		o.MaxInFlightPerEndpoint = max(1, o.MaxConcurrentReconciles-1)
	}
	if o.MaxInFlightPerAccount <= 0 {
		o.MaxInFlightPerAccount = max(1, o.MaxInFlightPerEndpoint/2)
	}
	if o.BusyRetry <= 0 {
		o.BusyRetry = time.Second
	}
	if len(o.AllowedPorts) == 0 {
		o.AllowedPorts = []int{443}
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 2 * time.Minute
	}
	if o.StalledRetry <= 0 {
		o.StalledRetry = 5 * time.Minute
	}
	if o.RateLimitRetry <= 0 {
		o.RateLimitRetry = 30 * time.Second
	}
	if o.ConfirmDelay <= 0 {
		o.ConfirmDelay = 10 * time.Second
	}
	return o
}

// Reconciler reconciles EverlyticSMSWebhooks.
type Reconciler struct {
	// Client reads objects from the cache and writes to the kube-apiserver.
	Client client.Client
	// APIReader reads Secrets from the kube-apiserver (never cached).
	APIReader client.Reader
	Recorder  EventRecorder
	NewClient ClientFactory
	Metrics   *Metrics
	Options   Options
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	secrets   secrets
	gate      *gate
	lastCreds lastCredentials
	reported  reportedReasons
}

// Field indexes of the cache.
const (
	indexSecrets = "everlytic.webhooks.dev/secrets"
	indexClaims  = "everlytic.webhooks.dev/claims"
)

// SetupWithManager registers the controller, its indexes and watches.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.Options = r.Options.withDefaults()
	r.secrets = secrets{meta: mgr.GetCache(), api: r.APIReader, selector: r.Options.WebhookSecretSelector}
	r.gate = newGate(r.Options.MaxInFlightPerEndpoint, r.Options.MaxInFlightPerAccount)
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1.EverlyticSMSWebhook{}, indexSecrets, func(o client.Object) []string {
		return secretNames(o.(*v1.EverlyticSMSWebhook))
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.EverlyticSMSWebhook{}, indexClaims, func(o client.Object) []string {
		return claims(o.(*v1.EverlyticSMSWebhook))
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.EverlyticSMSWebhook{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, ignoreIdentityAnnotations()))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		Named("everlyticsmswebhook").
		Complete(r)
}

// forSecret lists the objects of the Secret's namespace that reference it:
// work proportional to those, not to the cluster.
func (r *Reconciler) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1.EverlyticSMSWebhookList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSecrets: o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// claims are the webhooks an object manages or will: "endpoint id", from
// spec.webhookID and status.webhookID. Two objects that claim the same
// webhook would fight over it, and deleting one would delete the other's.
func claims(w *v1.EverlyticSMSWebhook) []string {
	var out []string
	ep := normalEndpoint(string(w.Spec.Endpoint))
	if w.Spec.WebhookID != "" {
		out = append(out, ep+" "+string(w.Spec.WebhookID))
	}
	if w.Status.WebhookID != "" && w.Status.WebhookID != string(w.Spec.WebhookID) {
		epStatus := ep
		if w.Status.Endpoint != "" {
			epStatus = normalEndpoint(w.Status.Endpoint)
		}
		out = append(out, epStatus+" "+w.Status.WebhookID)
	}
	return out
}

// normalEndpoint is an endpoint as one install is named once: scheme and
// host in lower case, without the scheme's default port or a trailing
// slash (https://live1.everlytic.net:443/ is https://live1.everlytic.net).
func normalEndpoint(e string) string {
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(e, "/")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// endpointMoved says where the object's webhook lives (or an interrupted
// create may have made it) when spec.endpoint now names another install;
// "" when it does not.
func endpointMoved(w *v1.EverlyticSMSWebhook) string {
	if w.Status.Endpoint == "" || (w.Status.WebhookID == "" && w.Status.CreatePending == nil) {
		return ""
	}
	if normalEndpoint(w.Status.Endpoint) == normalEndpoint(string(w.Spec.Endpoint)) {
		return ""
	}
	return w.Status.Endpoint
}

// endpointAllowed says whether the operator may call endpoint's host.
func endpointAllowed(endpoint string, allowed []string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == host {
			return true
		}
		// "*.domain": any host below domain (not domain itself).
		if suffix, ok := strings.CutPrefix(a, "*"); ok && strings.HasPrefix(suffix, ".") &&
			strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			return true
		}
	}
	return false
}

// endpointPortProblem says why the operator may not call endpoint's port, or
// "". A host other than loopback is called on 443 (or a port the
// --everlytic-endpoint-ports flag adds) only: a spec.endpoint that names an
// allowed host on another port could otherwise probe that host's ports, or
// hold workers on a port that drops connections.
func endpointPortProblem(endpoint string, allowed []int) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Port() == "" || everlytic.IsLoopbackHost(u.Hostname()) {
		return ""
	}
	port, err := strconv.Atoi(u.Port())
	if err == nil && slices.Contains(allowed, port) {
		return ""
	}
	ports := make([]string, len(allowed))
	for i, p := range allowed {
		ports[i] = strconv.Itoa(p)
	}
	return fmt.Sprintf("port %s may not be called (the operator's --everlytic-endpoint-ports flag allows %s); name the install without a port", u.Port(), strings.Join(ports, ", "))
}

// Reconcile brings one webhook in line with its object.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	w := &v1.EverlyticSMSWebhook{}
	if err := r.Client.Get(ctx, req.NamespacedName, w); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.NamespacedName)
			r.lastCreds.forget(req.NamespacedName)
			r.reported.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.Options.SyncTimeout)
	defer cancel()
	if err := r.restore(ctx, w); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !w.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, w)
	}
	if w.Spec.Suspend {
		return ctrl.Result{}, r.report(ctx, w, stalled(ReasonSuspended, "spec.suspend is true: no Everlytic call is made"))
	}
	if !controllerutil.ContainsFinalizer(w, Finalizer) {
		// Before anything is created, so that deleting the object can
		// delete it.
		patch := client.MergeFrom(w.DeepCopy())
		controllerutil.AddFinalizer(w, Finalizer)
		if err := r.Client.Patch(ctx, w, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	o, err := r.sync(ctx, w)
	if err != nil {
		return r.failed(ctx, w, err)
	}
	if rerr := r.report(ctx, w, o); rerr != nil {
		return ctrl.Result{}, rerr
	}
	return ctrl.Result{RequeueAfter: r.interval(w)}, nil
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) interval(w *v1.EverlyticSMSWebhook) time.Duration {
	if r.Options.IntervalOverride > 0 {
		return r.Options.IntervalOverride
	}
	return w.GetInterval()
}

// failed reports a failed sync and schedules the retry.
func (r *Reconciler) failed(ctx context.Context, w *v1.EverlyticSMSWebhook, err error) (ctrl.Result, error) {
	var busy *busyError
	if errors.As(err, &busy) {
		return ctrl.Result{RequeueAfter: busy.after}, nil
	}
	v := classify(err, r.Options)
	if rerr := r.report(ctx, w, v.outcome); rerr != nil {
		return ctrl.Result{}, rerr
	}
	if v.retry == 0 {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: v.retry}, nil
}

// client returns the Everlytic client of an object, after the checks that
// keep the operator from calling where it should not.
func (r *Reconciler) client(ctx context.Context, w *v1.EverlyticSMSWebhook) (API, inputs, error) {
	if err := r.checkEndpoint(w); err != nil {
		return nil, inputs{}, err
	}
	in, err := r.secrets.resolve(ctx, w)
	if err != nil {
		return nil, in, err
	}
	api, err := r.connect(w, &in)
	return api, in, err
}

// checkEndpoint refuses an endpoint the operator may not call, or one the
// object's webhook does not live on.
func (r *Reconciler) checkEndpoint(w *v1.EverlyticSMSWebhook) error {
	ep := string(w.Spec.Endpoint)
	if !endpointAllowed(ep, r.Options.AllowedEndpoints) {
		return &stallError{ReasonEndpointNotAllowed, fmt.Sprintf(
			"spec.endpoint: the operator may not call this host (its --everlytic-endpoints flag allows %s)", strings.Join(r.Options.AllowedEndpoints, ", ")), true}
	}
	if problem := endpointPortProblem(ep, r.Options.AllowedPorts); problem != "" {
		return &stallError{ReasonEndpointNotAllowed, "spec.endpoint: " + problem, true}
	}
	if old := endpointMoved(w); old != "" {
		what := "webhook " + w.Status.WebhookID
		if w.Status.WebhookID == "" {
			what = "the webhook an interrupted create may have made"
		}
		return &stallError{ReasonEndpointChanged, fmt.Sprintf(
			"spec.endpoint changed, but %s lives on %s: nothing is written; delete and recreate the object to move the webhook", what, old), true}
	}
	return nil
}

// connect returns a client of the account in.creds reaches, once it is the
// account the object's webhook lives on; it sets in.account.
func (r *Reconciler) connect(w *v1.EverlyticSMSWebhook, in *inputs) (API, error) {
	ep := string(w.Spec.Endpoint)
	in.account = accountID(ep, in.creds.Username)
	if accountChanged(w, in.account) {
		return nil, accountChangedError(w, in.account)
	}
	api, err := r.NewClient(ep, in.creds, in.known())
	if err != nil {
		return nil, &stallError{ReasonInvalidSpec, "spec.endpoint: " + err.Error(), true}
	}
	return api, nil
}
