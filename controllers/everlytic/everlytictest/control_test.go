package everlytictest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
)

// control sends one unauthenticated control-surface request.
func control(t *testing.T, ts *httptest.Server, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+everlytictest.ControlPrefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, string(b)}
}

func TestTheControlSurfaceDrivesTheEmulator(t *testing.T) {
	emu, ts := start(t)
	steps := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string // substring
	}{
		{"add an account", "POST", "accounts", `{"username":"second","apiKey":"k2"}`, 201, ""},
		{"refuse a duplicate account", "POST", "accounts", `{"username":"second","apiKey":"k3"}`, 400, "exists"},
		{"edit a webhook as in the dashboard", "PUT", "accounts/second/webhooks/dash-1",
			`{"url":"https://h.example/d","verb":"POST","event_types":["reply"],"auth_type":"basic","auth_details":{"username":"u","password":"dash-pw"}}`, 200, `"password":"dash-pw"`},
		{"refuse an edit the API would refuse", "PUT", "accounts/second/webhooks/dash-2", `{"url":"https://h.example/d","event_types":["reply"]}`, 400,
			`The payload for the webhook is not in the correct format. {\"webhook.verb\":[\"The webhook.verb field is required.\"]}`},
		{"read the webhooks with their passwords", "GET", "accounts/second/webhooks", "", 200, `"id":"dash-1"`},
		{"read the counters", "GET", "accounts/second/requests", "", 200, `"CREATE":0`},
		{"reset the counters", "DELETE", "accounts/second/requests", "", 204, ""},
		{"inject a fault", "POST", "faults", `{"op":"LIST","status":500,"latency":"1ms","name":"slow"}`, 204, ""},
		{"refuse a bad latency", "POST", "faults", `{"latency":"soon"}`, 400, "latency"},
		{"switch GET by id off", "PUT", "get-by-id", `{"available":false}`, 204, ""},
		{"refuse a get-by-id body without available", "PUT", "get-by-id", `{}`, 400, "available"},
		{"set the page size", "PUT", "per-page", `{"perPage":7}`, 204, ""},
		{"delete a webhook as in the dashboard", "DELETE", "accounts/second/webhooks/dash-1", "", 204, ""},
		{"deleting it again is not found", "DELETE", "accounts/second/webhooks/dash-1", "", 404, "no such webhook"},
		{"an unknown account is not found", "GET", "accounts/nobody/webhooks", "", 404, "no such account"},
	}
	for _, s := range steps {
		a := control(t, ts, s.method, s.path, s.body)
		if a.status != s.wantStatus || !strings.Contains(a.body, s.wantBody) {
			t.Errorf("%s: %s %s: %d %s, want %d containing %s", s.name, s.method, s.path, a.status, a.body, s.wantStatus, s.wantBody)
		}
	}
	faults := emu.PendingFaults()
	if len(faults) != 1 || faults[0].Name != "slow" || faults[0].Latency.String() != "1ms" {
		t.Errorf("pending faults: %+v, want the one injected with 1ms latency", faults)
	}
	if a := control(t, ts, "DELETE", "faults", ""); a.status != 204 || len(emu.PendingFaults()) != 0 {
		t.Errorf("DELETE faults: %d, pending %d", a.status, len(emu.PendingFaults()))
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	emu, ts := start(t)
	if err := emu.AddAccount("other", "other-key"); err != nil {
		t.Fatal(err)
	}
	id := create(t, ts)
	req, _ := http.NewRequest("GET", ts.URL+coll+"/"+id, nil)
	req.SetBasicAuth("other", "other-key")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another account's GET of the webhook: %d, want 404", resp.StatusCode)
	}
	req.SetBasicAuth("other", apiKey)
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("another account's username with this account's key: %d, want 401", resp.StatusCode)
	}
	got, _ := emu.Webhooks("other")
	if diff := cmp.Diff(len(got), 0); diff != "" {
		t.Errorf("other account's webhooks (-got +want):\n%s", diff)
	}
}
