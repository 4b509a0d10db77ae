package controllers

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sendblue-operator/sendblue-operator/controllers/secretref"
)

// secretValues keeps the values of the Secrets that sets reference, each
// with the resourceVersion it was read at. A value is read from the
// kube-apiserver again only when the Secret metadata the manager watches
// shows another resourceVersion. Secrets no set references are never held:
// the index drops them as soon as their last reference goes (forget).
type secretValues struct {
	// meta reads the watched Secret metadata (the informer cache).
	meta client.Reader
	// api reads Secrets from the kube-apiserver.
	api client.Reader

	flight singleflight.Group
	mu     sync.Mutex
	values map[client.ObjectKey]*corev1.Secret
	// reads counts kube-apiserver reads, for tests.
	reads int
}

func newSecretValues(meta, api client.Reader) *secretValues {
	return &secretValues{meta: meta, api: api, values: map[client.ObjectKey]*corev1.Secret{}}
}

// get returns the Secret, from memory when the watched metadata shows the
// resourceVersion it was read at. The returned object is shared: read only.
func (c *secretValues) get(ctx context.Context, k client.ObjectKey) (*corev1.Secret, error) {
	rv, err := secretref.WatchedVersion(ctx, c.meta, k)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	s, ok := c.values[k]
	c.mu.Unlock()
	if ok && rv != "" && s.ResourceVersion == rv {
		return s, nil
	}
	// Not held, changed, or not in the watch yet (just created): read it,
	// once for all the sets that ask for the same version at the same time.
	v, err, _ := c.flight.Do(k.String()+"@"+rv, func() (any, error) { return c.read(ctx, k, rv) })
	if err != nil {
		return nil, err
	}
	return v.(*corev1.Secret), nil
}

// read reads a Secret from the kube-apiserver at the watched version (see
// secretref.ReadAt) and keeps what the operator uses of it.
func (c *secretValues) read(ctx context.Context, k client.ObjectKey, rv string) (*corev1.Secret, error) {
	fresh, err := secretref.ReadAt(ctx, c.api, k, rv)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if err != nil {
		if apierrors.IsNotFound(err) {
			delete(c.values, k)
		}
		return nil, err
	}
	kept := &corev1.Secret{Type: fresh.Type, Data: fresh.Data}
	kept.Namespace, kept.Name, kept.ResourceVersion, kept.Labels = fresh.Namespace, fresh.Name, fresh.ResourceVersion, fresh.Labels
	c.values[k] = kept
	return kept, nil
}

// forget drops a Secret's value.
func (c *secretValues) forget(k client.ObjectKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.values, k)
}

// held returns how many values are in memory.
func (c *secretValues) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.values)
}
