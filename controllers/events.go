package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"golang.org/x/time/rate"
)

// Informational (Normal) events are best effort, as Kubernetes events are:
// a burst of them (10,000 sets created at once, each Applied) would be as
// many writes to the kube-apiserver as the sets themselves, and would slow
// the sets' own status down. Up to normalEventBurst are sent at once, then
// normalEventRate a second; the rest are skipped and counted
// (sendblue_events_skipped_total). Warnings are always sent.
const (
	normalEventBurst = 100
	normalEventRate  = 10
)

// limitedRecorder sends every Warning and Normal events within the limit.
type limitedRecorder struct {
	EventRecorder
	normal  *rate.Limiter
	skipped func(reason string)
}

func limitNormalEvents(r EventRecorder, skipped func(reason string)) EventRecorder {
	if r == nil {
		return nil
	}
	return &limitedRecorder{EventRecorder: r, normal: rate.NewLimiter(normalEventRate, normalEventBurst), skipped: skipped}
}

func (l *limitedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	if eventtype == corev1.EventTypeNormal && !l.normal.Allow() {
		l.skipped(reason)
		return
	}
	l.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
}
