package sendbluetest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

const (
	keyID  = "emu-key"
	secret = "emu-secret"
)

func start(t *testing.T) (*sendbluetest.Server, *httptest.Server) {
	t.Helper()
	emu := sendbluetest.NewServer()
	if err := emu.AddAccount(keyID, secret); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); ts.Close() })
	return emu, ts
}

type answer struct {
	status int
	body   string
	header http.Header
}

// call sends one request with the account's credentials unless hdr overrides.
func call(t *testing.T, ts *httptest.Server, method, path, body string, hdr map[string]string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("sb-api-key-id", keyID)
	req.Header.Set("sb-api-secret-key", secret)
	for k, v := range hdr {
		req.Header.Set(k, v)
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
	return answer{resp.StatusCode, string(b), resp.Header}
}

func TestAPIRules(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string // substring
	}{
		{"GET needs credentials", "GET", sendbluetest.Path, "", map[string]string{"sb-api-secret-key": ""}, 401, `{"message":"Unauthorized","status":"ERROR"}`},
		{"an unknown key id is unauthorized", "GET", sendbluetest.Path, "", map[string]string{"sb-api-key-id": "nobody"}, 401, `"Unauthorized"`},
		{"GET answers on the current path", "GET", sendbluetest.Path, "", nil, 200, `{"status":"OK","webhooks":{"receive":[],`},
		{"GET answers on the v2 path", "GET", sendbluetest.V2Path, "", nil, 200, `"webhooks":{`},
		{"an unknown path is 404", "GET", "/api/account/other", "", nil, 404, `"status":"ERROR"`},
		{"PATCH is not allowed", "PATCH", sendbluetest.Path, "{}", nil, 405, `Method not allowed`},
		{"PUT without webhooks", "PUT", sendbluetest.Path, `{}`, nil, 400, `Missing or invalid webhooks array`},
		{"PUT with webhooks as a list", "PUT", sendbluetest.Path, `{"webhooks":["https://a.example.com"]}`, nil, 400, `Missing or invalid webhooks array`},
		{"PUT with a body that is not JSON", "PUT", sendbluetest.Path, `{"webhooks":`, nil, 400, `JSON object`},
		{"PUT with a type that is not a list", "PUT", sendbluetest.Path, `{"webhooks":{"receive":"https://a.example.com"}}`, nil, 400, `webhooks.receive must be an array`},
		{"PUT with an http URL", "PUT", sendbluetest.Path, `{"webhooks":{"outbound":["http://a.example.com"]}}`, nil, 400, `webhooks.outbound[0]: \"http://a.example.com\" is not a valid https URL`},
		{"PUT with an object entry without url", "PUT", sendbluetest.Path, `{"webhooks":{"call_log":[{"secret":"s"}]}}`, nil, 400, `webhooks.call_log[0]: url is required`},
		{"PUT with a number entry", "PUT", sendbluetest.Path, `{"webhooks":{"call_log":[5]}}`, nil, 400, `webhooks.call_log[0]: must be a URL string or an object`},
		{"PUT with a secret that is not a string", "PUT", sendbluetest.Path, `{"webhooks":{"receive":[{"url":"https://a.example.com","secret":1}]}}`, nil, 400, `secret must be a string`},
		{"PUT with sendblue_numbers on outbound", "PUT", sendbluetest.Path, `{"webhooks":{"outbound":[{"url":"https://a.example.com","sendblue_numbers":["+15122164639"]}]}}`, nil, 400, `only supported on receive`},
		{"PUT with a number that is not E.164", "PUT", sendbluetest.Path, `{"webhooks":{"receive":[{"url":"https://a.example.com","sendblue_numbers":["5122164639"]}]}}`, nil, 400, `sendblue_numbers[0]: \"5122164639\" is not an E.164`},
		{"PUT with a globalSecret that is not a string", "PUT", sendbluetest.Path, `{"webhooks":{"globalSecret":true}}`, nil, 400, `webhooks.globalSecret must be a string`},
		{"PUT keeps unknown members", "PUT", sendbluetest.Path, `{"webhooks":{"next_year":[{"url":"http://anything"}],"receive":[]}}`, nil, 200, `"webhooks":{"next_year":[{"url":"http://anything"}],"receive":[]}`},
		{"POST with an unknown type", "POST", sendbluetest.Path, `{"webhooks":["https://a.example.com"],"type":"sms_sent"}`, nil, 400, `Invalid webhook type \"sms_sent\"`},
		{"POST without webhooks", "POST", sendbluetest.Path, `{"type":"receive"}`, nil, 400, `Missing or invalid webhooks array`},
		{"POST with an http URL", "POST", sendbluetest.Path, `{"webhooks":["http://a.example.com"]}`, nil, 400, `webhooks[0]: \"http://a.example.com\" is not a valid https URL`},
		{"DELETE with an unknown type", "DELETE", sendbluetest.Path, `{"webhooks":["https://a.example.com"],"type":"nope"}`, nil, 400, `Invalid webhook type`},
		{"DELETE with an object", "DELETE", sendbluetest.Path, `{"webhooks":[{"url":"https://a.example.com"}]}`, nil, 400, `webhooks[0]: must be a URL string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, ts := start(t)
			before, _ := emu.Webhooks(keyID)
			got := call(t, ts, tc.method, tc.path, tc.body, tc.header)
			if got.status != tc.wantStatus || !strings.Contains(got.body, tc.wantBody) {
				t.Errorf("%s %s: got %d %s, want %d containing %s", tc.method, tc.path, got.status, got.body, tc.wantStatus, tc.wantBody)
			}
			if got.status >= 400 {
				after, _ := emu.Webhooks(keyID)
				if string(after) != string(before) {
					t.Errorf("a refused request changed the account: %s -> %s", before, after)
				}
			}
		})
	}
}

func TestPostAppendsAndDeleteRemovesWithinOneType(t *testing.T) {
	emu, ts := start(t)
	if err := emu.SetWebhooks(keyID, json.RawMessage(`{"receive":["https://a.example.com"],"outbound":["https://a.example.com"]}`)); err != nil {
		t.Fatal(err)
	}
	steps := []struct{ method, body string }{
		// No type: receive. A URL already present is appended again, as
		// Sendblue does.
		{"POST", `{"webhooks":["https://a.example.com",{"url":"https://b.example.com","secret":"s"}]}`},
		{"POST", `{"webhooks":["https://c.example.com"],"type":"typing_indicator","globalSecret":"g"}`},
		{"DELETE", `{"webhooks":["https://a.example.com"]}`},
	}
	for _, s := range steps {
		if got := call(t, ts, s.method, sendbluetest.Path, s.body, nil); got.status != 200 {
			t.Fatalf("%s %s: %d %s", s.method, s.body, got.status, got.body)
		}
	}
	want := `{"receive":[{"url":"https://b.example.com","secret":"s"}],"outbound":["https://a.example.com"],"typing_indicator":["https://c.example.com"],"globalSecret":"g"}`
	if got, _ := emu.Webhooks(keyID); string(got) != want {
		t.Errorf("stored:\n got %s\nwant %s", got, want)
	}
}

func TestControlSurface(t *testing.T) {
	emu, ts := start(t)
	ctl := func(method, path, body string) answer { return call(t, ts, method, "/_emulator"+path, body, nil) }

	if got := ctl("POST", "/accounts", `{"keyId":"second","secretKey":"s2","webhooks":{"receive":["https://x.example.com"]}}`); got.status != 201 {
		t.Fatalf("create account: %d %s", got.status, got.body)
	}
	if got := ctl("POST", "/accounts", `{"keyId":"second","secretKey":"s2"}`); got.status != 400 {
		t.Errorf("creating an existing account: got %d, want 400", got.status)
	}
	if got := ctl("GET", "/accounts/second/webhooks", ""); got.body != `{"receive":["https://x.example.com"]}` {
		t.Errorf("read the second account: %d %s", got.status, got.body)
	}
	// Overwrite as someone in the dashboard would; no API validation.
	if got := ctl("PUT", "/accounts/"+keyID+"/webhooks", `{"receive":["http://dashboard.example.com"]}`); got.status != 204 {
		t.Fatalf("overwrite: %d %s", got.status, got.body)
	}
	if got := call(t, ts, "GET", sendbluetest.Path, "", nil); !strings.Contains(got.body, "http://dashboard.example.com") {
		t.Errorf("the API does not serve the overwritten configuration: %s", got.body)
	}
	if got := ctl("PUT", "/accounts/nobody/webhooks", `{}`); got.status != 404 {
		t.Errorf("overwrite an unknown account: got %d, want 404", got.status)
	}
	if got := ctl("PUT", "/accounts/"+keyID+"/webhooks", `[]`); got.status != 400 {
		t.Errorf("overwrite with a list: got %d, want 400", got.status)
	}

	// Counters: every request carrying the key id, whatever its outcome.
	call(t, ts, "PUT", sendbluetest.Path, `{"webhooks":{}}`, nil)
	call(t, ts, "GET", sendbluetest.Path, "", map[string]string{"sb-api-secret-key": "wrong"})
	var counts map[string]int
	if err := json.Unmarshal([]byte(ctl("GET", "/accounts/"+keyID+"/requests", "").body), &counts); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"GET": 2, "PUT": 1, "POST": 0, "DELETE": 0}, counts); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	ctl("DELETE", "/accounts/"+keyID+"/requests", "")
	if diff := cmp.Diff(map[string]int{"GET": 0, "PUT": 0, "POST": 0, "DELETE": 0}, emu.Requests(keyID)); diff != "" {
		t.Errorf("counters after reset (-want +got):\n%s", diff)
	}
	if got := ctl("GET", "/accounts/nobody/requests", ""); got.status != 404 {
		t.Errorf("counters of an unknown account: got %d, want 404", got.status)
	}
}

func TestTheJournalHoldsEveryChangeTheAPIMade(t *testing.T) {
	emu, ts := start(t)
	call(t, ts, "PUT", sendbluetest.Path, `{"webhooks":{"receive":["https://a.example.com"]}}`, nil)
	if err := emu.SetMembers(keyID, json.RawMessage(`{"outbound":["https://dashboard.example.com"]}`)); err != nil {
		t.Fatal(err)
	}
	call(t, ts, "POST", sendbluetest.Path, `{"webhooks":["https://b.example.com"],"type":"receive"}`, nil)
	call(t, ts, "DELETE", sendbluetest.Path, `{"webhooks":["https://a.example.com"],"type":"receive"}`, nil)
	call(t, ts, "PUT", sendbluetest.Path, `{"webhooks":{"receive":"not a list"}}`, nil) // refused: no change
	writes, next := emu.Journal(0)
	if next != 3 || len(writes) != 3 {
		t.Fatalf("journal %+v next %d: want the PUT, POST and DELETE", writes, next)
	}
	want := []string{
		`PUT {"receive":["https://a.example.com"]}`,
		`POST {"receive":["https://a.example.com","https://b.example.com"],"outbound":["https://dashboard.example.com"]}`,
		`DELETE {"receive":["https://b.example.com"],"outbound":["https://dashboard.example.com"]}`,
	}
	for i, w := range writes {
		if got := w.Method + " " + string(w.After); got != want[i] || w.KeyID != keyID {
			t.Errorf("write %d: %s by %s, want %s", i, got, w.KeyID, want[i])
		}
	}
	if string(writes[1].Before) != `{"receive":["https://a.example.com"],"outbound":["https://dashboard.example.com"]}` {
		t.Errorf("POST before: %s", writes[1].Before)
	}
	if rest, n := emu.Journal(next); len(rest) != 0 || n != 3 {
		t.Errorf("Journal(%d) = %v, %d", next, rest, n)
	}
}

func TestSeveralKeysReachOneAccount(t *testing.T) {
	emu, ts := start(t)
	if got := call(t, ts, "POST", "/_emulator/accounts/"+keyID+"/keys", `{"keyId":"second-key","secretKey":"second-secret"}`, nil); got.status != 201 {
		t.Fatalf("add key: %d %s", got.status, got.body)
	}
	second := map[string]string{"sb-api-key-id": "second-key", "sb-api-secret-key": "second-secret"}
	if got := call(t, ts, "PUT", sendbluetest.Path, `{"webhooks":{"receive":["https://via-second.example.com"]}}`, second); got.status != 200 {
		t.Fatalf("PUT with the second key: %d %s", got.status, got.body)
	}
	if got := call(t, ts, "GET", sendbluetest.Path, "", nil); !strings.Contains(got.body, "via-second") {
		t.Errorf("the first key reads %s, want what the second wrote", got.body)
	}
	if err := emu.RotateSecret("second-key", "rotated"); err != nil {
		t.Fatal(err)
	}
	if got := call(t, ts, "GET", sendbluetest.Path, "", second); got.status != 401 {
		t.Errorf("the old secret after a rotation: %d, want 401", got.status)
	}
	second["sb-api-secret-key"] = "rotated"
	if got := call(t, ts, "GET", sendbluetest.Path, "", second); got.status != 200 {
		t.Errorf("the rotated secret: %d, want 200", got.status)
	}
	if err := emu.AddKey("nobody", "k", "s"); err == nil {
		t.Error("AddKey to an unknown account succeeded")
	}
	err := emu.EditWebhooks(keyID, func(cur json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(strings.Replace(string(cur), `"receive":[`, `"receive":["https://edited.example.com",`, 1)), nil
	})
	if got, _ := emu.Webhooks("second-key"); err != nil || !strings.Contains(string(got), `"receive":["https://edited.example.com","https://via-second.example.com"]`) {
		t.Errorf("after EditWebhooks (%v): %s", err, got)
	}
}

func TestFaults(t *testing.T) {
	t.Run("the next N matching requests fail, then the API answers again", func(t *testing.T) {
		_, ts := start(t)
		ctl := call(t, ts, "POST", "/_emulator/faults", `{"status":429,"retryAfter":"3","count":2,"method":"GET","account":"`+keyID+`"}`, nil)
		if ctl.status != 204 {
			t.Fatalf("inject: %d %s", ctl.status, ctl.body)
		}
		if got := call(t, ts, "PUT", sendbluetest.Path, `{"webhooks":{}}`, nil); got.status != 200 {
			t.Errorf("a PUT is not matched by a GET fault: got %d", got.status)
		}
		for i := 0; i < 2; i++ {
			got := call(t, ts, "GET", sendbluetest.Path, "", nil)
			if got.status != 429 || got.header.Get("Retry-After") != "3" {
				t.Errorf("GET %d: got %d Retry-After %q, want 429 and 3", i, got.status, got.header.Get("Retry-After"))
			}
		}
		if got := call(t, ts, "GET", sendbluetest.Path, "", nil); got.status != 200 {
			t.Errorf("after the fault is used up: got %d, want 200", got.status)
		}
	})
	t.Run("error body shapes", func(t *testing.T) {
		for style, want := range map[string]string{
			"":            `{"message":"boom","status":"ERROR"}`,
			"error":       `{"error":"boom"}`,
			"errorObject": `{"error":{"code":502,"message":"boom"}}`,
		} {
			emu, ts := start(t)
			emu.InjectFault(sendbluetest.Fault{Status: 502, Message: "boom", BodyStyle: style})
			if got := call(t, ts, "GET", sendbluetest.Path, "", nil); got.status != 502 || got.body != want {
				t.Errorf("style %q: got %d %s, want 502 %s", style, got.status, got.body, want)
			}
		}
	})
	t.Run("malformed answers 200 with a body that is not JSON", func(t *testing.T) {
		emu, ts := start(t)
		emu.InjectFault(sendbluetest.Fault{Malformed: true})
		got := call(t, ts, "GET", sendbluetest.Path, "", nil)
		if got.status != 200 || json.Valid([]byte(got.body)) {
			t.Errorf("got %d %s, want 200 and invalid JSON", got.status, got.body)
		}
	})
	t.Run("latency delays the answer", func(t *testing.T) {
		_, ts := start(t)
		call(t, ts, "POST", "/_emulator/faults", `{"latency":"300ms"}`, nil)
		begin := time.Now()
		got := call(t, ts, "GET", sendbluetest.Path, "", nil)
		if d := time.Since(begin); got.status != 200 || d < 300*time.Millisecond {
			t.Errorf("got %d after %s, want 200 after at least 300ms", got.status, d)
		}
	})
	t.Run("hang holds the request until the client gives up", func(t *testing.T) {
		emu, ts := start(t)
		emu.InjectFault(sendbluetest.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+sendbluetest.Path, nil)
		_, err := ts.Client().Do(req)
		if err == nil || ctx.Err() == nil {
			t.Fatalf("got err=%v before the client's deadline, want the request held", err)
		}
	})
	t.Run("body answers 200 with a lie and stores nothing", func(t *testing.T) {
		emu, ts := start(t)
		before, _ := emu.Webhooks(keyID)
		call(t, ts, "POST", "/_emulator/faults", `{"method":"GET","body":"{\"status\":\"OK\",\"webhooks\":{}}"}`, nil)
		if got := call(t, ts, "GET", sendbluetest.Path, "", nil); got.status != 200 || got.body != `{"status":"OK","webhooks":{}}` {
			t.Errorf("got %d %s, want 200 and the fault's body", got.status, got.body)
		}
		if got := call(t, ts, "GET", sendbluetest.Path, "", nil); !strings.Contains(got.body, string(before)) {
			t.Errorf("the next GET %s does not serve the stored configuration %s", got.body, before)
		}
	})
	t.Run("dropWrite answers 200 with the stored configuration and stores nothing", func(t *testing.T) {
		emu, ts := start(t)
		before, _ := emu.Webhooks(keyID)
		emu.InjectFault(sendbluetest.Fault{Method: "PUT", DropWrite: true})
		got := call(t, ts, "PUT", sendbluetest.Path, `{"webhooks":{"receive":["https://new.example.com"]}}`, nil)
		if got.status != 200 || !strings.Contains(got.body, string(before)) {
			t.Errorf("got %d %s, want 200 echoing the unchanged %s", got.status, got.body, before)
		}
		if after, _ := emu.Webhooks(keyID); string(after) != string(before) {
			t.Errorf("stored %s, want it unchanged (%s)", after, before)
		}
	})
	t.Run("bad fault requests are refused", func(t *testing.T) {
		_, ts := start(t)
		for _, body := range []string{`{"latency":"soon"}`, `{"status":999}`, `[`} {
			if got := call(t, ts, "POST", "/_emulator/faults", body, nil); got.status != 400 {
				t.Errorf("fault %s: got %d, want 400", body, got.status)
			}
		}
	})
}
