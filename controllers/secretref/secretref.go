// Package secretref reads the Secret values the operator's resources
// reference, for every provider: at the resourceVersion the manager's
// metadata watch shows (served from the kube-apiserver's watch cache), with
// client-go's body logging silenced, and checked before use. Messages name
// Secrets and keys, never values.
package secretref

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WatchedVersion returns the resourceVersion of a Secret as the metadata
// watch (meta, the informer cache) shows it: "" when the watch does not
// show it yet, or when meta is nil.
func WatchedVersion(ctx context.Context, meta client.Reader, k client.ObjectKey) (string, error) {
	if meta == nil {
		return "", nil
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	switch err := meta.Get(ctx, k, m); {
	case err == nil:
		return m.ResourceVersion, nil
	case apierrors.IsNotFound(err):
		return "", nil
	default:
		return "", err
	}
}

// ReadAt reads a Secret from the kube-apiserver (api). With the
// resourceVersion the watch showed, it asks for a version not older than that
// one, which the kube-apiserver serves from its watch cache instead of a
// quorum read from etcd; an apiserver whose cache is behind
// (ResourceVersionTooLarge) is read from etcd. Without one, it is a quorum
// read. The logger logs nothing: client-go logs response bodies, a Secret's
// data among them, at high verbosity.
func ReadAt(ctx context.Context, api client.Reader, k client.ObjectKey, rv string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	quiet := logr.NewContext(ctx, logr.Discard())
	if rv == "" {
		return s, api.Get(quiet, k, s)
	}
	err := api.Get(quiet, k, s, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: rv}})
	if apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		s = &corev1.Secret{}
		err = api.Get(quiet, k, s)
	}
	return s, err
}

// Kind says where a value goes, which decides what it may contain.
type Kind int

const (
	// Credential values travel in HTTP headers to a provider's API.
	Credential Kind = iota
	// Sent values are stored by the provider and sent by it to a URL the
	// resource names: any URL a tenant can write.
	Sent
)

// MaxValueBytes bounds a value the operator uses: an API key, a webhook
// secret or a password is far smaller. A larger one is refused, and never
// held in memory: a tenant's Secrets must not be able to grow the manager.
const MaxValueBytes = 4096

// SizeProblem says why a value of size bytes cannot be used, or "".
func SizeProblem(size int) string {
	if size > MaxValueBytes {
		return fmt.Sprintf("is %d bytes, more than the %d an API key, a webhook secret or a password may be", size, MaxValueBytes)
	}
	return ""
}

// ValueProblem says why a value cannot be used, or "" if it can. It never
// repeats the value.
func ValueProblem(v []byte, kind Kind) string {
	if problem := SizeProblem(len(v)); problem != "" {
		return problem
	}
	switch {
	case len(v) == 0 || strings.TrimSpace(string(v)) == "":
		return "is empty"
	case strings.ContainsAny(string(v), "\r\n"):
		return "contains a line break (a trailing newline from echo?)"
	case !utf8.Valid(v):
		return "is not valid UTF-8 (JSON would change it, so the account would never match)"
	case strings.IndexFunc(string(v), unicode.IsControl) >= 0:
		return "contains a control character"
	case strings.TrimSpace(string(v)) != string(v):
		return "has leading or trailing whitespace (HTTP strips it, so the value would not arrive as written)"
	case kind == Credential && strings.IndexFunc(string(v), func(r rune) bool { return r > unicode.MaxASCII }) >= 0:
		return "contains a character outside ASCII (API keys are ASCII)"
	}
	return ""
}
