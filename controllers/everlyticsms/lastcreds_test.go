package everlyticsms

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

func TestLastCredentialsServeOnlyTheSameObjectOnTheSameEndpoint(t *testing.T) {
	obj := func(uid types.UID, endpoint string) *v1.EverlyticSMSWebhook {
		return &v1.EverlyticSMSWebhook{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sms", UID: uid}, Spec: v1.EverlyticSMSWebhookSpec{Endpoint: v1.Endpoint(endpoint)}}
	}
	var l lastCredentials
	if _, ok := l.get(obj("u1", "https://live1.everlytic.net")); ok {
		t.Fatal("an empty memory answered")
	}
	l.remember(obj("u1", "https://live1.everlytic.net"), inputs{creds: everlytic.Credentials{Username: "nat", APIKey: "k"}})
	if in, ok := l.get(obj("u1", "https://LIVE1.everlytic.net:443")); !ok || in.creds.Username != "nat" {
		t.Errorf("the same object: %v, %v", in.creds.Username, ok)
	}
	if _, ok := l.get(obj("u2", "https://live1.everlytic.net")); ok {
		t.Error("an object of the same name but another uid got the credentials")
	}
	if _, ok := l.get(obj("u1", "https://live2.everlytic.net")); ok {
		t.Error("the credentials were offered for another endpoint")
	}
	l.forget(types.NamespacedName{Namespace: "ns", Name: "sms"})
	if _, ok := l.get(obj("u1", "https://live1.everlytic.net")); ok {
		t.Error("a forgotten object's credentials were kept")
	}
}
