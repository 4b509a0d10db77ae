package everlytic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
)

const (
	username = "operator-user"
	apiKey   = "ak-very-secret-value-42"
	hookPW   = "receiver-password-7"
)

var creds = everlytic.Credentials{Username: username, APIKey: apiKey}

// recorder keeps the bodies of the API requests that reach the emulator.
type recorder struct {
	mu     sync.Mutex
	bodies []string
}

func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(body))
		r.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		next.ServeHTTP(w, req)
	})
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[len(r.bodies)-1]
}

// newEmulator starts an emulator with one account and returns it with a
// client for that account and a recorder of request bodies.
func newEmulator(t *testing.T, opts ...everlytic.Option) (*everlytictest.Server, *everlytic.Client, *recorder) {
	t.Helper()
	emu := everlytictest.NewServer()
	if err := emu.AddAccount(username, apiKey); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ts := httptest.NewServer(rec.wrap(emu))
	t.Cleanup(func() { emu.Close(); ts.Close() })
	c, err := everlytic.New(ts.URL, creds, ts.Client(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return emu, c, rec
}

func hook(url string, auth *everlytic.BasicAuth) everlytic.Webhook {
	return everlytic.Webhook{URL: url, Verb: "POST", EventTypes: []everlytic.EventType{everlytic.Reply, everlytic.Bounce}, Auth: auth, Status: "enabled"}
}

// ignoreStamps leaves the server's timestamps out of comparisons.
var ignoreStamps = cmpopts.IgnoreFields(everlytic.Webhook{}, "CreatedAt", "UpdatedAt")

func TestEveryCallRoundTripsThroughTheEmulator(t *testing.T) {
	emu, c, rec := newEmulator(t)
	ctx := context.Background()

	created, err := c.Create(ctx, hook("https://hooks.example.com/a", &everlytic.BasicAuth{Username: "recv", Password: hookPW}))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := everlytic.Webhook{ID: created.ID, URL: "https://hooks.example.com/a", Verb: "post", EventTypes: []everlytic.EventType{"reply", "bounce"},
		Auth: &everlytic.BasicAuth{Username: "recv"}, Status: "enabled"}
	if diff := cmp.Diff(*created, want, ignoreStamps); diff != "" {
		t.Errorf("Create answered (-got +want):\n%s", diff)
	}
	if !strings.HasSuffix(created.CreatedAt, "+02:00") {
		t.Errorf("CreatedAt = %q, want the answered timestamp with its offset", created.CreatedAt)
	}

	got, err := c.Get(ctx, created.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(*got, *created); diff != "" {
		t.Errorf("Get (-got +want):\n%s", diff)
	}

	update := hook("https://hooks.example.com/b", nil)
	update.ID, update.Verb, update.Status = created.ID, "get", "disabled"
	updated, err := c.Update(ctx, update)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantBody := `{"webhook":{"url":"https://hooks.example.com/b","verb":"GET","event_types":["reply","bounce"],"auth_type":null,"auth_details":null,"status":"disabled"}}`
	if got := rec.last(); got != wantBody {
		t.Errorf("Update sent\n got %s\nwant %s", got, wantBody)
	}
	want = everlytic.Webhook{ID: created.ID, URL: "https://hooks.example.com/b", Verb: "get", EventTypes: []everlytic.EventType{"reply", "bounce"}, Status: "disabled"}
	if diff := cmp.Diff(*updated, want, ignoreStamps); diff != "" {
		t.Errorf("Update answered (-got +want):\n%s", diff)
	}

	if err := c.Delete(ctx, created.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if hooks, _ := emu.Webhooks(username); len(hooks) != 0 {
		t.Errorf("after Delete the emulator holds %d webhooks", len(hooks))
	}
	var nf *everlytic.NotFoundError
	if err := c.Delete(ctx, created.ID); !errors.As(err, &nf) || nf.StatusCode != 404 {
		t.Errorf("second Delete: %v, want a *NotFoundError 404", err)
	}
}

func TestCreateSendsTheFullBodyAndTheReceiverPassword(t *testing.T) {
	emu, c, rec := newEmulator(t)
	created, err := c.Create(context.Background(), hook("https://hooks.example.com/a?x=1&y=<2>", &everlytic.BasicAuth{Username: "recv", Password: hookPW}))
	if err != nil {
		t.Fatal(err)
	}
	wantBody := `{"webhook":{"url":"https://hooks.example.com/a?x=1&y=<2>","verb":"POST","event_types":["reply","bounce"],"auth_type":"basic","auth_details":{"username":"recv","password":"` + hookPW + `"},"status":"enabled"}}`
	if got := rec.last(); got != wantBody {
		t.Errorf("Create sent\n got %s\nwant %s", got, wantBody)
	}
	stored, _ := emu.Webhook(username, created.ID)
	if stored.Auth == nil || stored.Auth.Password != hookPW {
		t.Errorf("stored auth %v, want the password sent", stored.Auth)
	}
}

func TestCreateAcceptsA200AndAnAuthDetailsWithoutPassword(t *testing.T) {
	emu, c, _ := newEmulator(t)
	emu.InjectFault(everlytictest.Fault{Op: "CREATE", Body: `{"status":"success","data":{"webhook":{"id":"4e54180d-597e-4e24-b712-862f04d385ad","url":"https://x.example","verb":"post","auth_details":[],"auth_type":"basic","status":"enabled","event_types":["sent"]}}}`})
	got, err := c.Create(context.Background(), hook("https://x.example", nil))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := everlytic.Webhook{ID: "4e54180d-597e-4e24-b712-862f04d385ad", URL: "https://x.example", Verb: "post", EventTypes: []everlytic.EventType{"sent"}, Auth: &everlytic.BasicAuth{}, Status: "enabled"}
	if diff := cmp.Diff(*got, want); diff != "" {
		t.Errorf("Create (-got +want):\n%s", diff)
	}
}

func TestListFollowsEveryPage(t *testing.T) {
	emu, c, _ := newEmulator(t)
	emu.SetPerPage(2)
	var want []string
	for i := range 5 {
		h, err := c.Create(context.Background(), hook("https://hooks.example.com/"+string(rune('a'+i)), nil))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, h.ID)
	}
	emu.ResetRequests(username)
	hooks, err := c.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	for _, h := range hooks {
		got = append(got, h.ID)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("List ids (-got +want):\n%s", diff)
	}
	if n := emu.Requests(username)["LIST"]; n != 3 {
		t.Errorf("List made %d page requests, want 3", n)
	}
}

func TestListOfAnEmptyAccountIsEmpty(t *testing.T) {
	_, c, _ := newEmulator(t)
	hooks, err := c.List(context.Background())
	if err != nil || len(hooks) != 0 {
		t.Errorf("List = %v, %v; want nothing and no error", hooks, err)
	}
}

func TestListRefusesUnusablePaging(t *testing.T) {
	page := func(current, last int) string {
		b, _ := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"webhooks": []any{}},
			"meta": map[string]int{"total": 0, "per_page": 20, "current_page": current, "last_page": last}})
		return string(b)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"more pages than the limit", page(1, 101), "more than the limit of 100"},
		{"an answer for another page", page(2, 3), "asked for page 1, answered page 2"},
		{"no meta", `{"status":"success","data":{"webhooks":[]}}`, "no meta.last_page"},
		{"no list", `{"status":"success","data":{},"meta":{"last_page":1}}`, "no data.webhooks"},
		{"an entry without id", `{"status":"success","data":{"webhooks":[{"url":"https://x"}]},"meta":{"last_page":1}}`, "no id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, c, _ := newEmulator(t)
			emu.InjectFault(everlytictest.Fault{Op: "LIST", Body: tc.body})
			_, err := c.List(context.Background())
			var pe *everlytic.ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("List: %v, want a *ProtocolError containing %q", err, tc.want)
			}
		})
	}
}

func TestUnsafeIDsAreRefusedBeforeAnyRequest(t *testing.T) {
	for _, id := range []string{"", "a/b", "a?b", "..", ".", "a b", "a%2Fb", "a#b", strings.Repeat("a", 129)} {
		t.Run("id "+id, func(t *testing.T) {
			emu, c, _ := newEmulator(t)
			errs := []error{}
			_, err := c.Get(context.Background(), id)
			errs = append(errs, err)
			_, err = c.Update(context.Background(), everlytic.Webhook{ID: id, URL: "https://x", Verb: "POST", EventTypes: []everlytic.EventType{"sent"}})
			errs = append(errs, err)
			errs = append(errs, c.Delete(context.Background(), id))
			for _, err := range errs {
				var be *everlytic.BadRequestError
				if !errors.As(err, &be) || be.StatusCode != 0 || !strings.Contains(err.Error(), "invalid webhook id") {
					t.Errorf("error %v, want a *BadRequestError (status 0) naming the invalid id", err)
				}
			}
			want := map[string]int{"CREATE": 0, "GET": 0, "LIST": 0, "UPDATE": 0, "DELETE": 0}
			if diff := cmp.Diff(emu.Requests(username), want); diff != "" {
				t.Errorf("requests sent (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFormattingHidesSecrets(t *testing.T) {
	w := hook("https://x.example", &everlytic.BasicAuth{Username: "recv", Password: hookPW})
	for _, s := range []string{
		fmtAll(creds), fmtAll(w), fmtAll(*w.Auth), fmtAll(&w),
	} {
		if strings.Contains(s, apiKey) || strings.Contains(s, hookPW) {
			t.Errorf("formatted value shows a secret: %s", s)
		}
	}
	if got, want := fmtAll(creds), "everlytic.Credentials{REDACTED} everlytic.Credentials{REDACTED} everlytic.Credentials{REDACTED}"; got != want {
		t.Errorf("Credentials formatted as %q, want %q", got, want)
	}
}
