package controllers

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// metaReader answers the watched metadata of one Secret.
type metaReader struct{ rv string }

func (m metaReader) Get(_ context.Context, k client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	obj.SetName(k.Name)
	obj.SetNamespace(k.Namespace)
	obj.SetResourceVersion(m.rv)
	return nil
}
func (metaReader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// apiReader records the resourceVersion each read asked for; with tooLarge,
// a read at a resourceVersion fails as an apiserver whose watch cache is
// behind answers.
type apiReader struct {
	tooLarge bool
	asked    []string
}

func (a *apiReader) Get(_ context.Context, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	o := &client.GetOptions{}
	o.ApplyOptions(opts)
	rv := ""
	if o.Raw != nil {
		rv = o.Raw.ResourceVersion
	}
	a.asked = append(a.asked, rv)
	if rv != "" && a.tooLarge {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGatewayTimeout,
			Reason: metav1.StatusReasonTimeout, Message: "Too large resource version",
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge}}}}}
	}
	s := obj.(*corev1.Secret)
	s.Name, s.Namespace, s.ResourceVersion = k.Name, k.Namespace, "7"
	s.Data = map[string][]byte{"k": []byte("v")}
	return nil
}
func (*apiReader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// A value is read at the resourceVersion the watch showed (served from the
// kube-apiserver's watch cache, not a quorum read), once; an apiserver whose
// cache is behind makes it fall back to a quorum read.
func TestSecretValuesReadAtTheWatchedVersion(t *testing.T) {
	k := client.ObjectKey{Namespace: "ns", Name: "creds"}
	for _, tc := range []struct {
		name     string
		tooLarge bool
		want     []string
	}{
		{"watch cache", false, []string{"7"}},
		{"watch cache behind", true, []string{"7", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &apiReader{tooLarge: tc.tooLarge}
			c := newSecretValues(metaReader{rv: "7"}, api)
			for i := 0; i < 3; i++ {
				s, err := c.get(context.Background(), k)
				if err != nil || string(s.Data["k"]) != "v" {
					t.Fatalf("get: %v, %v", s, err)
				}
			}
			if len(api.asked) != len(tc.want) {
				t.Fatalf("reads at resourceVersions %q, want %q", api.asked, tc.want)
			}
			for i := range tc.want {
				if api.asked[i] != tc.want[i] {
					t.Fatalf("reads at resourceVersions %q, want %q", api.asked, tc.want)
				}
			}
		})
	}
}
