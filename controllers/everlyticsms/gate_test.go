package everlyticsms

import (
	"strings"
	"testing"
)

func TestTheGateBoundsSyncsPerEndpointAndAccount(t *testing.T) {
	g := newGate(2, 1)
	a1, ok := g.enter("https://a.everlytic.net", "one")
	if !ok {
		t.Fatal("the first sync of an endpoint was refused")
	}
	if _, ok := g.enter("https://a.everlytic.net", "one"); ok {
		t.Error("a second sync of one account entered with a limit of 1")
	}
	a2, ok := g.enter("https://a.everlytic.net", "two")
	if !ok {
		t.Fatal("another account of the endpoint was refused below the endpoint's limit")
	}
	if _, ok := g.enter("https://a.everlytic.net", "three"); ok {
		t.Error("a third sync of the endpoint entered with a limit of 2")
	}
	if _, ok := g.enter("https://b.everlytic.net", "one"); !ok {
		t.Error("another endpoint was refused while the first was full")
	}
	a1()
	a1() // a second release gives nothing back twice
	if _, ok := g.enter("https://a.everlytic.net", "three"); !ok {
		t.Error("a place given back was not taken")
	}
	if _, ok := g.enter("https://a.everlytic.net", "four"); ok {
		t.Error("releasing twice freed two places")
	}
	a2()
}

func TestOnlyPort443IsCalledOnAHostOtherThanLoopback(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		allowed  []int
		problem  string
	}{
		{"https://live1.everlytic.net", []int{443}, ""},
		{"https://live1.everlytic.net:443", []int{443}, ""},
		{"https://live1.everlytic.net:8443", []int{443}, "port 8443 may not be called (the operator's --everlytic-endpoint-ports flag allows 443)"},
		{"https://live1.everlytic.net:8443", []int{443, 8443}, ""},
		{"http://127.0.0.1:38211", []int{443}, ""},
		{"http://localhost:8080", []int{443}, ""},
	} {
		got := endpointPortProblem(tc.endpoint, tc.allowed)
		if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
			t.Errorf("%s with %v: %q, want %q", tc.endpoint, tc.allowed, got, tc.problem)
		}
	}
}
