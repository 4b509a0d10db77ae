package main

import (
	"os"
	"path/filepath"
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: first
  context: {cluster: c, user: u, namespace: team-a}
- name: second
  context: {cluster: c, user: u, namespace: team-b}
- name: bare
  context: {cluster: c, user: u}
current-context: first
`

func TestTheNamespaceComesAsKubectlFindsIt(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	if err := os.WriteFile(file, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, kubeconfigEnv string
		flags               kubeFlags
		want                string
	}{
		{"$KUBECONFIG's current context", file, kubeFlags{}, "team-a"},
		{"--context", file, kubeFlags{context: "second"}, "team-b"},
		{"a context without one", file, kubeFlags{context: "bare"}, "default"},
		{"-n over the context", file, kubeFlags{context: "second", namespace: "mine"}, "mine"},
		{"--kubeconfig over $KUBECONFIG", filepath.Join(dir, "absent"), kubeFlags{kubeconfig: file}, "team-a"},
		{"no kubeconfig at all", filepath.Join(dir, "absent"), kubeFlags{}, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.kubeconfigEnv)
			got, err := tc.flags.resolveNamespace()
			if err != nil || got != tc.want {
				t.Errorf("namespace %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("a --kubeconfig that does not exist is an error", func(t *testing.T) {
		if _, err := (kubeFlags{kubeconfig: filepath.Join(dir, "absent")}).resolveNamespace(); err == nil {
			t.Error("no error")
		}
	})
}
