package everlytic_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// leaks returns the forms of the secrets found in s.
func leaks(s string, secrets ...string) []string {
	var found []string
	for _, secret := range secrets {
		quoted, _ := json.Marshal(secret)
		twice, _ := json.Marshal(string(quoted))
		for _, form := range []string{secret, string(quoted[1 : len(quoted)-1]), string(twice[1 : len(twice)-1]), url.QueryEscape(secret), url.PathEscape(secret), phpForm(secret)} {
			if strings.Contains(s, form) {
				found = append(found, form)
			}
		}
	}
	return found
}

func TestSecretsNeverAppearInErrors(t *testing.T) {
	const (
		knownPW = `known"pass/wörd<&>`
		reqPW   = `request pass+word`
	)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+apiKey))
	secrets := []string{apiKey, knownPW, reqPW, auth}
	echo := func(status int, shape string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			echoed := string(body) + " auth=" + r.Header.Get("Authorization") + " known=" + knownPW + " url=" + url.QueryEscape(reqPW) + " php=" + phpForm(knownPW)
			w.WriteHeader(status)
			switch shape {
			case "data":
				b, _ := json.Marshal(map[string]string{"status": "error", "data": "The payload for the webhook is not in the correct format. " + mustJSON(map[string][]string{"webhook.url": {echoed}})})
				_, _ = w.Write(b)
			case "message":
				b, _ := json.Marshal(map[string]string{"message": echoed})
				_, _ = w.Write(b)
			case "object":
				b, _ := json.Marshal(map[string]any{"status": "error", "data": map[string]string{"echo": echoed}})
				_, _ = w.Write(b)
			default:
				_, _ = w.Write([]byte(echoed))
			}
		}
	}
	for _, tc := range []struct {
		name   string
		status int
		shape  string
	}{
		{"a 400 that echoes the body in its fields", 400, "data"},
		{"a 400 with plain text", 400, "text"},
		{"a 500 with a message", 500, "message"},
		{"a 500 with plain text", 500, "text"},
		{"a 401 with an object as data", 401, "object"},
		{"a 429 with plain text", 429, "text"},
		{"a 418 with plain text", 418, "text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawServer(t, echo(tc.status, tc.shape), everlytic.WithSecrets(knownPW))
			w := hook("https://x.example", &everlytic.BasicAuth{Username: "recv", Password: reqPW})
			w.ID = "4e54180d-597e-4e24-b712-862f04d385ad"
			_, err := c.Update(context.Background(), w)
			if err == nil {
				t.Fatal("Update succeeded against an error answer")
			}
			text := err.Error()
			var be *everlytic.BadRequestError
			if errors.As(err, &be) {
				text += be.FieldSummary() + mustJSON(be.Fields)
			}
			if found := leaks(text, secrets...); len(found) > 0 {
				t.Errorf("error shows %q:\n%s", found, text)
			}
			if !strings.Contains(text, "[REDACTED]") {
				t.Errorf("error %q shows no [REDACTED]: did the echo reach it?", text)
			}
		})
	}
}

// phpForm is s as PHP's json_encode writes it by default (Everlytic runs
// PHP): quotes, backslashes and slashes escaped, non-ASCII as \u escapes.
// Written apart from the client's own, so that the two check each other.
func phpForm(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteString(`\` + string(r))
		case r > 0x7e:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParseValidationMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantMsg string
		wantFields        map[string][]string
	}{
		{"the documented message", `The payload for the webhook is not in the correct format. {"webhook.status":["The selected webhook.status is invalid, status should only be enabled or disabled."]}`,
			"The payload for the webhook is not in the correct format.", map[string][]string{"webhook.status": {"The selected webhook.status is invalid, status should only be enabled or disabled."}}},
		{"no object", "Something went wrong.", "Something went wrong.", nil},
		{"braces inside messages", `Bad. {"webhook.url":["must look like {scheme}://{host}", "no } here"]}`,
			"Bad.", map[string][]string{"webhook.url": {"must look like {scheme}://{host}", "no } here"}}},
		{"braces in the text before the object", `Use {braces} freely. {"a":["b"]}`, "Use {braces} freely.", map[string][]string{"a": {"b"}}},
		{"only an object", `{"a":"one","b":["x",2]}`, "", map[string][]string{"a": {"one"}, "b": {"x", "2"}}},
		{"an unterminated object", `Bad. {"a":["b"]`, `Bad. {"a":["b"]`, nil},
		{"garbage that ends in a brace", `Bad. {not json}`, `Bad. {not json}`, nil},
		{"an array at the end is not an object", `Bad. ["a"]`, `Bad. ["a"]`, nil},
		{"two objects", `Bad. {"a":["b"]} {"c":["d"]}`, "Bad. {\"a\":[\"b\"]}", map[string][]string{"c": {"d"}}},
		{"an empty object", `Bad. {}`, "Bad.", nil},
		{"empty", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, fields := everlytic.ParseValidationMessage(tc.in)
			if msg != tc.wantMsg {
				t.Errorf("msg = %q, want %q", msg, tc.wantMsg)
			}
			if diff := cmp.Diff(fields, tc.wantFields); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseValidationMessageStaysFastOnHostileInput(t *testing.T) {
	in := strings.Repeat("{", 60<<10) + "}"
	msg, fields := everlytic.ParseValidationMessage(in)
	if msg != in || fields != nil {
		t.Errorf("got a parse of %d braces, want the text back whole", len(in))
	}
}

func TestFieldSummaryIsSortedAndStable(t *testing.T) {
	e := &everlytic.BadRequestError{Fields: map[string][]string{
		"webhook.verb":   {"The webhook.verb field is required."},
		"webhook.status": {"The selected webhook.status is invalid.", "Second."},
	}}
	want := "webhook.status: The selected webhook.status is invalid. Second.; webhook.verb: The webhook.verb field is required."
	for range 5 {
		if got := e.FieldSummary(); got != want {
			t.Fatalf("FieldSummary = %q, want %q", got, want)
		}
	}
	if got := (&everlytic.BadRequestError{}).FieldSummary(); got != "" {
		t.Errorf("FieldSummary without fields = %q, want empty", got)
	}
}

func TestValidateBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, raw, wantErr string
	}{
		{"https", "https://live1.everlytic.net", ""},
		{"https with a root path", "https://live1.everlytic.net/", ""},
		{"https with a port", "https://live1.everlytic.net:8443", ""},
		{"http on 127.0.0.1", "http://127.0.0.1:8089", ""},
		{"http on another loopback address", "http://127.3.4.5:8089", ""},
		{"http on ::1", "http://[::1]:8089", ""},
		{"http on localhost", "http://localhost:8089", ""},
		{"http elsewhere", "http://live1.everlytic.net", "plain http"},
		{"http on a private address", "http://10.0.0.1", "plain http"},
		{"user info", "https://user:hunter2@live1.everlytic.net", "user info"},
		{"a query", "https://live1.everlytic.net/?token=hunter2", "query"},
		{"a fragment", "https://live1.everlytic.net/#hunter2", "fragment"},
		{"a path", "https://live1.everlytic.net/api", "no path"},
		{"no scheme", "live1.everlytic.net", "must be https"},
		{"another scheme", "ftp://live1.everlytic.net", "must be https"},
		{"not a URL", "https://hunter2@[::1", "not a valid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := everlytic.ValidateBaseURL(tc.raw)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ValidateBaseURL(%q) = %v, want nil", tc.raw, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ValidateBaseURL(%q) = %v, want an error containing %q", tc.raw, err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("ValidateBaseURL(%q) echoed a secret: %v", tc.raw, err)
			}
			if _, newErr := everlytic.New(tc.raw, creds, nil); (newErr == nil) != (tc.wantErr == "") {
				t.Errorf("New(%q) = %v, want it to agree with ValidateBaseURL", tc.raw, newErr)
			}
		})
	}
}

func TestNewRefusesUnsafeSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds everlytic.Credentials
		opts  []everlytic.Option
	}{
		{"no username", everlytic.Credentials{APIKey: apiKey}, nil},
		{"no API key", everlytic.Credentials{Username: username}, nil},
		{"a zero timeout", creds, []everlytic.Option{everlytic.WithTimeout(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := everlytic.New("https://live1.everlytic.net", tc.creds, nil, tc.opts...); err == nil {
				t.Error("New succeeded, want an error")
			} else if strings.Contains(err.Error(), apiKey) {
				t.Errorf("New error shows the API key: %v", err)
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.255.0.1": true, "::1": true,
		"localhost.example.com": false, "10.0.0.1": false, "::": false, "": false, "everlytic.net": false} {
		if got := everlytic.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
