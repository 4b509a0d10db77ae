package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 15, item 9: make undeploy removes the operator and leaves the CRDs
// (deleting a CRD deletes every object of its kind, and a manager still
// running would then remove every webhook of deletionPolicy: Delete);
// make uninstall deletes the CRDs only when confirmed.
func TestUndeployKeepsTheCRDsAndUninstallAsksFirst(t *testing.T) {
	root := filepath.Join("..", "..")
	operator := kubectl(t, "kustomize", filepath.Join(root, "config", "operator"))
	if strings.Contains(operator, "kind: CustomResourceDefinition") {
		t.Error("config/operator, which make undeploy deletes, holds a CustomResourceDefinition")
	}
	if !strings.Contains(operator, "kind: Deployment") || !strings.Contains(operator, "kind: ClusterRole\n") {
		t.Errorf("config/operator lacks the manager or its RBAC:\n%s", tail(operator, 2000))
	}
	all := kubectl(t, "kustomize", filepath.Join(root, "config", "default"))
	if n := strings.Count(all, "kind: CustomResourceDefinition"); n != 2 {
		t.Errorf("config/default (make deploy) holds %d CRDs, want both", n)
	}
	for _, doc := range strings.Split(operator, "\n---\n") {
		if !strings.Contains(all, strings.TrimSpace(doc)) {
			t.Errorf("config/default does not hold this document of config/operator as it renders alone:\n%s", doc)
		}
	}

	// A kubectl that records what it is asked to do.
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "kubectl")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$*\" >> "+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	makeTarget := func(args ...string) (string, error) {
		cmd := exec.Command("make", append([]string{"-s", "-o", "manifests", "KUBECTL=" + fake}, args...)...)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	recorded := func() string {
		b, _ := os.ReadFile(calls)
		os.Remove(calls)
		return string(b)
	}
	if out, err := makeTarget("undeploy"); err != nil {
		t.Fatalf("make undeploy: %v\n%s", err, out)
	}
	if got := recorded(); !strings.Contains(got, "delete --ignore-not-found -k config/operator") || strings.Contains(got, "crd") || strings.Contains(got, "config/default") {
		t.Errorf("make undeploy ran: %q, want the deletion of config/operator alone", got)
	}
	out, err := makeTarget("uninstall")
	if err == nil {
		t.Error("make uninstall without CONFIRM succeeded")
	}
	if !strings.Contains(out, "CONFIRM=delete-every-object") || !strings.Contains(out, "deletionPolicy: Delete") {
		t.Errorf("make uninstall does not warn and say how to confirm:\n%s", out)
	}
	if got := recorded(); strings.Contains(got, "delete") {
		t.Errorf("make uninstall without CONFIRM deleted: %q", got)
	}
	if out, err := makeTarget("uninstall", "CONFIRM=delete-every-object"); err != nil {
		t.Fatalf("make uninstall CONFIRM=delete-every-object: %v\n%s", err, out)
	}
	if got := recorded(); !strings.Contains(got, "delete --ignore-not-found -k config/crd") {
		t.Errorf("make uninstall CONFIRM=delete-every-object ran %q, want the CRDs deleted", got)
	}
}
