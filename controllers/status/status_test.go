package status

import (
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A message is bounded, on a character boundary, saying what was cut; a
// short one is left alone.
func TestMessagesAreBounded(t *testing.T) {
	if got := Bound("short"); got != "short" {
		t.Errorf("Bound(short) = %q", got)
	}
	long := strings.Repeat("é", MaxMessage) // 2 bytes each
	got := Bound(long)
	if len(got) > MaxMessage || !utf8.ValidString(got) || !strings.Contains(got, "more bytes cut") {
		t.Errorf("Bound of %d bytes: %d bytes, valid UTF-8 %v, %q…", len(long), len(got), utf8.ValidString(got), got[len(got)-40:])
	}
	var conds []metav1.Condition
	var gen int64
	Set(&conds, &gen, 1, Outcome{Stalled: true, Reason: "Conflict", Message: long})
	for _, c := range conds {
		if len(c.Message) > MaxMessage {
			t.Errorf("condition %s: message of %d bytes", c.Type, len(c.Message))
		}
	}
}
