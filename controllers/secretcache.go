package controllers

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sendblue-operator/sendblue-operator/controllers/secretref"
)

// secretValues keeps, of the Secrets that sets reference, only the keys
// they reference (each at most secretref.MaxValueBytes), with the
// resourceVersion they were read at. A value is read from the kube-apiserver
// again only when the Secret metadata the manager watches shows another
// resourceVersion, or when a key not looked for yet is asked for. What is
// held is bounded by what sets reference, not by what a tenant puts in a
// Secret: a Secret of many large keys costs its referenced keys, and a
// referenced key larger than the bound costs its size alone. Secrets no set
// references are never held: the index drops them as soon as their last
// reference goes (forget).
type secretValues struct {
	// meta reads the watched Secret metadata (the informer cache).
	meta client.Reader
	// api reads Secrets from the kube-apiserver.
	api client.Reader
	// selector, when set, is matched against a Secret's labels when it is
	// read, so that its labels need not be held.
	selector labels.Selector
	// onBytes, when set, is told the bytes held after every change.
	onBytes func(int)

	flight singleflight.Group
	mu     sync.Mutex
	values map[client.ObjectKey]*heldSecret
	bytes  int
	// reads counts kube-apiserver reads, for tests.
	reads int
}

// heldSecret is what is kept of one Secret: the keys looked for at one
// resourceVersion.
type heldSecret struct {
	key             client.ObjectKey
	resourceVersion string
	typ             corev1.SecretType
	// selected: the labels matched the selector (true without one).
	selected bool
	// looked are the keys looked for: values holds those present within the
	// bound, sizes every one present.
	looked map[string]bool
	values map[string][]byte
	sizes  map[string]int
}

// heldValue is one key of a Secret as the cache answers it.
type heldValue struct {
	typ      corev1.SecretType
	selected bool
	// present: the Secret has the key. value is nil when its size is over
	// secretref.MaxValueBytes (size says how large).
	present bool
	value   []byte
	size    int
}

func (h *heldSecret) cost() int {
	n := 0
	for k, v := range h.values {
		n += len(k) + len(v)
	}
	return n
}

func (h *heldSecret) answer(key string) heldValue {
	v, ok := h.values[key]
	size, present := h.sizes[key]
	if ok {
		size = len(v)
	}
	return heldValue{typ: h.typ, selected: h.selected, present: present, value: v, size: size}
}

func newSecretValues(meta, api client.Reader, selector labels.Selector) *secretValues {
	return &secretValues{meta: meta, api: api, selector: selector, values: map[client.ObjectKey]*heldSecret{}}
}

// get returns one key of a Secret, from memory when the watched metadata
// shows the resourceVersion it was read at and the key was looked for then.
// also are keys the caller will ask for next (the key id's companion secret
// key): a read looks for them too, so that one change costs one read. The
// returned value is shared: read only.
func (c *secretValues) get(ctx context.Context, k client.ObjectKey, key string, also ...string) (heldValue, error) {
	rv, err := secretref.WatchedVersion(ctx, c.meta, k)
	if err != nil {
		return heldValue{}, err
	}
	want := append([]string{key}, also...)
	c.mu.Lock()
	h, ok := c.values[k]
	hit := ok && rv != "" && h.resourceVersion == rv
	for _, w := range want {
		hit = hit && h.looked[w]
	}
	if ok {
		// The keys looked for before are still referenced (forget drops a
		// Secret no set references): look for them again after a change.
		want = append(want, slices.Collect(maps.Keys(h.looked))...)
	}
	c.mu.Unlock()
	if hit {
		return h.answer(key), nil
	}
	// Not held, changed, not in the watch yet (just created), or a key not
	// looked for: read it, once for all the sets that ask for the same
	// version and keys at the same time.
	sort.Strings(want)
	want = slices.Compact(want)
	v, err, _ := c.flight.Do(k.String()+"@"+rv+"\x00"+strings.Join(want, "\x00"), func() (any, error) { return c.read(ctx, k, rv, want) })
	if err != nil {
		return heldValue{}, err
	}
	return v.(*heldSecret).answer(key), nil
}

// read reads a Secret from the kube-apiserver at the watched version (see
// secretref.ReadAt) and keeps the keys looked for, within the bound.
func (c *secretValues) read(ctx context.Context, k client.ObjectKey, rv string, keys []string) (*heldSecret, error) {
	fresh, err := secretref.ReadAt(ctx, c.api, k, rv)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if err != nil {
		if apierrors.IsNotFound(err) {
			c.drop(k)
		}
		return nil, err
	}
	h := &heldSecret{key: k, resourceVersion: fresh.ResourceVersion, typ: fresh.Type,
		selected: c.selector == nil || c.selector.Matches(labels.Set(fresh.Labels)),
		looked:   map[string]bool{}, values: map[string][]byte{}, sizes: map[string]int{}}
	if old, ok := c.values[k]; ok {
		// Another read looked for other keys meanwhile: keep looking for them.
		for key := range old.looked {
			keys = append(keys, key)
		}
	}
	for _, key := range keys {
		h.looked[key] = true
		v, ok := fresh.Data[key]
		if !ok {
			continue
		}
		h.sizes[key] = len(v)
		if len(v) <= secretref.MaxValueBytes {
			h.values[key] = v
		}
	}
	c.drop(k)
	c.values[k] = h
	c.bytes += h.cost()
	c.tell()
	return h, nil
}

// drop forgets a Secret; the caller holds mu.
func (c *secretValues) drop(k client.ObjectKey) {
	if h, ok := c.values[k]; ok {
		c.bytes -= h.cost()
		delete(c.values, k)
		c.tell()
	}
}

func (c *secretValues) tell() {
	if c.onBytes != nil {
		c.onBytes(c.bytes)
	}
}

// forget drops a Secret's values.
func (c *secretValues) forget(k client.ObjectKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(k)
}

// held returns how many Secrets are in memory.
func (c *secretValues) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.values)
}

// heldBytes returns the bytes of the values in memory (keys included).
func (c *secretValues) heldBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
