package controllers

import (
	"context"

	"errors"
	"fmt"
	"github.com/go-logr/logr"
	"os"
	"path/filepath"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
)

// The envtest control plane (etcd + kube-apiserver) shared by this package's
// tests, started by the first test that asks for it (pure tests and fuzz
// workers never do). `make test` builds or reuses the binaries
// (hack/envtest-assets.sh) and sets KUBEBUILDER_ASSETS; without them every
// test that needs the control plane fails, never skips.
var (
	envOnce    sync.Once
	env        *envtest.Environment
	envErr     error
	testCfg    *rest.Config
	testClient client.Client
	testScheme = runtime.NewScheme()
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(sendbluev1alpha1.AddToScheme(testScheme))
}

func TestMain(m *testing.M) {
	// Each test's manager has its own logger; client-go's informers fall back
	// to the global one, which logs nothing here.
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	if code == 0 {
		if err := kstatusCoverage(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	if env != nil && envErr == nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the envtest control plane: %v\n", err)
		}
	}
	os.Exit(code)
}

// needControlPlane starts the control plane once and fails t if it cannot.
func needControlPlane(t *testing.T) {
	t.Helper()
	envOnce.Do(func() {
		if os.Getenv("KUBEBUILDER_ASSETS") == "" {
			envErr = errors.New("KUBEBUILDER_ASSETS is not set. These tests need etcd and kube-apiserver: " +
				"run `make test`, or export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh)\"")
			return
		}
		env = &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
		}
		testCfg, envErr = env.Start()
		if envErr != nil {
			envErr = fmt.Errorf("starting the envtest control plane from KUBEBUILDER_ASSETS=%s: %w", os.Getenv("KUBEBUILDER_ASSETS"), envErr)
			return
		}
		testClient, envErr = client.New(testCfg, client.Options{Scheme: testScheme})
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
}

// TestControlPlaneStoresAndServesObjects is the smoke test of the toolchain:
// the apiserver built by hack/envtest-assets.sh answers, and an object
// written through it reads back from etcd.
func TestControlPlaneStoresAndServesObjects(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()

	dc, err := discovery.NewDiscoveryClientForConfig(testCfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.Major != "1" || v.Minor == "" {
		t.Errorf("server version %+v: want a Kubernetes 1.x apiserver", v)
	}
	t.Logf("kube-apiserver %s", v.GitVersion)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "smoke-"}}
	if err := testClient.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	want := map[string]string{"receive": "https://app.example.com/sendblue/receive"}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns.Name}, Data: want}
	if err := testClient.Create(ctx, cm); err != nil {
		t.Fatalf("create configmap: %v", err)
	}

	var got corev1.ConfigMap
	if err := testClient.Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if got.UID == "" || got.ResourceVersion == "" || got.Data["receive"] != want["receive"] {
		t.Errorf("read back %+v: want uid, resourceVersion and data %v", got, want)
	}
}
