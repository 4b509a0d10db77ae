// Command sendblue-emulator serves the in-memory provider emulators on one
// loopback address, for the demo, end-to-end tests and benchmarks: Sendblue's
// account-webhooks API (controllers/sendblue/sendbluetest) and Everlytic's
// SMS-webhooks API (controllers/everlytic/everlytictest). Paths under
// /api/2.0/ and /_emulator/everlytic/ go to the Everlytic emulator, every
// other path to the Sendblue emulator.
//
//	go run ./hack/sendblue-emulator --listen 127.0.0.1:8089 \
//		--account demo-key:demo-secret --everlytic-account demo-user:demo-api-key
//
// It prints "listening on http://ADDR" once it accepts connections (use port 0
// for a free port) and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

type accountsFlag []string

func (a *accountsFlag) String() string     { return fmt.Sprint(len(*a), " accounts") }
func (a *accountsFlag) Set(v string) error { *a = append(*a, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sendblue-emulator:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. It writes the listening line to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("sendblue-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8089", "loopback address to listen on (host:port; port 0 picks a free one)")
	var accounts, everlyticAccounts accountsFlag
	fs.Var(&accounts, "account", "a Sendblue account as KEYID:SECRET (repeatable)")
	fs.Var(&everlyticAccounts, "everlytic-account", "an Everlytic account as USER:APIKEY (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	if !sendblue.IsLoopbackHost(host) {
		return fmt.Errorf("--listen %q: the emulator only listens on loopback (127.0.0.1, ::1, localhost)", *listen)
	}

	srv := sendbluetest.NewServer()
	for _, a := range accounts {
		keyID, secret, ok := strings.Cut(a, ":")
		if !ok {
			return errors.New("--account: want KEYID:SECRET") // the value may be a secret: not echoed
		}
		if err := srv.AddAccount(keyID, secret); err != nil {
			return err
		}
	}
	ev := everlytictest.NewServer()
	for _, a := range everlyticAccounts {
		user, key, ok := strings.Cut(a, ":")
		if !ok {
			return errors.New("--everlytic-account: want USER:APIKEY") // the value may be a secret: not echoed
		}
		if err := ev.AddAccount(user, key); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: route(srv, ev), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.Close()
	ev.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// route sends Everlytic's API and control paths to everlyticAPI and every
// other path to sendblueAPI.
func route(sendblueAPI, everlyticAPI http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/2.0/") || strings.HasPrefix(r.URL.Path, everlytictest.ControlPrefix) {
			everlyticAPI.ServeHTTP(w, r)
			return
		}
		sendblueAPI.ServeHTTP(w, r)
	})
}
