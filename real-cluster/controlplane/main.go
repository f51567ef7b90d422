// Command drydock-cp is drydock's local Kubernetes control plane: one multi-call binary, in the
// style of the old hyperkube, that runs unmodified upstream kube-apiserver and
// kube-controller-manager (k8s.io/kubernetes, see go.mod for the version) and an embedded etcd
// from the same module graph. Design: real-cluster.md §2.4 and §2.5 in drydock's design notes.
//
//	drydock-cp kube-apiserver ARGS...          upstream cmd/kube-apiserver, unchanged
//	drydock-cp kube-controller-manager ARGS... upstream cmd/kube-controller-manager, unchanged
//	drydock-cp up --dir D --port P [...]       PKI, etcd, both components, D/kubeconfig
//	drydock-cp version                         the Kubernetes version compiled in
//
// Each component runs in its own process (the binary re-executes itself): unpatched components
// share process-global state (feature gates, component-version registry, Prometheus
// registries, klog flags), so they are never run as goroutines of one process.
//
// `up` supervises its two children as a kubelet supervises static pods: one that exits while
// `up` is not stopping is restarted with the same arguments (so the API server comes back on
// the same port, against the same in-process etcd, and the cluster state survives), after a
// backoff (--restart-backoff, doubling with each restart within restartWindow). A component that exits more than maxRestarts times within restartWindow is
// crash-looping: `up` then stops everything and exits with exitFailure. The children's PIDs and
// restart counts are kept in D/components.json for `drydock cluster status`.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "time/tzdata" // for CronJob time zone support, as the upstream mains

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics adapter, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric registration, as upstream
	"k8s.io/component-base/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// Exit codes of `up`, read by drydock's Rust side (real-cluster/src/controlplane.rs).
const (
	exitOK        = 0
	exitFailure   = 1 // a component failed to start, or kept crashing (see maxRestarts)
	exitUsage     = 2 // bad flags
	exitPortInUse = 3 // the API server port is taken
)

// Supervision of the children (kube-apiserver, kube-controller-manager) once the control plane
// is up: a child that exits is restarted after restartBackoff(n) for its n-th restart within
// restartWindow; more than maxRestarts restarts within restartWindow stop the control plane.
const (
	maxRestarts   = 5
	restartWindow = 2 * time.Minute
)

// restartBackoff is the wait before the n-th (1-based) restart within restartWindow: first,
// then doubling up to 16 times first (500ms, 1s, 2s, 4s, 8s with the default --restart-backoff).
func restartBackoff(first time.Duration, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 5 {
		n = 5
	}
	return first << (n - 1)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	role, args := os.Args[1], os.Args[2:]
	switch role {
	case "kube-apiserver":
		// Same body as upstream cmd/kube-apiserver/apiserver.go.
		command := apiserver.NewAPIServerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "kube-controller-manager":
		// Same body as upstream cmd/kube-controller-manager/controller-manager.go.
		command := controllermanager.NewControllerManagerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "up":
		os.Exit(up(args))
	case "version", "--version":
		fmt.Println(version.Get().GitVersion)
	default:
		fmt.Fprintf(os.Stderr, "drydock-cp: unknown role %q\n", role)
		usage()
		os.Exit(exitUsage)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  drydock-cp kube-apiserver ARGS...
  drydock-cp kube-controller-manager ARGS...
  drydock-cp up --dir DIR --port PORT [flags]   (drydock-cp up --help for the flags)
  drydock-cp version
`)
}

// upOptions are the flags of `up`.
type upOptions struct {
	dir                    string
	port                   int
	readyTimeout           time.Duration
	nodeMonitorGracePeriod time.Duration
	nodeMonitorPeriod      time.Duration
	nodeStartupGracePeriod time.Duration
	nodeEvictionRate       float64
	podEvictionToleration  time.Duration
	restartBackoff         time.Duration
	extraAPIServerArgs     multiFlag
	extraControllerMgrArgs multiFlag
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseUp(args []string) (*upOptions, error) {
	o := &upOptions{}
	fs := flag.NewFlagSet("drydock-cp up", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "", "state directory (PKI, etcd data, logs, kubeconfig); created if missing")
	fs.IntVar(&o.port, "port", 6443, "kube-apiserver secure port on 127.0.0.1")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 120*time.Second, "how long to wait for /readyz")
	fs.DurationVar(&o.nodeMonitorGracePeriod, "node-monitor-grace-period", 50*time.Second,
		"kube-controller-manager --node-monitor-grace-period: a node whose Lease is older is marked NotReady (upstream default 50s since 1.32)")
	fs.DurationVar(&o.nodeMonitorPeriod, "node-monitor-period", 5*time.Second,
		"kube-controller-manager --node-monitor-period: how often node health is checked")
	fs.DurationVar(&o.nodeStartupGracePeriod, "node-startup-grace-period", 60*time.Second,
		"kube-controller-manager --node-startup-grace-period: grace for a new node before it is marked unhealthy")
	fs.Float64Var(&o.nodeEvictionRate, "node-eviction-rate", 0.1,
		"kube-controller-manager --node-eviction-rate: nodes per second whose pods are evicted while the zone is healthy")
	fs.DurationVar(&o.podEvictionToleration, "pod-eviction-timeout", 300*time.Second,
		"kube-apiserver --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds: how long pods stay on a NotReady node before taint-based eviction (whole seconds)")
	fs.DurationVar(&o.restartBackoff, "restart-backoff", 500*time.Millisecond,
		"wait before restarting a component that exited; doubles with each restart within 2m, up to 16 times this")
	fs.Var(&o.extraAPIServerArgs, "apiserver-arg", "extra kube-apiserver flag, e.g. --apiserver-arg=--v=2 (repeatable)")
	fs.Var(&o.extraControllerMgrArgs, "controller-manager-arg", "extra kube-controller-manager flag (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.dir == "":
		return nil, errors.New("--dir is required")
	case o.port < 1 || o.port > 65535:
		return nil, fmt.Errorf("--port %d is not a TCP port (1-65535)", o.port)
	case o.readyTimeout <= 0:
		return nil, errors.New("--ready-timeout must be positive")
	case o.nodeMonitorGracePeriod <= 0 || o.nodeMonitorPeriod <= 0 || o.nodeStartupGracePeriod <= 0:
		return nil, errors.New("node monitor periods must be positive")
	case o.nodeEvictionRate <= 0 || math.IsNaN(o.nodeEvictionRate) || math.IsInf(o.nodeEvictionRate, 0):
		return nil, errors.New("--node-eviction-rate must be a positive number")
	case o.podEvictionToleration < 0 || o.podEvictionToleration%time.Second != 0:
		return nil, errors.New("--pod-eviction-timeout must be a non-negative whole number of seconds")
	case o.restartBackoff < 0:
		return nil, errors.New("--restart-backoff must not be negative")
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, err
	}
	o.dir = dir
	return o, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s drydock-cp: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// up starts etcd, kube-apiserver and kube-controller-manager and blocks until SIGTERM/SIGINT,
// restarting a child that exits (see supervisor); it gives up when one keeps crashing
// (real-cluster.md §2.4).
func up(args []string) int {
	o, err := parseUp(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(os.Stderr, "drydock-cp up: %v\n", err)
		return exitUsage
	}
	// Refuse a taken port before doing anything else.
	if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port))); err != nil {
		fmt.Fprintf(os.Stderr, "drydock-cp up: port %d on 127.0.0.1 is in use (%v); pick another with --port\n", o.port, err)
		return exitPortInUse
	} else {
		_ = l.Close()
	}

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	logs := filepath.Join(o.dir, "logs")
	for _, d := range []string{o.dir, logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			logf("create %s: %v", d, err)
			return exitFailure
		}
	}
	// A stale kubeconfig from an earlier run must not be mistaken for readiness.
	kubeconfig := filepath.Join(o.dir, "kubeconfig")
	if err := os.Remove(kubeconfig); err != nil && !errors.Is(err, os.ErrNotExist) {
		logf("remove stale %s: %v", kubeconfig, err)
		return exitFailure
	}

	p, err := ensurePKI(filepath.Join(o.dir, "pki"))
	if err != nil {
		logf("PKI: %v", err)
		return exitFailure
	}
	logf("PKI in %s", p.dir)

	etcd, etcdURL, err := startEtcd(o.dir, logs)
	if err != nil {
		logf("etcd: %v", err)
		return exitFailure
	}
	defer etcd.Close()
	logf("etcd ready at %s (log %s)", etcdURL, filepath.Join(logs, "etcd.log"))

	self, err := os.Executable()
	if err != nil {
		logf("locate own executable: %v", err)
		return exitFailure
	}
	exited := make(chan childExit, 16)
	var children []*child
	stopAll := func() {
		for i := len(children) - 1; i >= 0; i-- {
			children[i].stop(20 * time.Second)
		}
	}

	apiserverArgs := append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(o.port),
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--tls-cert-file=" + p.path("apiserver.crt"),
		"--tls-private-key-file=" + p.path("apiserver.key"),
		"--client-ca-file=" + p.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.path("sa.key"),
		"--service-account-signing-key-file=" + p.path("sa.key"),
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--max-requests-inflight=0",
		"--max-mutating-requests-inflight=0",
		"--enable-priority-and-fairness=false",
		"--default-not-ready-toleration-seconds=" + strconv.FormatInt(int64(o.podEvictionToleration/time.Second), 10),
		"--default-unreachable-toleration-seconds=" + strconv.FormatInt(int64(o.podEvictionToleration/time.Second), 10),
		"--profiling=false",
	}, o.extraAPIServerArgs...)
	api, err := startChild(self, "kube-apiserver", apiserverArgs, logs, exited)
	if err != nil {
		logf("%v", err)
		return exitFailure
	}
	children = append(children, api)
	logf("kube-apiserver started, pid %d (log %s)", api.cmd.Process.Pid, api.logPath)

	ctx, cancel := context.WithTimeout(context.Background(), o.readyTimeout)
	err = waitReady(ctx, o.port, p, exited, signals)
	cancel()
	if err != nil {
		logf("kube-apiserver not ready: %v; see %s", err, api.logPath)
		stopAll()
		return exitFailure
	}
	logf("kube-apiserver ready on https://127.0.0.1:%d", o.port)

	kcmKubeconfig := filepath.Join(o.dir, "kcm.kubeconfig")
	if err := writeKubeconfig(kcmKubeconfig, o.port, p); err != nil {
		logf("%v", err)
		stopAll()
		return exitFailure
	}
	kcmArgs := append([]string{
		"--kubeconfig=" + kcmKubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--root-ca-file=" + p.path("ca.crt"),
		"--service-account-private-key-file=" + p.path("sa.key"),
		"--cluster-signing-cert-file=" + p.path("ca.crt"),
		"--cluster-signing-key-file=" + p.path("ca.key"),
		"--controllers=*",
		"--kube-api-qps=1000",
		"--kube-api-burst=2000",
		"--node-monitor-grace-period=" + o.nodeMonitorGracePeriod.String(),
		"--node-monitor-period=" + o.nodeMonitorPeriod.String(),
		"--node-startup-grace-period=" + o.nodeStartupGracePeriod.String(),
		"--node-eviction-rate=" + strconv.FormatFloat(o.nodeEvictionRate, 'g', -1, 64),
		// Otherwise it creates /usr/libexec/kubernetes/kubelet-plugins/volume/exec on the host.
		"--flex-volume-plugin-dir=" + filepath.Join(o.dir, "flexvolume"),
		"--profiling=false",
	}, o.extraControllerMgrArgs...)
	kcm, err := startChild(self, "kube-controller-manager", kcmArgs, logs, exited)
	if err != nil {
		logf("%v", err)
		stopAll()
		return exitFailure
	}
	children = append(children, kcm)
	logf("kube-controller-manager started, pid %d (log %s)", kcm.cmd.Process.Pid, kcm.logPath)

	// The kubeconfig appearing is the readiness signal for drydock's Rust side: write it last,
	// atomically.
	if err := writeKubeconfig(kubeconfig, o.port, p); err != nil {
		logf("%v", err)
		stopAll()
		return exitFailure
	}
	logf("ready: kubeconfig %s", kubeconfig)

	sup := &supervisor{
		self:     self,
		logs:     logs,
		exited:   exited,
		children: map[string]*child{"kube-apiserver": api, "kube-controller-manager": kcm},
		args:     map[string][]string{"kube-apiserver": apiserverArgs, "kube-controller-manager": kcmArgs},
		restarts: map[string][]time.Time{},
		backoff:  o.restartBackoff,
		state:    filepath.Join(o.dir, componentsFile),
	}
	sup.record()
	code := sup.run(signals)
	// The kubeconfig no longer points at a live server.
	_ = os.Remove(kubeconfig)
	// Stop in reverse start order: the controller-manager, then the API server.
	for _, name := range []string{"kube-controller-manager", "kube-apiserver"} {
		if c := sup.children[name]; c != nil {
			c.stop(20 * time.Second)
		}
	}
	_ = os.Remove(sup.state)
	logf("stopped")
	return code
}

// componentsFile is the file in the state directory that lists the running children (JSON,
// replaced atomically at every start and restart; removed when `up` stops).
const componentsFile = "components.json"

// componentState is one entry of componentsFile.
type componentState struct {
	Name string `json:"name"`
	// PID of the running process.
	PID int `json:"pid"`
	// Restarts since `up` started (0 for the first process).
	Restarts int `json:"restarts"`
	// When the current process started, in seconds since the Unix epoch.
	StartedUnix int64 `json:"started_unix"`
	// The log file, appended to by every process of this component.
	Log string `json:"log"`
}

// supervisor restarts the children of `up` that exit, within limits.
type supervisor struct {
	self     string
	logs     string
	exited   chan childExit
	children map[string]*child
	args     map[string][]string
	// Times of recent restarts, per component (only those within restartWindow are kept).
	restarts map[string][]time.Time
	total    map[string]int
	backoff  time.Duration
	state    string
}

// run blocks until SIGTERM/SIGINT (exitOK) or a component that keeps crashing (exitFailure),
// restarting children that exit in between.
func (s *supervisor) run(signals <-chan os.Signal) int {
	for {
		select {
		case sig := <-signals:
			logf("%v received, stopping", sig)
			return exitOK
		case e := <-s.exited:
			c := s.children[e.name]
			if c == nil || c.id != e.id {
				continue // an earlier process of a component that was already restarted
			}
			now := time.Now()
			recent := s.restarts[e.name][:0]
			for _, t := range s.restarts[e.name] {
				if now.Sub(t) < restartWindow {
					recent = append(recent, t)
				}
			}
			s.restarts[e.name] = recent
			if len(recent) >= maxRestarts {
				logf("%s (pid %d) exited (%v) after %d restarts within %v; it keeps crashing, see %s; stopping the control plane",
					e.name, e.pid, e.err, len(recent), restartWindow, c.logPath)
				return exitFailure
			}
			wait := restartBackoff(s.backoff, len(recent)+1)
			logf("%s (pid %d) exited unexpectedly (%v); restarting it in %v with the same arguments (restart %d of at most %d within %v; log %s)",
				e.name, e.pid, e.err, wait, len(recent)+1, maxRestarts, restartWindow, c.logPath)
			select {
			case sig := <-signals:
				logf("%v received, stopping", sig)
				return exitOK
			case <-time.After(wait):
			}
			n, err := startChild(s.self, e.name, s.args[e.name], s.logs, s.exited)
			if err != nil {
				logf("restart %s: %v; stopping the control plane", e.name, err)
				s.children[e.name] = nil
				return exitFailure
			}
			s.restarts[e.name] = append(s.restarts[e.name], now)
			if s.total == nil {
				s.total = map[string]int{}
			}
			s.total[e.name]++
			s.children[e.name] = n
			logf("%s restarted, pid %d", e.name, n.cmd.Process.Pid)
			s.record()
		}
	}
}

// record writes componentsFile atomically (write, then rename); failures are logged only.
func (s *supervisor) record() {
	var list []componentState
	for _, name := range []string{"kube-apiserver", "kube-controller-manager"} {
		c := s.children[name]
		if c == nil {
			continue
		}
		list = append(list, componentState{
			Name: name, PID: c.cmd.Process.Pid, Restarts: s.total[name],
			StartedUnix: c.startedAt.Unix(), Log: c.logPath,
		})
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		logf("encode %s: %v", s.state, err)
		return
	}
	tmp := s.state + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		logf("write %s: %v", tmp, err)
		return
	}
	if err := os.Rename(tmp, s.state); err != nil {
		logf("rename %s: %v", tmp, err)
	}
}

// --- PKI ---------------------------------------------------------------------------------

type pki struct{ dir string }

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

// ensurePKI creates, if D/pki/ca.crt is missing, a CA, a serving certificate for 127.0.0.1,
// an admin client certificate (CN drydock-admin, O system:masters) and a service-account key.
func ensurePKI(dir string) (pki, error) {
	p := pki{dir: dir}
	complete := true
	for _, f := range []string{"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key", "sa.key"} {
		if _, err := os.Stat(p.path(f)); err != nil {
			complete = false
		}
	}
	if complete {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	caCert, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "drydock-ca"}, caKey)
	if err != nil {
		return p, err
	}
	if err := writePair(p, "ca", caCert, caKey); err != nil {
		return p, err
	}
	serving := x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if err := signPair(p, "apiserver", &serving, caCert, caKey); err != nil {
		return p, err
	}
	admin := x509.Certificate{
		Subject:     pkix.Name{CommonName: "drydock-admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := signPair(p, "admin", &admin, caCert, caKey); err != nil {
		return p, err
	}
	saKey, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return p, err
	}
	return p, keyutil.WriteKey(p.path("sa.key"), saKey)
}

func signPair(p pki, name string, tmpl *x509.Certificate, ca *x509.Certificate, caKey crypto.Signer) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(10 * 365 * 24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("sign %s certificate: %w", name, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	return writePair(p, name, c, key)
}

func writePair(p pki, name string, c *x509.Certificate, key crypto.PrivateKey) error {
	certPEM, err := cert.EncodeCertificates(c)
	if err != nil {
		return err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	if err := keyutil.WriteKey(p.path(name+".key"), keyPEM); err != nil {
		return err
	}
	return cert.WriteCert(p.path(name+".crt"), certPEM)
}

// --- etcd --------------------------------------------------------------------------------

// freePorts returns n distinct free ports on 127.0.0.1 (all listeners are held until every
// port is chosen, so the same port is never returned twice).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startEtcd starts an embedded single-member etcd with its data in dir/etcd, on free loopback
// ports, without fsync (CI speed; the data is disposable). Another process may take a chosen
// port before etcd binds it, so it tries up to three times.
func startEtcd(dir, logs string) (e *embed.Etcd, clientURL string, err error) {
	for range 3 {
		e, clientURL, err = startEtcdOnce(dir, logs)
		if err == nil || !(errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")) {
			return e, clientURL, err
		}
		logf("etcd: %v; retrying with other ports", err)
	}
	return e, clientURL, err
}

func startEtcdOnce(dir, logs string) (*embed.Etcd, string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, "", err
	}
	clientPort, peerPort := ports[0], ports[1]
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
	cfg := embed.NewConfig()
	cfg.Name = "drydock"
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.UnsafeNoFsync = true
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error" // "warn" logs every request's stats
	cfg.LogOutputs = []string{filepath.Join(logs, "etcd.log")}
	// An earlier run's data has a member bound to other peer ports: start afresh each time.
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return nil, "", err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("not ready after 60s")
	}
	return e, clientURL.String(), nil
}

// --- children ----------------------------------------------------------------------------

type child struct {
	name      string
	id        uint64 // distinguishes the processes of one component across restarts
	cmd       *exec.Cmd
	logPath   string
	startedAt time.Time
	done      chan struct{}
}

type childExit struct {
	name string
	id   uint64
	pid  int
	err  error
}

// childIDs numbers the children started, so an exit is matched to the process it concerns.
var childIDs atomic.Uint64

func startChild(self, role string, args []string, logs string, exited chan<- childExit) (*child, error) {
	logPath := filepath.Join(logs, role+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{role}, args...)...)
	cmd.Stdout = f
	cmd.Stderr = f
	// If drydock-cp itself dies without stopping its children, the kernel stops them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	c := &child{name: role, id: childIDs.Add(1), cmd: cmd, logPath: logPath, startedAt: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = f.Close()
		close(c.done)
		// Never blocks the exit: `up` may have stopped reading (it is stopping everything).
		select {
		case exited <- childExit{name: role, id: c.id, pid: cmd.Process.Pid, err: err}:
		default:
			logf("%s (pid %d) exited (%v)", role, cmd.Process.Pid, err)
		}
	}()
	return c, nil
}

// stop sends SIGTERM, waits up to grace, then SIGKILL.
func (c *child) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		logf("%s did not stop within %v; killing it", c.name, grace)
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// --- readiness and kubeconfig ------------------------------------------------------------

func waitReady(ctx context.Context, port int, p pki, exited <-chan childExit, signals <-chan os.Signal) error {
	pool, err := cert.NewPool(p.path("ca.crt"))
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
		}},
	}
	readyz := fmt.Sprintf("https://127.0.0.1:%d/readyz", port)
	last := "no answer yet"
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out (last answer: %s)", last)
		case e := <-exited:
			return fmt.Errorf("%s exited (%v)", e.name, e.err)
		case s := <-signals:
			return fmt.Errorf("%v received", s)
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyz, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = resp.Status
	}
}

// writeKubeconfig writes a kubeconfig for the admin user atomically (write, then rename).
func writeKubeconfig(path string, port int, p pki) error {
	read := func(name string) ([]byte, error) { return os.ReadFile(p.path(name)) }
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read("admin.crt")
	if err != nil {
		return err
	}
	key, err := read("admin.key")
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["drydock"] = &clientcmdapi.Cluster{
		Server:                   fmt.Sprintf("https://127.0.0.1:%d", port),
		CertificateAuthorityData: ca,
	}
	cfg.AuthInfos["drydock-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts["drydock"] = &clientcmdapi.Context{Cluster: "drydock", AuthInfo: "drydock-admin", Namespace: "default"}
	cfg.CurrentContext = "drydock"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
