// Command kubectl-sendblue is a kubectl plugin for the sendblue-operator:
// `kubectl sendblue export` prints a SendblueWebhookSet that adopts every
// webhook of an existing Sendblue account without changing it, and
// `kubectl sendblue status` shows the sets of a cluster.
//
// It reads the account with the operator's own Sendblue client and the
// cluster with a plain client, prints manifests to stdout and notes to
// stderr, and never prints a secret value unless asked to
// (--include-secret-values).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	// controller-runtime's client logs nothing we want on a terminal.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, environment{getenv: os.Getenv, connect: connect})
	stop()
	os.Exit(code)
}

// environment is what the commands take from the process, so that tests can
// replace it.
type environment struct {
	getenv func(string) string
	// connect opens the cluster named by the kube flags.
	connect func(kubeFlags) (cluster, error)
}

// errUsage marks a command line that cannot be run; its message was printed.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	name, args, summary string
	flags               func(*flag.FlagSet) // binds the flags for help
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) error
}

func commands() []command {
	return []command{
		{"export", "NAME [-n NAMESPACE] [--credentials-secret SECRET]",
			"Print a SendblueWebhookSet, with its Secrets, that declares every webhook of an existing\n" +
				"Sendblue account as it is: applied, the operator adopts them and writes nothing.\n" +
				"Credentials come from --credentials-secret (a Secret in the namespace) or from the\n" +
				"environment, as the official Sendblue SDK reads them: " + envKeyID + " and\n" +
				envSecretKey + ". Secret values are printed only with --include-secret-values.",
			func(fs *flag.FlagSet) { (&exportFlags{}).bind(fs, func(string) string { return "" }) }, runExport},
		{"status", "[-n NAMESPACE | -A]",
			"Show the SendblueWebhookSets: account, Ready, the reason (of Stalled or Reconciling\n" +
				"when true, else of Ready), webhook count and status.plan.",
			func(fs *flag.FlagSet) { (&statusFlags{}).bind(fs) }, runStatus},
	}
}

// run executes the command line and returns the exit code: 0, 1 when the
// command failed, 2 when the command line is wrong.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			for _, c := range commands() {
				if c.name == args[1] {
					commandUsage(stdout, c)
					return 0
				}
			}
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr, env)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case err != nil:
			fmt.Fprintln(stderr, "kubectl-sendblue "+c.name+":", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "kubectl-sendblue: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "kubectl sendblue: the sendblue-operator's kubectl plugin.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  kubectl sendblue %s %s\n", c.name, c.args)
	}
	fmt.Fprint(w, "  kubectl sendblue help [COMMAND]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n%s\n", c.name, indent(c.summary, "      "))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "\nFlags of %s:\n", c.name)
		printFlags(w, c)
	}
}

func commandUsage(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: kubectl sendblue %s %s\n\n%s\n\nFlags:\n", c.name, c.args, c.summary)
	printFlags(w, c)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// shorthands are one-letter flags that are another flag's short form.
var shorthands = map[string]string{"n": "namespace", "A": "all-namespaces"}

// printFlags lists a command's flags, a shorthand beside its long form.
func printFlags(w io.Writer, c command) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	short := map[string]string{}
	for s, long := range shorthands {
		short[long] = s
	}
	var lines []string
	fs.VisitAll(func(f *flag.Flag) { // by name
		if _, isShort := shorthands[f.Name]; isShort && fs.Lookup(shorthands[f.Name]) != nil {
			return
		}
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		placeholder, text := flag.UnquoteUsage(f)
		if placeholder != "" {
			name += " " + placeholder
		}
		if f.DefValue != "" && f.DefValue != "false" {
			text += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		lines = append(lines, fmt.Sprintf("  %s\n%s", name, indent(text, "      ")))
	})
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// parse parses flags and positional arguments in any order, as kubectl
// does (the standard library stops at the first positional one). After
// "--" everything is positional.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors (and -h) to stderr with
// the command's usage.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, c := range commands() {
			if c.name == name {
				commandUsage(stderr, c)
			}
		}
	}
	return fs
}

// parseOrUsage parses and maps a bad command line to errUsage (the flag
// package has printed why to stderr) and -h or --help to flag.ErrHelp, after
// printing the command's usage to stdout.
func parseOrUsage(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			for _, c := range commands() {
				if c.name == fs.Name() {
					commandUsage(stdout, c)
				}
			}
			return nil, flag.ErrHelp
		}
	}
	positional, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, flag.ErrHelp
		}
		return nil, errUsage
	}
	return positional, nil
}

// usageError prints a command-line problem and the command's usage.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "kubectl-sendblue %s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}
