// Package wirejson holds a JSON object whose members keep their order and
// their exact bytes, so that a read-modify-write of a document changes only
// the members that were changed. The Sendblue client and its emulator both
// need this; encoding/json's maps lose order and re-encode every value.
package wirejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Member is one key and its raw, compact JSON value.
type Member struct {
	Key   string
	Value json.RawMessage
}

// Object is an ordered JSON object. The zero value is an empty object.
type Object struct {
	members []Member
}

// ErrNotObject is returned by ParseObject when the document is valid JSON but
// not an object.
var ErrNotObject = errors.New("not a JSON object")

// ParseObject decodes data, which must be a single JSON object. Member values
// are kept exactly as sent, whitespace and escapes included.
// A key that appears twice keeps its first position and its last value, as
// JavaScript's JSON.parse does.
func ParseObject(data []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return Object{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Object{}, ErrNotObject
	}
	var o Object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Object{}, fmt.Errorf("invalid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return Object{}, fmt.Errorf("invalid JSON: object key is %T", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Object{}, fmt.Errorf("invalid JSON in %q: %w", key, err)
		}
		o.Set(key, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return Object{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Object{}, errors.New("invalid JSON: data after the object")
	}
	return o, nil
}

// Len returns the number of members.
func (o Object) Len() int { return len(o.members) }

// Members returns a copy of the members in order.
func (o Object) Members() []Member {
	out := make([]Member, len(o.members))
	for i, m := range o.members {
		out[i] = Member{Key: m.Key, Value: clone(m.Value)}
	}
	return out
}

// Get returns the raw value of key and whether it is present.
func (o Object) Get(key string) (json.RawMessage, bool) {
	for _, m := range o.members {
		if m.Key == key {
			return clone(m.Value), true
		}
	}
	return nil, false
}

// Set replaces the value of key in place, or appends key at the end.
func (o *Object) Set(key string, value json.RawMessage) {
	v := clone(value)
	for i := range o.members {
		if o.members[i].Key == key {
			o.members[i].Value = v
			return
		}
	}
	o.members = append(o.members, Member{Key: key, Value: v})
}

// Delete removes key if present.
func (o *Object) Delete(key string) {
	for i := range o.members {
		if o.members[i].Key == key {
			o.members = append(o.members[:i:i], o.members[i+1:]...)
			return
		}
	}
}

// Clone returns a deep copy.
func (o Object) Clone() Object { return Object{members: o.Members()} }

// MarshalJSON writes the members in order with their raw values. Note that
// json.Marshal compacts what a Marshaler returns; write these bytes directly
// where whitespace inside values must survive.
func (o Object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		if len(m.Value) == 0 {
			buf.WriteString("null")
		} else {
			buf.Write(m.Value)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler with ParseObject.
func (o *Object) UnmarshalJSON(data []byte) error {
	parsed, err := ParseObject(data)
	if err != nil {
		return err
	}
	*o = parsed
	return nil
}

func clone(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}
