package sendblue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/internal/wirejson"
)

// EventType is a key of the account's webhook configuration: the kind of event
// a webhook receives.
type EventType string

// The event types Sendblue documents today. More may appear; Config keeps any
// key it does not know untouched.
const (
	Receive         EventType = "receive"
	Outbound        EventType = "outbound"
	CallLog         EventType = "call_log"
	LineBlocked     EventType = "line_blocked"
	LineAssigned    EventType = "line_assigned"
	ContactCreated  EventType = "contact_created"
	TypingIndicator EventType = "typing_indicator"
	InboundCall     EventType = "inbound_call"
	ContactProfile  EventType = "contact_profile"
)

// Wire names of the configuration's secret fields.
const (
	globalSecretKey = "globalSecret"
	legacySecretKey = "secret"
)

var knownTypes = []EventType{
	Receive, Outbound, CallLog, LineBlocked, LineAssigned,
	ContactCreated, TypingIndicator, InboundCall, ContactProfile,
}

// alwaysListed are the types Sendblue lists in every configuration it
// serves, as an empty list when they have no webhook (the seed documents'
// GET example; the SDKs' fixtures).
var alwaysListed = []EventType{Receive, CallLog, LineBlocked, LineAssigned, Outbound, ContactCreated}

// MissingTypes returns the types Sendblue lists in every configuration it
// serves that c does not hold: a configuration that lacks one cannot be a
// whole account as Sendblue reports it.
func (c *Config) MissingTypes() []EventType {
	var out []EventType
	for _, t := range alwaysListed {
		if _, ok := c.obj.Get(string(t)); !ok {
			out = append(out, t)
		}
	}
	return out
}

// EventTypes returns every known event type in documentation order.
func EventTypes() []EventType { return slices.Clone(knownTypes) }

// Known reports whether t is one of the documented event types.
func (t EventType) Known() bool { return slices.Contains(knownTypes, t) }

// Webhook is one entry of an event type's list. On the wire it is either a
// bare URL string or an object {url, secret?, sendblue_numbers?}.
type Webhook struct {
	// URL is where Sendblue delivers the event.
	URL string
	// Secret is sent to the receiver in the sb-signing-secret header; empty
	// means none.
	Secret string
	// SendblueNumbers restricts a receive webhook to messages received by
	// these lines (E.164); empty means all lines.
	SendblueNumbers []string

	// read is how the entry looked when it was read from the account; nil
	// for an entry built by the caller. It lets an unchanged entry be written
	// back with the very bytes it was read with, and a changed one keep its
	// form and any member this package does not know.
	read *readEntry
}

type readEntry struct {
	raw      json.RawMessage
	isString bool
	object   wirejson.Object // the members of an object entry, in order
	url      string
	secret   string
	numbers  []string
}

// unchanged reports whether w still holds exactly what was read.
func (w Webhook) unchanged() bool {
	return w.read != nil && w.URL == w.read.url && w.Secret == w.read.secret &&
		slices.Equal(w.SendblueNumbers, w.read.numbers)
}

// Equal reports whether two webhooks mean the same, ignoring how they were
// written on the wire.
func (w Webhook) Equal(o Webhook) bool {
	return w.URL == o.URL && w.Secret == o.Secret && slices.Equal(w.SendblueNumbers, o.SendblueNumbers)
}

// IsString reports whether the entry was read as a bare URL string.
func (w Webhook) IsString() bool { return w.read != nil && w.read.isString }

func (w Webhook) marshal() (json.RawMessage, error) {
	if w.unchanged() {
		return w.read.raw, nil
	}
	plain := w.Secret == "" && len(w.SendblueNumbers) == 0
	if plain && (w.read == nil || w.read.isString) {
		return json.Marshal(w.URL)
	}
	var obj wirejson.Object
	if w.read != nil && !w.read.isString {
		obj = w.read.object.Clone()
	}
	if err := setJSON(&obj, "url", w.URL); err != nil {
		return nil, err
	}
	if w.Secret != "" {
		if err := setJSON(&obj, "secret", w.Secret); err != nil {
			return nil, err
		}
	} else {
		obj.Delete("secret")
	}
	if len(w.SendblueNumbers) > 0 {
		if err := setJSON(&obj, "sendblue_numbers", w.SendblueNumbers); err != nil {
			return nil, err
		}
	} else {
		obj.Delete("sendblue_numbers")
	}
	return obj.MarshalJSON()
}

func setJSON(obj *wirejson.Object, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	obj.Set(key, b)
	return nil
}

func parseWebhook(raw json.RawMessage) (Webhook, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var u string
		if err := json.Unmarshal(trimmed, &u); err != nil {
			return Webhook{}, err
		}
		return Webhook{URL: u, read: &readEntry{raw: raw, isString: true, url: u}}, nil
	}
	obj, err := wirejson.ParseObject(raw)
	if err != nil {
		return Webhook{}, fmt.Errorf("entry is neither a URL string nor an object: %w", err)
	}
	w := Webhook{read: &readEntry{raw: raw, object: obj}}
	if v, ok := obj.Get("url"); !ok || json.Unmarshal(v, &w.URL) != nil || w.URL == "" {
		return Webhook{}, fmt.Errorf("entry object has no url string")
	}
	if v, ok := obj.Get("secret"); ok {
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return Webhook{}, fmt.Errorf("secret is not a string")
		}
		if s != nil {
			w.Secret = *s
		}
	}
	if v, ok := obj.Get("sendblue_numbers"); ok {
		if err := json.Unmarshal(v, &w.SendblueNumbers); err != nil {
			return Webhook{}, fmt.Errorf("sendblue_numbers is not a list of strings")
		}
		if len(w.SendblueNumbers) == 0 {
			w.SendblueNumbers = nil
		}
	}
	w.read.url, w.read.secret, w.read.numbers = w.URL, w.Secret, slices.Clone(w.SendblueNumbers)
	return w, nil
}

// Config is an account's whole webhook configuration: the `webhooks` object
// of GET and PUT. It keeps the members it does not know (event types invented
// later), their order, and each entry's bytes and form, so a read, a change
// and a write lose nothing that was not changed. The zero value is an empty
// configuration. Config is not safe for concurrent use; Clone it to share
// (reading it from several goroutines is safe).
type Config struct {
	obj wirejson.Object

	// parsed keeps each type's entries as decoded, until the type is set:
	// a sync asks for them several times (plan, checks, index), and a big
	// account's entries are costly to decode each time.
	mu     sync.Mutex
	parsed map[EventType][]Webhook
}

// NewConfig returns an empty configuration.
func NewConfig() *Config { return &Config{} }

// ParseConfig decodes a `webhooks` object. It fails if a known event type is
// not a list of entries or a secret is not a string: such a document is not
// one this package can change without risking data.
func ParseConfig(data []byte) (*Config, error) {
	obj, err := wirejson.ParseObject(data)
	if err != nil {
		return nil, err
	}
	c := &Config{obj: obj, parsed: map[EventType][]Webhook{}}
	for _, t := range knownTypes {
		hooks, err := c.webhooks(t)
		if err != nil {
			return nil, err
		}
		c.parsed[t] = hooks
	}
	for _, key := range []string{globalSecretKey, legacySecretKey} {
		if _, _, err := c.stringField(key); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// MarshalJSON returns the configuration with every unchanged member and entry
// exactly as it was read.
func (c *Config) MarshalJSON() ([]byte, error) { return c.obj.MarshalJSON() }

// Size returns the length in bytes of the PUT request body that would write
// the configuration (compare it with MaxRequestBytes).
func (c *Config) Size() (int, error) {
	b, err := c.MarshalJSON()
	return len(b) + len(`{"webhooks":}`), err
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config { return &Config{obj: c.obj.Clone()} }

// Webhooks returns a copy of the entries of type t, in order; nil if none.
func (c *Config) Webhooks(t EventType) []Webhook {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hooks, ok := c.parsed[t]; ok {
		return slices.Clone(hooks)
	}
	hooks, _ := c.webhooks(t) // validated by ParseConfig and SetWebhooks
	if c.parsed == nil {
		c.parsed = map[EventType][]Webhook{}
	}
	c.parsed[t] = hooks
	return slices.Clone(hooks)
}

func (c *Config) webhooks(t EventType) ([]Webhook, error) {
	raw, ok := c.obj.Get(string(t))
	if !ok {
		return nil, nil
	}
	var entries []json.RawMessage // JSON null decodes to nil
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("webhooks.%s: not a list of entries", t)
	}
	hooks := make([]Webhook, 0, len(entries))
	for i, e := range entries {
		w, err := parseWebhook(e)
		if err != nil {
			return nil, fmt.Errorf("webhooks.%s[%d]: %w", t, i, err)
		}
		hooks = append(hooks, w)
	}
	if len(hooks) == 0 {
		return nil, nil
	}
	return hooks, nil
}

// SetWebhooks replaces the entries of type t. Entries that came from this
// configuration and did not change are written back byte for byte; if the
// list as a whole is unchanged, nothing is touched (so a `null` or an empty
// list stays as it was). An empty list on a type that is absent adds nothing.
func (c *Config) SetWebhooks(t EventType, hooks []Webhook) error {
	current, _ := c.webhooks(t)
	if sameEntries(current, hooks) {
		return nil
	}
	if _, present := c.obj.Get(string(t)); !present && len(hooks) == 0 {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, w := range hooks {
		if w.URL == "" {
			return fmt.Errorf("webhooks.%s[%d]: url is empty", t, i)
		}
		b, err := w.marshal()
		if err != nil {
			return fmt.Errorf("webhooks.%s[%d]: %w", t, i, err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	c.obj.Set(string(t), buf.Bytes())
	c.mu.Lock()
	delete(c.parsed, t)
	c.mu.Unlock()
	return nil
}

func sameEntries(a, b []Webhook) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) || !b[i].unchanged() || !bytes.Equal(a[i].read.raw, b[i].read.raw) {
			return false
		}
	}
	return true
}

// UnknownKeys returns the members this package does not model, in order.
func (c *Config) UnknownKeys() []string {
	var out []string
	for _, m := range c.obj.Members() {
		if !EventType(m.Key).Known() && m.Key != globalSecretKey && m.Key != legacySecretKey {
			out = append(out, m.Key)
		}
	}
	return out
}

// GlobalSecret returns `globalSecret`, which applies to every webhook.
func (c *Config) GlobalSecret() (string, bool) {
	s, ok, _ := c.stringField(globalSecretKey)
	return s, ok
}

// SetGlobalSecret sets `globalSecret`; an unchanged value is left as read.
func (c *Config) SetGlobalSecret(s string) { c.setStringField(globalSecretKey, s) }

// ClearGlobalSecret removes `globalSecret`.
func (c *Config) ClearGlobalSecret() { c.obj.Delete(globalSecretKey) }

// LegacySecret returns the root `secret` of the v2-era API.
func (c *Config) LegacySecret() (string, bool) {
	s, ok, _ := c.stringField(legacySecretKey)
	return s, ok
}

// SetLegacySecret sets the root `secret`; an unchanged value is left as read.
func (c *Config) SetLegacySecret(s string) { c.setStringField(legacySecretKey, s) }

// ClearLegacySecret removes the root `secret`.
func (c *Config) ClearLegacySecret() { c.obj.Delete(legacySecretKey) }

// stringField returns a string member; JSON null counts as absent.
func (c *Config) stringField(key string) (string, bool, error) {
	raw, ok := c.obj.Get(key)
	if !ok {
		return "", false, nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("webhooks.%s: not a string", key)
	}
	if s == nil {
		return "", false, nil
	}
	return *s, true, nil
}

func (c *Config) setStringField(key, s string) {
	if cur, ok, _ := c.stringField(key); ok && cur == s {
		return
	}
	b, _ := json.Marshal(s) // a string always encodes
	c.obj.Set(key, b)
}

// Secrets returns every secret value in the configuration: per-webhook,
// global and legacy. The client uses it to keep them out of error messages.
func (c *Config) Secrets() []string {
	var out []string
	for _, t := range knownTypes {
		for _, w := range c.Webhooks(t) {
			if w.Secret != "" {
				out = append(out, w.Secret)
			}
		}
	}
	for _, key := range []string{globalSecretKey, legacySecretKey} {
		if s, ok, _ := c.stringField(key); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}
