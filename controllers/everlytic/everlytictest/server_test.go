package everlytictest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
)

const (
	user   = "emu-user"
	apiKey = "emu-api-key"
	coll   = everlytic.CollectionPath
)

func start(t *testing.T) (*everlytictest.Server, *httptest.Server) {
	t.Helper()
	emu := everlytictest.NewServer()
	if err := emu.AddAccount(user, apiKey); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); ts.Close() })
	return emu, ts
}

type answer struct {
	status int
	body   string
}

// call sends one request with the account's credentials (or key, when set).
func call(t *testing.T, ts *httptest.Server, method, path, body string, key ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) == 0 {
		req.SetBasicAuth(user, apiKey)
	} else if key[0] != "" {
		req.SetBasicAuth(user, key[0])
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

const fullBody = `{"webhook":{"event_types":["sent"],"verb":"POST","url":"https://webhook.site/f0fc8147","auth_details":{"username":"username","password":"receiver-pw"},"auth_type":"basic","status":"enabled"}}`

// create posts fullBody and returns the new id.
func create(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	a := call(t, ts, "POST", coll, fullBody)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var env struct {
		Data struct {
			Webhook struct {
				ID string `json:"id"`
			} `json:"webhook"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(a.body), &env); err != nil {
		t.Fatal(err)
	}
	return env.Data.Webhook.ID
}

var (
	uuidV4    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	timestamp = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+02:00`
)

func TestAnswersHaveTheDocumentedShape(t *testing.T) {
	_, ts := start(t)
	id := create(t, ts)
	if !uuidV4.MatchString(id) {
		t.Fatalf("id %q is not a UUIDv4", id)
	}
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"a read answers lower-case verb, username without password, offset timestamps", "GET", coll + "/" + id, "",
			`{"status":"success","data":{"webhook":{"id":"` + id + `","url":"https://webhook.site/f0fc8147","verb":"post","auth_details":{"username":"username"},"auth_type":"basic","status":"enabled","updated_timestamp":"TS","created_timestamp":"TS","event_types":["sent"]}}}`},
		{"an update answers the webhook with null auth as in the documentation", "PUT", coll + "/" + id,
			`{"webhook":{"event_types":["reply","bounce"],"verb":"POST","url":"https://typedwebhook.tools/webhook/01b8","auth_type":null,"status":"disabled"}}`,
			`{"status":"success","data":{"webhook":{"id":"` + id + `","url":"https://typedwebhook.tools/webhook/01b8","verb":"post","auth_details":null,"auth_type":null,"status":"disabled","updated_timestamp":"TS","created_timestamp":"TS","event_types":["reply","bounce"]}}}`},
		{"a delete answers success", "DELETE", coll + "/" + id, "", `{"status":"success"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, ts, tc.method, tc.path, tc.body)
			got := regexp.MustCompile(timestamp).ReplaceAllString(a.body, "TS")
			if a.status != http.StatusOK || got != tc.want {
				t.Errorf("%s %s: %d\n got %s\nwant %s", tc.method, tc.path, a.status, got, tc.want)
			}
		})
	}
}

func TestValidationAnswersTheDocumentedMessages(t *testing.T) {
	const (
		prefix = `{"status":"error","data":"The payload for the webhook is not in the correct format. `
		valid  = `"event_types":["sent"],"verb":"POST","url":"https://h.example/x"`
	)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"a status other than enabled or disabled", `{"webhook":{` + valid + `,"status":"active"}}`,
			`{\"webhook.status\":[\"The selected webhook.status is invalid, status should only be enabled or disabled.\"]}"}`},
		{"a number where a string is expected", `{"webhook":{` + valid + `,"status":123}}`,
			`{\"webhook.status\":[\"validation.string\"]}"}`},
		{"no verb", `{"webhook":{"event_types":["sent"],"url":"https://h.example/x","status":"enabled"}}`,
			`{\"webhook.verb\":[\"The webhook.verb field is required.\"]}"}`},
		{"a verb other than POST or GET", `{"webhook":{"event_types":["sent"],"verb":"PATCH","url":"https://h.example/x"}}`,
			`{\"webhook.verb\":[\"The selected webhook.verb is invalid.\"]}"}`},
		{"basic auth without details", `{"webhook":{` + valid + `,"auth_type":"basic"}}`,
			`{\"webhook.auth_details\":[\"The webhook.auth details field is required when webhook.auth type is basic.\"]}"}`},
		{"basic auth without a password", `{"webhook":{` + valid + `,"auth_type":"basic","auth_details":{"username":"administrator"}}}`,
			`{\"webhook.auth_details.password\":[\"The webhook.auth details.password field is required when webhook.auth type is basic.\"]}"}`},
		{"basic auth without a username", `{"webhook":{` + valid + `,"auth_type":"basic","auth_details":{"password":"p"}}}`,
			`{\"webhook.auth_details.username\":[\"The webhook.auth details.username field is required when webhook.auth type is basic.\"]}"}`},
		{"an auth type other than basic", `{"webhook":{` + valid + `,"auth_type":"bearer"}}`,
			`{\"webhook.auth_type\":[\"The selected webhook.auth type is invalid.\"]}"}`},
		{"no event types", `{"webhook":{"event_types":[],"verb":"GET","url":"https://h.example/x"}}`,
			`{\"webhook.event_types\":[\"The webhook.event types field is required.\"]}"}`},
		{"an unknown event type", `{"webhook":{"event_types":["reply","test"],"verb":"GET","url":"https://h.example/x"}}`,
			`{\"webhook.event_types.1\":[\"The selected webhook.event_types.1 is invalid.\"]}"}`},
		{"no url", `{"webhook":{"event_types":["sent"],"verb":"GET"}}`,
			`{\"webhook.url\":[\"The webhook.url field is required.\"]}"}`},
		{"a url that is not absolute http", `{"webhook":{"event_types":["sent"],"verb":"GET","url":"ftp://h.example/x"}}`,
			`{\"webhook.url\":[\"The webhook.url format is invalid.\"]}"}`},
		{"a body without the webhook object", `{"url":"https://h.example/x"}`,
			`{\"webhook\":[\"The webhook field is required.\"]}"}`},
		{"several problems, keys sorted", `{"webhook":{"event_types":["sent"],"status":"on"}}`,
			`{\"webhook.status\":[\"The selected webhook.status is invalid, status should only be enabled or disabled.\"],\"webhook.url\":[\"The webhook.url field is required.\"],\"webhook.verb\":[\"The webhook.verb field is required.\"]}"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, ts := start(t)
			a := call(t, ts, "POST", coll, tc.body)
			if a.status != http.StatusBadRequest || a.body != prefix+tc.want {
				t.Errorf("POST: %d\n got %s\nwant %s", a.status, a.body, prefix+tc.want)
			}
			if hooks, _ := emu.Webhooks(user); len(hooks) != 0 {
				t.Errorf("a refused create stored %d webhooks", len(hooks))
			}
		})
	}
}

func TestAnUpdateKeepsAbsentMembersButRequiresTheVerb(t *testing.T) {
	emu, ts := start(t)
	id := create(t, ts)
	a := call(t, ts, "PUT", coll+"/"+id, `{"webhook":{"event_types":["reply","bounce"],"status":"disabled"}}`)
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `The webhook.verb field is required.`) {
		t.Errorf("partial PUT without verb: %d %s, want the documented 400", a.status, a.body)
	}
	a = call(t, ts, "PUT", coll+"/"+id, `{"webhook":{"verb":"GET","status":"disabled"}}`)
	if a.status != http.StatusOK {
		t.Fatalf("partial PUT with verb: %d %s", a.status, a.body)
	}
	got, _ := emu.Webhook(user, id)
	want := everlytic.Webhook{ID: id, URL: "https://webhook.site/f0fc8147", Verb: "get", EventTypes: []everlytic.EventType{everlytic.Sent},
		Auth: &everlytic.BasicAuth{Username: "username", Password: "receiver-pw"}, Status: "disabled", CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("stored after a partial PUT (-got +want):\n%s", diff)
	}
}

func TestRefusalsAnswerTheDocumentedStatuses(t *testing.T) {
	emu, ts := start(t)
	id := create(t, ts)
	for _, tc := range []struct {
		name, method, path, body string
		key                      []string
		wantStatus               int
		wantBody                 string
	}{
		{"a wrong API key", "GET", coll, "", []string{"wrong"}, 401, `"Invalid credentials."`},
		{"no credentials", "GET", coll, "", []string{""}, 401, `"Invalid credentials."`},
		{"an unknown id on GET", "GET", coll + "/4e54180d-597e-4e24-b712-862f04d385ad", "", nil, 404, `{"status":"error","data":"Webhook not found."}`},
		{"an unknown id on PUT", "PUT", coll + "/nope", fullBody, nil, 404, `{"status":"error","data":"Webhook not found."}`},
		{"an unknown id on DELETE", "DELETE", coll + "/nope", "", nil, 404, `{"status":"error","data":"Webhook not found."}`},
		{"a PUT on the collection", "PUT", coll, fullBody, nil, 405, `{"status":"error","data":"Method not allowed."}`},
		{"a POST on a webhook", "POST", coll + "/" + id, fullBody, nil, 405, `{"status":"error","data":"Method not allowed."}`},
		{"a body over 1 MiB", "PUT", coll + "/" + id, `{"webhook":{"url":"` + strings.Repeat("a", 1<<20) + `"}}`, nil, 413, `{"status":"error","data":"Request body too large."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, ts, tc.method, tc.path, tc.body, tc.key...)
			if a.status != tc.wantStatus || a.body != tc.wantBody {
				t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, a.status, a.body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	if hooks, _ := emu.Webhooks(user); len(hooks) != 1 || hooks[0].URL != "https://webhook.site/f0fc8147" {
		t.Errorf("refused requests changed the store: %+v", hooks)
	}
}

func TestGetByIDCanBeSwitchedOff(t *testing.T) {
	emu, ts := start(t)
	id := create(t, ts)
	emu.SetGetByIDAvailable(false)
	if a := call(t, ts, "GET", coll+"/"+id, ""); a.status != http.StatusMethodNotAllowed {
		t.Errorf("GET by id while unavailable: %d %s, want 405", a.status, a.body)
	}
	emu.SetGetByIDAvailable(true)
	if a := call(t, ts, "GET", coll+"/"+id, ""); a.status != http.StatusOK {
		t.Errorf("GET by id while available: %d %s, want 200", a.status, a.body)
	}
}

func TestTheListIsPagedInCreationOrder(t *testing.T) {
	emu, ts := start(t)
	emu.SetPerPage(2)
	var ids []string
	for range 5 {
		ids = append(ids, create(t, ts))
	}
	type page struct {
		Data struct {
			Webhooks []struct {
				ID       string `json:"id"`
				Password *string
			} `json:"webhooks"`
		} `json:"data"`
		Meta map[string]int `json:"meta"`
	}
	var got []string
	for n, query := range []string{"", "?page=2", "?page=3", "?page=4"} {
		a := call(t, ts, "GET", coll+query, "")
		var p page
		if err := json.Unmarshal([]byte(a.body), &p); err != nil || a.status != 200 {
			t.Fatalf("page %d: %d %s", n+1, a.status, a.body)
		}
		wantMeta := map[string]int{"total": 5, "per_page": 2, "current_page": n + 1, "last_page": 3}
		if diff := cmp.Diff(p.Meta, wantMeta); diff != "" {
			t.Errorf("page %d meta (-got +want):\n%s", n+1, diff)
		}
		for _, w := range p.Data.Webhooks {
			got = append(got, w.ID)
		}
	}
	if diff := cmp.Diff(got, ids); diff != "" {
		t.Errorf("ids over every page (-got +want):\n%s", diff)
	}
	if strings.Contains(call(t, ts, "GET", coll, "").body, "receiver-pw") {
		t.Error("the list answered a password")
	}
	if got, want := emu.Requests(user)[everlytictest.OpList], 5; got != want {
		t.Errorf("LIST requests = %d, want %d (one per page)", got, want)
	}
}

func TestRequestsAreCountedPerAccountAndCall(t *testing.T) {
	emu, ts := start(t)
	id := create(t, ts)
	call(t, ts, "GET", coll+"/"+id, "")
	call(t, ts, "GET", coll+"/"+id, "", "wrong-key")
	call(t, ts, "PUT", coll+"/"+id, fullBody)
	call(t, ts, "GET", coll, "")
	call(t, ts, "DELETE", coll+"/"+id, "")
	want := map[string]int{"CREATE": 1, "GET": 2, "LIST": 1, "UPDATE": 1, "DELETE": 1}
	if diff := cmp.Diff(emu.Requests(user), want); diff != "" {
		t.Errorf("Requests (-got +want):\n%s", diff)
	}
	emu.ResetRequests(user)
	want = map[string]int{"CREATE": 0, "GET": 0, "LIST": 0, "UPDATE": 0, "DELETE": 0}
	if diff := cmp.Diff(emu.Requests(user), want); diff != "" {
		t.Errorf("Requests after ResetRequests (-got +want):\n%s", diff)
	}
}

func TestAnAfterStoreHangStoresThenHangs(t *testing.T) {
	emu, ts := start(t)
	id := create(t, ts)
	emu.InjectFault(everlytictest.Fault{Op: everlytictest.OpUpdate, AfterStore: true, Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "PUT", ts.URL+coll+"/"+id, strings.NewReader(strings.Replace(fullBody, `"enabled"`, `"disabled"`, 1)))
	req.SetBasicAuth(user, apiKey)
	resp, err := ts.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the PUT was answered (%d), want it held until the client gave up", resp.StatusCode)
	}
	if got, _ := emu.Webhook(user, id); got.Status != "disabled" {
		t.Errorf("stored status = %q, want the hung write stored (disabled)", got.Status)
	}
	if got := emu.PendingFaults(); len(got) != 0 {
		t.Errorf("pending faults after use: %+v", got)
	}
}

func TestFaultsAnswerAsConfigured(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      everlytictest.Fault
		wantStatus int
		wantBody   string
	}{
		{"a status with a message", everlytictest.Fault{Status: 503, Message: "Down for maintenance"}, 503, `{"status":"error","data":"Down for maintenance"}`},
		{"a 401 answers the documented body", everlytictest.Fault{Status: 401}, 401, `"Invalid credentials."`},
		{"a body answered verbatim", everlytictest.Fault{Body: `{"status":"success"}`}, 200, `{"status":"success"}`},
		{"a malformed answer", everlytictest.Fault{Malformed: true}, 200, `{"status":"success","data":{"webhook":`},
		{"a fault for another account does not match", everlytictest.Fault{Account: "other", Status: 500}, 200, ""},
		{"a fault for another call does not match", everlytictest.Fault{Op: "DELETE", Status: 500}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, ts := start(t)
			emu.InjectFault(tc.fault)
			a := call(t, ts, "GET", coll, "")
			if a.status != tc.wantStatus || (tc.wantBody != "" && a.body != tc.wantBody) {
				t.Errorf("GET: %d %s, want %d %s", a.status, a.body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestPutWebhookValidatesLikeTheAPIAndKeepsCreation(t *testing.T) {
	emu, _ := start(t)
	_, err := emu.PutWebhook(user, everlytic.Webhook{URL: "https://h.example/x", Verb: "PATCH", EventTypes: []everlytic.EventType{"sent"}})
	if err == nil || !strings.Contains(err.Error(), "The selected webhook.verb is invalid.") {
		t.Errorf("PutWebhook with a bad verb: %v, want the API's message", err)
	}
	first, err := emu.PutWebhook(user, everlytic.Webhook{URL: "https://h.example/x", Verb: "POST", EventTypes: []everlytic.EventType{"sent"}})
	if err != nil || !uuidV4.MatchString(first.ID) || first.Status != "enabled" || first.Verb != "post" {
		t.Fatalf("PutWebhook create: %+v, %v", first, err)
	}
	second, err := emu.PutWebhook(user, everlytic.Webhook{ID: first.ID, URL: "https://h.example/y", Verb: "GET", EventTypes: []everlytic.EventType{"reply"}, Status: "disabled"})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _ := emu.Webhooks(user)
	if len(hooks) != 1 || hooks[0].URL != "https://h.example/y" || second.CreatedAt != first.CreatedAt {
		t.Errorf("after an overwrite: %+v, want one webhook with the new URL and the first creation time %s", hooks, first.CreatedAt)
	}
	if err := emu.DeleteWebhook(user, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := emu.DeleteWebhook(user, first.ID); err != everlytictest.ErrNoWebhook {
		t.Errorf("second DeleteWebhook: %v, want ErrNoWebhook", err)
	}
}

func TestPutOldWebhookStampsTheCreationTime(t *testing.T) {
	emu, _ := start(t)
	made := time.Date(2023, 9, 13, 12, 3, 39, 0, time.UTC)
	old, err := emu.PutOldWebhook(user, everlytic.Webhook{URL: "https://h.example/x", Verb: "POST", EventTypes: []everlytic.EventType{"sent"}}, made)
	if err != nil {
		t.Fatal(err)
	}
	if old.CreatedAt != "2023-09-13T14:03:39+02:00" {
		t.Errorf("created_timestamp %s, want the given time with the install's offset", old.CreatedAt)
	}
	fresh, _ := emu.PutWebhook(user, everlytic.Webhook{URL: "https://h.example/y", Verb: "POST", EventTypes: []everlytic.EventType{"sent"}})
	if at, err := time.Parse(time.RFC3339, fresh.CreatedAt); err != nil || time.Since(at) > time.Minute {
		t.Errorf("PutWebhook's created_timestamp %s (%v), want now", fresh.CreatedAt, err)
	}
	if _, err := emu.PutOldWebhook(user, everlytic.Webhook{ID: old.ID, URL: "https://h.example/z", Verb: "POST", EventTypes: []everlytic.EventType{"sent"}}, made); err == nil {
		t.Error("PutOldWebhook overwrote a webhook")
	}
}
