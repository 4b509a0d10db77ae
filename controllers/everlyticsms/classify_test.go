package everlyticsms

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

func TestClassifyEveryErrorClass(t *testing.T) {
	o := Options{}.withDefaults()
	bad := &everlytic.BadRequestError{Op: "POST /api/2.0/production/sms/webhooks", StatusCode: 400, Message: "The payload for the webhook is not in the correct format.",
		Fields: map[string][]string{"webhook.status": {"The selected webhook.status is invalid, status should only be enabled or disabled."}}}
	for _, tc := range []struct {
		name      string
		err       error
		reason    string
		stalled   bool
		transient bool
		retry     time.Duration
		message   string
	}{
		{"a missing Secret waits for it", &inputError{ReasonCredentialsNotFound, "m"}, ReasonCredentialsNotFound, false, false, o.StalledRetry, "m"},
		{"a value that cannot be sent stalls", &inputError{ReasonInvalidSpec, "m"}, ReasonInvalidSpec, true, false, o.StalledRetry, "m"},
		{"an ambiguous create stalls", &stallError{ReasonCreatePending, "m", true}, ReasonCreatePending, true, false, o.StalledRetry, "m"},
		{"a create not yet known to have failed waits as told", &waitError{ReasonCreatePending, "m", 4 * time.Second}, ReasonCreatePending, false, false, 4 * time.Second, "m"},
		{"401 stalls", &everlytic.UnauthorizedError{StatusCode: 401, Message: "Invalid credentials."}, ReasonUnauthorized, true, false, o.StalledRetry, "Invalid credentials."},
		{"400 names the field", bad, ReasonRejected, true, false, o.StalledRetry, "webhook.status: The selected webhook.status is invalid"},
		{"429 waits as told", &everlytic.RateLimitedError{RetryAfter: 7 * time.Second}, ReasonRateLimited, false, false, 7 * time.Second, "7s"},
		{"429 without a hint waits the default", &everlytic.RateLimitedError{}, ReasonRateLimited, false, false, o.RateLimitRetry, "30s"},
		{"a 5xx with a hint waits as told", &everlytic.ServerError{StatusCode: 503, RetryAfter: 3 * time.Second}, ReasonAPIError, false, false, 3 * time.Second, ""},
		{"a failed write backs off", &everlytic.ServerError{StatusCode: 500}, ReasonAPIError, false, false, 0, ""},
		{"a rate-limited read keeps Ready", &readFailure{&everlytic.RateLimitedError{RetryAfter: 2 * time.Second}}, ReasonRateLimited, false, true, 2 * time.Second, "2s"},
		{"a 5xx read with a hint keeps Ready", &readFailure{&everlytic.ServerError{StatusCode: 503, RetryAfter: 3 * time.Second}}, ReasonAPIError, false, true, 3 * time.Second, ""},
		{"a failed read backs off and keeps Ready", &readFailure{&everlytic.TransportError{Op: "GET", Err: errors.New("reset")}}, ReasonAPIError, false, true, 0, "reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := classify(tc.err, o)
			got := []any{v.Reason, v.Stalled, v.Transient, v.retry}
			if diff := cmp.Diff(got, []any{tc.reason, tc.stalled, tc.transient, tc.retry}); diff != "" {
				t.Errorf("classify (-got +want):\n%s", diff)
			}
			if !strings.Contains(v.Message, tc.message) {
				t.Errorf("message %q: want %q in it", v.Message, tc.message)
			}
		})
	}
}

func TestDifferencesCompareWhatCanBeRead(t *testing.T) {
	w := &v1.EverlyticSMSWebhook{Spec: v1.EverlyticSMSWebhookSpec{URL: "https://a.example.com/x", EventTypes: []v1.EventType{v1.EventReply, v1.EventBounce}}}
	d := desiredOf(w, &everlytic.BasicAuth{Username: "u", Password: "p"}, "uid/2/password")
	same := everlytic.Webhook{URL: "https://a.example.com/x", Verb: "post", EventTypes: []everlytic.EventType{"bounce", "reply"}, Status: "enabled", Auth: &everlytic.BasicAuth{Username: "u"}}
	for _, tc := range []struct {
		name string
		edit func(*everlytic.Webhook)
		sent string
		want []string
	}{
		{"the same, verb in lower case, types in another order, password unread", func(*everlytic.Webhook) {}, "uid/2/password", nil},
		{"the password Secret changed since it was sent", func(*everlytic.Webhook) {}, "uid/1/password", []string{"auth_details.password"}},
		{"everything else differs", func(h *everlytic.Webhook) {
			h.URL, h.Verb, h.EventTypes, h.Status, h.Auth = "https://b.example.com/", "GET", []everlytic.EventType{"reply"}, "disabled", nil
		}, "uid/2/password", []string{"url", "verb", "event_types", "status", "auth_type"}},
		{"another receiver user", func(h *everlytic.Webhook) { h.Auth = &everlytic.BasicAuth{Username: "v"} }, "uid/2/password", []string{"auth_details.username"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := same
			tc.edit(&h)
			if diff := cmp.Diff(differences(d, h, tc.sent), tc.want); diff != "" {
				t.Errorf("differences (-got +want):\n%s", diff)
			}
		})
	}
}

func TestEndpointAllowed(t *testing.T) {
	allowed := []string{"*.everlytic.net", "live9.example.org"}
	for raw, want := range map[string]bool{
		"https://live1.everlytic.net":        true,
		"https://LIVE1.everlytic.net:443/":   true,
		"https://everlytic.net":              false,
		"https://evil-everlytic.net":         false,
		"https://everlytic.net.evil.com":     false,
		"https://live9.example.org":          true,
		"https://a.live9.example.org":        false,
		"http://127.0.0.1:8080":              false,
		"https://kubernetes.default.svc":     false,
		"https://live1.everlytic.net@evil.x": false,
	} {
		if _, err := url.Parse(raw); err != nil {
			t.Fatal(err)
		}
		if got := endpointAllowed(raw, allowed); got != want {
			t.Errorf("endpointAllowed(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestTheReasonGaugeForgetsDeletedObjects(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	w := &v1.EverlyticSMSWebhook{}
	w.Namespace, w.Name = "ns", "a"
	m.setReason(w, ReasonSynced)
	m.setReason(w, ReasonSuspended)
	if got := testutil.ToFloat64(m.objects.WithLabelValues(ReasonSynced)) + testutil.ToFloat64(m.objects.WithLabelValues(ReasonSuspended)); got != 1 {
		t.Fatalf("one object counted %v times", got)
	}
	m.forget(types.NamespacedName{Namespace: "ns", Name: "a"})
	if got := testutil.ToFloat64(m.objects.WithLabelValues(ReasonSuspended)); got != 0 {
		t.Errorf("a deleted object still counts: %v", got)
	}
}

func TestEndpointsAreComparedAsInstalls(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"https://live1.everlytic.net", "https://live1.everlytic.net/"},
		{"https://live1.everlytic.net", "https://live1.everlytic.net:443"},
		{"https://LIVE1.everlytic.net", "https://live1.everlytic.net"},
		{"http://127.0.0.1:80", "http://127.0.0.1"},
	} {
		if normalEndpoint(tc.a) != normalEndpoint(tc.b) {
			t.Errorf("%s and %s name one install: %q != %q", tc.a, tc.b, normalEndpoint(tc.a), normalEndpoint(tc.b))
		}
	}
	if normalEndpoint("https://live1.everlytic.net:8443") == normalEndpoint("https://live1.everlytic.net") {
		t.Error("another port is another install")
	}
}

func TestAnEndpointChangeStopsAPendingCreateToo(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name            string
		status          v1.EverlyticSMSWebhookStatus
		spec, wantMoved string
	}{
		{"nothing made yet", v1.EverlyticSMSWebhookStatus{Endpoint: "https://a.everlytic.net"}, "https://b.everlytic.net", ""},
		{"a webhook on the old install", v1.EverlyticSMSWebhookStatus{Endpoint: "https://a.everlytic.net", WebhookID: "x"}, "https://b.everlytic.net", "https://a.everlytic.net"},
		{"a create pending on the old install", v1.EverlyticSMSWebhookStatus{Endpoint: "https://a.everlytic.net", CreatePending: &v1.PendingCreate{Since: now}}, "https://b.everlytic.net", "https://a.everlytic.net"},
		{"the same install, spelled otherwise", v1.EverlyticSMSWebhookStatus{Endpoint: "https://a.everlytic.net", WebhookID: "x"}, "https://a.everlytic.net:443/", ""},
	} {
		w := &v1.EverlyticSMSWebhook{Status: tc.status}
		w.Spec.Endpoint = v1.Endpoint(tc.spec)
		if got := endpointMoved(w); got != tc.wantMoved {
			t.Errorf("%s: endpointMoved = %q, want %q", tc.name, got, tc.wantMoved)
		}
	}
}
