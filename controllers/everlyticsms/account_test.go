package everlyticsms

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
)

func TestTheAccountIDNamesAnInstallAndUserWithoutShowingThem(t *testing.T) {
	a := accountID("https://live1.everlytic.net", "nat")
	if a != accountID("https://LIVE1.everlytic.net:443/", "nat") {
		t.Error("one install spelt two ways gave two ids")
	}
	if a == accountID("https://live2.everlytic.net", "nat") || a == accountID("https://live1.everlytic.net", "oli") {
		t.Error("another install or user gave the same id")
	}
	if strings.Contains(a, "nat") || strings.Contains(a, "live1") || len(a) != 16 {
		t.Errorf("id %q: want 16 hex digits that show neither the user nor the install", a)
	}
}

func TestAChangedAccountStopsOnlyAnObjectThatHoldsAWebhook(t *testing.T) {
	pinned := func(id string, pending bool, accept string) *v1.EverlyticSMSWebhook {
		w := &v1.EverlyticSMSWebhook{Status: v1.EverlyticSMSWebhookStatus{AccountID: "old", WebhookID: id}}
		if pending {
			w.Status.CreatePending = &v1.PendingCreate{Since: metav1.Now()}
		}
		if accept != "" {
			w.Annotations = map[string]string{AnnotationAcceptAccount: accept}
		}
		return w
	}
	for _, tc := range []struct {
		name string
		w    *v1.EverlyticSMSWebhook
		pin  string
		want bool
	}{
		{"the same account", pinned("id", false, ""), "old", false},
		{"another account, a webhook held", pinned("id", false, ""), "new", true},
		{"another account, a create pending", pinned("", true, ""), "new", true},
		{"another account, nothing held", pinned("", false, ""), "new", false},
		{"another account, the move accepted", pinned("id", false, "new"), "new", false},
		{"another account, a move to a third accepted", pinned("id", false, "third"), "new", true},
		{"pinned to nothing yet (made before the pin)", &v1.EverlyticSMSWebhook{Status: v1.EverlyticSMSWebhookStatus{WebhookID: "id"}}, "new", false},
	} {
		if got := accountChanged(tc.w, tc.pin); got != tc.want {
			t.Errorf("%s: accountChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}
