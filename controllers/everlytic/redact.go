package everlytic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf16"
)

// serverMessage returns the message of an error answer with every secret
// replaced, not yet bounded: a JSON string body is the message; an object's
// data member (compact JSON when it is not a string) or message member is
// the message; anything else gives a short printable excerpt, or the status
// text when the body is empty.
func serverMessage(data []byte, code int, red redactor) string {
	if msg, ok := extractMessage(data); ok && strings.TrimSpace(msg) != "" {
		return red.scrub(msg)
	}
	excerpt := truncate(printable(red.scrub(strings.TrimSpace(string(data)))), maxExcerptLen)
	if excerpt == "" {
		return http.StatusText(code)
	}
	return excerpt
}

func extractMessage(data []byte) (string, bool) {
	var s string
	if json.Unmarshal(data, &s) == nil {
		return s, true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return "", false
	}
	for _, key := range []string{"data", "message"} {
		raw, ok := obj[key]
		if !ok || string(raw) == "null" {
			continue
		}
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.String(), true
		}
	}
	return "", false
}

// redactor removes secrets from text that came from the server, which may
// echo what it was sent (often inside JSON, so escaped, or URL-encoded) or
// what it stores.
type redactor []string

// forms returns every non-empty secret with its escaped forms, longest
// first, so that a secret that is a prefix of another never leaves the
// longer one's tail behind.
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
			once := jsonEscape(secret, html)
			add(once)
			add(jsonEscape(once, html)) // a JSON document inside a JSON string
		}
		add(phpEscape(secret))
		add(url.QueryEscape(secret))
		add(url.PathEscape(secret))
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// jsonEscape returns s as it appears between the quotes of a JSON string.
func jsonEscape(s string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if enc.Encode(s) != nil {
		return s
	}
	quoted := strings.TrimSuffix(b.String(), "\n")
	return quoted[1 : len(quoted)-1]
}

// phpEscape returns s as PHP's json_encode writes it by default: slashes
// escaped and everything beyond ASCII as \u escapes.
func phpEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// scrub replaces every form of every secret.
func (r redactor) scrub(s string) string {
	for _, form := range r.forms() {
		s = strings.ReplaceAll(s, form, "[REDACTED]")
	}
	return s
}

// clean scrubs s, makes it printable and bounds it.
func (r redactor) clean(s string) string {
	return truncate(printable(r.scrub(s)), maxMessageLen)
}

func printable(s string) string {
	return strings.Map(func(c rune) rune {
		if unicode.IsPrint(c) {
			return c
		}
		return ' '
	}, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
