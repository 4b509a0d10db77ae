package everlyticsms

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
