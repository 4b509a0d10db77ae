package sendblue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
)

// The client's errors. Each names the operation ("PUT /api/account/webhooks")
// and carries the server's message with every credential and secret that was
// part of the request replaced by [REDACTED]. Pick a reaction with errors.As.

// UnauthorizedError: the server refused the credentials (401 or 403).
// Retrying with the same credentials will not help.
type UnauthorizedError struct {
	Op         string
	StatusCode int
	Message    string
}

func (e *UnauthorizedError) Error() string { return statusText(e.Op, e.StatusCode, e.Message) }

// BadRequestError: the server rejected the request (400 or 422, or a status
// it marked x-should-retry: false); Message says why. Retrying the same
// request will not help.
type BadRequestError struct {
	Op         string
	StatusCode int
	Message    string
}

func (e *BadRequestError) Error() string { return statusText(e.Op, e.StatusCode, e.Message) }

// RateLimitedError: 429. RetryAfter is the server's hint (Retry-After or
// retry-after-ms), zero when it gave none.
type RateLimitedError struct {
	Op         string
	Message    string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	s := statusText(e.Op, 429, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// ServerError: an answer worth retrying with backoff, as the official SDK
// decides: a 5xx, 408 (request timeout), 409 (lock timeout), or any status
// the server marked x-should-retry: true. RetryAfter is the server's hint
// (retry-after-ms or Retry-After), zero when it gave none.
type ServerError struct {
	Op         string
	StatusCode int
	Message    string
	RetryAfter time.Duration
}

func (e *ServerError) Error() string { return statusText(e.Op, e.StatusCode, e.Message) }

// TransportError: no answer was read: connection refused or reset, TLS, a
// timeout, or the caller's context ending. Err is the cause
// (errors.Is(err, context.DeadlineExceeded) works through it).
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string { return fmt.Sprintf("sendblue: %s: %v", e.Op, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the request ran out of time.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &t) && t.Timeout())
}

// ProtocolError: an answer this client cannot use safely: a status it does
// not expect (a redirect, 404), a body larger than the limit, or a body that
// is not the documented shape. Nothing should be written on the strength of
// such an answer.
type ProtocolError struct {
	Op         string
	StatusCode int
	Reason     string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("sendblue: %s: HTTP %d: %s", e.Op, e.StatusCode, e.Reason)
}

// TooLargeError: the configuration is too large to write. StatusCode is
// 413 when Sendblue refused it, 0 when the client refused to send a body
// larger than Limit (MaxRequestBytes). Retrying the same write will not help.
type TooLargeError struct {
	Op         string
	StatusCode int
	// Size of the request body in bytes, Limit the client's cap; both zero
	// for a 413 the client did not predict.
	Size, Limit int
	Message     string
}

func (e *TooLargeError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("sendblue: %s: not sent: the body would be %d bytes, more than the limit of %d", e.Op, e.Size, e.Limit)
	}
	return statusText(e.Op, e.StatusCode, e.Message)
}

// StatusCode returns the HTTP status carried by err, or 0 if no answer was
// read. Useful for metrics.
func StatusCode(err error) int {
	var (
		u *UnauthorizedError
		b *BadRequestError
		r *RateLimitedError
		s *ServerError
		p *ProtocolError
		l *TooLargeError
	)
	switch {
	case errors.As(err, &l):
		return l.StatusCode
	case errors.As(err, &u):
		return u.StatusCode
	case errors.As(err, &b):
		return b.StatusCode
	case errors.As(err, &r):
		return 429
	case errors.As(err, &s):
		return s.StatusCode
	case errors.As(err, &p):
		return p.StatusCode
	}
	return 0
}

func statusText(op string, code int, msg string) string {
	if msg == "" {
		return fmt.Sprintf("sendblue: %s: HTTP %d", op, code)
	}
	return fmt.Sprintf("sendblue: %s: HTTP %d: %s", op, code, msg)
}

const maxMessageLen = 300

// errorMessage extracts the server's message from either documented error
// shape ({status:"ERROR",message} or {error:"..."} / {error:{code,message}}),
// else a short printable excerpt of the body.
func errorMessage(body []byte) string {
	var shape struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil {
		if len(shape.Error) > 0 {
			var s string
			if json.Unmarshal(shape.Error, &s) == nil && s != "" {
				return s
			}
			var obj struct {
				Code    any    `json:"code"`
				Message string `json:"message"`
			}
			if json.Unmarshal(shape.Error, &obj) == nil && obj.Message != "" {
				if obj.Code != nil {
					return fmt.Sprintf("%v: %s", obj.Code, obj.Message)
				}
				return obj.Message
			}
		}
		if shape.Message != "" {
			return shape.Message
		}
	}
	return strings.TrimSpace(string(body))
}

// redactor removes secrets from text that came from the server, which may
// echo what it was sent (often inside a JSON document, so escaped) or what it
// stores.
type redactor []string

// forms returns every non-empty secret with its JSON-escaped forms (HTML
// escaping on and off), longest first, so that a secret that is a prefix of
// another never leaves the longer one's tail behind.
func (r redactor) forms() []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, secret := range r {
		if secret == "" {
			continue
		}
		add(secret)
		for _, html := range []bool{true, false} {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if enc.Encode(secret) == nil {
				quoted := strings.TrimSuffix(b.String(), "\n")
				add(quoted[1 : len(quoted)-1])
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func (r redactor) clean(s string) string {
	for _, form := range r.forms() {
		s = strings.ReplaceAll(s, form, "[REDACTED]")
	}
	s = strings.Map(func(c rune) rune {
		if unicode.IsPrint(c) {
			return c
		}
		return ' '
	}, s)
	if len(s) > maxMessageLen {
		s = strings.ToValidUTF8(s[:maxMessageLen], "") + "..."
	}
	return s
}
