// Package chart tests the Helm chart (charts/sendblue-operator) offline:
// its copies of generated files match their sources, helm lint, helm
// template for several value sets, the values schema, the helm-unittest
// suites, and a server-side dry-run of what it renders against a local
// kube-apiserver. make test builds helm and helm-unittest into ./bin and
// passes them in HELM and HELM_UNITTEST; without them these tests fail.
package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/sendblue-operator/sendblue-operator/test/e2e/localenv"
)

const chart = "../../charts/sendblue-operator"

// valueSets are rendered, linted and dry-run: the defaults and each file.
var valueSets = map[string]string{
	"default":               "",
	"namespaced+monitoring": "testdata/namespaced-monitoring.yaml",
	"minimal":               "testdata/minimal.yaml",
}

func tool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run `make test` (it builds the chart tools into ./bin), or `make chart-tools` and export %s", env, env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func template(t *testing.T, values string, extra ...string) (string, error) {
	t.Helper()
	args := []string{"template", "rel", chart, "--namespace", "ops", "--kube-version", "1.37.0"}
	if values != "" {
		args = append(args, "--values", values)
	}
	return run(t, tool(t, "HELM"), append(args, extra...)...)
}

func documents(t *testing.T, rendered string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("rendered YAML: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// The chart's CRD, manager rules, alert rules and dashboard are copies
// (make manifests) of config/: one source, and a stale copy fails here.
func TestChartCopiesMatchTheirSources(t *testing.T) {
	pairs := map[string]string{
		"files/manager-role.yaml":                "../../config/rbac/manager/role.yaml",
		"files/prometheusrule.yaml":              "../../config/prometheus/prometheusrule.yaml",
		"files/sendblue-operator-dashboard.json": "../../config/grafana/sendblue-operator-dashboard.json",
	}
	// Every CRD (SendblueWebhookSet, EverlyticSMSWebhook, ...).
	sources, _ := filepath.Glob("../../config/crd/bases/*.yaml")
	if len(sources) < 2 {
		t.Errorf("config/crd/bases holds %d CRDs, want at least SendblueWebhookSet's and EverlyticSMSWebhook's", len(sources))
	}
	for _, source := range sources {
		pairs["files/crds/"+filepath.Base(source)] = source
	}
	for copyPath, source := range pairs {
		a, err := os.ReadFile(filepath.Join(chart, copyPath))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("charts/sendblue-operator/%s differs from %s: run make manifests", copyPath, strings.TrimPrefix(source, "../../"))
		}
	}
	crds, _ := filepath.Glob(filepath.Join(chart, "files/crds/*.yaml"))
	if len(crds) != len(sources) {
		t.Errorf("the chart holds %d CRDs, config/crd/bases %d", len(crds), len(sources))
	}
}

func TestLint(t *testing.T) {
	for name, values := range valueSets {
		args := []string{"lint", chart, "--strict", "--kube-version", "1.37.0"}
		if values != "" {
			args = append(args, "--values", values)
		}
		if out, err := run(t, tool(t, "HELM"), args...); err != nil {
			t.Errorf("helm lint (%s): %v\n%s", name, err, out)
		}
	}
}

// Every value set renders, to objects that carry the chart's labels, in
// the release namespace (or the watched ones), with no object twice.
func TestTemplate(t *testing.T) {
	for name, values := range valueSets {
		out, err := template(t, values)
		if err != nil {
			t.Fatalf("helm template (%s): %v\n%s", name, err, out)
		}
		seen := map[string]bool{}
		kinds := map[string]int{}
		for _, u := range documents(t, out) {
			id := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
			if seen[id] {
				t.Errorf("%s: %s rendered twice", name, id)
			}
			seen[id] = true
			kinds[u.GetKind()]++
			if u.GetLabels()["app.kubernetes.io/instance"] != "rel" || u.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
				t.Errorf("%s: %s lacks the chart's labels: %v", name, id, u.GetLabels())
			}
		}
		want := map[string]map[string]int{
			"default":               {"Deployment": 1, "CustomResourceDefinition": 2, "ClusterRole": 5, "Service": 1, "ServiceMonitor": 0, "PrometheusRule": 0},
			"namespaced+monitoring": {"Deployment": 1, "CustomResourceDefinition": 2, "Role": 3, "RoleBinding": 3, "ServiceMonitor": 1, "PrometheusRule": 1, "ConfigMap": 1, "PodDisruptionBudget": 1},
			"minimal":               {"Deployment": 1, "CustomResourceDefinition": 0, "ClusterRole": 0, "Role": 0, "ServiceAccount": 0, "Service": 0, "PodDisruptionBudget": 1},
		}[name]
		for kind, n := range want {
			if kinds[kind] != n {
				t.Errorf("%s: %d %s, want %d (all: %v)", name, kinds[kind], kind, n, kinds)
			}
		}
		if name != "minimal" {
			kindsCovered(t, name, documents(t, out))
		}
		if name == "namespaced+monitoring" {
			for _, u := range documents(t, out) {
				if u.GetKind() == "ClusterRole" && strings.Contains(fmt.Sprint(u.Object["rules"]), "secrets") {
					t.Errorf("the namespaced chart grants cluster-wide Secret access: %s", u.GetName())
				}
			}
		}
	}
}

// kindsCovered checks that every kind whose CRD the chart installs
// (SendblueWebhookSet, EverlyticSMSWebhook) is in the manager's rules (the
// ClusterRole, or each namespace's Role), with its status and finalizers,
// and in the editor and viewer ClusterRoles people are given.
func kindsCovered(t *testing.T, set string, docs []*unstructured.Unstructured) {
	t.Helper()
	type resource struct{ group, name string }
	var kinds []resource
	for _, u := range docs {
		if u.GetKind() == "CustomResourceDefinition" {
			group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
			plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
			kinds = append(kinds, resource{group, plural})
		}
	}
	if len(kinds) != 2 {
		t.Errorf("%s: %d CRDs rendered (%v), want SendblueWebhookSet's and EverlyticSMSWebhook's", set, len(kinds), kinds)
	}
	// grants reports whether a role's rules grant verbs on group/resource.
	grants := func(u *unstructured.Unstructured, r resource, verbs ...string) bool {
		rules, _, _ := unstructured.NestedSlice(u.Object, "rules")
		for _, v := range verbs {
			found := false
			for _, raw := range rules {
				rule, _ := raw.(map[string]any)
				if has(rule["apiGroups"], r.group) && has(rule["resources"], r.name) && has(rule["verbs"], v) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	roles := 0
	for _, u := range docs {
		name := u.GetName()
		var want map[string][]string
		switch {
		case (u.GetKind() == "ClusterRole" || u.GetKind() == "Role") && strings.HasSuffix(name, "-manager"):
			roles++
			want = map[string][]string{"": {"get", "list", "watch", "patch", "update"}, "/status": {"get", "patch", "update"}, "/finalizers": {"update"}}
		case u.GetKind() == "ClusterRole" && strings.HasSuffix(name, "-editor"):
			roles++
			want = map[string][]string{"": {"create", "delete", "get", "list", "patch", "update", "watch"}, "/status": {"get"}}
		case u.GetKind() == "ClusterRole" && strings.HasSuffix(name, "-viewer"):
			roles++
			want = map[string][]string{"": {"get", "list", "watch"}, "/status": {"get"}}
		default:
			continue
		}
		for _, k := range kinds {
			for sub, verbs := range want {
				if !grants(u, resource{k.group, k.name + sub}, verbs...) {
					t.Errorf("%s: %s %s/%s does not grant %v on %s%s", set, u.GetKind(), u.GetNamespace(), name, verbs, k.name, sub)
				}
			}
		}
	}
	if roles < 3 {
		t.Errorf("%s: %d manager, editor and viewer roles found, want at least 3", set, roles)
	}
}

func has(list any, v string) bool {
	l, _ := list.([]any)
	for _, e := range l {
		if e == v || e == "*" {
			return true
		}
	}
	return false
}

// values.schema.json refuses what would render a broken installation,
// naming the field.
func TestSchemaRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ set, field string }{
		{"config.notAFlag=1", "/config"},
		{"replicaCount=-1", "/replicaCount"},
		{"watchNamespaces[0]=Not_A_Namespace", "/watchNamespaces/0"},
		{"config.batchWindow=soon", "/config/batchWindow"},
		{"image.pullPolicy=Sometimes", "/image/pullPolicy"},
		{"extraArgs[0]=no-dashes", "/extraArgs/0"},
		{"config.providers=sendblue\\,mailchimp", "/config/providers"},
		{"config.everlyticEndpoints=https://x.everlytic.net", "/config/everlyticEndpoints"},
		{"config.everlyticEndpoints=*", "/config/everlyticEndpoints"},
		{"config.everlyticRequestTimeout=soon", "/config/everlyticRequestTimeout"},
	} {
		out, err := template(t, "", "--set", tc.set)
		if err == nil || !strings.Contains(out, tc.field) {
			t.Errorf("--set %s: err %v, output %q; want a schema error naming %s", tc.set, err, out, tc.field)
		}
	}
}

func TestUnit(t *testing.T) {
	out, err := run(t, tool(t, "HELM_UNITTEST"), "--strict", chart)
	if err != nil || !strings.Contains(out, "Charts:      1 passed") {
		t.Fatalf("helm-unittest: %v\n%s", err, out)
	}
	t.Log(out[strings.LastIndex(out, "Charts:"):])
}

// What the chart renders is accepted by a kube-apiserver (a server-side
// dry-run: schema, RBAC objects, the CRD itself).
func TestServerSideDryRun(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	env, err := localenv.Start(localenv.Options{RepoRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	ctx := context.Background()
	for _, ns := range []string{"ops", "team-a", "team-b"} {
		if out, err := env.Kubectl(ctx, nil, "create", "namespace", ns); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	crds, err := os.Open("testdata/monitoring-crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer crds.Close()
	if out, err := env.Kubectl(ctx, crds, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := env.Kubectl(ctx, nil, "wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com", "--timeout=60s"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, values := range valueSets {
		rendered, err := template(t, values)
		if err != nil {
			t.Fatalf("helm template (%s): %v\n%s", name, err, rendered)
		}
		out, err := env.Kubectl(ctx, strings.NewReader(rendered), "apply", "--dry-run=server", "--server-side", "--field-manager=helm-dry-run", "-f", "-")
		if err != nil {
			t.Errorf("server-side dry-run (%s): %v\n%s", name, err, out)
			continue
		}
		if n := strings.Count(out, "(server dry run)"); n != len(documents(t, rendered)) {
			t.Errorf("server-side dry-run (%s): %d objects accepted, %d rendered:\n%s", name, n, len(documents(t, rendered)), out)
		}
	}
}
