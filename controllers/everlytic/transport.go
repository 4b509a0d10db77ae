package everlytic

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// request is one call: what to send and which secrets it carries.
type request struct {
	op, method, path, query string
	body                    []byte
	secrets                 []string
}

// response is a 2xx answer.
type response struct {
	code int
	body []byte
}

// authorization is the Authorization header value.
func (c *Client) authorization() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.creds.Username+":"+c.creds.APIKey))
}

func (c *Client) redactor(secrets []string) redactor {
	auth := c.authorization()
	r := redactor{c.creds.APIKey, auth, strings.TrimPrefix(auth, "Basic ")}
	r = append(r, c.known...)
	return append(r, secrets...)
}

// do sends one request and returns a 2xx answer, or a typed error.
func (c *Client) do(ctx context.Context, rq request) (response, error) {
	red := c.redactor(rq.secrets)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	target := c.base + rq.path
	if rq.query != "" {
		target += "?" + rq.query
	}
	var reader io.Reader
	if rq.body != nil {
		reader = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, target, reader)
	if err != nil {
		return response{}, &TransportError{Op: rq.op, Err: errors.New(red.clean(err.Error()))}
	}
	req.Header.Set("Authorization", c.authorization())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sendblue-operator")
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, &TransportError{Op: rq.op, Err: transportCause(ctx, err, red)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return response{}, &TransportError{Op: rq.op, Err: transportCause(ctx, err, red)}
	}
	if len(data) > MaxResponseBytes {
		return response{}, &ProtocolError{Op: rq.op, StatusCode: resp.StatusCode, Message: fmt.Sprintf("response body exceeds %d bytes", MaxResponseBytes)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return response{code: resp.StatusCode, body: data}, nil
	}
	return response{}, c.statusError(rq.op, resp, data, red)
}

// statusError types a non-2xx answer.
func (c *Client) statusError(op string, resp *http.Response, data []byte, red redactor) error {
	code := resp.StatusCode
	msg := func() string { return red.clean(serverMessage(data, code, red)) }
	switch {
	case code >= 300 && code < 400:
		return &ProtocolError{Op: op, StatusCode: code, Message: "redirect not followed (credentials are never sent to another location)"}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &UnauthorizedError{Op: op, StatusCode: code, Message: msg()}
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		return newBadRequest(op, code, serverMessage(data, code, red), red)
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return &NotFoundError{Op: op, StatusCode: code}
	case code == http.StatusTooManyRequests:
		return &RateLimitedError{Op: op, Message: msg(), RetryAfter: retryAfter(resp.Header, c.now())}
	case code >= 500 || code == http.StatusRequestTimeout || code == http.StatusConflict:
		return &ServerError{Op: op, StatusCode: code, Message: msg(), RetryAfter: retryAfter(resp.Header, c.now())}
	default:
		return &ProtocolError{Op: op, StatusCode: code, Message: "unexpected status: " + msg()}
	}
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

// retryAfter reads Retry-After (seconds or an HTTP date); zero when absent
// or unusable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if !(s > 0) { // also NaN
			return 0
		}
		return time.Duration(min(s, float64(maxRetryAfter/time.Second)) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
