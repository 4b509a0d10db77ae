// Package localenv runs the operator the way a user would, on one machine
// with no cluster and no Sendblue account: a local control plane (etcd and
// kube-apiserver on loopback, from KUBEBUILDER_ASSETS), the Sendblue and
// Everlytic emulators on loopback, the real manager binary as a child process, and the
// real kubectl. `make demo` and the end-to-end tests both use it.
package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/sendblue-operator/sendblue-operator/controllers/everlytic/everlytictest"
	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue/sendbluetest"
)

// Options configure an Env.
type Options struct {
	// RepoRoot is the repository's top directory (for config/crd).
	RepoRoot string
	// Manager is the path of the built manager binary.
	Manager string
	// Kubectl is the kubectl binary; empty: /usr/bin/kubectl if present,
	// else KUBEBUILDER_ASSETS/kubectl.
	Kubectl string
	// Accounts are the emulator's accounts, key id -> secret key.
	Accounts map[string]string
	// EverlyticAccounts are the Everlytic emulator's accounts, username ->
	// API key.
	EverlyticAccounts map[string]string
}

// Env is a running local environment.
type Env struct {
	// Dir holds the kubeconfig and logs; removed by Stop.
	Dir         string
	Kubeconfig  string
	EmulatorURL string
	Emulator    *sendbluetest.Server
	// Everlytic is the Everlytic emulator, served at EmulatorURL too (its
	// paths do not overlap Sendblue's): the manager may call it
	// (--everlytic-endpoints 127.0.0.1).
	Everlytic   *everlytictest.Server
	KubectlPath string
	ManagerLog  string
	MetricsAddr string
	ProbeAddr   string
	// KeepDir leaves Dir (logs, kubeconfig) in place on Stop, for a post-mortem.
	KeepDir bool
	// ManagerEnv is added to the manager's environment (KEY=value), and to
	// no other process's.
	ManagerEnv []string

	opts    Options
	cp      *envtest.Environment
	httpSrv *http.Server
	mgr     *exec.Cmd
	mgrDone chan error
}

// Start brings up the control plane (with the CRDs installed) and the
// emulator. Call StartManager to run the operator, Stop to end it all.
func Start(opts Options) (_ *Env, err error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run hack/envtest-assets.sh (make demo and make test do)")
	}
	dir, err := os.MkdirTemp("", "sendblue-operator-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, opts: opts, ManagerLog: filepath.Join(dir, "manager.log")}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	e.KubectlPath = opts.Kubectl
	if e.KubectlPath == "" {
		e.KubectlPath = "/usr/bin/kubectl"
		if _, err := os.Stat(e.KubectlPath); err != nil {
			e.KubectlPath = filepath.Join(assets, "kubectl")
		}
	}
	if _, err := os.Stat(e.KubectlPath); err != nil {
		return nil, fmt.Errorf("no kubectl at %s: install one or run hack/envtest-assets.sh --kubectl", e.KubectlPath)
	}

	e.cp = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(opts.RepoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	// A certificate directory of our own survives a restart of the
	// apiserver (RestartAPIServer), so that kubeconfigs stay valid.
	certs := filepath.Join(dir, "apiserver")
	if err := os.Mkdir(certs, 0o700); err != nil {
		return nil, err
	}
	e.cp.ControlPlane.GetAPIServer().CertDir = certs
	if _, err := e.cp.Start(); err != nil {
		e.cp = nil
		return nil, fmt.Errorf("starting etcd and kube-apiserver from %s: %w", assets, err)
	}
	user, err := e.cp.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}

	e.Emulator = sendbluetest.NewServer()
	for id, secret := range opts.Accounts {
		if err := e.Emulator.AddAccount(id, secret); err != nil {
			return nil, err
		}
	}
	e.Everlytic = everlytictest.NewServer()
	for user, key := range opts.EverlyticAccounts {
		if err := e.Everlytic.AddAccount(user, key); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.EmulatorURL = "http://" + ln.Addr().String()
	both := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/2.0/") || strings.HasPrefix(r.URL.Path, everlytictest.ControlPrefix) {
			e.Everlytic.ServeHTTP(w, r)
			return
		}
		e.Emulator.ServeHTTP(w, r)
	})
	e.httpSrv = &http.Server{Handler: both, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.httpSrv.Serve(ln) }()
	return e, nil
}

// AddUser writes a kubeconfig for a user the control plane authenticates by
// client certificate, with the given name and groups, and returns its path.
// RBAC treats the user "system:serviceaccount:NS:NAME" as that service
// account.
func (e *Env) AddUser(name string, groups ...string) (string, error) {
	user, err := e.cp.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(e.Dir, "kubeconfig-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(kc); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// StartManager runs the manager binary against the control plane and the
// emulator, logging to ManagerLog, with plain-HTTP metrics on MetricsAddr
// and probes on ProbeAddr. Extra flags are appended (and win).
func (e *Env) StartManager(extra ...string) error {
	if e.mgr != nil {
		return errors.New("the manager is already running")
	}
	metrics, err := freePort()
	if err != nil {
		return err
	}
	probes, err := freePort()
	if err != nil {
		return err
	}
	e.MetricsAddr, e.ProbeAddr = metrics, probes
	log, err := os.OpenFile(e.ManagerLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{
		"--kubeconfig", e.Kubeconfig,
		"--sendblue-api-url", e.EmulatorURL,
		"--everlytic-endpoints", "*.everlytic.net,*.everlytic.com,127.0.0.1",
		"--metrics-bind-address", metrics,
		"--metrics-secure=false",
		"--health-probe-bind-address", probes,
		"--zap-devel",
	}, extra...)
	cmd := exec.Command(e.opts.Manager, args...)
	cmd.Env = append(os.Environ(), e.ManagerEnv...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", e.opts.Manager, err)
	}
	e.mgr, e.mgrDone = cmd, make(chan error, 1)
	go func() { e.mgrDone <- cmd.Wait(); log.Close() }()
	return nil
}

// RestartAPIServer stops the kube-apiserver and starts it again on the same
// port with the same certificates (etcd keeps running): what clients see of
// an apiserver rollout.
//
// The apiserver gets 3 seconds to stop (it waits for its clients' watches
// much longer); then it is killed, as a crashed one would be.
func (e *Env) RestartAPIServer() error {
	api := e.cp.ControlPlane.GetAPIServer()
	api.StopTimeout = 3 * time.Second
	_ = api.Stop() // a timeout means it was killed
	addr := api.SecureServing.ListenAddr.HostPort()
	for deadline := time.Now().Add(30 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break // the old process is gone
		}
		conn.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("the apiserver still listens on %s after it was stopped", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("starting the apiserver again: %w", err)
	}
	return nil
}

// ManagerPID is the running manager's process id, 0 if none runs.
func (e *Env) ManagerPID() int {
	if e.mgr == nil {
		return 0
	}
	return e.mgr.Process.Pid
}

// StopManager sends sig (SIGTERM for a clean stop, SIGKILL for a crash) and
// waits for the manager to exit.
func (e *Env) StopManager(sig syscall.Signal) error {
	if e.mgr == nil {
		return nil
	}
	_ = syscall.Kill(-e.mgr.Process.Pid, sig)
	select {
	case <-e.mgrDone:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-e.mgr.Process.Pid, syscall.SIGKILL)
		<-e.mgrDone
	}
	e.mgr = nil
	return nil
}

// Kubectl runs kubectl against the control plane with stdin, returning its
// combined output.
func (e *Env) Kubectl(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.KubectlPath, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Stop ends the manager, the emulator and the control plane, and removes Dir.
func (e *Env) Stop() {
	_ = e.StopManager(syscall.SIGTERM)
	if e.Emulator != nil {
		e.Emulator.Close()
	}
	if e.Everlytic != nil {
		e.Everlytic.Close()
	}
	if e.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = e.httpSrv.Shutdown(ctx)
		cancel()
	}
	if e.cp != nil {
		_ = e.cp.Stop()
	}
	if !e.KeepDir {
		_ = os.RemoveAll(e.Dir)
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
