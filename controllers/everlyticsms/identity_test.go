package everlyticsms

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
)

func TestTheIdentityAnnotationsRestoreWhatStatusLost(t *testing.T) {
	since := metav1.NewTime(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	pending := &v1.PendingCreate{Since: since, URL: "https://app.example.com/x", Verb: "POST", EventTypes: []v1.EventType{v1.EventSent}}
	notFound := metav1.NewTime(since.Add(time.Minute))
	for _, tc := range []struct {
		name     string
		status   v1.EverlyticSMSWebhookStatus
		restored bool
	}{
		{"a webhook", v1.EverlyticSMSWebhookStatus{WebhookID: "id-1", AccountID: "acct", Endpoint: "https://live1.everlytic.net"}, true},
		{"an interrupted create (the second list's clock is not kept)", v1.EverlyticSMSWebhookStatus{AccountID: "acct", Endpoint: "https://live1.everlytic.net",
			CreatePending: &v1.PendingCreate{Since: since, URL: pending.URL, Verb: pending.Verb, EventTypes: pending.EventTypes, NotFoundAt: &notFound}}, true},
		{"nothing held", v1.EverlyticSMSWebhookStatus{AccountID: "acct"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &v1.EverlyticSMSWebhook{Spec: v1.EverlyticSMSWebhookSpec{Endpoint: "https://LIVE1.everlytic.net/"}, Status: tc.status}
			ann, err := identityOf(w)
			if err != nil {
				t.Fatal(err)
			}
			lost := &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Spec: w.Spec}
			got, ok := restoredStatus(lost)
			if ok != tc.restored {
				t.Fatalf("restored %v, want %v (annotations %v)", ok, tc.restored, ann)
			}
			if !ok {
				return
			}
			want := tc.status
			if want.CreatePending != nil {
				p := *want.CreatePending
				p.NotFoundAt = nil
				want.CreatePending = &p
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("restored status (-got +want):\n%s", diff)
			}
		})
	}
	// Status that holds a webhook wins over the annotations.
	w := &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationWebhookID: "old"}}, Status: v1.EverlyticSMSWebhookStatus{WebhookID: "new"}}
	if _, ok := restoredStatus(w); ok {
		t.Error("annotations replaced a status that holds a webhook")
	}
	// A pending mark that does not parse is not restored.
	w = &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationCreatePending: "{"}}}
	if _, ok := restoredStatus(w); ok {
		t.Error("a malformed create-pending annotation was restored")
	}
}

// The mirror follows the status a sync meant to write, and never removes
// the annotations: a status patch from a stale view may answer a status the
// object lost meanwhile (a restore), and the chaos suite found such an
// answer's mirror removing them, then a second webhook created.
func TestTheIdentityAnnotationsAreNeverRemoved(t *testing.T) {
	scheme := runtime.NewScheme()
	utilruntime.Must(v1.AddToScheme(scheme))
	w := &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns",
		Annotations: map[string]string{AnnotationWebhookID: "id-1", AnnotationAccountID: "acct"}}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(w).Build()
	r := &Reconciler{Client: c}
	ctx := context.Background()
	if err := r.mirrorIdentity(ctx, w, &v1.EverlyticSMSWebhookStatus{}); err != nil {
		t.Fatal(err)
	}
	got := &v1.EverlyticSMSWebhook{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(w), got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[AnnotationWebhookID] != "id-1" || got.Annotations[AnnotationAccountID] != "acct" {
		t.Errorf("an empty status removed the identity annotations: %v", got.Annotations)
	}
	// The status meant, not the one the object holds, is mirrored.
	if err := r.mirrorIdentity(ctx, got, &v1.EverlyticSMSWebhookStatus{WebhookID: "id-2", AccountID: "acct"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(w), got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[AnnotationWebhookID] != "id-2" {
		t.Errorf("the annotations do not follow the status meant: %v", got.Annotations)
	}
}
