package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/sendblue-operator/sendblue-operator/api/sendblue/v1alpha1"
)

type statusFlags struct {
	kube          kubeFlags
	allNamespaces bool
}

func (f *statusFlags) bind(fs *flag.FlagSet) {
	f.kube.bind(fs)
	fs.BoolVar(&f.allNamespaces, "all-namespaces", false, "List the sets of every namespace.")
	fs.BoolVar(&f.allNamespaces, "A", false, "Short for --all-namespaces.")
}

// runStatus lists the sets of a namespace, or of all, as a table.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) error {
	var f statusFlags
	fs := newFlagSet("status", stderr)
	f.bind(fs)
	positional, err := parseOrUsage(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError(fs, "unexpected argument %q", positional[0])
	}
	if f.allNamespaces && f.kube.namespace != "" {
		return usageError(fs, "give -n NAMESPACE or -A, not both")
	}
	namespace := ""
	if !f.allNamespaces {
		if namespace, err = f.kube.resolveNamespace(); err != nil {
			return err
		}
	}
	c, err := env.connect(f.kube)
	if err != nil {
		return err
	}
	sets, err := c.Sets(ctx, namespace)
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("the cluster has no SendblueWebhookSet resource: install the CRD (make install)")
	}
	if err != nil {
		return fmt.Errorf("listing SendblueWebhookSets: %w", err)
	}
	if len(sets) == 0 {
		if namespace == "" {
			fmt.Fprintln(stderr, "No SendblueWebhookSets found.")
		} else {
			fmt.Fprintf(stderr, "No SendblueWebhookSets found in namespace %s.\n", namespace)
		}
		return nil
	}
	return renderStatus(stdout, sets)
}

// renderStatus prints one row per set, by namespace and name.
func renderStatus(w io.Writer, sets []v1.SendblueWebhookSet) error {
	sets = slices.Clone(sets)
	slices.SortFunc(sets, func(a, b v1.SendblueWebhookSet) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tACCOUNT\tREADY\tREASON\tWEBHOOKS\tPLAN")
	for _, s := range sets {
		ready, reason := readiness(s.Status.Conditions)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Namespace, s.Name, orDash(s.Status.Account),
			ready, reason, s.Status.WebhookCount, planSummary(s.Status.Plan))
	}
	return tw.Flush()
}

// readiness is Ready's status and the reason that says why: that of Stalled
// or Reconciling when one is true (they are present only then), else that of
// Ready. A set no sync has reached has none: "-".
func readiness(conds []metav1.Condition) (ready, reason string) {
	ready, reason = "-", "-"
	if c := meta.FindStatusCondition(conds, "Ready"); c != nil {
		ready, reason = string(c.Status), orDash(c.Reason)
	}
	for _, t := range []string{"Stalled", "Reconciling"} {
		if c := meta.FindStatusCondition(conds, t); c != nil && c.Status == metav1.ConditionTrue {
			return ready, orDash(c.Reason)
		}
	}
	return ready, reason
}

// maxPlanShown bounds the changes a row shows.
const maxPlanShown = 3

// planSummary renders status.plan short: "add receive https://a; remove
// globalSecret", the first few changes and how many more.
func planSummary(plan []v1.PlannedChange) string {
	if len(plan) == 0 {
		return "-"
	}
	var parts []string
	for _, c := range plan[:min(len(plan), maxPlanShown)] {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Action, printable(c.Type), printable(c.URL))))
	}
	s := strings.Join(parts, "; ")
	if more := len(plan) - maxPlanShown; more > 0 {
		s += fmt.Sprintf("; +%d more", more)
	}
	return s
}

// printable quotes s if it holds a character a terminal would not show as
// itself (a URL removed from the account may hold anything).
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return quote(s)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
