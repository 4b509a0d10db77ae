package wirejson

import (
	"encoding/json"
	"testing"
)

func TestParseKeepsOrderAndBytes(t *testing.T) {
	in := `{ "b" : [1, 2.50] , "a":"\u00e9", "c": {"z": null} }`
	o, err := ParseObject([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := o.MarshalJSON()
	if want := `{"b":[1, 2.50],"a":"\u00e9","c":{"z": null}}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDuplicateKeysKeepFirstPositionAndLastValue(t *testing.T) {
	o, err := ParseObject([]byte(`{"a":1,"b":2,"a":3}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := o.MarshalJSON()
	if want := `{"a":3,"b":2}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSetDeleteClone(t *testing.T) {
	var o Object
	o.Set("x", json.RawMessage(`1`))
	o.Set("y", json.RawMessage(`2`))
	c := o.Clone()
	o.Set("x", json.RawMessage(`9`))
	o.Delete("y")
	o.Delete("missing")
	got, _ := o.MarshalJSON()
	gotClone, _ := c.MarshalJSON()
	if string(got) != `{"x":9}` || string(gotClone) != `{"x":1,"y":2}` {
		t.Errorf("object %s, clone %s: want {\"x\":9} and {\"x\":1,\"y\":2}", got, gotClone)
	}
	if v, ok := c.Get("y"); !ok || string(v) != "2" || o.Len() != 1 {
		t.Errorf("Get(y) = %s, %v; Len = %d", v, ok, o.Len())
	}
}

func TestParseRefusesWhatIsNotOneObject(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":}`, `{"a":1} {}`, `{"a":1`, `{1:2}`} {
		if _, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("ParseObject(%q) accepted it", in)
		}
	}
}
