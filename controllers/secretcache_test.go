package controllers

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sendblue-operator/sendblue-operator/controllers/secretref"
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
	// data is the Secret's data (nil: {"k": "v"}).
	data map[string][]byte
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
	s.Data = a.data
	if s.Data == nil {
		s.Data = map[string][]byte{"k": []byte("v")}
	}
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
			c := newSecretValues(metaReader{rv: "7"}, api, nil)
			for i := 0; i < 3; i++ {
				s, err := c.get(context.Background(), k, "k")
				if err != nil || string(s.value) != "v" {
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

// Of a Secret, only the keys looked for are held, each within
// secretref.MaxValueBytes: a tenant's Secret of many large keys costs the
// few bytes a set references, and a referenced value over the bound costs
// nothing but its size.
func TestSecretValuesHoldOnlyReferencedKeysWithinTheBound(t *testing.T) {
	k := client.ObjectKey{Namespace: "ns", Name: "big"}
	data := map[string][]byte{"apiKey": []byte("0123456789"), "huge": make([]byte, secretref.MaxValueBytes+1)}
	for i := 0; i < 20; i++ {
		data[fmt.Sprintf("filler-%d", i)] = make([]byte, 100<<10)
	}
	api := &apiReader{data: data}
	var told []int
	c := newSecretValues(metaReader{rv: "7"}, api, nil)
	c.onBytes = func(n int) { told = append(told, n) }

	v, err := c.get(context.Background(), k, "apiKey")
	if err != nil || string(v.value) != "0123456789" || !v.present {
		t.Fatalf("apiKey: %+v, %v", v, err)
	}
	if got, want := c.heldBytes(), len("apiKey")+10; got != want {
		t.Errorf("%d bytes held for one 10-byte key of a 2 MB Secret, want %d", got, want)
	}
	v, err = c.get(context.Background(), k, "huge")
	if err != nil || !v.present || v.value != nil || v.size != secretref.MaxValueBytes+1 {
		t.Fatalf("a value over the bound: present %v, %d bytes held, size %d, %v", v.present, len(v.value), v.size, err)
	}
	if got, want := c.heldBytes(), len("apiKey")+10; got != want {
		t.Errorf("%d bytes held after a value over the bound was asked for, want %d", got, want)
	}
	if v, _ := c.get(context.Background(), k, "apiKey"); string(v.value) != "0123456789" {
		t.Errorf("the first key was lost when a second was looked for: %q", v.value)
	}
	if v, _ := c.get(context.Background(), k, "absent"); v.present {
		t.Error("a key the Secret does not have is present")
	}
	if len(api.asked) != 3 {
		t.Errorf("%d reads for three keys looked for once each and one again, want 3", len(api.asked))
	}
	c.forget(k)
	if c.heldBytes() != 0 || c.held() != 0 {
		t.Errorf("after forget: %d bytes in %d Secrets", c.heldBytes(), c.held())
	}
	if len(told) == 0 || told[len(told)-1] != 0 {
		t.Errorf("bytes told to the metric: %v, want the last 0", told)
	}
}

// The selector is matched when a Secret is read, so that labels need not
// be held.
func TestSecretValuesMatchTheSelectorAtRead(t *testing.T) {
	sel, err := labels.Parse("referable=true")
	if err != nil {
		t.Fatal(err)
	}
	c := newSecretValues(metaReader{rv: "7"}, &apiReader{}, sel)
	v, err := c.get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "s"}, "k")
	if err != nil || v.selected {
		t.Errorf("an unlabeled Secret: selected %v, %v", v.selected, err)
	}
	c = newSecretValues(metaReader{rv: "7"}, &apiReader{}, nil)
	if v, _ := c.get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "s"}, "k"); !v.selected {
		t.Error("without a selector every Secret is selected")
	}
}
