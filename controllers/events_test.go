package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

type countingRecorder map[string]int

func (c countingRecorder) Eventf(_, _ runtime.Object, eventtype, _, _, _ string, _ ...interface{}) {
	c[eventtype]++
}

// A burst of Normal events is cut after normalEventBurst; Warnings are never
// cut, and every skipped event is counted.
func TestNormalEventsAreLimitedWarningsAreNot(t *testing.T) {
	sent := countingRecorder{}
	skipped := 0
	r := limitNormalEvents(sent, func(string) { skipped++ })
	for i := 0; i < 1000; i++ {
		r.Eventf(nil, nil, corev1.EventTypeNormal, EventApplied, "Sync", "x")
		r.Eventf(nil, nil, corev1.EventTypeWarning, ReasonAPIError, "Sync", "x")
	}
	if sent[corev1.EventTypeWarning] != 1000 {
		t.Errorf("%d of 1000 warnings sent", sent[corev1.EventTypeWarning])
	}
	// The loop takes far less than a second: at most a few tokens refill.
	if n := sent[corev1.EventTypeNormal]; n < normalEventBurst || n > normalEventBurst+normalEventRate {
		t.Errorf("%d of 1000 normal events sent in a burst, want %d (+ refill)", n, normalEventBurst)
	}
	if sent[corev1.EventTypeNormal]+skipped != 1000 {
		t.Errorf("sent %d + skipped %d != 1000", sent[corev1.EventTypeNormal], skipped)
	}
}
