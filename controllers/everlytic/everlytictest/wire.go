package everlytictest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// object is a JSON object by member, as a request's webhook arrives.
type object map[string]json.RawMessage

// toObject encodes w in wire form, password included, so that PutWebhook
// goes through the API's validation.
func toObject(w everlytic.Webhook) (object, error) {
	a := answerOf(w, true)
	m := map[string]any{"url": a.URL, "verb": a.Verb, "event_types": a.EventTypes, "auth_type": a.AuthType, "auth_details": a.AuthDetails}
	if w.Status != "" {
		m["status"] = w.Status
	}
	var obj object
	if err := json.Unmarshal(marshal(m), &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

type answerAuth struct {
	Username string  `json:"username"`
	Password *string `json:"password,omitempty"`
}

// answerWebhook is a webhook as answered, members in the documented order.
type answerWebhook struct {
	ID          string                `json:"id"`
	URL         string                `json:"url"`
	Verb        string                `json:"verb"`
	AuthDetails *answerAuth           `json:"auth_details"`
	AuthType    *string               `json:"auth_type"`
	Status      string                `json:"status"`
	UpdatedAt   string                `json:"updated_timestamp"`
	CreatedAt   string                `json:"created_timestamp"`
	EventTypes  []everlytic.EventType `json:"event_types"`
}

// answerOf converts a stored webhook; the API never answers the password,
// the control surface does.
func answerOf(w everlytic.Webhook, withPassword bool) answerWebhook {
	a := answerWebhook{ID: w.ID, URL: w.URL, Verb: w.Verb, Status: w.Status, UpdatedAt: w.UpdatedAt, CreatedAt: w.CreatedAt, EventTypes: w.EventTypes}
	if a.EventTypes == nil {
		a.EventTypes = []everlytic.EventType{}
	}
	if w.Auth != nil {
		basic := "basic"
		a.AuthType = &basic
		a.AuthDetails = &answerAuth{Username: w.Auth.Username}
		if withPassword {
			password := w.Auth.Password
			a.AuthDetails.Password = &password
		}
	}
	return a
}

// writeWebhook answers the documented success envelope, status first.
func writeWebhook(w http.ResponseWriter, code int, hook everlytic.Webhook) {
	writeJSON(w, code, struct {
		Status string                   `json:"status"`
		Data   map[string]answerWebhook `json:"data"`
	}{"success", map[string]answerWebhook{"webhook": answerOf(hook, false)}})
}

// errorBody is Everlytic's error shape, status first.
type errorBody struct {
	Status string `json:"status"`
	Data   string `json:"data"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Status: "error", Data: msg})
}

// writeUnauthorized answers the documented 401: a bare JSON string.
func writeUnauthorized(w http.ResponseWriter) {
	writeRaw(w, http.StatusUnauthorized, `"Invalid credentials."`)
}

// validationPrefix starts every documented 400 message.
const validationPrefix = "The payload for the webhook is not in the correct format. "

// problems maps field paths to validation messages.
type problems map[string][]string

func (p problems) add(field, msg string) { p[field] = append(p[field], msg) }

// data is the 400 body's data string: the prefix and the fields as JSON,
// keys sorted.
func (p problems) data() string { return validationPrefix + string(marshal(map[string][]string(p))) }

func writeProblems(w http.ResponseWriter, p problems) {
	writeError(w, http.StatusBadRequest, p.data())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeRaw(w, code, string(marshal(v)))
}

// marshal encodes v compactly without HTML escaping, as the documented
// answers are written.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only called with values that always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// parseRequest returns the webhook object of {"webhook":{...}}, or false.
func parseRequest(body []byte) (object, bool) {
	var root map[string]json.RawMessage
	if json.Unmarshal(body, &root) != nil {
		return nil, false
	}
	var obj object
	if json.Unmarshal(root["webhook"], &obj) != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// webhookRequired is the 400 for a body that is not {"webhook":{...}}.
func webhookRequired() problems {
	return problems{"webhook": {"The webhook field is required."}}
}

func lower(s string) string { return strings.ToLower(s) }
