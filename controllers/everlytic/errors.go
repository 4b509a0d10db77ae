package everlytic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The client's errors. Each names the call with "{id}" standing for the
// webhook id ("PUT /api/2.0/production/sms/webhooks/{id}"), so messages are
// stable, and carries the server's message with the API key, the
// Authorization header and every receiver password replaced by [REDACTED].
// Pick a reaction with errors.As.

// UnauthorizedError: the server refused the credentials (401 or 403).
// Retrying with the same credentials will not help.
type UnauthorizedError struct {
	Op         string
	StatusCode int
	Message    string
}

// Error implements error.
func (e *UnauthorizedError) Error() string { return statusText(e.Op, e.StatusCode, e.Message) }

// BadRequestError: the server rejected the request (400 or 422), or the
// client refused to send it (StatusCode 0: an invalid id, an oversized
// body). Message is the text before the field list; Fields maps field paths
// ("webhook.status") to the server's messages, nil when it gave none.
// Retrying the same request will not help.
type BadRequestError struct {
	Op         string
	StatusCode int
	Message    string
	Fields     map[string][]string
}

// Error implements error.
func (e *BadRequestError) Error() string {
	msg := e.Message
	if summary := e.FieldSummary(); summary != "" {
		msg = joinNonEmpty(msg, summary)
	}
	if e.StatusCode == 0 {
		return fmt.Sprintf("everlytic: %s: %s", e.Op, msg)
	}
	return statusText(e.Op, e.StatusCode, msg)
}

// NotFoundError: 404 (no such webhook) or 405 (the install does not offer
// this call, such as a GET by id); StatusCode tells which.
type NotFoundError struct {
	Op         string
	StatusCode int
}

// Error implements error.
func (e *NotFoundError) Error() string {
	if e.StatusCode == http.StatusMethodNotAllowed {
		return statusText(e.Op, e.StatusCode, "method not allowed: the API does not offer this call")
	}
	return statusText(e.Op, e.StatusCode, "not found")
}

// RateLimitedError: 429. RetryAfter is the server's Retry-After hint, zero
// when it gave none.
type RateLimitedError struct {
	Op         string
	Message    string
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitedError) Error() string {
	s := statusText(e.Op, http.StatusTooManyRequests, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// ServerError: an answer worth retrying with backoff: a 5xx, 408 (request
// timeout) or 409 (conflict). RetryAfter is the server's hint, zero when it
// gave none.
type ServerError struct {
	Op         string
	StatusCode int
	Message    string
	RetryAfter time.Duration
}

// Error implements error.
func (e *ServerError) Error() string { return statusText(e.Op, e.StatusCode, e.Message) }

// TransportError: no answer was read: connection refused or reset, TLS, a
// timeout, or the caller's context ending. Err is the cause
// (errors.Is(err, context.DeadlineExceeded) works through it).
type TransportError struct {
	Op  string
	Err error
}

// Error implements error.
func (e *TransportError) Error() string { return fmt.Sprintf("everlytic: %s: %v", e.Op, e.Err) }

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the request ran out of time.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &t) && t.Timeout())
}

// ProtocolError: an answer this client cannot use safely: a redirect, a
// status it does not expect, a body over the limit, or a 2xx body that is
// not the documented shape. Nothing should be written on the strength of
// such an answer.
type ProtocolError struct {
	Op         string
	StatusCode int
	Message    string
}

// Error implements error.
func (e *ProtocolError) Error() string { return statusText(e.Op, e.StatusCode, e.Message) }

// StatusCode returns the HTTP status carried by err, or 0 if no answer was
// read (or the client refused to send). Useful for metrics.
func StatusCode(err error) int {
	var (
		u *UnauthorizedError
		b *BadRequestError
		n *NotFoundError
		r *RateLimitedError
		s *ServerError
		p *ProtocolError
	)
	switch {
	case errors.As(err, &u):
		return u.StatusCode
	case errors.As(err, &b):
		return b.StatusCode
	case errors.As(err, &n):
		return n.StatusCode
	case errors.As(err, &r):
		return http.StatusTooManyRequests
	case errors.As(err, &s):
		return s.StatusCode
	case errors.As(err, &p):
		return p.StatusCode
	}
	return 0
}

func statusText(op string, code int, msg string) string {
	if msg == "" {
		return fmt.Sprintf("everlytic: %s: HTTP %d", op, code)
	}
	return fmt.Sprintf("everlytic: %s: HTTP %d: %s", op, code, msg)
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// Bounds on what an error carries from the server.
const (
	maxMessageLen  = 300 // a message or one field message
	maxExcerptLen  = 200 // a body that is not a known error shape
	maxFields      = 32
	maxFieldValues = 8
)

// newBadRequest splits a scrubbed 400 message into text and fields, then
// bounds both.
func newBadRequest(op string, code int, scrubbed string, red redactor) *BadRequestError {
	msg, fields := ParseValidationMessage(scrubbed)
	e := &BadRequestError{Op: op, StatusCode: code, Message: red.clean(msg)}
	for _, k := range sortedKeys(fields) {
		if len(e.Fields) == maxFields {
			break
		}
		if e.Fields == nil {
			e.Fields = map[string][]string{}
		}
		vals := fields[k]
		vals = vals[:min(len(vals), maxFieldValues)]
		cleaned := make([]string, len(vals))
		for i, v := range vals {
			cleaned[i] = red.clean(v)
		}
		e.Fields[red.clean(k)] = cleaned
	}
	return e
}
