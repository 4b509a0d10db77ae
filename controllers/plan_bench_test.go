package controllers

import (
	"fmt"
	"testing"
	"time"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// bigAccount is n sets of k webhooks each on one account (types in turn,
// a secret on every webhook, one set in ten Observe, the others Merge), and
// the account as it is once they are all applied.
func bigAccount(tb testing.TB, n, k int) (*sendblue.Config, []SetInput) {
	tb.Helper()
	types := sendblue.EventTypes()
	converged := sendblue.NewConfig()
	byType := map[sendblue.EventType][]sendblue.Webhook{}
	inputs := make([]SetInput, n)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range inputs {
		in := SetInput{ID: fmt.Sprintf("ns-%d/set-%d", i%10, i), Created: start.Add(time.Duration(i) * time.Second), Policy: v1.PolicyMerge}
		if i%10 == 5 {
			in.Policy = v1.PolicyObserve
		}
		for j := 0; j < k; j++ {
			t := types[(i*k+j)%len(types)]
			w := DesiredWebhook{Type: t, URL: fmt.Sprintf("https://app-%d.example.com/hooks/%d", i, j), Secret: fmt.Sprintf("whsec-%d-%d", i, j)}
			in.Webhooks = append(in.Webhooks, w)
			if in.Policy != v1.PolicyObserve {
				in.Applied = append(in.Applied, w.key().applied())
			}
			byType[t] = append(byType[t], sendblue.Webhook{URL: w.URL, Secret: w.Secret})
		}
		inputs[i] = in
	}
	for t, hooks := range byType {
		if err := converged.SetWebhooks(t, hooks); err != nil {
			tb.Fatal(err)
		}
	}
	return converged, inputs
}

// BenchmarkPlanAccount plans one account of 1,000 sets with 5 webhooks each
// (`make bench-plan`): converged (nothing to change: every drift check),
// empty (everything to add: the first sync), and with one set edited.
func BenchmarkPlanAccount(b *testing.B) {
	for _, size := range []struct{ sets, hooks int }{{1000, 5}, {9000, 5}} {
		converged, inputs := bigAccount(b, size.sets, size.hooks)
		edited := append([]SetInput(nil), inputs...)
		edited[size.sets/2].Webhooks = append(edited[size.sets/2].Webhooks, DesiredWebhook{Type: sendblue.Receive, URL: "https://new.example.com/hook"})
		for _, c := range []struct {
			name   string
			actual *sendblue.Config
			inputs []SetInput
			writes bool
		}{
			{"converged", converged, inputs, false},
			{"empty", sendblue.NewConfig(), inputs, true},
			{"one-edit", converged, edited, true},
		} {
			b.Run(fmt.Sprintf("sets=%d/webhooks=%d/%s", size.sets, size.sets*size.hooks, c.name), func(b *testing.B) {
				for b.Loop() {
					p, err := PlanAccount(c.actual, c.inputs, nil)
					if err != nil {
						b.Fatal(err)
					}
					if p.HasChanges() != c.writes {
						b.Fatalf("changes %d, want writes=%v", len(p.Changes), c.writes)
					}
				}
			})
		}
	}
}

// TestPlanAccountIsNotQuadratic plans one account of 1,000 and of 4,000 sets
// and fails if four times the sets take more than ten times as long (a
// quadratic planner takes sixteen times): a guard that runs in `make test`.
// The numbers themselves come from BenchmarkPlanAccount.
func TestPlanAccountIsNotQuadratic(t *testing.T) {
	measure := func(n int) time.Duration {
		actual, inputs := bigAccount(t, n, 5)
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			if _, err := PlanAccount(actual, inputs, nil); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	small, large := measure(1000), measure(4000)
	if large > 10*small {
		t.Errorf("planning 4,000 sets took %s, 1,000 took %s: more than 10x for 4x the sets", large, small)
	}
}
