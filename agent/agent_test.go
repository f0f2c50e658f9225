package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	sigsyaml "sigs.k8s.io/yaml"

	actuatorkube "github.com/scalelab/scalelab/actuators/kube"
	actuatorsim "github.com/scalelab/scalelab/actuators/sim"
	collectorkube "github.com/scalelab/scalelab/collectors/kube"
	"github.com/scalelab/scalelab/collectors/prometheus/promtest"
	collectorsim "github.com/scalelab/scalelab/collectors/sim"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/internal/k8stest"
	"github.com/scalelab/scalelab/kube"
	"github.com/scalelab/scalelab/policies/baselines"
	"github.com/scalelab/scalelab/policies/hpa"
	"github.com/scalelab/scalelab/policies/ppo"
	"github.com/scalelab/scalelab/rewards"
	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

var env *k8stest.Env

func TestMain(m *testing.M) {
	os.Exit(k8stest.Main(m, k8stest.Options{HPASyncPeriod: time.Second}, &env))
}

// registry holds what deploy/agent/agent.yaml uses (cmd/scalelab registers the same).
func registry() *framework.Registry {
	r := framework.NewRegistry()
	kube.Register(r)
	collectorkube.Register(r)
	actuatorkube.Register(r)
	actions.Register(r)
	rewards.Register(r)
	hpa.Register(r)
	baselines.Register(r)
	ppo.Register(r)
	return r
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// workload creates the deploy/ stack's workload in a fresh namespace: a kwok node with 4
// GPUs and the Triton Deployment at the given replicas, and waits until they are Ready.
func workload(t *testing.T, replicas int32) (*k8stest.Env, string) {
	t.Helper()
	e := k8stest.Require(t, env)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := "gpu-" + ns
	if _, err := e.AddNode(ctx, node, k8stest.NodeOptions{GPUs: 4, Labels: map[string]string{"scalelab.test/pool": ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteNode(context.Background(), node) })
	labels := map[string]string{"app.kubernetes.io/name": "triton"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "triton-mobilenetv4", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"scalelab.test/pool": ns},
					Containers: []corev1.Container{{Name: "triton", Image: "nvcr.io/nvidia/tritonserver:25.01-py3",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), kube.GPUResource: resource.MustParse("1")},
							Limits:   corev1.ResourceList{kube.GPUResource: resource.MustParse("1")},
						}}},
				},
			},
		},
	}
	if _, err := e.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := e.Client.AppsV1().Deployments(ns).Get(ctx, d.Name, metav1.GetOptions{})
		if err == nil && got.Status.ReadyReplicas == replicas {
			return e, ns
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Deployment not ready: %v", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// emulatedTriton serves Triton's metric names for the workload's pod (scalelab serve) and
// a real Prometheus scraping it with the labels a ServiceMonitor would add.
func emulatedTriton(t *testing.T, ns string) string {
	t.Helper()
	cfg := serve.Defaults()
	cfg.Namespace, cfg.Pod, cfg.Addr, cfg.MetricsAddr = ns, "triton-mobilenetv4-emulated", "", ""
	srv, err := serve.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ln := promtest.Listen(t)
	hs := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	prom := promtest.Start(t, time.Second, promtest.Job{Name: "triton", Target: ln.Addr().String(),
		Labels: map[string]string{"namespace": ns, "pod": "triton-mobilenetv4-emulated"}, HonorLabels: true})
	return prom.URL
}

func configPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "deploy", "agent", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkpoint(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "configs", "checkpoints", "ppo-seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The shipped agent config (deploy/agent/agent.yaml) runs the seed experiment's PPO
// checkpoint against the test control plane and a real Prometheus, under --dry-run, for
// several decisions: it logs what it would do, serves its metrics, and changes nothing.
func TestAgentDryRunPPO(t *testing.T) {
	e, ns := workload(t, 2)
	promURL := emulatedTriton(t, ns)
	logs := &syncBuffer{}
	var addr string
	ready := make(chan struct{})
	o := Options{
		Config: configPath(t),
		Sets: []string{
			"backend.kubeconfig=" + e.Kubeconfig,
			"backend.namespace=" + ns,
			"backend.prometheus.address=" + promURL,
			"experiment.control_interval=1s",
			"policies.ppo.checkpoint=" + checkpoint(t),
		},
		Policy: "ppo", DryRun: true, Listen: "127.0.0.1:0", Decisions: 4,
		Registry: registry(),
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		Ready:    func(a string) { addr = a; close(ready) },
		Metrics:  NewMetrics("ppo"),
	}
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() { errc <- Run(ctx, o) }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("Run ended before serving: %v\n%s", err, logs.String())
	}
	// /healthz answers while the agent decides.
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, "http://"+addr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "scalelab_agent_leader") {
		t.Errorf("/metrics = %d, %d bytes", code, len(body))
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	// The metrics as /metrics served them, read after Run.
	srv := httptest.NewServer(o.Metrics.Handler(time.Now, time.Minute))
	defer srv.Close()
	_, metrics := get(t, srv.URL+"/metrics")
	out := logs.String()
	lines := regexp.MustCompile(`(?m)^.*msg="dry run: would [^"]+".*$`).FindAllString(out, -1)
	if len(lines) != 4 {
		t.Fatalf("%d dry-run decision lines, want 4; log:\n%s", len(lines), out)
	}
	for _, l := range lines {
		for _, want := range []string{"policy=ppo", "replicas=2", "ready=2", "obs=", "action=", "request_rate=", "replicas_desired=2"} {
			if !strings.Contains(l, want) {
				t.Errorf("decision line lacks %q: %s", want, l)
			}
		}
	}
	// Prometheus answered: the queue length from Triton's emulated metrics is a number.
	if !strings.Contains(lines[len(lines)-1], "queue_length=0") {
		t.Errorf("queue_length not observed through Prometheus: %s", lines[len(lines)-1])
	}
	for _, want := range []string{
		`scalelab_agent_decisions_total{policy="ppo"} 4`,
		`scalelab_agent_dry_run{policy="ppo"} 1`,
		`scalelab_agent_phase_duration_seconds_count{phase="observe",policy="ppo"}`,
		`scalelab_agent_phase_duration_seconds_count{phase="act",policy="ppo"} 4`,
		`scalelab_agent_phase_duration_seconds_count{phase="actuate",policy="ppo"} 4`,
		`scalelab_agent_reward{policy="ppo"}`,
		`scalelab_agent_reward_term{policy="ppo",term="replica_cost"}`,
		`scalelab_agent_replicas{policy="ppo",state="desired"} 2`,
		`scalelab_agent_feature_valid{feature="replicas_ready",policy="ppo"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	d, err := e.Client.AppsV1().Deployments(ns).Get(context.Background(), "triton-mobilenetv4", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 2 {
		t.Errorf("the Deployment changed under --dry-run: %v, %v", d.Spec.Replicas, err)
	}
	t.Logf("decisions:\n%s", strings.Join(lines, "\n"))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Two agents share the Lease: one decides while the other stands by, and the second takes
// over when the first is done and releases the Lease.
func TestAgentLeaderElection(t *testing.T) {
	e, ns := workload(t, 1)
	logs := &syncBuffer{}
	mk := func(id string) Options {
		return Options{
			Config: configPath(t),
			Sets: []string{
				"backend.kubeconfig=" + e.Kubeconfig, "backend.namespace=" + ns,
				"backend.feature_source=none", "experiment.control_interval=500ms",
				"policies.ppo.checkpoint=" + checkpoint(t),
			},
			Policy: "ppo", DryRun: true, Decisions: 2, LeaderElect: true, Identity: id,
			Registry: registry(), Logger: slog.New(slog.NewTextHandler(logs, nil)).With("agent", id),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 2)
	for _, id := range []string{"agent-a", "agent-b"} {
		go func() { errc <- Run(ctx, mk(id)) }()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v\n%s", err, logs.String())
		}
	}
	out := logs.String()
	leading := regexp.MustCompile(`msg="agent: leading".*identity=(agent-[ab])`).FindAllStringSubmatch(out, -1)
	if len(leading) != 2 || leading[0][1] == leading[1][1] {
		t.Fatalf("leaders %v, want each agent to lead once, one after the other; log:\n%s", leading, out)
	}
	// The first leader's decisions all come before the second's.
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^.*msg="dry run: would.* agent=(agent-[ab]).*$`).FindAllStringSubmatch(out, -1) {
		order = append(order, m[1])
	}
	want := []string{leading[0][1], leading[0][1], leading[1][1], leading[1][1]}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("decisions by %v, want %v; log:\n%s", order, want, out)
	}
	l, err := e.Client.CoordinationV1().Leases(ns).Get(context.Background(), "scalelab-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
		t.Errorf("lease still held by %q after both agents stopped (ReleaseOnCancel)", *l.Spec.HolderIdentity)
	}
}

// The HPA baseline in the agent: the actuator applies the policy's spec to the cluster and
// stands back; the cluster's HPA controller enforces it (here minReplicas 2 → the
// Deployment grows from 1 to 2) while the agent records what the policy recommends.
func TestAgentHPABaselineUsesTheClustersHPA(t *testing.T) {
	e, ns := workload(t, 1)
	logs := &syncBuffer{}
	// The shipped config with the spec's minReplicas raised to 2 (an embedded Kubernetes
	// object is edited in the file, not with --set).
	b, err := os.ReadFile(configPath(t))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "      minReplicas: 1\n", "      minReplicas: 2\n", 1)
	if text == string(b) {
		t.Fatal("deploy/agent/agent.yaml has no hpa minReplicas: 1 line")
	}
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Config: cfgPath,
		Sets: []string{
			"backend.kubeconfig=" + e.Kubeconfig, "backend.namespace=" + ns, "backend.feature_source=none",
			"policies.hpa.sync_period=1s", "policies.ppo.checkpoint=" + checkpoint(t),
		},
		Policy: "hpa", Decisions: 3, Registry: registry(), Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := Run(ctx, o); err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	out := logs.String()
	if !strings.Contains(out, "stands_back=true") || !strings.Contains(out, "applied the HPA baseline") {
		t.Errorf("the agent did not hand the HPA spec to the cluster; log:\n%s", out)
	}
	h, err := e.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "triton-mobilenetv4", metav1.GetOptions{})
	if err != nil || *h.Spec.MinReplicas != 2 || h.Labels[kube.ManagedByLabel] != kube.ManagedByValue {
		t.Fatalf("HPA = %+v, %v; want scalelab's HPA with minReplicas 2", h, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := e.Client.AppsV1().Deployments(ns).Get(ctx, "triton-mobilenetv4", metav1.GetOptions{})
		if err == nil && *d.Spec.Replicas == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster's HPA controller did not raise the replicas to 2")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SIGTERM (a cancelled context) ends the agent gracefully: Run returns nil promptly and
// the HTTP server stops.
func TestAgentGracefulShutdown(t *testing.T) {
	e, ns := workload(t, 1)
	var addr string
	ready := make(chan struct{})
	o := Options{
		Config: configPath(t),
		Sets: []string{"backend.kubeconfig=" + e.Kubeconfig, "backend.namespace=" + ns, "backend.feature_source=none",
			"experiment.control_interval=30s", "policies.ppo.checkpoint=" + checkpoint(t)},
		Policy: "ppo", DryRun: true, Listen: "127.0.0.1:0", Registry: registry(), Logger: slog.New(slog.DiscardHandler),
		Ready: func(a string) { addr = a; close(ready) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, o) }()
	<-ready
	time.Sleep(500 * time.Millisecond) // inside the first 30 s interval
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of the cancel")
	}
	t.Logf("stopped %v after the cancel", time.Since(start).Round(time.Millisecond))
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("/metrics still listening after shutdown")
	}
}

func TestChoosePolicy(t *testing.T) {
	cfg := framework.Config{Policies: map[string]framework.PolicyConfig{"ppo": {}, "hpa": {}}}
	if _, err := choosePolicy(cfg, ""); err == nil || !strings.Contains(err.Error(), "hpa, ppo") {
		t.Errorf("two policies, none chosen: %v", err)
	}
	if n, err := choosePolicy(cfg, "hpa"); n != "hpa" || err != nil {
		t.Errorf("choosePolicy(hpa) = %q, %v", n, err)
	}
	if _, err := choosePolicy(cfg, "kpa"); err == nil {
		t.Error("an unknown policy was accepted")
	}
	one := framework.Config{Policies: map[string]framework.PolicyConfig{"ppo": {}}}
	if n, err := choosePolicy(one, ""); n != "ppo" || err != nil {
		t.Errorf("the only policy: %q, %v", n, err)
	}
}

// The agent drives real clusters only: a simulator config is refused with a clear error.
func TestRunRejectsSimBackend(t *testing.T) {
	r := registry()
	sim.Register(r)
	collectorsim.Register(r)
	actuatorsim.Register(r)
	err := Run(context.Background(), Options{Config: filepath.Join("..", "configs", "seed.yaml"), Policy: "ppo", Registry: r, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "the agent drives a real cluster") {
		t.Fatalf("Run on configs/seed.yaml = %v, want a refusal of the sim backend", err)
	}
}

// restrictedKubeconfig creates deploy/agent/rbac.yaml's ServiceAccount, Role and
// RoleBinding in ns and returns a kubeconfig holding a token of that ServiceAccount: the
// agent then runs with exactly the permissions the manifest grants.
func restrictedKubeconfig(t *testing.T, e *k8stest.Env, ns string) string {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "agent", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("rbac.yaml has %d documents, want 3", len(docs))
	}
	var (
		sa   corev1.ServiceAccount
		role rbacv1.Role
		rb   rbacv1.RoleBinding
	)
	for i, obj := range []any{&sa, &role, &rb} {
		if err := sigsyaml.UnmarshalStrict([]byte(docs[i]), obj); err != nil {
			t.Fatalf("rbac.yaml document %d: %v", i, err)
		}
	}
	sa.Namespace, role.Namespace, rb.Namespace, rb.Subjects[0].Namespace = ns, ns, ns, ns
	if _, err := e.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.RbacV1().Roles(ns).Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.RbacV1().RoleBindings(ns).Create(ctx, &rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	exp := int64(3600)
	tok, err := e.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: e.APIServerURL, CertificateAuthorityData: e.Config.CAData}
	cfg.AuthInfos["agent"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts["agent"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "agent", Namespace: ns}
	cfg.CurrentContext = "agent"
	path := filepath.Join(t.TempDir(), "agent.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The RBAC of deploy/agent/rbac.yaml is enough for everything the agent does — leader
// election, watching the workload and its pods, scaling through the scale subresource,
// applying the HPA baseline — and nothing the agent does is forbidden.
func TestAgentRunsWithTheShippedRBAC(t *testing.T) {
	e, ns := workload(t, 1)
	kubeconfig := restrictedKubeconfig(t, e, ns)
	// The token cannot read outside its namespace (least privilege).
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing pods in another namespace: %v, want Forbidden", err)
	}
	logs := &syncBuffer{}
	for _, policy := range []string{"ppo", "hpa"} {
		o := Options{
			Config: configPath(t),
			Sets: []string{"backend.kubeconfig=" + kubeconfig, "backend.namespace=" + ns, "backend.feature_source=none",
				"experiment.control_interval=500ms", "policies.hpa.sync_period=500ms", "policies.ppo.checkpoint=" + checkpoint(t)},
			Policy: policy, Decisions: 2, LeaderElect: true, Identity: "agent-" + policy,
			Registry: registry(), Logger: slog.New(slog.NewTextHandler(logs, nil)),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := Run(ctx, o)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", policy, err, logs.String())
		}
	}
	out := logs.String()
	if strings.Contains(strings.ToLower(out), "forbidden") {
		t.Errorf("the agent hit a forbidden request:\n%s", out)
	}
	// PPO acted (no load: it scales down, but the workload is at its minimum of 1, so it
	// holds) and the HPA baseline's spec reached the cluster.
	if _, err := e.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), "triton-mobilenetv4", metav1.GetOptions{}); err != nil {
		t.Errorf("HPA baseline not applied with the shipped RBAC: %v", err)
	}
	if n := strings.Count(out, `msg="decision: `); n != 4 {
		t.Errorf("%d decisions, want 4 (2 per policy); log:\n%s", n, out)
	}
}
