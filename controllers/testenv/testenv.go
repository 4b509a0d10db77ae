// Package testenv is the test harness every provider's envtest suite shares:
// one local control plane per test binary (etcd and kube-apiserver from
// KUBEBUILDER_ASSETS, with every CRD of config/crd/bases installed), a
// goroutine-safe log sink, the scan for secret values, and polling. Only
// tests import it.
//
// Without KUBEBUILDER_ASSETS a test that needs the control plane fails,
// never skips: `make test` builds the binaries (hack/envtest-assets.sh).
package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var (
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	cl   client.Client
	err  error
)

// ControlPlane starts the control plane the first time it is called in a
// test binary and returns its config and a client with scheme; it fails t
// if the control plane cannot start. Call Stop from TestMain.
func ControlPlane(t testing.TB, scheme *runtime.Scheme) (*rest.Config, client.Client) {
	t.Helper()
	once.Do(func() {
		if os.Getenv("KUBEBUILDER_ASSETS") == "" {
			err = errors.New("KUBEBUILDER_ASSETS is not set. These tests need etcd and kube-apiserver: " +
				"run `make test`, or export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh)\"")
			return
		}
		var root string
		if root, err = moduleRoot(); err != nil {
			return
		}
		env = &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
		if cfg, err = env.Start(); err != nil {
			err = fmt.Errorf("starting the envtest control plane from KUBEBUILDER_ASSETS=%s: %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
			env = nil
			return
		}
		cl, err = client.New(cfg, client.Options{Scheme: scheme})
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cl
}

// Started says whether a test of this binary started the control plane.
func Started() bool { return env != nil }

// Stop stops the control plane, if it was started.
func Stop() {
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the envtest control plane: %v\n", err)
		}
	}
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// LogBuffer collects a manager's log; safe for concurrent writes.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FindLeaks returns, for each secret value found in text as written or
// base64-encoded (as a Secret's data travels), a line naming it and what
// precedes it.
func FindLeaks(text string, values []string) []string {
	var out []string
	for _, v := range values {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if i := strings.Index(text, form); i >= 0 {
				out = append(out, fmt.Sprintf("secret value %q appears in logs, events, status or metrics (as %q), after: %q", v, form, text[max(0, i-160):i]))
			}
		}
	}
	return out
}

// WaitFor polls cond every 100ms until it holds, failing t after timeout
// with what and the last state cond described.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

// Events lists the events regarding the object ns/name.
func Events(t testing.TB, c client.Client, ns, name string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// WaitEvent waits for an event with reason regarding ns/name and returns it.
func WaitEvent(t testing.TB, c client.Client, timeout time.Duration, ns, name, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	WaitFor(t, timeout, "event "+reason+" on "+name, func() (bool, string) {
		var reasons []string
		for _, e := range Events(t, c, ns, name) {
			reasons = append(reasons, e.Reason)
			if e.Reason == reason {
				found = e
				return true, ""
			}
		}
		return false, strings.Join(reasons, ",")
	})
	return found
}

// NewManager returns a manager on the control plane for one test: its log
// at the highest verbosity there is (where client-go logs bodies: the leak
// scans must hold there) into logs, no metrics or probe listener, and
// controller names reusable across the test binary's managers.
func NewManager(t testing.TB, cfg *rest.Config, scheme *runtime.Scheme, logs io.Writer, cacheOpts cache.Options, clientOpts client.Options) ctrl.Manager {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 zap.New(zap.WriteTo(logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-128))),
		Cache:                  cacheOpts,
		Client:                 clientOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// Start runs mgr until the returned stop is called; stop (safe to call more
// than once) waits for it and fails t if it ended with an error. Stopping is
// a process restart: nothing in memory survives.
func Start(t testing.TB, mgr ctrl.Manager, ctx context.Context, cancel context.CancelFunc) (stop func()) {
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
}
