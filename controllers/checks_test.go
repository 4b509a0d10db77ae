package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

func TestFitPlanLeavesOutTheSetsThatPushTheAccountOverTheLimit(t *testing.T) {
	long := func(host string) string { return "https://" + host + ".example.com/" + strings.Repeat("p", 200) }
	actual := cfg(t, `{"receive":["https://foreign.example.com"]}`)
	sets := []SetInput{
		{ID: "a/young-and-big", Created: t0.Add(time.Hour), Policy: v1.PolicyMerge,
			Webhooks: []DesiredWebhook{hook(sendblue.Outbound, long("b1"), ""), hook(sendblue.Outbound, long("b2"), "")}},
		{ID: "a/old-small", Created: t0, Policy: v1.PolicyMerge, Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://s.example.com", "")}},
		{ID: "a/remover", Created: t0.Add(2 * time.Hour), Policy: v1.PolicyMerge, Applied: applied("receive", "https://foreign.example.com")},
		{ID: "a/gone", Created: t0, Policy: v1.PolicyMerge, Deleting: true},
	}
	limit := 300
	plan, over, err := fitPlan(actual, sets, nil, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(over) != 1 || over[0].ID != "a/young-and-big" || over[0].Size <= limit || over[0].Limit != limit {
		t.Fatalf("over = %+v, want only a/young-and-big, with its size", over)
	}
	if got := marshal(t, plan.Desired); got != `{"receive":["https://s.example.com"]}` {
		t.Errorf("desired %s: want the small set added and the remover's removal", got)
	}
	if n, _ := plan.Desired.Size(); n > limit {
		t.Errorf("desired is %d bytes, over the limit %d", n, limit)
	}
	// Within the limit, nothing is left out.
	if _, over, _ := fitPlan(actual, sets, nil, 1<<20); len(over) != 0 {
		t.Errorf("over = %+v with room to spare", over)
	}
}

func TestVerifyStoredNamesTheSetsWhoseChangesWereNotStoredAsSent(t *testing.T) {
	actual := cfg(t, `{"receive":["https://gone.example.com"],"globalSecret":"g0"}`)
	sets := []SetInput{
		{ID: "a/one", Created: t0, Policy: v1.PolicyMerge, Webhooks: []DesiredWebhook{hook(sendblue.Outbound, "https://o.example.com", "zq\u00e9xw")},
			Applied: applied("receive", "https://gone.example.com")},
		{ID: "a/two", Created: t0, Policy: v1.PolicyMerge, Webhooks: []DesiredWebhook{hook(sendblue.CallLog, "https://c.example.com", "")}, GlobalSecret: strp("g1")},
	}
	plan, err := PlanAccount(actual, sets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyStored(plan, plan.Desired); len(got) != 0 {
		t.Errorf("the plan's own configuration: problems %v", got)
	}
	stored := cfg(t, `{"receive":["https://gone.example.com"],"outbound":[{"url":"https://o.example.com","secret":"zq\ufffdxw"}],"call_log":["https://c.example.com","https://c.example.com"],"globalSecret":"g0"}`)
	want := map[string][]string{
		"a/one": {"receive https://gone.example.com: still there after its removal", "outbound https://o.example.com: stored with another secret than written"},
		"a/two": {"call_log https://c.example.com: stored 2 times", "globalSecret: stored with another value than written"},
	}
	if diff := cmp.Diff(want, verifyStored(plan, stored)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if got := fmt.Sprint(verifyStored(plan, cfg(t, `{}`))); !strings.Contains(got, "outbound https://o.example.com: not stored") || !strings.Contains(got, "globalSecret: not stored") {
		t.Errorf("an empty store: %s", got)
	}
	if strings.Contains(fmt.Sprint(verifyStored(plan, stored)), "zq") {
		t.Error("a problem repeats a secret")
	}
}

func TestOutsideOf(t *testing.T) {
	sets := []SetInput{{ID: "a/one", Webhooks: []DesiredWebhook{hook(sendblue.Receive, "https://mine.example.com", "")},
		Applied: applied("outbound", "https://applied.example.com"), GlobalSecret: strp("g")}}
	for doc, want := range map[string]string{
		`{"receive":["https://mine.example.com"],"outbound":["https://applied.example.com"],"globalSecret":"g"}`: "",
		`{"receive":["https://mine.example.com","https://f.example.com"],"future":[],"secret":"l"}`:              "1 webhook(s), 1 member(s) this operator does not know, the secret",
	} {
		if got := describeItems(outsideOf(cfg(t, doc), sets)); got != want {
			t.Errorf("outsideOf(%s) = %q, want %q", doc, got, want)
		}
	}
}

func TestClassifyEveryErrorClass(t *testing.T) {
	o := Options{}.withDefaults()
	s := newSet("ns", "n", "creds", "", v1.Webhooks{})
	for _, tc := range []struct {
		err     error
		reason  string
		stalled bool
		retry   time.Duration
	}{
		{&sendblue.UnauthorizedError{StatusCode: 401}, ReasonUnauthorized, true, o.UnauthorizedRetry},
		{&sendblue.RateLimitedError{RetryAfter: 7 * time.Second}, ReasonRateLimited, false, 7 * time.Second},
		{&sendblue.RateLimitedError{}, ReasonRateLimited, false, o.RateLimitRetry},
		{&sendblue.TooLargeError{StatusCode: 413}, ReasonAccountTooLarge, true, time.Second},
		{&sendblue.TooLargeError{Size: 600 << 10, Limit: sendblue.MaxRequestBytes}, ReasonAccountTooLarge, true, o.UnauthorizedRetry},
		{&readError{"partial", 3 * time.Second}, ReasonIncompleteRead, false, 3 * time.Second},
		{&sendblue.BadRequestError{StatusCode: 400}, ReasonAPIError, true, o.UnauthorizedRetry},
		{&sendblue.ServerError{StatusCode: 503}, ReasonAPIError, false, 0},
		{&sendblue.ServerError{StatusCode: 409, RetryAfter: 2 * time.Second}, ReasonAPIError, false, 2 * time.Second},
		{&sendblue.TransportError{Err: errors.New("reset")}, ReasonAPIError, false, 0},
		{&sendblue.ProtocolError{StatusCode: 200}, ReasonAPIError, false, 0},
		{fmt.Errorf("wrapped: %w", &sendblue.UnauthorizedError{StatusCode: 403}), ReasonUnauthorized, true, o.UnauthorizedRetry},
	} {
		v := classify(s, tc.err, o)
		if v.reason != tc.reason || v.stalled != tc.stalled || v.retry != tc.retry || v.message == "" {
			t.Errorf("classify(%T) = %s stalled=%v retry=%s %q, want %s stalled=%v retry=%s", tc.err, v.reason, v.stalled, v.retry, v.message, tc.reason, tc.stalled, tc.retry)
		}
	}
}

func TestValueProblems(t *testing.T) {
	for _, tc := range []struct {
		value string
		kind  valueKind
		want  string
	}{
		{"whsec-ok", webhookSecret, ""},
		{"sk-ok_1.A", credential, ""},
		{"sp ace inside", webhookSecret, ""},
		{"caf\u00e9", webhookSecret, ""},
		{"caf\u00e9", credential, "outside ASCII"},
		{"", credential, "empty"},
		{"  ", webhookSecret, "empty"},
		{"v\n", webhookSecret, "line break"},
		{"v\x00", credential, "control character"},
		{"v\x7f", webhookSecret, "control character"},
		{"v\tw", credential, "control character"},
		{"v\u0085", webhookSecret, "control character"},
		{"\xff\xfe", webhookSecret, "UTF-8"},
		{" v", credential, "whitespace"},
		{"v\u00a0", webhookSecret, "whitespace"},
	} {
		got := valueProblem([]byte(tc.value), tc.kind)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("valueProblem(%q) = %q, want %q", tc.value, got, tc.want)
		}
		if v := strings.TrimSpace(tc.value); got != "" && len(v) > 3 && strings.Contains(got, v) {
			t.Errorf("valueProblem(%q) repeats the value: %q", tc.value, got)
		}
	}
}

func TestStripForCache(t *testing.T) {
	secret := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", UID: "u", ResourceVersion: "7",
		Annotations:     map[string]string{corev1.LastAppliedConfigAnnotation: `{"data":{"k":"c2VjcmV0"}}`},
		Labels:          map[string]string{"l": "v"},
		OwnerReferences: []metav1.OwnerReference{{Name: "o"}},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	if _, err := stripForCache(secret); err != nil {
		t.Fatal(err)
	}
	want := metav1.ObjectMeta{Name: "s", Namespace: "ns", UID: "u", ResourceVersion: "7"}
	if diff := cmp.Diff(want, secret.ObjectMeta); diff != "" {
		t.Errorf("stripped Secret metadata (-want +got):\n%s", diff)
	}
	set := &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{
		Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{}", AnnotationAcceptAccount: "a"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	if _, err := stripForCache(set); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{AnnotationAcceptAccount: "a"}, set.Annotations); diff != "" || set.ManagedFields != nil {
		t.Errorf("stripped set: annotations (-want +got) %s, managedFields %v", diff, set.ManagedFields)
	}
}

func TestOwnershipCountsOnlyOnTheAccountTheSetIsPinnedTo(t *testing.T) {
	prod := accountPin(sendblue.Credentials{KeyID: "prod-key-0001"})
	stag := accountPin(sendblue.Credentials{KeyID: "stag-key-0001"})
	if prod == stag || strings.Contains(prod, "0001") || prod != accountPin(sendblue.Credentials{KeyID: "prod-key-0001", SecretKey: "rotated"}) {
		t.Fatalf("pins %q %q: want distinct ids, independent of the secret key, that do not show the key id", prod, stag)
	}
	a := applied("receive", "https://a.example.com")
	pinned := func(id, label string) *v1.SendblueWebhookSet {
		s := &v1.SendblueWebhookSet{ObjectMeta: metav1.ObjectMeta{UID: "u1", Annotations: map[string]string{}}}
		s.Status.AccountID, s.Status.Account, s.Status.Applied = id, label, a
		return s
	}
	o := newOwnership()
	for _, tc := range []struct {
		name string
		set  *v1.SendblueWebhookSet
		pin  string
		want []v1.AppliedWebhook
	}{
		{"pinned here", pinned(prod, "…0001"), prod, a},
		{"pinned elsewhere", pinned(prod, "…0001"), stag, nil},
		{"an old status with a matching label", pinned("", "…0001"), prod, a},
		{"an old status with another label", pinned("", "…0002"), prod, nil},
	} {
		if diff := cmp.Diff(tc.want, o.applied(tc.set, tc.pin, "…0001")); diff != "" {
			t.Errorf("%s: (-want +got) %s", tc.name, diff)
		}
	}
	moved := pinned(prod, "…0001")
	moved.Annotations[AnnotationAcceptAccount] = stag
	if got := o.applied(moved, stag, "…0001"); got != nil || accountChanged(moved, stag) || !accountChanged(pinned(prod, ""), stag) {
		t.Errorf("an accepted move: applied %v, changed %v", got, accountChanged(moved, stag))
	}
	// Memory is fresher than the cache, but only for its own account.
	o.record("u1", prod, applied("outbound", "https://fresh.example.com"))
	if got := o.applied(pinned(prod, ""), prod, "…0001"); len(got) != 1 || got[0].Type != "outbound" {
		t.Errorf("remembered record not used: %v", got)
	}
	if got := o.applied(pinned(prod, ""), stag, "…0001"); got != nil {
		t.Errorf("a record of another account used: %v", got)
	}
}
