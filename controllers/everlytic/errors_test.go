package everlytic_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
)

func fmtAll(v any) string { return fmt.Sprintf("%v %+v %#v", v, v, v) }

// calls runs each of the client's calls by name; all classify answers alike.
var calls = map[string]func(context.Context, *everlytic.Client, string) error{
	"CREATE": func(ctx context.Context, c *everlytic.Client, _ string) error {
		_, err := c.Create(ctx, hook("https://x.example/c", &everlytic.BasicAuth{Username: "u", Password: hookPW}))
		return err
	},
	"GET": func(ctx context.Context, c *everlytic.Client, id string) error { _, err := c.Get(ctx, id); return err },
	"UPDATE": func(ctx context.Context, c *everlytic.Client, id string) error {
		w := hook("https://x.example/u", &everlytic.BasicAuth{Username: "u", Password: hookPW})
		w.ID = id
		_, err := c.Update(ctx, w)
		return err
	},
	"LIST":   func(ctx context.Context, c *everlytic.Client, _ string) error { _, err := c.List(ctx); return err },
	"DELETE": func(ctx context.Context, c *everlytic.Client, id string) error { return c.Delete(ctx, id) },
}

// seeded returns an emulator, a client and the id of one stored webhook.
func seeded(t *testing.T, opts ...everlytic.Option) (*everlytictest.Server, *everlytic.Client, string) {
	t.Helper()
	emu, c, _ := newEmulator(t, opts...)
	w, err := emu.PutWebhook(username, hook("https://x.example/seed", nil))
	if err != nil {
		t.Fatal(err)
	}
	return emu, c, w.ID
}

func TestAnswersAreTypedForEveryCall(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      everlytictest.Fault
		wantType   string
		wantStatus int
		wantText   string
	}{
		{"401 carries the JSON-string message", everlytictest.Fault{Status: 401}, "*everlytic.UnauthorizedError", 401, "HTTP 401: Invalid credentials."},
		{"403 is unauthorized", everlytictest.Fault{Status: 403, Message: "Forbidden here"}, "*everlytic.UnauthorizedError", 403, "Forbidden here"},
		{"404 is not found", everlytictest.Fault{Status: 404}, "*everlytic.NotFoundError", 404, "not found"},
		{"405 means the call is not offered", everlytictest.Fault{Status: 405}, "*everlytic.NotFoundError", 405, "does not offer this call"},
		{"422 is a bad request", everlytictest.Fault{Status: 422, Message: "Unprocessable"}, "*everlytic.BadRequestError", 422, "Unprocessable"},
		{"429 with seconds", everlytictest.Fault{Status: 429, RetryAfter: "7"}, "*everlytic.RateLimitedError", 429, "retry after 7s"},
		{"500 is a server error", everlytictest.Fault{Status: 500, Message: "Boom"}, "*everlytic.ServerError", 500, "HTTP 500: Boom"},
		{"503 is a server error", everlytictest.Fault{Status: 503}, "*everlytic.ServerError", 503, "Service Unavailable"},
		{"408 is a server error", everlytictest.Fault{Status: 408}, "*everlytic.ServerError", 408, "Request Timeout"},
		{"409 is a server error", everlytictest.Fault{Status: 409}, "*everlytic.ServerError", 409, "Conflict"},
		{"418 is a protocol error", everlytictest.Fault{Status: 418}, "*everlytic.ProtocolError", 418, "unexpected status"},
		{"a malformed 200 is a protocol error", everlytictest.Fault{Malformed: true}, "*everlytic.ProtocolError", 200, "not the documented JSON envelope"},
		{"a 200 with an error status is a protocol error", everlytictest.Fault{Body: `{"status":"error","data":"x"}`}, "*everlytic.ProtocolError", 200, `status is not "success"`},
	} {
		for op, run := range calls {
			t.Run(tc.name+" on "+op, func(t *testing.T) {
				emu, c, id := seeded(t)
				tc.fault.Op = op
				emu.InjectFault(tc.fault)
				err := run(context.Background(), c, id)
				if got := fmt.Sprintf("%T", err); got != tc.wantType {
					t.Fatalf("error %v of type %s, want %s", err, got, tc.wantType)
				}
				if got := everlytic.StatusCode(err); got != tc.wantStatus {
					t.Errorf("StatusCode = %d, want %d", got, tc.wantStatus)
				}
				if !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("error %q, want it to contain %q", err, tc.wantText)
				}
			})
		}
	}
}

func TestOpsNameTheCallWithoutTheID(t *testing.T) {
	want := map[string]string{
		"CREATE": "everlytic: POST /api/2.0/production/sms/webhooks: HTTP 500",
		"GET":    "everlytic: GET /api/2.0/production/sms/webhooks/{id}: HTTP 500",
		"UPDATE": "everlytic: PUT /api/2.0/production/sms/webhooks/{id}: HTTP 500",
		"LIST":   "everlytic: GET /api/2.0/production/sms/webhooks: HTTP 500",
		"DELETE": "everlytic: DELETE /api/2.0/production/sms/webhooks/{id}: HTTP 500",
	}
	for op, run := range calls {
		emu, c, id := seeded(t)
		emu.InjectFault(everlytictest.Fault{Op: op, Status: 500, Message: "m"})
		if got := run(context.Background(), c, id).Error(); got != want[op]+": m" {
			t.Errorf("%s error %q, want %q", op, got, want[op]+": m")
		}
	}
}

func TestRetryAfterAsAnHTTPDate(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	emu, c, _ := seeded(t, everlytic.WithClock(func() time.Time { return now }))
	emu.InjectFault(everlytictest.Fault{Status: 429, RetryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)})
	_, err := c.List(context.Background())
	var rl *everlytic.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 90*time.Second {
		t.Errorf("List: %v, want a *RateLimitedError with RetryAfter 90s", err)
	}
}

func TestValidationFailuresCarryTheirFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    everlytic.Webhook
		want map[string][]string
	}{
		{"a bad status", everlytic.Webhook{URL: "https://x.example", Verb: "POST", EventTypes: []everlytic.EventType{"sent"}, Status: "active"},
			map[string][]string{"webhook.status": {"The selected webhook.status is invalid, status should only be enabled or disabled."}}},
		{"no verb", everlytic.Webhook{URL: "https://x.example", EventTypes: []everlytic.EventType{"sent"}},
			map[string][]string{"webhook.verb": {"The webhook.verb field is required."}}},
		{"basic auth without a password", everlytic.Webhook{URL: "https://x.example", Verb: "GET", EventTypes: []everlytic.EventType{"sent"}, Auth: &everlytic.BasicAuth{Username: "u"}},
			map[string][]string{"webhook.auth_details.password": {"The webhook.auth details.password field is required when webhook.auth type is basic."}}},
		{"no event types and an unknown verb", everlytic.Webhook{URL: "https://x.example", Verb: "PATCH"},
			map[string][]string{"webhook.event_types": {"The webhook.event types field is required."}, "webhook.verb": {"The selected webhook.verb is invalid."}}},
		{"an unknown event type and no url", everlytic.Webhook{Verb: "POST", EventTypes: []everlytic.EventType{"sent", "Opened"}},
			map[string][]string{"webhook.event_types.1": {"The selected webhook.event_types.1 is invalid."}, "webhook.url": {"The webhook.url field is required."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, id := seeded(t)
			tc.w.ID = id
			_, err := c.Update(context.Background(), tc.w)
			var be *everlytic.BadRequestError
			if !errors.As(err, &be) {
				t.Fatalf("Update: %v, want a *BadRequestError", err)
			}
			if diff := cmp.Diff(be.Fields, tc.want); diff != "" {
				t.Errorf("Fields (-got +want):\n%s", diff)
			}
			if got, want := be.Message, "The payload for the webhook is not in the correct format."; got != want {
				t.Errorf("Message = %q, want %q", got, want)
			}
			if !strings.HasSuffix(err.Error(), be.FieldSummary()) {
				t.Errorf("error %q does not end with the field summary %q", err, be.FieldSummary())
			}
		})
	}
}

// rawServer answers every request with handler and counts Authorization
// headers it sees.
func rawServer(t *testing.T, handler http.HandlerFunc, opts ...everlytic.Option) *everlytic.Client {
	t.Helper()
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	c, err := everlytic.New(ts.URL, creds, ts.Client(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var leaked atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(200)
	}))
	defer target.Close()
	c := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	_, err := c.List(context.Background())
	var pe *everlytic.ProtocolError
	if !errors.As(err, &pe) || pe.StatusCode != 307 || !strings.Contains(err.Error(), "redirect not followed") {
		t.Errorf("List: %v, want a *ProtocolError for the 307", err)
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("the redirect target received credentials %d times", n)
	}
}

func TestAnOversizedAnswerIsAProtocolError(t *testing.T) {
	c := rawServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":"` + strings.Repeat("x", everlytic.MaxResponseBytes) + `"}`))
	})
	_, err := c.List(context.Background())
	var pe *everlytic.ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("List: %v, want a *ProtocolError for the size", err)
	}
}

func TestAnOversizedRequestIsNotSent(t *testing.T) {
	emu, c, _ := newEmulator(t)
	_, err := c.Create(context.Background(), hook("https://x.example/"+strings.Repeat("a", everlytic.MaxRequestBytes), nil))
	var be *everlytic.BadRequestError
	if !errors.As(err, &be) || be.StatusCode != 0 || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("Create: %v, want a *BadRequestError saying it was not sent", err)
	}
	if n := emu.Requests(username)["CREATE"]; n != 0 {
		t.Errorf("%d create requests reached the server, want 0", n)
	}
}

func TestNoAnswerIsATransportError(t *testing.T) {
	t.Run("a hung request times out", func(t *testing.T) {
		emu, c, _ := newEmulator(t, everlytic.WithTimeout(100*time.Millisecond))
		emu.InjectFault(everlytictest.Fault{Hang: true})
		_, err := c.List(context.Background())
		var te *everlytic.TransportError
		if !errors.As(err, &te) || !te.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("List: %v, want a *TransportError that timed out", err)
		}
	})
	t.Run("a canceled context", func(t *testing.T) {
		_, c, _ := newEmulator(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.List(ctx)
		var te *everlytic.TransportError
		if !errors.As(err, &te) || te.Timeout() || !errors.Is(err, context.Canceled) {
			t.Errorf("List: %v, want a *TransportError wrapping context.Canceled, not a timeout", err)
		}
	})
	t.Run("a refused connection", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		ts.Close()
		c, err := everlytic.New(ts.URL, creds, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.List(context.Background())
		var te *everlytic.TransportError
		if !errors.As(err, &te) || te.Timeout() || everlytic.StatusCode(err) != 0 {
			t.Errorf("List: %v, want a *TransportError with no status", err)
		}
	})
}
