package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The Roles appended for each namespace carry the manager's generated rules
// (config/rbac/manager/role.yaml): Secrets, and every kind the operator
// reconciles with its status and finalizers, SendblueWebhookSet and
// EverlyticSMSWebhook.
func TestRolesCoverEveryKind(t *testing.T) {
	in := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: m\nspec:\n  args: [--watch-namespaces=" + placeholder + "]\n"
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out, []string{"--namespaces", "team-a, team-b", "--role", "../../config/rbac/manager/role.yaml"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--watch-namespaces=team-a,team-b") {
		t.Errorf("--watch-namespaces not filled in:\n%s", out.String())
	}
	roles := map[string]rbacv1.Role{}
	bindings := map[string]rbacv1.RoleBinding{}
	for _, doc := range strings.Split(out.String(), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		switch meta.Kind {
		case "Role":
			var r rbacv1.Role
			if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
				t.Fatal(err)
			}
			roles[r.Namespace] = r
		case "RoleBinding":
			var b rbacv1.RoleBinding
			if err := yaml.Unmarshal([]byte(doc), &b); err != nil {
				t.Fatal(err)
			}
			bindings[b.Namespace] = b
		}
	}
	want := []struct {
		group, resource string
		verbs           []string
	}{
		{"", "secrets", []string{"get", "list", "watch"}},
		{"sendblue.webhooks.dev", "sendbluewebhooksets", []string{"get", "list", "watch", "patch", "update"}},
		{"sendblue.webhooks.dev", "sendbluewebhooksets/status", []string{"get", "patch", "update"}},
		{"sendblue.webhooks.dev", "sendbluewebhooksets/finalizers", []string{"update"}},
		{"everlytic.webhooks.dev", "everlyticsmswebhooks", []string{"get", "list", "watch", "patch", "update"}},
		{"everlytic.webhooks.dev", "everlyticsmswebhooks/status", []string{"get", "patch", "update"}},
		{"everlytic.webhooks.dev", "everlyticsmswebhooks/finalizers", []string{"update"}},
	}
	for _, ns := range []string{"team-a", "team-b"} {
		r, ok := roles[ns]
		if !ok {
			t.Errorf("no Role in %s", ns)
			continue
		}
		if r.Name != "sendblue-operator-manager-role" {
			t.Errorf("Role %s/%s, want sendblue-operator-manager-role", ns, r.Name)
		}
		for _, w := range want {
			for _, verb := range w.verbs {
				if !grants(r.Rules, w.group, w.resource, verb) {
					t.Errorf("Role %s/%s does not grant %s on %s (group %q)", ns, r.Name, verb, w.resource, w.group)
				}
			}
		}
		b, ok := bindings[ns]
		if !ok || b.RoleRef.Name != r.Name || len(b.Subjects) != 1 || b.Subjects[0].Name != "sendblue-operator-controller-manager" ||
			b.Subjects[0].Namespace != "sendblue-operator-system" {
			t.Errorf("RoleBinding in %s: %+v", ns, b)
		}
	}
	if len(roles) != 2 {
		t.Errorf("%d Roles, want 2", len(roles))
	}
}

func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func TestRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		args []string
	}{
		"no namespaces":         {placeholder, []string{"--role", "../../config/rbac/manager/role.yaml"}},
		"a bad namespace":       {placeholder, []string{"--namespaces", "Team_A", "--role", "../../config/rbac/manager/role.yaml"}},
		"no placeholder":        {"kind: Deployment", []string{"--namespaces", "a", "--role", "../../config/rbac/manager/role.yaml"}},
		"the placeholder twice": {placeholder + placeholder, []string{"--namespaces", "a", "--role", "../../config/rbac/manager/role.yaml"}},
	} {
		if err := run(strings.NewReader(tc.in), &bytes.Buffer{}, tc.args); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
