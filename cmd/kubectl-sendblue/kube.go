package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
)

// kubeFlags are kubectl's flags for finding the cluster and the namespace.
type kubeFlags struct {
	kubeconfig, context, namespace string
}

func (k *kubeFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "Path of the kubeconfig `FILE` (default: $KUBECONFIG, else ~/.kube/config).")
	fs.StringVar(&k.context, "context", "", "The kubeconfig `CONTEXT` to use.")
	fs.StringVar(&k.namespace, "namespace", "", "The `NAMESPACE` (default: the context's namespace, else default).")
	fs.StringVar(&k.namespace, "n", "", "Short for --namespace.")
}

// clientConfig loads the kubeconfig as kubectl does: --kubeconfig, else the
// files in $KUBECONFIG, else ~/.kube/config (or the in-cluster config).
func (k kubeFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.context}
	overrides.Context.Namespace = k.namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// resolveNamespace is -n, else the context's namespace, else "default". It
// needs no cluster: with no kubeconfig at all it is "default".
func (k kubeFlags) resolveNamespace() (string, error) {
	ns, _, err := k.clientConfig().Namespace()
	switch {
	case err != nil && clientcmd.IsEmptyConfig(err):
		return "default", nil
	case err != nil:
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	case ns == "":
		return "default", nil
	}
	return ns, nil
}

// cluster is what the commands read from the kube-apiserver.
type cluster interface {
	// Secret reads one Secret.
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	// Sets lists the SendblueWebhookSets of namespace, or of all namespaces
	// when namespace is "".
	Sets(ctx context.Context, namespace string) ([]v1.SendblueWebhookSet, error)
}

// kubeCluster reads with a plain controller-runtime client: no cache, no
// manager.
type kubeCluster struct {
	c client.Client
}

// connect returns a client for the cluster the flags name.
func connect(k kubeFlags) (cluster, error) {
	cfg, err := k.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-sendblue"
	cfg.Timeout = 30 * time.Second
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return kubeCluster{c: c}, nil
}

func (k kubeCluster) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := k.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (k kubeCluster) Sets(ctx context.Context, namespace string) ([]v1.SendblueWebhookSet, error) {
	var list v1.SendblueWebhookSetList
	var opts []client.ListOption
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := k.c.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	return list.Items, nil
}
