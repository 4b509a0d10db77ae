package sendblue_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// FuzzParseConfig checks, on any document ParseConfig accepts, that the
// configuration loses nothing through a read-modify-write:
//   - marshalling is stable: parse(marshal(c)) marshals to the same bytes;
//   - writing back every type's entries unchanged changes no byte;
//   - Secrets holds every secret the entries and the account carry;
//   - Size is the length of the PUT body.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"receive":["https://a.example.com",{"url":"https://b.example.com","secret":"s","x":[1,{"y":null}]}],"globalSecret":"g","secret":"l"}`,
		`{"future":{"k":"v"},"receive":null,"outbound":[],"call_log":[{"url":"https://c.example.com","sendblue_numbers":["+15122164639"]}]}`,
		`{"receive":["https://a.example.com","https://a.example.com"],"contact_created":["https://\u00e9.example.com"]}`,
		`{"receive":[{"url":"https://x","secret":"\"\\<>&\u2028"}], "globalSecret": null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := sendblue.ParseConfig(data)
		if err != nil {
			return
		}
		first, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := sendblue.ParseConfig(first)
		if err != nil {
			t.Fatalf("the marshalled configuration does not parse: %v\n%s", err, first)
		}
		second, _ := again.MarshalJSON()
		if !bytes.Equal(first, second) {
			t.Fatalf("marshalling is not stable:\n%s\n%s", first, second)
		}
		var secrets []string
		for _, typ := range sendblue.EventTypes() {
			hooks := c.Webhooks(typ)
			for _, h := range hooks {
				if h.Secret != "" {
					secrets = append(secrets, h.Secret)
				}
			}
			if err := c.SetWebhooks(typ, hooks); err != nil {
				t.Fatalf("writing back %s unchanged: %v", typ, err)
			}
		}
		for _, get := range []func() (string, bool){c.GlobalSecret, c.LegacySecret} {
			if s, ok := get(); ok && s != "" {
				secrets = append(secrets, s)
			}
		}
		after, _ := c.MarshalJSON()
		if !bytes.Equal(first, after) {
			t.Fatalf("writing back unchanged entries changed the document:\n%s\n%s", first, after)
		}
		got := c.Secrets()
		for _, s := range secrets {
			if !slices.Contains(got, s) {
				t.Fatalf("Secrets() = %q lacks %q", got, s)
			}
		}
		if n, err := c.Size(); err != nil || n != len(first)+len(`{"webhooks":}`) {
			t.Fatalf("Size() = %d, %v; want %d", n, err, len(first)+len(`{"webhooks":}`))
		}
	})
}
