// Package monitoring tests the alert rules (config/prometheus) with
// promtool and holds the rules and the Grafana dashboard (config/grafana)
// to the metrics the operator exports (controllers/metrics.go: sendblue_*;
// controllers/everlyticsms/metrics.go: everlytic_*). make test builds promtool into ./bin
// and passes it in PROMTOOL; without it these tests fail.
package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/sendblue-operator/sendblue-operator/controllers"
	"github.com/sendblue-operator/sendblue-operator/controllers/everlyticsms"
)

const (
	ruleFile  = "../../config/prometheus/prometheusrule.yaml"
	ruleTests = "../../config/prometheus/tests/alerts_test.yaml"
	dashboard = "../../config/grafana/sendblue-operator-dashboard.json"
)

func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	p := os.Getenv("PROMTOOL")
	if p == "" {
		t.Fatal("PROMTOOL is not set: run `make test` (it builds promtool into ./bin), or `make chart-tools` and export PROMTOOL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// groups returns the rule groups of the PrometheusRule.
func groups(t *testing.T) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Spec struct {
			Groups []map[string]any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &pr); err != nil {
		t.Fatal(err)
	}
	if len(pr.Spec.Groups) == 0 {
		t.Fatal("no rule groups in " + ruleFile)
	}
	return pr.Spec.Groups
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The rules are valid (expressions, durations, annotation templates), and
// each alert fires when it should and not otherwise (promtool test rules:
// config/prometheus/tests/alerts_test.yaml).
func TestAlertRules(t *testing.T) {
	dir := t.TempDir()
	gs := groups(t)
	writeYAML(t, filepath.Join(dir, "checked.yaml"), map[string]any{"groups": gs})
	promtool(t, dir, "check", "rules", "checked.yaml")

	// The unit tests compare labels; annotations were checked above.
	for _, g := range gs {
		for _, r := range g["rules"].([]any) {
			delete(r.(map[string]any), "annotations")
		}
	}
	writeYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": gs})
	tests, err := os.ReadFile(ruleTests)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "test", "rules", "alerts_test.yaml")

	// Every alert has a test, and the README lists it with what to do.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups(t) {
		for _, r := range g["rules"].([]any) {
			name, _ := r.(map[string]any)["alert"].(string)
			if !bytes.Contains(tests, []byte("alertname: "+name)) {
				t.Errorf("alert %s has no promtool test in %s", name, ruleTests)
			}
			if !bytes.Contains(readme, []byte("`"+name+"`")) {
				t.Errorf("alert %s is not in the README", name)
			}
		}
	}
}

type panel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || len(d.Panels) < 6 {
		t.Fatalf("dashboard: uid %q, %d panels", d.UID, len(d.Panels))
	}
	out := map[string]string{}
	for i, p := range d.Panels {
		if p.Type == "row" {
			// A row header groups the panels below it; it has no query.
			if p.Title == "" || len(p.Targets) > 0 {
				t.Errorf("row %d: title %q, %d queries; want a title and no query", i, p.Title, len(p.Targets))
			}
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for j, q := range p.Targets {
			out[fmt.Sprintf("dashboard:panel%d_%d", i, j)] = q.Expr
		}
	}
	return out
}

// Every dashboard query is valid PromQL once Grafana's variables are
// substituted (promtool checks them as recording rules).
func TestDashboardQueriesParse(t *testing.T) {
	var rules []map[string]string
	exprs := dashboardExprs(t)
	names := make([]string, 0, len(exprs))
	for n := range exprs {
		names = append(names, n)
	}
	sort.Strings(names)
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*")
	for _, n := range names {
		rules = append(rules, map[string]string{"record": n, "expr": grafana.Replace(exprs[n])})
	}
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "dashboard.yaml"), map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	promtool(t, dir, "check", "rules", "dashboard.yaml")
}

// recorder registers nothing: it collects the metric names a Collector
// describes.
type recorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}
func (r *recorder) Unregister(prometheus.Collector) bool { return true }

var metricName = regexp.MustCompile(`\b(sendblue_[a-z_]+|everlytic_[a-z_]+|workqueue_[a-z_]+)\b`)

// exported returns the names of the metrics the operator exports: the
// Sendblue controller's and the Everlytic controller's.
func exported() (sendblue, everlytic map[string]bool) {
	sb := &recorder{names: map[string]bool{}}
	controllers.NewMetrics(sb)
	ev := &recorder{names: map[string]bool{}}
	everlyticsms.NewMetrics(ev)
	return sb.names, ev.names
}

// The alerts and the dashboard use only metrics the operator exports (a
// renamed metric would leave them silently empty).
func TestAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	names := map[string]bool{}
	sendblue, everlytic := exported()
	if len(everlytic) == 0 {
		t.Fatal("everlyticsms.NewMetrics describes no metric")
	}
	for _, set := range []map[string]bool{sendblue, everlytic} {
		for n := range set {
			names[n] = true
		}
	}
	// controller-runtime's workqueue metrics (the sets', the accounts' and
	// the Everlytic webhooks' queues).
	for _, n := range []string{"workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds"} {
		names[n] = true
	}
	known := func(n string) bool {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && names[base] {
				return true
			}
		}
		return false
	}
	var sources []string
	for _, g := range groups(t) {
		for _, r := range g["rules"].([]any) {
			sources = append(sources, fmt.Sprint(r.(map[string]any)["expr"]))
		}
	}
	for _, e := range dashboardExprs(t) {
		sources = append(sources, e)
	}
	used := 0
	for _, s := range sources {
		for _, m := range metricName.FindAllString(s, -1) {
			used++
			if !known(m) {
				t.Errorf("%s is used in %q but the operator does not export it", m, s)
			}
		}
	}
	if used == 0 {
		t.Fatal("no operator metric found in the rules and the dashboard")
	}
}

// The dashboard shows every metric of the Everlytic controller, and the
// alerts watch its objects' reasons and its API errors.
func TestEverlyticMetricsMonitored(t *testing.T) {
	_, everlytic := exported()
	var dash, rules []string
	for _, e := range dashboardExprs(t) {
		dash = append(dash, e)
	}
	for _, g := range groups(t) {
		for _, r := range g["rules"].([]any) {
			rules = append(rules, fmt.Sprint(r.(map[string]any)["expr"]))
		}
	}
	uses := func(exprs []string, metric string) bool {
		for _, e := range exprs {
			for _, m := range metricName.FindAllString(e, -1) {
				for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(m, suffix); ok && base == metric {
						return true
					}
				}
			}
		}
		return false
	}
	for n := range everlytic {
		if !uses(dash, n) {
			t.Errorf("the dashboard has no panel for %s", n)
		}
	}
	for _, n := range []string{"everlytic_smswebhooks", "everlytic_api_requests_total"} {
		if !everlytic[n] {
			t.Errorf("the Everlytic controller no longer exports %s", n)
		}
		if !uses(rules, n) {
			t.Errorf("no alert uses %s", n)
		}
	}
}
