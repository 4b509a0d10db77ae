package everlytictest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic"
)

// The documented validation messages, and the undocumented ones written in
// the same style.
const (
	msgString          = "validation.string"
	msgStatusInvalid   = "The selected webhook.status is invalid, status should only be enabled or disabled."
	msgVerbRequired    = "The webhook.verb field is required."
	msgVerbInvalid     = "The selected webhook.verb is invalid."
	msgTypesRequired   = "The webhook.event types field is required."
	msgTypesArray      = "The webhook.event types must be an array."
	msgURLRequired     = "The webhook.url field is required."
	msgURLInvalid      = "The webhook.url format is invalid."
	msgAuthTypeInvalid = "The selected webhook.auth type is invalid."
	msgDetailsRequired = "The webhook.auth details field is required when webhook.auth type is basic."
	msgDetailsArray    = "The webhook.auth details must be an array."
	msgMemberRequired  = "The webhook.auth details.%s field is required when webhook.auth type is basic."
)

// state is what a request says about a string member.
type state int

const (
	absent    state = iota // no such member
	null                   // null
	text                   // a string, maybe empty
	wrongType              // anything else
)

func stringMember(obj object, key string) (string, state) {
	raw, ok := obj[key]
	switch {
	case !ok:
		return "", absent
	case string(raw) == "null":
		return "", null
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", wrongType
	}
	return s, text
}

// apply validates a request's webhook object and returns the webhook it
// makes: from nothing when cur is nil (a create), else from cur (an update:
// members present replace, members absent are kept, but verb is required).
func apply(obj object, cur *everlytic.Webhook) (everlytic.Webhook, problems) {
	var out everlytic.Webhook
	if cur != nil {
		out = clone(*cur)
	}
	create := cur == nil
	p := problems{}
	applyURL(obj, &out, create, p)
	applyVerb(obj, &out, p)
	applyEventTypes(obj, &out, create, p)
	applyStatus(obj, &out, create, p)
	applyAuth(obj, &out, create, p)
	return out, p
}

func applyURL(obj object, out *everlytic.Webhook, create bool, p problems) {
	v, st := stringMember(obj, "url")
	switch {
	case st == wrongType:
		p.add("webhook.url", msgString)
	case (st == absent && create) || st == null || (st == text && v == ""):
		p.add("webhook.url", msgURLRequired)
	case st == text:
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (lower(u.Scheme) != "http" && lower(u.Scheme) != "https") {
			p.add("webhook.url", msgURLInvalid)
			return
		}
		out.URL = v
	}
}

func applyVerb(obj object, out *everlytic.Webhook, p problems) {
	v, st := stringMember(obj, "verb")
	switch {
	case st == wrongType:
		p.add("webhook.verb", msgString)
	case st != text || v == "":
		p.add("webhook.verb", msgVerbRequired)
	case !strings.EqualFold(v, "POST") && !strings.EqualFold(v, "GET"):
		p.add("webhook.verb", msgVerbInvalid)
	default:
		out.Verb = lower(v)
	}
}

func applyEventTypes(obj object, out *everlytic.Webhook, create bool, p problems) {
	raw, ok := obj["event_types"]
	if !ok && !create {
		return
	}
	var list []json.RawMessage
	switch {
	case !ok || string(raw) == "null":
		p.add("webhook.event_types", msgTypesRequired)
		return
	case json.Unmarshal(raw, &list) != nil:
		p.add("webhook.event_types", msgTypesArray)
		return
	case len(list) == 0:
		p.add("webhook.event_types", msgTypesRequired)
		return
	}
	types := make([]everlytic.EventType, 0, len(list))
	for i, item := range list {
		t, ok := knownType(item)
		if !ok {
			p.add(fmt.Sprintf("webhook.event_types.%d", i), fmt.Sprintf("The selected webhook.event_types.%d is invalid.", i))
			continue
		}
		types = append(types, t)
	}
	out.EventTypes = types
}

// knownType accepts a documented type in any case (the documentation's
// table capitalises them) and returns it lower case.
func knownType(raw json.RawMessage) (everlytic.EventType, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	for _, t := range everlytic.EventTypes() {
		if strings.EqualFold(s, string(t)) {
			return t, true
		}
	}
	return "", false
}

func applyStatus(obj object, out *everlytic.Webhook, create bool, p problems) {
	v, st := stringMember(obj, "status")
	switch {
	case st == wrongType:
		p.add("webhook.status", msgString)
	case st == text && v != "enabled" && v != "disabled":
		p.add("webhook.status", msgStatusInvalid)
	case st == text:
		out.Status = v
	case create:
		out.Status = "enabled"
	}
}

// applyAuth applies auth_type and auth_details. The details are required
// when the request says basic; an update that leaves auth_type out keeps the
// stored type and may replace the stored details.
func applyAuth(obj object, out *everlytic.Webhook, create bool, p problems) {
	v, st := stringMember(obj, "auth_type")
	basic := out.Auth != nil && !create
	switch {
	case st == wrongType:
		p.add("webhook.auth_type", msgString)
		return
	case st == null || (st == text && v == ""):
		basic = false
	case st == text && v != "basic":
		p.add("webhook.auth_type", msgAuthTypeInvalid)
		return
	case st == text:
		basic = true
	}
	if !basic {
		out.Auth = nil
		return
	}
	raw, ok := obj["auth_details"]
	if !ok || string(raw) == "null" {
		if st == text {
			p.add("webhook.auth_details", msgDetailsRequired)
		}
		return // an update without either keeps the stored details
	}
	auth, ok := authDetails(raw, p)
	if ok {
		out.Auth = &auth
	}
}

// authDetails validates {username, password}; PHP's empty array [] counts
// as an empty object.
func authDetails(raw json.RawMessage, p problems) (everlytic.BasicAuth, bool) {
	var details object
	if string(raw) == "[]" {
		details = object{}
	} else if json.Unmarshal(raw, &details) != nil || details == nil {
		p.add("webhook.auth_details", msgDetailsArray)
		return everlytic.BasicAuth{}, false
	}
	var values [2]string
	ok := true
	for i, key := range []string{"username", "password"} {
		v, st := stringMember(details, key)
		switch {
		case st == wrongType:
			p.add("webhook.auth_details."+key, msgString)
			ok = false
		case st != text || v == "":
			p.add("webhook.auth_details."+key, fmt.Sprintf(msgMemberRequired, key))
			ok = false
		default:
			values[i] = v
		}
	}
	return everlytic.BasicAuth{Username: values[0], Password: values[1]}, ok
}
