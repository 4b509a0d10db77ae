// Package status sets the conditions every resource of the operator reports,
// after kstatus and the Flux convention (fluxcd/pkg apis/meta):
//   - Ready is the summary (kubectl wait --for=condition=Ready): True when
//     the provider held this generation at the last sync, False (or Unknown
//     while a new generation waits for its first sync) otherwise.
//   - Reconciling, present only when True: a sync of this generation is
//     under way or being retried; it will progress on its own.
//   - Stalled, present only when True: nothing will progress without a
//     change from the user.
//
// status.observedGeneration is the generation fully handled: synced or
// stalled. While a generation waits or is retried it stays behind, so
// kstatus reads InProgress whether or not it falls back to Ready.
package status

import (
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Outcome is what one sync found, for the conditions. At most one of Ready,
// Stalled and Progressing is true; with none, the sync failed and is retried.
type Outcome struct {
	// Ready: the provider holds this generation.
	Ready bool
	// Stalled: nothing progresses without a change from the user.
	Stalled bool
	// Progressing: a new generation waits for its first sync.
	Progressing bool
	// Transient: a failed read, retried on its own. A resource the provider
	// held at its last sync stays Ready, with Reconciling saying why.
	Transient bool
	// Reason and Message of every condition set.
	Reason, Message string
}

// MaxMessage bounds a condition message: long enough for every reason's
// explanation, short enough that a set listing many webhooks (or a tenant's
// long URLs) cannot grow its status, its events or a kubectl describe.
const MaxMessage = 1024

// Bound returns msg cut to MaxMessage bytes (on a character boundary), saying
// how much was cut. Set bounds every message; a caller that compares a new
// message with the one set before compares Bound(msg).
func Bound(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage - 40
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes cut)", msg[:cut], len(msg)-cut)
}

// Set sets Ready, Reconciling and Stalled (the abnormal-true ones only when
// true) and observedGeneration for an outcome of generation gen.
func Set(conds *[]metav1.Condition, observedGeneration *int64, gen int64, o Outcome) {
	o.Message = Bound(o.Message)
	set := func(typ string, s metav1.ConditionStatus) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: s, Reason: o.Reason, Message: o.Message, ObservedGeneration: gen})
	}
	ready := meta.FindStatusCondition(*conds, ConditionReady)
	held := ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == gen
	switch {
	case o.Ready:
		set(ConditionReady, metav1.ConditionTrue)
		meta.RemoveStatusCondition(conds, ConditionReconciling)
		meta.RemoveStatusCondition(conds, ConditionStalled)
		*observedGeneration = gen
	case o.Stalled:
		set(ConditionReady, metav1.ConditionFalse)
		set(ConditionStalled, metav1.ConditionTrue)
		meta.RemoveStatusCondition(conds, ConditionReconciling)
		*observedGeneration = gen
	case o.Progressing:
		set(ConditionReady, metav1.ConditionUnknown)
		set(ConditionReconciling, metav1.ConditionTrue)
		meta.RemoveStatusCondition(conds, ConditionStalled)
	case o.Transient && held:
		set(ConditionReconciling, metav1.ConditionTrue)
		meta.RemoveStatusCondition(conds, ConditionStalled)
	default:
		set(ConditionReady, metav1.ConditionFalse)
		set(ConditionReconciling, metav1.ConditionTrue)
		meta.RemoveStatusCondition(conds, ConditionStalled)
	}
}

// Explaining returns the condition that explains a resource's state at its
// generation: Reconciling or Stalled when true, else Ready; nil when no
// condition is about this generation.
func Explaining(conds []metav1.Condition, generation int64) *metav1.Condition {
	for _, typ := range []string{ConditionReconciling, ConditionStalled, ConditionReady} {
		c := meta.FindStatusCondition(conds, typ)
		if c != nil && c.ObservedGeneration == generation && (typ == ConditionReady || c.Status == metav1.ConditionTrue) {
			return c
		}
	}
	return nil
}
