// Package everlytic is a client for Everlytic's transactional-SMS webhooks
// API under {base}/api/2.0/production/sms/webhooks: create, read, update, list
// and delete one webhook object at a time.
//
// Only the update call (PUT .../{id}) is documented by Everlytic; create,
// read by id, list and delete are assumed by analogy with its documented
// transactional-email webhooks API. Each call is one method here, with its
// path and envelope checks in one place, so an assumption that proves wrong
// is corrected in one place.
//
// Failures are typed (UnauthorizedError, BadRequestError, NotFoundError,
// RateLimitedError, ServerError, TransportError, ProtocolError) so that
// callers choose a reaction with errors.As. The client never retries: the
// caller's workqueue owns backoff, and a create, which Everlytic is not known
// to deduplicate, is never sent twice by accident.
//
// Safety: HTTP Basic credentials on every request; a timeout per request
// (30 s unless set); redirects are never followed (Go's client would carry
// the Authorization header to wherever a redirect points); response bodies
// are read through a 1 MiB limit and request bodies are bounded too; plain
// http:// is refused except for loopback hosts (emulators); the API key,
// the Authorization header and every receiver password never appear in an
// error.
//
// The package depends on the standard library only.
package everlytic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CollectionPath is the path of the SMS webhook collection; a webhook is
// CollectionPath + "/" + id.
const CollectionPath = "/api/2.0/production/sms/webhooks"

// Limits and defaults.
const (
	DefaultTimeout = 30 * time.Second
	// MaxResponseBytes bounds how much of a response body is read.
	MaxResponseBytes = 1 << 20
	// MaxRequestBytes bounds a request body; a webhook object is a few
	// hundred bytes, so only a pathological URL or password reaches it.
	MaxRequestBytes = 64 << 10
	// MaxPages bounds List: an account with more pages than this is refused
	// rather than read partially.
	MaxPages = 100
)

// EventType is an SMS event a webhook receives, lower case as on the wire.
type EventType string

// The event types Everlytic documents.
const (
	Sent      EventType = "sent"
	Failed    EventType = "failed"
	Bounce    EventType = "bounce"
	Reply     EventType = "reply"
	Delivered EventType = "delivered"
)

// EventTypes returns the documented event types in the documentation's order.
func EventTypes() []EventType { return []EventType{Sent, Failed, Bounce, Reply, Delivered} }

// Credentials authenticate an account: the Everlytic username and an API
// key, sent as HTTP Basic. Formatting them with %v, %+v or %#v prints no
// secret.
type Credentials struct {
	Username string
	APIKey   string
}

// String hides both values.
func (Credentials) String() string { return "everlytic.Credentials{REDACTED}" }

// GoString hides both values.
func (c Credentials) GoString() string { return c.String() }

// BasicAuth is what Everlytic sends to the receiver of a webhook. Formatting
// it prints the username only.
type BasicAuth struct {
	Username string
	Password string
}

// String prints the username and hides the password.
func (a BasicAuth) String() string {
	return fmt.Sprintf("everlytic.BasicAuth{Username:%q, Password:REDACTED}", a.Username)
}

// GoString prints the username and hides the password.
func (a BasicAuth) GoString() string { return a.String() }

// Webhook is one SMS webhook.
type Webhook struct {
	// ID is Everlytic's id (a UUID); empty before creation.
	ID string
	// URL receives the events.
	URL string
	// Verb is the HTTP method Everlytic calls URL with: sent upper case
	// ("POST", "GET"), answered lower case ("post"). Compare it with
	// strings.EqualFold.
	Verb string
	// EventTypes are the events sent to URL, as sent or answered.
	EventTypes []EventType
	// Auth is the receiver's Basic credentials; nil means none (auth_type
	// null). On reads Password may be empty: Everlytic is not known to
	// return it.
	Auth *BasicAuth
	// Status is "enabled" or "disabled"; empty on create or update leaves
	// the server's choice (enabled on create, unchanged on update).
	Status string
	// CreatedAt and UpdatedAt are the timestamps as answered (RFC 3339
	// with an offset); informational, never sent.
	CreatedAt, UpdatedAt string
}

// Client talks to one Everlytic account. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host[:port], no trailing slash
	creds   Credentials
	http    *http.Client
	timeout time.Duration
	now     func() time.Time
	known   []string // secrets to keep out of errors besides the request's own
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout sets the per-request timeout (default 30 s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithSecrets names values that must never appear in an error besides the
// credentials and the request's own password: typically the receiver
// passwords of the account's other webhooks, which a server may echo.
func WithSecrets(values ...string) Option {
	return func(c *Client) { c.known = append(c.known, values...) }
}

// WithClock sets the clock used to turn an HTTP-date Retry-After into a delay.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns a client for the install at baseURL (such as
// https://live1.everlytic.net). hc is used for transport, TLS and proxies;
// nil means a new http.Client with Go's default transport. The client works
// on a copy of it that never follows redirects; the caller's value is not
// modified.
func New(baseURL string, creds Credentials, hc *http.Client, opts ...Option) (*Client, error) {
	if creds.Username == "" || creds.APIKey == "" {
		return nil, errors.New("everlytic: credentials need both a username and an API key")
	}
	base, err := ValidateBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{creds: creds, timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("everlytic: timeout must be positive, got %s", c.timeout)
	}
	copied := http.Client{}
	if hc != nil {
		copied = *hc
	}
	copied.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &copied
	c.base = base.Scheme + "://" + base.Host
	return c, nil
}

// ValidateBaseURL checks that raw is an absolute https URL, or an http URL of
// a loopback host (localhost, 127.0.0.0/8, ::1), with no user info, query or
// fragment, and a path that is empty or "/": the API paths are fixed below
// the install's root. Errors never repeat the URL's user info or query,
// which may hold a token.
func ValidateBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return nil, fmt.Errorf("everlytic: the base URL is not a valid URL: %w", err)
	}
	shown := safeURL(u)
	switch {
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, fmt.Errorf("everlytic: base URL %q must be https://host[:port]", shown)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("everlytic: base URL %q must not carry user info, a query or a fragment", shown)
	case u.Path != "" && u.Path != "/":
		return nil, fmt.Errorf("everlytic: base URL %q must have no path (the API path is fixed)", shown)
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		return nil, fmt.Errorf("everlytic: base URL %q uses plain http; only https is allowed except for loopback hosts", shown)
	}
	return u, nil
}

// safeURL formats u without its user info, query and fragment.
func safeURL(u *url.URL) string {
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

// Ops name the calls in errors, with the literal "{id}" so that messages are
// stable across webhooks.
const (
	opCreate = http.MethodPost + " " + CollectionPath
	opList   = http.MethodGet + " " + CollectionPath
	opGet    = http.MethodGet + " " + CollectionPath + "/{id}"
	opUpdate = http.MethodPut + " " + CollectionPath + "/{id}"
	opDelete = http.MethodDelete + " " + CollectionPath + "/{id}"
)

// Create adds a webhook (POST, assumed) and returns it as answered.
func (c *Client) Create(ctx context.Context, w Webhook) (*Webhook, error) {
	body, err := encodeWebhook(opCreate, w)
	if err != nil {
		return nil, err
	}
	data, err := c.do(ctx, request{op: opCreate, method: http.MethodPost, path: CollectionPath, body: body, secrets: passwordOf(w)})
	if err != nil {
		return nil, err
	}
	return c.decodeOne(opCreate, data)
}

// Get reads one webhook (GET by id, assumed). A *NotFoundError with
// StatusCode 405 means the install has no such call.
func (c *Client) Get(ctx context.Context, id string) (*Webhook, error) {
	path, err := itemPath(opGet, id)
	if err != nil {
		return nil, err
	}
	data, err := c.do(ctx, request{op: opGet, method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	return c.decodeOne(opGet, data)
}

// Update writes w as the whole webhook w.ID (PUT, documented): every member
// is sent, never a partial body, because the documentation contradicts
// itself on partial ones. It returns the webhook as answered.
func (c *Client) Update(ctx context.Context, w Webhook) (*Webhook, error) {
	path, err := itemPath(opUpdate, w.ID)
	if err != nil {
		return nil, err
	}
	body, err := encodeWebhook(opUpdate, w)
	if err != nil {
		return nil, err
	}
	data, err := c.do(ctx, request{op: opUpdate, method: http.MethodPut, path: path, body: body, secrets: passwordOf(w)})
	if err != nil {
		return nil, err
	}
	return c.decodeOne(opUpdate, data)
}

// List reads every webhook of the account (GET with ?page=N, assumed),
// following meta.last_page. A webhook seen on two pages (the list moved
// while it was read) is returned once. More than MaxPages pages is a
// *ProtocolError.
func (c *Client) List(ctx context.Context) ([]Webhook, error) {
	var all []Webhook
	seen := map[string]bool{}
	for page := 1; ; page++ {
		data, err := c.do(ctx, request{op: opList, method: http.MethodGet, path: CollectionPath, query: fmt.Sprintf("page=%d", page)})
		if err != nil {
			return nil, err
		}
		hooks, last, err := c.decodePage(data, page)
		if err != nil {
			return nil, err
		}
		for _, w := range hooks {
			if !seen[w.ID] {
				seen[w.ID] = true
				all = append(all, w)
			}
		}
		if page >= last {
			return all, nil
		}
	}
}

// Delete removes one webhook (DELETE, assumed). A *NotFoundError with
// StatusCode 404 means it was already gone.
func (c *Client) Delete(ctx context.Context, id string) error {
	path, err := itemPath(opDelete, id)
	if err != nil {
		return err
	}
	data, err := c.do(ctx, request{op: opDelete, method: http.MethodDelete, path: path})
	if err != nil {
		return err
	}
	return c.checkDeleted(data)
}

func passwordOf(w Webhook) []string {
	if w.Auth == nil {
		return nil
	}
	return []string{w.Auth.Password}
}
