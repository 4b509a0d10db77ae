package httpmetrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, errors.New("refused") }

func TestRequestsAreCountedByMethodAndCodeAndNoAnswerIsZero(t *testing.T) {
	a := New("demo", "Demo")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	hc := &http.Client{Transport: a.Instrument(http.DefaultTransport)}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := (&http.Client{Transport: a.Instrument(failing{})}).Post(srv.URL, "text/plain", nil); err == nil {
		t.Fatal("want an error")
	}
	if got := testutil.ToFloat64(a.Requests.WithLabelValues("GET", "418")); got != 1 {
		t.Errorf("GET 418 counted %v times", got)
	}
	if got := testutil.ToFloat64(a.Requests.WithLabelValues("POST", "0")); got != 1 {
		t.Errorf("POST with no answer counted %v times", got)
	}
	if got := testutil.CollectAndCount(a.Latency); got != 2 {
		t.Errorf("%d latency series, want 2", got)
	}
}
