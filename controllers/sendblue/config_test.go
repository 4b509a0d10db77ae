package sendblue_test

import (
	"strings"
	"testing"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

func TestEntryForms(t *testing.T) {
	tests := []struct {
		name   string
		read   string // the configuration as read
		change func(hooks []sendblue.Webhook) []sendblue.Webhook
		want   string
	}{
		{
			name:   "a new plain entry is written as a string",
			read:   `{}`,
			change: func([]sendblue.Webhook) []sendblue.Webhook { return []sendblue.Webhook{{URL: "https://n.example.com"}} },
			want:   `{"receive":["https://n.example.com"]}`,
		},
		{
			name: "a new entry with a secret and numbers is written as an object",
			read: `{}`,
			change: func([]sendblue.Webhook) []sendblue.Webhook {
				return []sendblue.Webhook{{URL: "https://n.example.com", Secret: "s", SendblueNumbers: []string{"+15122164639"}}}
			},
			want: `{"receive":[{"url":"https://n.example.com","secret":"s","sendblue_numbers":["+15122164639"]}]}`,
		},
		{
			name:   "a string entry that gains a secret becomes an object",
			read:   `{"receive":["https://a.example.com"]}`,
			change: func(h []sendblue.Webhook) []sendblue.Webhook { h[0].Secret = "s"; return h },
			want:   `{"receive":[{"url":"https://a.example.com","secret":"s"}]}`,
		},
		{
			name:   "an object entry that loses its secret stays an object",
			read:   `{"receive":[{"url":"https://a.example.com","secret":"s"}]}`,
			change: func(h []sendblue.Webhook) []sendblue.Webhook { h[0].Secret = ""; return h },
			want:   `{"receive":[{"url":"https://a.example.com"}]}`,
		},
		{
			name: "an object entry with only a url is not turned into a string",
			read: `{"receive":[{"url":"https://a.example.com"}],"outbound":["https://o.example.com"]}`,
			change: func(h []sendblue.Webhook) []sendblue.Webhook {
				return append(h, sendblue.Webhook{URL: "https://b.example.com"})
			},
			want: `{"receive":[{"url":"https://a.example.com"},"https://b.example.com"],"outbound":["https://o.example.com"]}`,
		},
		{
			name:   "removing the last entry leaves an empty list",
			read:   `{"receive":["https://a.example.com"],"outbound":[]}`,
			change: func([]sendblue.Webhook) []sendblue.Webhook { return nil },
			want:   `{"receive":[],"outbound":[]}`,
		},
		{
			name:   "setting no entries on an absent type adds nothing",
			read:   `{"outbound":[]}`,
			change: func(h []sendblue.Webhook) []sendblue.Webhook { return h },
			want:   `{"outbound":[]}`,
		},
		{
			name: "reordering is a change",
			read: `{"receive":["https://a.example.com", "https://b.example.com"]}`,
			change: func(h []sendblue.Webhook) []sendblue.Webhook {
				return []sendblue.Webhook{h[1], h[0]}
			},
			want: `{"receive":["https://b.example.com","https://a.example.com"]}`,
		},
		{
			name:   "an unchanged list keeps its bytes",
			read:   `{"receive":[ "https://a.example.com" ,{"url" : "https://b.example.com"} ]}`,
			change: func(h []sendblue.Webhook) []sendblue.Webhook { return h },
			want:   `{"receive":[ "https://a.example.com" ,{"url" : "https://b.example.com"} ]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := sendblue.ParseConfig([]byte(tc.read))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.SetWebhooks(sendblue.Receive, tc.change(cfg.Webhooks(sendblue.Receive))); err != nil {
				t.Fatal(err)
			}
			got, err := cfg.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseConfigRefusesWhatItCannotChangeSafely(t *testing.T) {
	for _, doc := range []string{
		`[]`,
		`{"receive":{}}`,
		`{"receive":[1]}`,
		`{"receive":[{"url":5}]}`,
		`{"receive":[{"url":""}]}`,
		`{"outbound":[{"url":"https://a.example.com","secret":false}]}`,
		`{"receive":[{"url":"https://a.example.com","sendblue_numbers":"+15122164639"}]}`,
		`{"secret":["x"]}`,
		`{"receive":[]} trailing`,
	} {
		if _, err := sendblue.ParseConfig([]byte(doc)); err == nil {
			t.Errorf("ParseConfig(%s) accepted it", doc)
		}
	}
}

func TestSecretsAndGlobalFields(t *testing.T) {
	cfg, err := sendblue.ParseConfig([]byte(`{"receive":[{"url":"https://a.example.com","secret":"a"}],"globalSecret":null,"secret":"legacy"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.GlobalSecret(); ok {
		t.Error("a null globalSecret reads as present")
	}
	if got := cfg.Secrets(); len(got) != 2 || got[0] != "a" || got[1] != "legacy" {
		t.Errorf("Secrets() = %q, want [a legacy]", got)
	}
	cfg.SetGlobalSecret("g")
	cfg.ClearLegacySecret()
	got, _ := cfg.MarshalJSON()
	if want := `{"receive":[{"url":"https://a.example.com","secret":"a"}],"globalSecret":"g"}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	clone := cfg.Clone()
	clone.ClearGlobalSecret()
	if _, ok := cfg.GlobalSecret(); !ok {
		t.Error("changing a clone changed the original")
	}
}

func TestMissingTypes(t *testing.T) {
	for doc, want := range map[string]string{
		`{}`: "receive call_log line_blocked line_assigned outbound contact_created",
		`{"receive":[],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`: "",
		`{"receive":["https://a.example.com"],"outbound":null,"globalSecret":"g"}`:                             "call_log line_blocked line_assigned contact_created",
	} {
		c, err := sendblue.ParseConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range c.MissingTypes() {
			got = append(got, string(m))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("MissingTypes(%s) = %v, want %s", doc, got, want)
		}
	}
}

// Webhooks decodes a type once and hands out copies: a caller changing what
// it got does not change the configuration, and a set type is decoded anew.
func TestWebhooksAreCopiesAndFollowSets(t *testing.T) {
	c, err := sendblue.ParseConfig([]byte(`{"receive":[{"url":"https://a.example.com","secret":"s"}],"call_log":[],"line_blocked":[],"line_assigned":[],"outbound":[],"contact_created":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Webhooks(sendblue.Receive)
	got[0].URL = "https://changed.example.com"
	if again := c.Webhooks(sendblue.Receive); len(again) != 1 || again[0].URL != "https://a.example.com" {
		t.Fatalf("a caller's change reached the configuration: %+v", again)
	}
	if err := c.SetWebhooks(sendblue.Receive, []sendblue.Webhook{{URL: "https://b.example.com"}}); err != nil {
		t.Fatal(err)
	}
	if again := c.Webhooks(sendblue.Receive); len(again) != 1 || again[0].URL != "https://b.example.com" {
		t.Fatalf("after SetWebhooks, Webhooks returned %+v", again)
	}
	if c.Webhooks(sendblue.CallLog) != nil {
		t.Error("an empty type is not nil")
	}
}
