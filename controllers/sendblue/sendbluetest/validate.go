package sendbluetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/internal/wirejson"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// validateConfig applies the API's rules to a PUT body's webhooks object.
// Members it does not know are accepted and stored as they are, as the real
// service must do for types it adds later.
func validateConfig(cfg wirejson.Object) error {
	for _, m := range cfg.Members() {
		switch {
		case knownType(m.Key):
			var entries []json.RawMessage
			if err := json.Unmarshal(m.Value, &entries); err != nil {
				return fmt.Errorf("webhooks.%s must be an array of webhook URLs or objects", m.Key)
			}
			for i, e := range entries {
				if err := validateEntry(m.Key, e); err != nil {
					return fmt.Errorf("webhooks.%s[%d]: %v", m.Key, i, err)
				}
			}
		case m.Key == "globalSecret" || m.Key == "secret":
			var s *string
			if err := json.Unmarshal(m.Value, &s); err != nil {
				return fmt.Errorf("webhooks.%s must be a string", m.Key)
			}
		}
	}
	return nil
}

// validateEntry checks one entry of type t: a URL string or an object with a
// url, an optional secret and, on receive only, optional sendblue_numbers.
func validateEntry(t string, raw json.RawMessage) error {
	var u string
	if json.Unmarshal(raw, &u) == nil {
		return validateURL(u)
	}
	obj, err := wirejson.ParseObject(raw)
	if err != nil {
		return errors.New("must be a URL string or an object with a url")
	}
	v, ok := obj.Get("url")
	if !ok || json.Unmarshal(v, &u) != nil {
		return errors.New("url is required and must be a string")
	}
	if err := validateURL(u); err != nil {
		return fmt.Errorf("url: %v", err)
	}
	if v, ok := obj.Get("secret"); ok {
		var s *string
		if json.Unmarshal(v, &s) != nil {
			return errors.New("secret must be a string")
		}
	}
	if v, ok := obj.Get("sendblue_numbers"); ok {
		if t != "receive" {
			return errors.New("sendblue_numbers is only supported on receive webhooks")
		}
		var numbers []string
		if json.Unmarshal(v, &numbers) != nil {
			return errors.New("sendblue_numbers must be an array of phone numbers")
		}
		for i, n := range numbers {
			if !e164.MatchString(n) {
				return fmt.Errorf("sendblue_numbers[%d]: %q is not an E.164 phone number", i, n)
			}
		}
	}
	return nil
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not a valid https URL (webhook URLs must be HTTPS)", raw)
	}
	return nil
}

// entryURL returns the URL of a stored entry, "" if it has none.
func entryURL(raw json.RawMessage) string {
	var u string
	if json.Unmarshal(raw, &u) == nil {
		return u
	}
	var obj struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.URL
}
