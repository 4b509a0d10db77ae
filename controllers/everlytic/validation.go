package everlytic

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// maxParsedLen bounds the text ParseValidationMessage searches for an object;
// longer text is returned whole, because finding the object costs time
// quadratic in the number of braces.
const maxParsedLen = 64 << 10

// maxObjectStarts bounds how many '{' are tried as the object's start.
const maxObjectStarts = 64

// ParseValidationMessage splits Everlytic's 400 message, such as
//
//	The payload for the webhook is not in the correct format. {"webhook.status":["The selected ..."]}
//
// into the text before the trailing JSON object (trimmed) and the object as
// field path -> messages. A member whose value is a string gives one
// message; other values are kept as compact JSON. Without a trailing object
// msg is s and fields is nil.
func ParseValidationMessage(s string) (msg string, fields map[string][]string) {
	trimmed := strings.TrimSpace(s)
	if len(trimmed) > maxParsedLen || !strings.HasSuffix(trimmed, "}") {
		return s, nil
	}
	start := 0
	for tries := 0; tries < maxObjectStarts; tries++ {
		i := strings.IndexByte(trimmed[start:], '{')
		if i < 0 {
			break
		}
		start += i
		if obj, ok := parseFields(trimmed[start:]); ok {
			return strings.TrimSpace(trimmed[:start]), obj
		}
		start++
	}
	return s, nil
}

// parseFields decodes text that must be exactly one JSON object.
func parseFields(text string) (map[string][]string, bool) {
	var raw map[string]json.RawMessage
	if !json.Valid([]byte(text)) || json.Unmarshal([]byte(text), &raw) != nil || raw == nil {
		return nil, false
	}
	if len(raw) == 0 {
		return nil, true
	}
	fields := make(map[string][]string, len(raw))
	for k, v := range raw {
		fields[k] = fieldMessages(v)
	}
	return fields, true
}

func fieldMessages(v json.RawMessage) []string {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}
	}
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		return []string{compact(v)}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		if json.Unmarshal(item, &one) == nil {
			out = append(out, one)
		} else {
			out = append(out, compact(item))
		}
	}
	return out
}

func compact(v json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

// FieldSummary returns the fields on one line, sorted by path: each path
// with its messages, paths separated by "; ", such as
// "webhook.status: The selected webhook.status is invalid, ...; webhook.verb:
// The webhook.verb field is required.". Empty when there are no fields.
func (e *BadRequestError) FieldSummary() string {
	parts := make([]string, 0, len(e.Fields))
	for _, k := range sortedKeys(e.Fields) {
		parts = append(parts, k+": "+strings.Join(e.Fields[k], " "))
	}
	return strings.Join(parts, "; ")
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
