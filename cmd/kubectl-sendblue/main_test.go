package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHelpNamesBothCommandsAndEveryFlag(t *testing.T) {
	want := []string{
		"kubectl sendblue export NAME", "kubectl sendblue status",
		"-n, --namespace", "--kubeconfig", "--context",
		"--credentials-secret SECRET", "--credentials-secret-name", "--api-key-id-key", "--api-secret-key-key",
		"--include-secret-values", "--sendblue-api-url", "--sendblue-api-path", "--sendblue-request-timeout",
		"--deletion-policy", "--webhook-secret-labels", "-A, --all-namespaces",
		"SENDBLUE_API_API_KEY", "SENDBLUE_API_API_SECRET", "SENDBLUE_API_BASE_URL",
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		got := cli(t, nil, nil, args...)
		if got.code != 0 || got.stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, got.code, got.stderr)
		}
		for _, w := range want {
			if !strings.Contains(got.stdout, w) {
				t.Errorf("%v does not name %q:\n%s", args, w, got.stdout)
			}
		}
		for _, c := range commands() {
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			c.flags(fs)
			fs.VisitAll(func(f *flag.Flag) {
				name := "--" + f.Name
				if len(f.Name) == 1 {
					name = "-" + f.Name + ","
				}
				if !strings.Contains(got.stdout, name) {
					t.Errorf("%v does not name %s's flag %s", args, c.name, name)
				}
			})
		}
	}
}

func TestCommandHelpGoesToStdout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--help"}, "Usage: kubectl sendblue export NAME"},
		{[]string{"status", "-h"}, "Usage: kubectl sendblue status [-n NAMESPACE | -A]"},
		{[]string{"help", "export"}, "Usage: kubectl sendblue export NAME"},
	} {
		got := cli(t, nil, nil, tc.args...)
		if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, got.code, got.stdout, got.stderr)
		}
	}
}

func TestABadCommandIsAUsageError(t *testing.T) {
	for _, args := range [][]string{nil, {"expotr"}, {"status", "extra"}} {
		got := cli(t, nil, nil, args...)
		if got.code != 2 || got.stdout != "" || !strings.Contains(got.stderr, "Usage") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, got.code, got.stdout, got.stderr)
		}
	}
}

func TestFlagsAndArgumentsMayComeInAnyOrder(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		wantPositional []string
		wantNamespace  string
	}{
		{[]string{"NAME", "-n", "ns"}, []string{"NAME"}, "ns"},
		{[]string{"-n", "ns", "NAME"}, []string{"NAME"}, "ns"},
		{[]string{"--namespace=ns", "A", "B"}, []string{"A", "B"}, "ns"},
		{[]string{"A", "--", "-n", "ns"}, []string{"A", "-n", "ns"}, ""},
	} {
		var k kubeFlags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		k.bind(fs)
		got, err := parse(fs, tc.args)
		if err != nil || !cmp.Equal(got, tc.wantPositional) || k.namespace != tc.wantNamespace {
			t.Errorf("parse(%q) = %q, namespace %q, %v; want %q, %q", tc.args, got, k.namespace, err, tc.wantPositional, tc.wantNamespace)
		}
	}
}
