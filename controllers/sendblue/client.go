// Package sendblue is a client for Sendblue's account-webhooks API
// (GET, PUT, POST and DELETE on /api/account/webhooks).
//
// It speaks the wire format exactly and loses nothing: a Config read with Get
// and written back with Replace keeps every member it does not know, the order
// of members and entries, and each unchanged entry's bytes and form (bare URL
// string or object).
//
// Failures are typed (UnauthorizedError, BadRequestError, RateLimitedError,
// ServerError, TransportError, ProtocolError) so that callers can choose a
// reaction with errors.As. The client never retries: the caller (the
// controller's workqueue) owns backoff, so one call is one request, and a
// POST, which Sendblue does not deduplicate, is never sent twice by accident.
//
// Safety: every request has its own timeout (30 s unless set); redirects are
// never followed, because Go's client would carry the sb-* credential headers
// to whatever host the redirect names; response bodies are read through a
// 1 MiB limit; plain http:// is refused except for loopback hosts (emulators);
// credentials and the secrets a request carries never appear in an error.
//
// The package depends on the standard library only.
package sendblue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/internal/wirejson"
)

// Defaults.
const (
	DefaultBaseURL = "https://api.sendblue.co"
	// DefaultPath is the path of the current API (the official SDKs since
	// December 2025).
	DefaultPath = "/api/account/webhooks"
	// V2Path is the path in Sendblue's v2 documentation.
	V2Path = "/api/v2/account/webhooks"

	DefaultTimeout = 30 * time.Second
	// MaxResponseBytes bounds how much of a response body is read.
	MaxResponseBytes = 1 << 20
	// MaxRequestBytes bounds a PUT body. It is well below MaxResponseBytes so
	// that what was written can always be read back, even wrapped in a
	// response with its status and message.
	MaxRequestBytes = 512 << 10

	headerKeyID     = "sb-api-key-id"
	headerSecretKey = "sb-api-secret-key"
)

// Credentials authenticate an account. Formatting them with %v, %+v or %#v
// prints no secret.
type Credentials struct {
	KeyID     string
	SecretKey string
}

// String hides both values.
func (Credentials) String() string { return "sendblue.Credentials{REDACTED}" }

// GoString hides both values.
func (c Credentials) GoString() string { return c.String() }

// Client talks to one Sendblue account. It is safe for concurrent use.
type Client struct {
	endpoint string // base URL + path
	path     string
	creds    Credentials
	http     *http.Client
	timeout  time.Duration
	now      func() time.Time
	known    []string // secrets to keep out of errors besides the request's own
}

// Option configures a Client.
type Option func(*Client)

// WithPath selects the API path, DefaultPath or V2Path.
func WithPath(path string) Option { return func(c *Client) { c.path = path } }

// WithTimeout sets the per-request timeout (default 30 s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithSecrets names values that must never appear in an error, besides the
// credentials and the secrets of the request itself: typically the webhook
// secrets the account is known to store, which a server may echo in an error
// answer to any request.
func WithSecrets(values ...string) Option {
	return func(c *Client) { c.known = append(c.known, values...) }
}

// WithClock sets the clock used to turn an HTTP-date Retry-After into a delay.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns a client for baseURL (for example DefaultBaseURL). httpClient is
// used for transport, TLS and proxies; nil means a new http.Client with Go's
// default transport. The client works on a copy of it that never follows
// redirects; the caller's value is not modified.
func New(baseURL string, creds Credentials, httpClient *http.Client, opts ...Option) (*Client, error) {
	if creds.KeyID == "" || creds.SecretKey == "" {
		return nil, errors.New("sendblue: credentials need both a key id and a secret key")
	}
	base, err := ValidateBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{path: DefaultPath, creds: creds, timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	if !strings.HasPrefix(c.path, "/") {
		return nil, fmt.Errorf("sendblue: API path %q must start with /", c.path)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("sendblue: timeout must be positive, got %s", c.timeout)
	}
	hc := &http.Client{}
	if httpClient != nil {
		copied := *httpClient
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = hc
	c.endpoint = strings.TrimRight(base.String(), "/") + c.path
	return c, nil
}

// ValidateBaseURL checks that raw is an absolute https URL, or an http URL of
// a loopback host (localhost, 127.0.0.0/8, ::1): credentials must not cross a
// network in clear.
//
// Errors never repeat the URL's user info or query, which may hold a token.
func ValidateBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return nil, fmt.Errorf("sendblue: the base URL is not a valid URL: %w", err)
	}
	shown := SafeURL(u)
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("sendblue: base URL %q must be https://host[:port]", shown)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("sendblue: base URL %q must not carry user info, a query or a fragment", shown)
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("sendblue: base URL %q uses plain http; only https is allowed except for loopback hosts", shown)
	}
	return u, nil
}

// SafeURL formats u without its user info, query and fragment, which may
// carry credentials: scheme://host/path, with "?..." standing for a query.
func SafeURL(u *url.URL) string {
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if u.User != nil {
		safe.Host = "...@" + u.Host
	}
	s := safe.String()
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		s += "?..."
	}
	return s
}

// IsLoopbackHost reports whether host is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Get reads the account's whole configuration.
func (c *Client) Get(ctx context.Context) (*Config, error) {
	body, err := c.do(ctx, http.MethodGet, nil, nil)
	if err != nil {
		return nil, err
	}
	cfg, err := c.responseConfig(http.MethodGet, body)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, &ProtocolError{Op: c.op(http.MethodGet), StatusCode: http.StatusOK, Reason: "response has no webhooks object"}
	}
	return cfg, nil
}

// Replace writes cfg as the account's whole configuration (PUT). Members and
// entries of cfg that were read and not changed are sent byte for byte. It
// returns the configuration the server echoed, or nil if it echoed none.
func (c *Client) Replace(ctx context.Context, cfg *Config) (*Config, error) {
	if cfg == nil {
		cfg = NewConfig()
	}
	webhooks, err := cfg.MarshalJSON()
	if err != nil {
		return nil, err
	}
	body := append(append([]byte(`{"webhooks":`), webhooks...), '}')
	if len(body) > MaxRequestBytes {
		return nil, &TooLargeError{Op: c.op(http.MethodPut), Size: len(body), Limit: MaxRequestBytes}
	}
	resp, err := c.do(ctx, http.MethodPut, body, cfg.Secrets())
	if err != nil {
		return nil, err
	}
	return c.responseConfig(http.MethodPut, resp)
}

// Add appends hooks to type t (POST). A non-nil globalSecret sets the
// account's globalSecret too. Sendblue does not deduplicate: adding a URL
// that is present adds it twice. It returns the configuration the server
// echoed, or nil if it echoed none.
func (c *Client) Add(ctx context.Context, t EventType, hooks []Webhook, globalSecret *string) (*Config, error) {
	entries := make([]json.RawMessage, 0, len(hooks))
	var secrets redactor
	for _, w := range hooks {
		b, err := w.marshal()
		if err != nil {
			return nil, err
		}
		entries = append(entries, b)
		secrets = append(secrets, w.Secret)
	}
	req := struct {
		Webhooks     []json.RawMessage `json:"webhooks"`
		Type         EventType         `json:"type"`
		GlobalSecret *string           `json:"globalSecret,omitempty"`
	}{entries, t, globalSecret}
	if globalSecret != nil {
		secrets = append(secrets, *globalSecret)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodPost, body, secrets)
	if err != nil {
		return nil, err
	}
	return c.responseConfig(http.MethodPost, resp)
}

// Delete removes every entry of type t whose URL is one of urls (DELETE).
func (c *Client) Delete(ctx context.Context, t EventType, urls []string) error {
	body, err := json.Marshal(struct {
		Webhooks []string  `json:"webhooks"`
		Type     EventType `json:"type"`
	}{urls, t})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodDelete, body, nil)
	return err
}

func (c *Client) op(method string) string { return method + " " + c.path }

// responseConfig decodes a success body {status?, message?, webhooks?}. A
// body with "status":"ERROR" is a failure even under a 2xx status.
func (c *Client) responseConfig(method string, body []byte) (*Config, error) {
	protocolErr := func(reason string) error {
		return &ProtocolError{Op: c.op(method), StatusCode: http.StatusOK, Reason: reason}
	}
	root, err := wirejson.ParseObject(body)
	if err != nil {
		return nil, protocolErr("response is not a JSON object")
	}
	if raw, ok := root.Get("status"); ok {
		var status string
		if json.Unmarshal(raw, &status) == nil && strings.EqualFold(status, "ERROR") {
			return nil, protocolErr("response says status ERROR: " + c.redactor(nil).clean(errorMessage(body)))
		}
	}
	raw, ok := root.Get("webhooks")
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, protocolErr("response webhooks: " + c.redactor(nil).clean(err.Error()))
	}
	return cfg, nil
}

func (c *Client) redactor(secrets []string) redactor {
	r := append(redactor{c.creds.SecretKey, c.creds.KeyID}, c.known...)
	return append(r, secrets...)
}

// do sends one request and returns the body of a 2xx answer, or a typed error.
func (c *Client) do(ctx context.Context, method string, body []byte, secrets []string) ([]byte, error) {
	op := c.op(method)
	red := c.redactor(secrets)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint, reader)
	if err != nil {
		return nil, &TransportError{Op: op, Err: errors.New(red.clean(err.Error()))}
	}
	req.Header.Set(headerKeyID, c.creds.KeyID)
	req.Header.Set(headerSecretKey, c.creds.SecretKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sendblue-operator")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &TransportError{Op: op, Err: transportCause(ctx, err, red)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, &TransportError{Op: op, Err: transportCause(ctx, err, red)}
	}
	if len(data) > MaxResponseBytes {
		return nil, &ProtocolError{Op: op, StatusCode: resp.StatusCode, Reason: fmt.Sprintf("response body exceeds %d bytes", MaxResponseBytes)}
	}

	code := resp.StatusCode
	msg := func() string { return red.clean(errorMessage(data)) }
	switch {
	case code >= 200 && code < 300:
		return data, nil
	case code >= 300 && code < 400:
		return nil, &ProtocolError{Op: op, StatusCode: code, Reason: "redirect not followed (credentials are never sent to another location)"}
	}
	// As the official SDK does: the server's x-should-retry is obeyed
	// before the status code says anything.
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("x-should-retry"))) {
	case "true":
		if code == http.StatusTooManyRequests {
			return nil, &RateLimitedError{Op: op, Message: msg(), RetryAfter: retryAfter(resp.Header, c.now())}
		}
		return nil, &ServerError{Op: op, StatusCode: code, Message: msg(), RetryAfter: retryAfter(resp.Header, c.now())}
	case "false":
		if retried(code) {
			return nil, &BadRequestError{Op: op, StatusCode: code, Message: msg() + " (the server said not to retry: x-should-retry: false)"}
		}
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, &UnauthorizedError{Op: op, StatusCode: code, Message: msg()}
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		return nil, &BadRequestError{Op: op, StatusCode: code, Message: msg()}
	case code == http.StatusRequestEntityTooLarge:
		return nil, &TooLargeError{Op: op, StatusCode: code, Message: msg()}
	case code == http.StatusTooManyRequests:
		return nil, &RateLimitedError{Op: op, Message: msg(), RetryAfter: retryAfter(resp.Header, c.now())}
	case retried(code):
		return nil, &ServerError{Op: op, StatusCode: code, Message: msg(), RetryAfter: retryAfter(resp.Header, c.now())}
	default:
		return nil, &ProtocolError{Op: op, StatusCode: code, Reason: "unexpected status: " + msg()}
	}
}

// retried reports whether the official SDK retries a status (besides 429,
// which has its own error): 408 (request timeout), 409 (lock timeout) and
// every 5xx.
func retried(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusConflict || code == http.StatusTooManyRequests || code >= 500
}

// transportCause keeps the cause's identity for errors.Is (deadline,
// cancellation) while scrubbing its text.
func transportCause(ctx context.Context, err error, red redactor) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("%w: %s", context.DeadlineExceeded, red.clean(err.Error()))
	}
	return errors.New(red.clean(err.Error()))
}

// maxRetryAfter bounds a server's hint so that a hostile or broken value
// cannot park a caller for years or overflow a Duration.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads retry-after-ms (milliseconds) or Retry-After (seconds or
// an HTTP date), as the official SDKs do. Zero when absent or unusable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	return min(rawRetryAfter(h, now), maxRetryAfter)
}

func rawRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(min(ms, float64(maxRetryAfter/time.Millisecond)) * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, float64(maxRetryAfter/time.Second)) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
