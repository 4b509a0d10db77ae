package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/v1alpha1"
)

// The envtest control plane (etcd + kube-apiserver) shared by this package's
// tests. `make test` builds or reuses the binaries (hack/envtest-assets.sh)
// and sets KUBEBUILDER_ASSETS; without them the suite fails, never skips.
var (
	testCfg    *rest.Config
	testClient client.Client
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: KUBEBUILDER_ASSETS is not set. The controllers tests need etcd and kube-apiserver: "+
			"run `make test`, or export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh)\".")
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: false, // the SendblueWebhookSet CRD arrives with its types
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the envtest control plane from KUBEBUILDER_ASSETS=%s: %v\n", os.Getenv("KUBEBUILDER_ASSETS"), err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the envtest control plane: %v\n", err)
		}
	}()

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(sendbluev1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: client for the envtest control plane: %v\n", err)
		return 1
	}
	testCfg, testClient = cfg, c
	return m.Run()
}

// TestControlPlaneStoresAndServesObjects is the smoke test of the toolchain:
// the apiserver built by hack/envtest-assets.sh answers, and an object
// written through it reads back from etcd.
func TestControlPlaneStoresAndServesObjects(t *testing.T) {
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
