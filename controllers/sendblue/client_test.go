package sendblue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

const (
	keyID     = "key-id-0001"
	secretKey = "sk-very-secret-value-42"
)

var creds = sendblue.Credentials{KeyID: keyID, SecretKey: secretKey}

// newEmulator starts an emulator with one account and returns it with a
// client for that account.
func newEmulator(t *testing.T, opts ...sendblue.Option) (*sendbluetest.Server, *httptest.Server, *sendblue.Client) {
	t.Helper()
	emu := sendbluetest.NewServer()
	if err := emu.AddAccount(keyID, secretKey); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); ts.Close() })
	c, err := sendblue.New(ts.URL, creds, ts.Client(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return emu, ts, c
}

func stored(t *testing.T, emu *sendbluetest.Server) string {
	t.Helper()
	raw, err := emu.Webhooks(keyID)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestReplaceThenGetRoundTripsEveryTypeAndBothForms(t *testing.T) {
	for _, typ := range sendblue.EventTypes() {
		t.Run(string(typ), func(t *testing.T) {
			emu, _, c := newEmulator(t)
			object := sendblue.Webhook{URL: "https://hooks.example.com/" + string(typ) + "/2", Secret: "hook-secret-" + string(typ)}
			if typ == sendblue.Receive {
				object.SendblueNumbers = []string{"+15122164639", "+14155550100"}
			}
			want := []sendblue.Webhook{{URL: "https://hooks.example.com/" + string(typ) + "/1"}, object}

			cfg := sendblue.NewConfig()
			if err := cfg.SetWebhooks(typ, want); err != nil {
				t.Fatal(err)
			}
			cfg.SetGlobalSecret("global-secret")
			echoed, err := c.Replace(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Replace: %v", err)
			}
			if echoed == nil {
				t.Fatal("Replace: the emulator echoes the configuration, got nil")
			}

			wantStored := fmt.Sprintf(`{%q:[%q,%s],"globalSecret":"global-secret"}`, typ, want[0].URL, objectForm(t, object))
			if got := stored(t, emu); got != wantStored {
				t.Errorf("stored configuration:\n got %s\nwant %s", got, wantStored)
			}

			got, err := c.Get(context.Background())
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if diff := cmp.Diff(want, got.Webhooks(typ), cmpWebhook); diff != "" {
				t.Errorf("Get(%s) (-want +got):\n%s", typ, diff)
			}
			if !got.Webhooks(typ)[0].IsString() || got.Webhooks(typ)[1].IsString() {
				t.Errorf("entry forms changed: string entry IsString=%v, object entry IsString=%v",
					got.Webhooks(typ)[0].IsString(), got.Webhooks(typ)[1].IsString())
			}
			if s, ok := got.GlobalSecret(); !ok || s != "global-secret" {
				t.Errorf("GlobalSecret() = %q, %v", s, ok)
			}
		})
	}
}

// objectForm is the object form the client is expected to write for w.
func objectForm(t *testing.T, w sendblue.Webhook) string {
	t.Helper()
	if len(w.SendblueNumbers) > 0 {
		n, err := json.Marshal(w.SendblueNumbers)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(`{"url":%q,"secret":%q,"sendblue_numbers":%s}`, w.URL, w.Secret, n)
	}
	return fmt.Sprintf(`{"url":%q,"secret":%q}`, w.URL, w.Secret)
}

var cmpWebhook = cmp.Comparer(func(a, b sendblue.Webhook) bool { return a.Equal(b) })

func TestReadModifyWritePreservesWhatItDidNotChange(t *testing.T) {
	emu, _, c := newEmulator(t)
	// As someone else left it: a type invented next year, an unknown member
	// inside an entry, spacing and escapes inside values, a null list, a
	// legacy secret, a number in exponent form. (Between top-level members the
	// emulator, like the client, writes no whitespace.)
	dashboard := `{"receive":["https://a.example.com/r", {"url":"https://b.example.com/r", "secret":"old", "enabled": true},` +
		` "https://e.example.com/\u0021", {"url": "https://g.example.com", "enabled": false}],` +
		`"future_type":[{"url": "https://f.example.com", "filters": {"x": [1, 2.50]}}],` +
		`"outbound":null,"call_log":["https://c.example.com/\u00e9"],"secret":"legacy","zzz":1e3}`
	if err := emu.SetWebhooks(keyID, json.RawMessage(dashboard)); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"future_type", "zzz"}, cfg.UnknownKeys()); diff != "" {
		t.Errorf("UnknownKeys() (-want +got):\n%s", diff)
	}

	// Change one entry's secret and append one webhook to receive.
	hooks := cfg.Webhooks(sendblue.Receive)
	hooks[1].Secret = "new"
	hooks = append(hooks, sendblue.Webhook{URL: "https://d.example.com/r"})
	if err := cfg.SetWebhooks(sendblue.Receive, hooks); err != nil {
		t.Fatal(err)
	}
	// Setting types to their current values must leave their bytes alone.
	for _, typ := range []sendblue.EventType{sendblue.Outbound, sendblue.CallLog, sendblue.ContactProfile} {
		if err := cfg.SetWebhooks(typ, cfg.Webhooks(typ)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.SetLegacySecret("legacy")
	if _, err := c.Replace(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}

	// The changed entry keeps its object form, member order and unknown
	// member (re-encoded, so its inner spacing goes); the string entry stays
	// a string; the new entry is a plain string; everything else is as read.
	want := `{"receive":["https://a.example.com/r",{"url":"https://b.example.com/r","secret":"new","enabled":true},` +
		`"https://e.example.com/\u0021",{"url": "https://g.example.com", "enabled": false},"https://d.example.com/r"],` +
		`"future_type":[{"url": "https://f.example.com", "filters": {"x": [1, 2.50]}}],` +
		`"outbound":null,"call_log":["https://c.example.com/\u00e9"],"secret":"legacy","zzz":1e3}`
	if got := stored(t, emu); got != want {
		t.Errorf("stored after read-modify-write:\n got %s\nwant %s", got, want)
	}
}

func TestAddAndDelete(t *testing.T) {
	emu, _, c := newEmulator(t)
	ctx := context.Background()
	global := "g-secret"
	_, err := c.Add(ctx, sendblue.LineBlocked, []sendblue.Webhook{
		{URL: "https://x.example.com/1"},
		{URL: "https://x.example.com/2", Secret: "s2"},
	}, &global)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := c.Delete(ctx, sendblue.LineBlocked, []string{"https://x.example.com/1"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got, err := c.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []sendblue.Webhook{{URL: "https://x.example.com/2", Secret: "s2"}}
	if diff := cmp.Diff(want, got.Webhooks(sendblue.LineBlocked), cmpWebhook); diff != "" {
		t.Errorf("line_blocked (-want +got):\n%s", diff)
	}
	if s, _ := got.GlobalSecret(); s != global {
		t.Errorf("globalSecret = %q, want %q", s, global)
	}
	if diff := cmp.Diff(map[string]int{"GET": 1, "PUT": 0, "POST": 1, "DELETE": 1}, emu.Requests(keyID)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestV2PathIsServed(t *testing.T) {
	_, ts, _ := newEmulator(t)
	var paths []string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		paths = append(paths, r.URL.Path)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := sendblue.New(ts.URL, creds, hc, sendblue.WithPath(sendblue.V2Path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatalf("Get on v2 path: %v", err)
	}
	if diff := cmp.Diff([]string{sendblue.V2Path}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrorsAreTyped(t *testing.T) {
	httpEntry := sendblue.NewConfig()
	if err := httpEntry.SetWebhooks(sendblue.Receive, []sendblue.Webhook{{URL: "http://insecure.example.com", Secret: "hook-secret-echo"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		fault  *sendbluetest.Fault
		creds  *sendblue.Credentials
		call   func(*sendblue.Client) error
		check  func(t *testing.T, err error)
		status int
	}{
		{
			name:  "a wrong secret key is unauthorized",
			creds: &sendblue.Credentials{KeyID: keyID, SecretKey: "wrong-secret-key"},
			check: func(t *testing.T, err error) {
				var e *sendblue.UnauthorizedError
				if !errors.As(err, &e) || e.StatusCode != 401 || e.Message != "Unauthorized" {
					t.Errorf("got %#v, want *UnauthorizedError 401 Unauthorized", err)
				}
			},
			status: 401,
		},
		{
			name:  "403 is unauthorized",
			fault: &sendbluetest.Fault{Status: 403, Message: "line-scoped token", BodyStyle: "error"},
			check: func(t *testing.T, err error) {
				var e *sendblue.UnauthorizedError
				if !errors.As(err, &e) || e.StatusCode != 403 || e.Message != "line-scoped token" {
					t.Errorf("got %#v, want *UnauthorizedError 403 with the {error} message", err)
				}
			},
			status: 403,
		},
		{
			name: "a rejected body is a bad request carrying the server's message",
			call: func(c *sendblue.Client) error { _, err := c.Replace(context.Background(), httpEntry); return err },
			check: func(t *testing.T, err error) {
				var e *sendblue.BadRequestError
				if !errors.As(err, &e) || !strings.Contains(e.Message, "webhooks.receive[0]") || !strings.Contains(e.Message, "https") {
					t.Errorf("got %v, want *BadRequestError naming webhooks.receive[0] and https", err)
				}
			},
			status: 400,
		},
		{
			name:  "429 carries Retry-After seconds",
			fault: &sendbluetest.Fault{Status: 429, RetryAfter: "7"},
			check: func(t *testing.T, err error) {
				var e *sendblue.RateLimitedError
				if !errors.As(err, &e) || e.RetryAfter != 7*time.Second {
					t.Errorf("got %#v, want *RateLimitedError with RetryAfter 7s", err)
				}
			},
			status: 429,
		},
		{
			name:  "429 carries an HTTP-date Retry-After",
			fault: &sendbluetest.Fault{Status: 429, RetryAfter: time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)},
			check: func(t *testing.T, err error) {
				var e *sendblue.RateLimitedError
				if !errors.As(err, &e) || e.RetryAfter < 80*time.Second || e.RetryAfter > 91*time.Second {
					t.Errorf("got %#v, want *RateLimitedError with RetryAfter about 90s", err)
				}
			},
			status: 429,
		},
		{
			name:  "500 is a server error with the status-shaped message",
			fault: &sendbluetest.Fault{Status: 500, Message: "database unavailable"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ServerError
				if !errors.As(err, &e) || e.StatusCode != 500 || e.Message != "database unavailable" {
					t.Errorf("got %#v, want *ServerError 500 database unavailable", err)
				}
			},
			status: 500,
		},
		{
			name:  "503 with an error object is a server error",
			fault: &sendbluetest.Fault{Status: 503, Message: "maintenance", BodyStyle: "errorObject"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ServerError
				if !errors.As(err, &e) || e.StatusCode != 503 || e.Message != "503: maintenance" {
					t.Errorf("got %#v, want *ServerError 503 with code and message", err)
				}
			},
			status: 503,
		},
		{
			// As the official SDK: 408 (request timeout) and 409 (lock
			// timeout) are retried like a 5xx, with the server's hint.
			name:  "408 is retried like a server error",
			fault: &sendbluetest.Fault{Status: 408, RetryAfterMs: "1500"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ServerError
				if !errors.As(err, &e) || e.StatusCode != 408 || e.RetryAfter != 1500*time.Millisecond {
					t.Errorf("got %#v, want *ServerError 408 with RetryAfter 1.5s", err)
				}
			},
			status: 408,
		},
		{
			name:  "409 (a lock timeout) is retried like a server error",
			fault: &sendbluetest.Fault{Status: 409, Message: "lock timeout"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ServerError
				if !errors.As(err, &e) || e.StatusCode != 409 || e.Message != "lock timeout" {
					t.Errorf("got %#v, want *ServerError 409", err)
				}
			},
			status: 409,
		},
		{
			name:  "503 carries its Retry-After",
			fault: &sendbluetest.Fault{Status: 503, RetryAfter: "3"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ServerError
				if !errors.As(err, &e) || e.RetryAfter != 3*time.Second {
					t.Errorf("got %#v, want *ServerError with RetryAfter 3s", err)
				}
			},
			status: 503,
		},
		{
			name:  "x-should-retry: false makes a 500 final",
			fault: &sendbluetest.Fault{Status: 500, ShouldRetry: "false", Message: "bad state"},
			check: func(t *testing.T, err error) {
				var e *sendblue.BadRequestError
				if !errors.As(err, &e) || e.StatusCode != 500 || !strings.Contains(e.Message, "x-should-retry") {
					t.Errorf("got %#v, want *BadRequestError 500 naming x-should-retry", err)
				}
			},
			status: 500,
		},
		{
			name:  "x-should-retry: true makes a 404 retried",
			fault: &sendbluetest.Fault{Status: 404, ShouldRetry: "true"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ServerError
				if !errors.As(err, &e) || e.StatusCode != 404 {
					t.Errorf("got %#v, want *ServerError 404", err)
				}
			},
			status: 404,
		},
		{
			name:  "x-should-retry: true on a 429 stays a rate limit",
			fault: &sendbluetest.Fault{Status: 429, ShouldRetry: "true", RetryAfterMs: "250"},
			check: func(t *testing.T, err error) {
				var e *sendblue.RateLimitedError
				if !errors.As(err, &e) || e.RetryAfter != 250*time.Millisecond {
					t.Errorf("got %#v, want *RateLimitedError with RetryAfter 250ms", err)
				}
			},
			status: 429,
		},
		{
			name:  "a redirect is never retried, whatever x-should-retry says",
			fault: &sendbluetest.Fault{Status: 307, ShouldRetry: "true"},
			check: func(t *testing.T, err error) {
				var e *sendblue.ProtocolError
				if !errors.As(err, &e) || e.StatusCode != 307 {
					t.Errorf("got %#v, want *ProtocolError 307", err)
				}
			},
			status: 307,
		},
		{
			name:  "a body that is not JSON is a protocol error",
			fault: &sendbluetest.Fault{Malformed: true},
			check: func(t *testing.T, err error) {
				var e *sendblue.ProtocolError
				if !errors.As(err, &e) || e.StatusCode != 200 {
					t.Errorf("got %#v, want *ProtocolError", err)
				}
			},
			status: 200,
		},
		{
			name:  "404 (a path that is gone) is a protocol error",
			fault: &sendbluetest.Fault{Status: 404},
			check: func(t *testing.T, err error) {
				var e *sendblue.ProtocolError
				if !errors.As(err, &e) || e.StatusCode != 404 {
					t.Errorf("got %#v, want *ProtocolError 404", err)
				}
			},
			status: 404,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, ts, c := newEmulator(t)
			if tc.fault != nil {
				emu.InjectFault(*tc.fault)
			}
			if tc.creds != nil {
				var err error
				if c, err = sendblue.New(ts.URL, *tc.creds, ts.Client()); err != nil {
					t.Fatal(err)
				}
			}
			call := tc.call
			if call == nil {
				call = func(c *sendblue.Client) error { _, err := c.Get(context.Background()); return err }
			}
			err := call(c)
			if err == nil {
				t.Fatal("got no error")
			}
			tc.check(t, err)
			if got := sendblue.StatusCode(err); got != tc.status {
				t.Errorf("StatusCode(err) = %d, want %d", got, tc.status)
			}
			assertNoSecrets(t, err.Error(), "wrong-secret-key", "hook-secret-echo")
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("a refused connection is a transport error", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		url := ts.URL
		ts.Close()
		c, err := sendblue.New(url, creds, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Get(context.Background())
		var e *sendblue.TransportError
		if !errors.As(err, &e) || e.Timeout() {
			t.Fatalf("got %#v, want a *TransportError that is not a timeout", err)
		}
		assertNoSecrets(t, err.Error())
	})
	t.Run("a hanging server is cut off by the request timeout", func(t *testing.T) {
		emu, _, c := newEmulator(t, sendblue.WithTimeout(200*time.Millisecond))
		emu.InjectFault(sendbluetest.Fault{Hang: true})
		start := time.Now()
		_, err := c.Get(context.Background())
		elapsed := time.Since(start)
		var e *sendblue.TransportError
		if !errors.As(err, &e) || !e.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %#v, want a timeout *TransportError", err)
		}
		if elapsed > 5*time.Second {
			t.Errorf("Get returned after %s, want about 200ms", elapsed)
		}
	})
	t.Run("the caller's cancellation is honoured", func(t *testing.T) {
		emu, _, c := newEmulator(t)
		emu.InjectFault(sendbluetest.Fault{Hang: true})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := c.Get(ctx)
		var e *sendblue.TransportError
		if !errors.As(err, &e) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %#v, want a *TransportError wrapping context.Canceled", err)
		}
	})
	t.Run("latency below the timeout still succeeds", func(t *testing.T) {
		emu, _, c := newEmulator(t, sendblue.WithTimeout(2*time.Second))
		emu.InjectFault(sendbluetest.Fault{Latency: 100 * time.Millisecond})
		if _, err := c.Get(context.Background()); err != nil {
			t.Fatalf("Get with 100ms latency: %v", err)
		}
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var reached atomic.Int32
	var leaked atomic.Value
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		leaked.Store(r.Header.Get("sb-api-secret-key") + r.Header.Get("sb-api-key-id"))
		_, _ = w.Write([]byte(`{"status":"OK","webhooks":{}}`))
	}))
	defer second.Close()
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, second.URL+r.URL.Path, code)
			}))
			defer first.Close()
			hc := &http.Client{}
			c, err := sendblue.New(first.URL, creds, hc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Get(context.Background())
			var e *sendblue.ProtocolError
			if !errors.As(err, &e) || e.StatusCode != code {
				t.Fatalf("got %#v, want *ProtocolError %d", err, code)
			}
			if hc.CheckRedirect != nil {
				t.Error("New modified the caller's http.Client")
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests (headers %q), want 0", n, leaked.Load())
	}
}

func TestOversizedBodyIsRefused(t *testing.T) {
	for _, status := range []int{200, 500} {
		t.Run(fmt.Sprintf("an endless body under %d", status), func(t *testing.T) {
			// A valid JSON prefix followed by endless padding: a client
			// without a limit reads until its timeout or memory runs out.
			var written atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				n, _ := w.Write([]byte(`{"status":"OK","webhooks":{"receive":["`))
				written.Add(int64(n))
				chunk := []byte(strings.Repeat("a", 64<<10))
				for i := 0; i < 1024 && r.Context().Err() == nil; i++ { // at most 64 MiB
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			defer ts.Close()
			c, err := sendblue.New(ts.URL, creds, ts.Client(), sendblue.WithTimeout(20*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Get(context.Background())
			var e *sendblue.ProtocolError
			if !errors.As(err, &e) || !strings.Contains(e.Reason, "exceeds") {
				t.Fatalf("got %v, want *ProtocolError about the size limit", err)
			}
			ts.CloseClientConnections()
			// The server may have buffered some more into the socket, but
			// far less than it would have written to a reader without limit.
			if n := written.Load(); n > 16<<20 {
				t.Errorf("the server wrote %d bytes before the client stopped reading, want about 1 MiB", n)
			}
		})
	}
}

func TestUnsafeSuccessBodiesAreErrors(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"no webhooks object", `{"status":"OK"}`},
		{"status ERROR under 200", `{"status":"ERROR","message":"nope"}`},
		{"a known type that is not a list", `{"webhooks":{"receive":"https://x.example.com"}}`},
		{"an entry object without url", `{"webhooks":{"receive":[{"secret":"s"}]}}`},
		{"a global secret that is not a string", `{"webhooks":{"globalSecret":5}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(tc.body))
			}))
			defer ts.Close()
			c, err := sendblue.New(ts.URL, creds, ts.Client())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := c.Get(context.Background())
			var e *sendblue.ProtocolError
			if !errors.As(err, &e) || cfg != nil {
				t.Fatalf("got (%v, %v), want (nil, *ProtocolError)", cfg, err)
			}
		})
	}
}

func TestSecretsNeverAppearInErrors(t *testing.T) {
	// A hostile or careless server echoes everything it was sent.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 4096)
		n, _ := r.Body.Read(body)
		w.WriteHeader(400)
		msg := fmt.Sprintf("bad: key=%s secret=%s body=%s", r.Header.Get("sb-api-key-id"), r.Header.Get("sb-api-secret-key"), body[:n])
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ERROR", "message": msg})
	}))
	defer ts.Close()
	c, err := sendblue.New(ts.URL, creds, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sendblue.NewConfig()
	_ = cfg.SetWebhooks(sendblue.Outbound, []sendblue.Webhook{{URL: "https://o.example.com", Secret: "per-hook-secret"}})
	cfg.SetGlobalSecret("the-global-secret")
	cfg.SetLegacySecret("the-legacy-secret")
	_, err = c.Replace(context.Background(), cfg)
	if err == nil {
		t.Fatal("want an error")
	}
	assertNoSecrets(t, err.Error(), "per-hook-secret", "the-global-secret", "the-legacy-secret")
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error %q: want the echoed secrets replaced by [REDACTED]", err)
	}

	glob := "post-global-secret"
	_, err = c.Add(context.Background(), sendblue.Receive, []sendblue.Webhook{{URL: "https://r.example.com", Secret: "post-hook-secret"}}, &glob)
	assertNoSecrets(t, err.Error(), "post-hook-secret", glob)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		assertNoSecrets(t, fmt.Sprintf(verb, creds))
		assertNoSecrets(t, fmt.Sprintf(verb, struct{ C sendblue.Credentials }{creds}))
	}
}

func assertNoSecrets(t *testing.T, s string, more ...string) {
	t.Helper()
	for _, secret := range append([]string{secretKey, keyID}, more...) {
		if strings.Contains(s, secret) {
			t.Errorf("%q contains the secret %q", s, secret)
		}
	}
}

func TestNewRefusesUnsafeSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		baseURL string
		creds   sendblue.Credentials
		opts    []sendblue.Option
	}{
		{"plain http to a remote host", "http://api.sendblue.co", creds, nil},
		{"plain http to a private address", "http://10.0.0.1:8080", creds, nil},
		{"no scheme", "api.sendblue.co", creds, nil},
		{"user info in the URL", "https://u:p@api.sendblue.co", creds, nil},
		{"a missing secret key", sendblue.DefaultBaseURL, sendblue.Credentials{KeyID: "k"}, nil},
		{"a relative path", sendblue.DefaultBaseURL, creds, []sendblue.Option{sendblue.WithPath("api/account/webhooks")}},
		{"a zero timeout", sendblue.DefaultBaseURL, creds, []sendblue.Option{sendblue.WithTimeout(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sendblue.New(tc.baseURL, tc.creds, nil, tc.opts...); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	for _, ok := range []string{sendblue.DefaultBaseURL, "http://127.0.0.1:8089", "http://localhost:1", "http://[::1]:2"} {
		if _, err := sendblue.New(ok, creds, nil); err != nil {
			t.Errorf("New(%q): %v", ok, err)
		}
	}
}

func TestRedactionCoversPrefixesEscapesAndKnownSecrets(t *testing.T) {
	// A careless server echoes the request body, JSON-escaped, inside its
	// error message, and a GET error echoes the secrets it stores.
	const (
		short   = "sk-very-secret"              // the credential's secret key
		long    = "sk-very-secret-and-its-tail" // a known secret it is a prefix of
		escaped = `hook"secret\with<html>&`     // escaped differently by every JSON encoder
		stored  = "stored-hook-secret-on-the-account"
	)
	c := sendblue.Credentials{KeyID: "key-id-redact", SecretKey: short}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(400)
		msg := fmt.Sprintf("bad: secret=%s body=%s stored=%s known=%s", r.Header.Get("sb-api-secret-key"), body, stored, long)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ERROR", "message": msg})
	}))
	defer ts.Close()
	client, err := sendblue.New(ts.URL, c, ts.Client(), sendblue.WithSecrets(long, stored))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sendblue.NewConfig()
	_ = cfg.SetWebhooks(sendblue.Outbound, []sendblue.Webhook{{URL: "https://o.example.com", Secret: escaped}})
	_, err = client.Replace(context.Background(), cfg)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, leak := range []string{long, "-and-its-tail", escaped, `hook\"secret`, `with\u003chtml`, stored} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("PUT error %q contains %q", err, leak)
		}
	}
	_, err = client.Get(context.Background())
	if err == nil || strings.Contains(err.Error(), stored) || strings.Contains(err.Error(), "-and-its-tail") {
		t.Errorf("GET error %v: want the stored secret and the credential redacted", err)
	}
}

func TestBaseURLErrorsHideUserInfoAndQuery(t *testing.T) {
	for _, raw := range []string{
		"https://operator:hunter2-password@api.sendblue.co",
		"https://api.sendblue.co/?token=hunter2-password",
		"http://api.sendblue.co/?token=hunter2-password",
		"https://api.sendblue.co:bad/?token=hunter2-password",
		"https://exa mple.com/?token=hunter2-password",
		"ftp://operator:hunter2-password@api.sendblue.co",
		"api.sendblue.co/?token=hunter2-password",
	} {
		_, err := sendblue.ValidateBaseURL(raw)
		if err == nil {
			t.Errorf("ValidateBaseURL(%q) accepted it", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "operator:") {
			t.Errorf("ValidateBaseURL(%q) = %q: leaks the user info or the query", raw, err)
		}
	}
}

func TestReplaceRefusesABodyOverTheLimitAnd413IsTyped(t *testing.T) {
	emu, _, c := newEmulator(t)
	big := sendblue.NewConfig()
	var hooks []sendblue.Webhook
	for i := 0; len(hooks)*1024 < sendblue.MaxRequestBytes+4096; i++ {
		hooks = append(hooks, sendblue.Webhook{URL: fmt.Sprintf("https://h%d.example.com/%s", i, strings.Repeat("p", 1024))})
	}
	if err := big.SetWebhooks(sendblue.Receive, hooks); err != nil {
		t.Fatal(err)
	}
	if n, err := big.Size(); err != nil || n <= sendblue.MaxRequestBytes {
		t.Fatalf("Size() = %d, %v: want more than %d", n, err, sendblue.MaxRequestBytes)
	}
	emu.ResetRequests(keyID)
	_, err := c.Replace(context.Background(), big)
	var tooLarge *sendblue.TooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.StatusCode != 0 || tooLarge.Limit != sendblue.MaxRequestBytes {
		t.Fatalf("got %v, want a *TooLargeError before any request", err)
	}
	if n := emu.Requests(keyID)["PUT"]; n != 0 {
		t.Errorf("%d PUT requests were sent, want 0", n)
	}

	emu.InjectFault(sendbluetest.Fault{Method: "PUT", Status: 413, Message: "Payload Too Large"})
	_, err = c.Replace(context.Background(), sendblue.NewConfig())
	if !errors.As(err, &tooLarge) || tooLarge.StatusCode != 413 {
		t.Fatalf("got %v, want a *TooLargeError with status 413", err)
	}
	if sendblue.StatusCode(err) != 413 {
		t.Errorf("StatusCode = %d, want 413", sendblue.StatusCode(err))
	}
}
