package everlytic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// The wire format. Requests are {"webhook":{...}} with every member present;
// answers are {"status":"success","data":{"webhook":{...}}} or, for the
// list, {"status":"success","data":{"webhooks":[...]},"meta":{...}}.

type wireAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type wireRequest struct {
	URL         string      `json:"url"`
	Verb        string      `json:"verb"`
	EventTypes  []EventType `json:"event_types"`
	AuthType    *string     `json:"auth_type"`
	AuthDetails *wireAuth   `json:"auth_details"`
	Status      string      `json:"status,omitempty"`
}

// encodeWebhook builds the full request body for w.
func encodeWebhook(op string, w Webhook) ([]byte, error) {
	req := wireRequest{URL: w.URL, Verb: strings.ToUpper(w.Verb), EventTypes: w.EventTypes, Status: w.Status}
	if req.EventTypes == nil {
		req.EventTypes = []EventType{}
	}
	if w.Auth != nil {
		basic := "basic"
		req.AuthType = &basic
		req.AuthDetails = &wireAuth{Username: w.Auth.Username, Password: w.Auth.Password}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Webhook wireRequest `json:"webhook"`
	}{req}); err != nil {
		return nil, err
	}
	if buf.Len() > MaxRequestBytes {
		return nil, &BadRequestError{Op: op, Message: fmt.Sprintf("not sent: the body would be %d bytes, more than the limit of %d", buf.Len(), MaxRequestBytes)}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// maxIDLen bounds an id; Everlytic's are 36-character UUIDs.
const maxIDLen = 128

// itemPath returns CollectionPath/{id}, refusing an id that could name
// another path (a slash, dot segments, a query) before any request is sent.
func itemPath(op, id string) (string, error) {
	if reason := badID(id); reason != "" {
		return "", &BadRequestError{Op: op, Message: "not sent: invalid webhook id: " + reason}
	}
	return CollectionPath + "/" + url.PathEscape(id), nil
}

func badID(id string) string {
	switch {
	case id == "":
		return "the id is empty"
	case len(id) > maxIDLen:
		return fmt.Sprintf("the id is longer than %d bytes", maxIDLen)
	case strings.Trim(id, ".") == "":
		return "the id is a dot segment"
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Sprintf("the id %q has a character other than letters, digits, '-', '_' and '.'", id)
		}
	}
	return ""
}

// wireWebhook is a webhook as answered. auth_details is raw because a PHP
// server may answer an empty one as [] and members may be missing.
type wireWebhook struct {
	ID          string          `json:"id"`
	URL         string          `json:"url"`
	Verb        string          `json:"verb"`
	EventTypes  []EventType     `json:"event_types"`
	AuthType    *string         `json:"auth_type"`
	AuthDetails json.RawMessage `json:"auth_details"`
	Status      string          `json:"status"`
	CreatedAt   string          `json:"created_timestamp"`
	UpdatedAt   string          `json:"updated_timestamp"`
}

// webhook converts an answered object; it reports why it cannot.
func (w wireWebhook) webhook() (Webhook, string) {
	if w.ID == "" {
		return Webhook{}, "a webhook has no id"
	}
	if reason := badID(w.ID); reason != "" {
		return Webhook{}, "a webhook has an unusable id"
	}
	out := Webhook{ID: w.ID, URL: w.URL, Verb: w.Verb, EventTypes: w.EventTypes, Status: w.Status, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	authType := ""
	if w.AuthType != nil {
		authType = strings.ToLower(*w.AuthType)
	}
	switch authType {
	case "":
	case "basic":
		out.Auth = &BasicAuth{}
		var details struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
		}
		if json.Unmarshal(w.AuthDetails, &details) == nil {
			out.Auth.Username = deref(details.Username)
			out.Auth.Password = deref(details.Password)
		}
	default:
		return Webhook{}, "a webhook has an auth_type other than basic or null"
	}
	return out, ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// envelope is the success shape shared by every answer.
type envelope struct {
	Data *struct {
		Webhook  *wireWebhook   `json:"webhook"`
		Webhooks *[]wireWebhook `json:"webhooks"`
	} `json:"data"`
	Meta *struct {
		CurrentPage *int `json:"current_page"`
		LastPage    *int `json:"last_page"`
	} `json:"meta"`
}

// decodeEnvelope checks the status member first, so that an error answered
// under a 2xx is named as such, then decodes the rest; what must be present
// is the caller's business.
func decodeEnvelope(op string, r response) (envelope, error) {
	var head struct {
		Status *string `json:"status"`
	}
	var env envelope
	if json.Unmarshal(r.body, &head) != nil {
		return env, &ProtocolError{Op: op, StatusCode: r.code, Message: "answer is not the documented JSON envelope"}
	}
	if head.Status == nil || !strings.EqualFold(*head.Status, "success") {
		return env, &ProtocolError{Op: op, StatusCode: r.code, Message: `answer's status is not "success"`}
	}
	if json.Unmarshal(r.body, &env) != nil {
		return env, &ProtocolError{Op: op, StatusCode: r.code, Message: "answer is not the documented JSON envelope"}
	}
	return env, nil
}

func (c *Client) decodeOne(op string, r response) (*Webhook, error) {
	env, err := decodeEnvelope(op, r)
	if err != nil {
		return nil, err
	}
	if env.Data == nil || env.Data.Webhook == nil {
		return nil, &ProtocolError{Op: op, StatusCode: r.code, Message: "answer has no data.webhook object"}
	}
	w, reason := env.Data.Webhook.webhook()
	if reason != "" {
		return nil, &ProtocolError{Op: op, StatusCode: r.code, Message: reason}
	}
	return &w, nil
}

// decodePage returns one list page and the last page number.
func (c *Client) decodePage(r response, page int) ([]Webhook, int, error) {
	protocolErr := func(msg string) error { return &ProtocolError{Op: opList, StatusCode: r.code, Message: msg} }
	env, err := decodeEnvelope(opList, r)
	if err != nil {
		return nil, 0, err
	}
	if env.Data == nil || env.Data.Webhooks == nil {
		return nil, 0, protocolErr("answer has no data.webhooks list")
	}
	if env.Meta == nil || env.Meta.LastPage == nil {
		return nil, 0, protocolErr("answer has no meta.last_page")
	}
	last := *env.Meta.LastPage
	switch {
	case env.Meta.CurrentPage != nil && *env.Meta.CurrentPage != page:
		return nil, 0, protocolErr(fmt.Sprintf("asked for page %d, answered page %d", page, *env.Meta.CurrentPage))
	case last > MaxPages:
		return nil, 0, protocolErr(fmt.Sprintf("the list has %d pages, more than the limit of %d", last, MaxPages))
	}
	hooks := make([]Webhook, 0, len(*env.Data.Webhooks))
	for _, ww := range *env.Data.Webhooks {
		w, reason := ww.webhook()
		if reason != "" {
			return nil, 0, protocolErr(reason)
		}
		hooks = append(hooks, w)
	}
	return hooks, last, nil
}

// checkDeleted accepts {"status":"success"}, or an empty body (a 204).
func (c *Client) checkDeleted(r response) error {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	_, err := decodeEnvelope(opDelete, r)
	return err
}
