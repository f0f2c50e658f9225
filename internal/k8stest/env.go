package k8stest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Versions of the components the harness runs. scripts/build-k8s-testenv.sh builds exactly
// these (a test keeps the two in step).
const (
	KubernetesVersion = "v1.36.3"
	EtcdVersion       = "v3.6.8"
	KwokVersion       = "v0.8.0"
)

// Binaries are the executables the harness needs in BinDir.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// ErrNoBinaries is returned by BinDir when the control plane has not been built.
var ErrNoBinaries = errors.New("the test control plane is not built: run scripts/build-k8s-testenv.sh (about 8 minutes the first time, cached afterwards)")

// CacheDir is the directory scripts/build-k8s-testenv.sh builds into:
// $SCALELAB_K8S_CACHE, else <user cache dir>/scalelab/k8s-<versions> (the user cache dir is
// $XDG_CACHE_HOME or ~/.cache on Linux).
func CacheDir() (string, error) {
	if d := os.Getenv("SCALELAB_K8S_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("k8stest: locate the user cache dir: %w", err)
	}
	return filepath.Join(base, "scalelab", "k8s-"+KubernetesVersion+"-etcd-"+EtcdVersion+"-kwok-"+KwokVersion), nil
}

// BinDir returns the directory holding the built binaries and kwok's stage files, or an
// error wrapping ErrNoBinaries naming what is missing.
func BinDir() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "bin")
	var missing []string
	for _, b := range Binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	stages, _ := filepath.Glob(filepath.Join(dir, "stages", "*.yaml"))
	if len(stages) == 0 {
		missing = append(missing, "stages/*.yaml")
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w (missing in %s: %s)", ErrNoBinaries, dir, strings.Join(missing, ", "))
	}
	return dir, nil
}

// Options configure a control plane.
type Options struct {
	// HPASyncPeriod is kube-controller-manager's --horizontal-pod-autoscaler-sync-period
	// (default 2 s, shortened from the real 15 s so HPA tests finish quickly).
	HPASyncPeriod time.Duration
	// Log receives the harness's progress lines (default: discarded). Component logs always
	// go to files under Env.Dir.
	Log io.Writer
}

// Env is a running control plane.
type Env struct {
	// Dir holds certificates, the kubeconfig, etcd's data and one log file per component.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig (group system:masters).
	Kubeconfig string
	// Config is the admin REST config.
	Config *rest.Config
	// Client is an admin clientset.
	Client kubernetes.Interface
	// APIServerURL is https://127.0.0.1:<port>.
	APIServerURL string

	bin   string
	log   io.Writer
	procs []*process
}

type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	err     error
}

// Start builds nothing: it runs etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok from BinDir on free loopback ports and returns once the API
// server is ready and the controllers and scheduler serve their health endpoints. Typical
// start-up takes 4–6 s. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if opts.HPASyncPeriod <= 0 {
		opts.HPASyncPeriod = 2 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dir, err := os.MkdirTemp("", "scalelab-k8s-")
	if err != nil {
		return nil, fmt.Errorf("k8stest: %w", err)
	}
	e := &Env{Dir: dir, bin: bin, log: opts.Log}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	started := time.Now()
	p, err := newPKI(dir)
	if err != nil {
		return nil, fmt.Errorf("k8stest: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, fmt.Errorf("k8stest: %w", err)
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	e.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	// etcd.
	if err := e.run("etcd",
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return nil, err
	}
	if err := e.waitHTTP(ctx, "etcd", etcdURL+"/health", nil); err != nil {
		return nil, err
	}

	// kube-apiserver.
	if err := e.run("kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+p.ServingCert,
		"--tls-private-key-file="+p.ServingKey,
		"--client-ca-file="+p.CACert,
		"--service-account-key-file="+p.SAPublic,
		"--service-account-signing-key-file="+p.SAPrivate,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=0",
	); err != nil {
		return nil, err
	}
	e.Config = &rest.Config{
		Host:            e.APIServerURL,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM, CertData: p.adminCertPEM, KeyData: p.adminKeyPEM},
		QPS:             200,
		Burst:           400,
	}
	if e.Client, err = kubernetes.NewForConfig(e.Config); err != nil {
		return nil, fmt.Errorf("k8stest: client: %w", err)
	}
	if err := e.waitAPIServer(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "k8stest: kube-apiserver ready at %s after %.1fs\n", e.APIServerURL, time.Since(started).Seconds())

	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(e.Kubeconfig, e.APIServerURL, p); err != nil {
		return nil, err
	}

	if err := e.run("kube-controller-manager",
		"--kubeconfig="+e.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(kcmPort),
		"--service-account-private-key-file="+p.SAPrivate,
		"--root-ca-file="+p.CACert,
		"--horizontal-pod-autoscaler-sync-period="+opts.HPASyncPeriod.String(),
		"--profiling=false",
		"--v=0",
	); err != nil {
		return nil, err
	}
	if err := e.run("kube-scheduler",
		"--kubeconfig="+e.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(schedPort),
		"--profiling=false",
		"--v=0",
	); err != nil {
		return nil, err
	}
	stages, err := filepath.Glob(filepath.Join(bin, "stages", "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("k8stest: %w", err)
	}
	stageFile, err := concatStages(dir, stages)
	if err != nil {
		return nil, err
	}
	if err := e.run("kwok",
		"--kubeconfig="+e.Kubeconfig,
		"--config="+stageFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--server-address=",
	); err != nil {
		return nil, err
	}
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback health probe of a test component
	if err := e.waitHTTP(ctx, "kube-controller-manager", "https://127.0.0.1:"+strconv.Itoa(kcmPort)+"/healthz", insecure); err != nil {
		return nil, err
	}
	if err := e.waitHTTP(ctx, "kube-scheduler", "https://127.0.0.1:"+strconv.Itoa(schedPort)+"/healthz", insecure); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "k8stest: control plane healthy after %.1fs (logs in %s)\n", time.Since(started).Seconds(), dir)
	return e, nil
}

// concatStages joins kwok's stage files into one multi-document YAML file.
func concatStages(dir string, files []string) (string, error) {
	var buf bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("k8stest: read kwok stage: %w", err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
		buf.WriteString("\n")
	}
	out := filepath.Join(dir, "kwok-stages.yaml")
	return out, writeFile(out, buf.Bytes())
}

func writeKubeconfig(path, server string, p *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["scalelab-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: p.adminCertPEM, ClientKeyData: p.adminKeyPEM}
	cfg.Contexts["scalelab-test"] = &clientcmdapi.Context{Cluster: "scalelab-test", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "scalelab-test"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("k8stest: write kubeconfig: %w", err)
	}
	return nil
}

// run starts one component with its output in <Dir>/<name>.log. The component is killed
// when the test process dies (Pdeathsig), so a crashed test leaves no orphans.
func (e *Env) run(name string, args ...string) error {
	logPath := filepath.Join(e.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("k8stest: %w", err)
	}
	cmd := exec.Command(filepath.Join(e.bin, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = e.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("k8stest: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	e.procs = append(e.procs, p)
	return nil
}

// exited returns an error when a started component has exited, with its log's tail.
func (e *Env) exited() error {
	for _, p := range e.procs {
		select {
		case <-p.done:
			return fmt.Errorf("k8stest: %s exited (%v); last log lines:\n%s", p.name, p.err, tail(p.logPath, 20))
		default:
		}
	}
	return nil
}

// Check returns an error when a component of the control plane has exited.
func (e *Env) Check() error { return e.exited() }

func (e *Env) waitHTTP(ctx context.Context, name, url string, c *http.Client) error {
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	var last error
	for {
		if err := e.exited(); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("k8stest: %w", err)
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("k8stest: %s not healthy: %w (last: %v); log tail:\n%s", name, ctx.Err(), last, e.logTail(name))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *Env) waitAPIServer(ctx context.Context) error {
	var last error
	for {
		if err := e.exited(); err != nil {
			return err
		}
		body, err := e.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("k8stest: kube-apiserver not ready: %w (last: %v); log tail:\n%s", ctx.Err(), last, e.logTail("kube-apiserver"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *Env) logTail(name string) string {
	return tail(filepath.Join(e.Dir, name+".log"), 20)
}

// LogTail returns the last n lines of a component's log (for failure messages).
func (e *Env) LogTail(component string, n int) string {
	return tail(filepath.Join(e.Dir, component+".log"), n)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop terminates the components in reverse start order (SIGTERM, then SIGKILL after 5 s)
// and removes Dir unless SCALELAB_K8S_KEEP=1.
func (e *Env) Stop() error {
	var errs []error
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
		p.logFile.Close()
	}
	e.procs = nil
	if os.Getenv("SCALELAB_K8S_KEEP") != "1" {
		if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, fmt.Errorf("k8stest: remove %s: %w", e.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
