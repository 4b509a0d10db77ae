package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
)

// CacheOptions are the manager's cache options: every namespace, or only
// those given, with what the operator does not need stripped from cached
// objects (see stripForCache).
func CacheOptions(namespaces []string) cache.Options {
	opts := cache.Options{DefaultTransform: stripForCache}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// ClientOptions are the manager's client options: Secrets are never read
// from (or put into) the cache.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// stripForCache drops, before an object enters the cache, what the operator
// never reads and what must not sit in its memory: managedFields of every
// object; all of the Secret metadata it watches but name, UID and
// resourceVersion (annotations first: kubectl's last-applied-configuration
// holds the Secret's data in clear); and a set's last-applied-configuration,
// a second copy of its spec.
func stripForCache(in any) (any, error) {
	if o, err := meta.Accessor(in); err == nil && o.GetManagedFields() != nil {
		o.SetManagedFields(nil)
	}
	switch o := in.(type) {
	case *metav1.PartialObjectMetadata:
		// Only Secrets are watched as metadata, and only their name and
		// resourceVersion are read: the rest (annotations first, where
		// kubectl's last-applied-configuration holds the data in clear) is
		// dropped, so that memory grows as little as can be with Secrets
		// no set references.
		o.ObjectMeta = metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, UID: o.UID, ResourceVersion: o.ResourceVersion, DeletionTimestamp: o.DeletionTimestamp}
	case *v1.SendblueWebhookSet:
		if _, ok := o.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
			a := make(map[string]string, len(o.Annotations)-1)
			for k, v := range o.Annotations {
				if k != corev1.LastAppliedConfigAnnotation {
					a[k] = v
				}
			}
			o.Annotations = a
		}
	}
	return in, nil
}
