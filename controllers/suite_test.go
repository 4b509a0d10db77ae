package controllers

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sendbluev1alpha1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/testenv"
)

// The envtest control plane shared by this package's tests (controllers/
// testenv), started by the first test that asks for it (pure tests and fuzz
// workers never do).
var (
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
	testenv.Stop()
	os.Exit(code)
}

// needControlPlane starts the control plane once and fails t if it cannot.
func needControlPlane(t *testing.T) {
	t.Helper()
	testCfg, testClient = testenv.ControlPlane(t, testScheme)
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
