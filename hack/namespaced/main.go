// Command namespaced turns the rendered namespaced installation
// (kubectl kustomize config/namespaced) into one for a list of namespaces:
// the manager's --watch-namespaces is filled in, and the manager's rules
// (config/rbac/manager/role.yaml, generated from the +kubebuilder:rbac
// markers) are appended as a Role and a RoleBinding in each namespace.
//
//	kubectl kustomize config/namespaced | go run ./hack/namespaced --namespaces team-a,team-b
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

const placeholder = "WATCH_NAMESPACES"

func main() {
	if err := run(os.Stdin, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "namespaced:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("namespaced", flag.ContinueOnError)
	list := fs.String("namespaces", "", "Comma-separated namespaces the manager watches (required).")
	rolePath := fs.String("role", "config/rbac/manager/role.yaml", "The manager's generated ClusterRole.")
	prefix := fs.String("name-prefix", "sendblue-operator-", "The installation's name prefix (config/namespaced).")
	operatorNS := fs.String("operator-namespace", "sendblue-operator-system", "The namespace the manager runs in.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var namespaces []string
	for _, ns := range strings.Split(*list, ",") {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--namespaces: %q is not a namespace name", ns)
		}
		namespaces = append(namespaces, ns)
	}
	if len(namespaces) == 0 {
		return errors.New("--namespaces is required")
	}
	raw, err := os.ReadFile(*rolePath)
	if err != nil {
		return err
	}
	var cluster rbacv1.ClusterRole
	if err := yaml.Unmarshal(raw, &cluster); err != nil {
		return fmt.Errorf("%s: %w", *rolePath, err)
	}
	rendered, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	if bytes.Count(rendered, []byte(placeholder)) != 1 {
		return fmt.Errorf("the input must hold %s exactly once: pipe `kubectl kustomize config/namespaced` into this command", placeholder)
	}
	rendered = bytes.Replace(rendered, []byte(placeholder), []byte(strings.Join(namespaces, ",")), 1)
	if _, err := out.Write(bytes.TrimRight(rendered, "\n")); err != nil {
		return err
	}
	name := *prefix + cluster.Name
	sa := *prefix + "controller-manager"
	for _, ns := range namespaces {
		role := rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": "sendblue-operator"}},
			Rules:      cluster.Rules,
		}
		binding := rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name + "binding", Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": "sendblue-operator"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: *operatorNS}},
		}
		for _, o := range []any{role, binding} {
			b, err := yaml.Marshal(o)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(out, "\n---\n%s", bytes.TrimRight(b, "\n")); err != nil {
				return err
			}
		}
	}
	_, err = fmt.Fprintln(out)
	return err
}
