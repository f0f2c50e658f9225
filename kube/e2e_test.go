package kube_test

// End-to-end: `scalelab run` with backend: kubernetes on the test control plane
// (internal/k8stest), through the code path of the CLI (config.Load, experiments.Builder,
// RunExperiment).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	actuatorkube "github.com/scalelab/scalelab/actuators/kube"
	collectorkube "github.com/scalelab/scalelab/collectors/kube"
	"github.com/scalelab/scalelab/collectors/prometheus/promtest"
	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/internal/k8stest"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/kube"
	"github.com/scalelab/scalelab/policies/baselines"
	"github.com/scalelab/scalelab/policies/hpa"
	"github.com/scalelab/scalelab/rewards"
	"github.com/scalelab/scalelab/serve"
)

var env *k8stest.Env

func TestMain(m *testing.M) {
	os.Exit(k8stest.Main(m, k8stest.Options{HPASyncPeriod: time.Second}, &env))
}

// registry registers what `scalelab run` needs for a kubernetes experiment with baselines
// (as cmd/scalelab's newRegistry does for every component).
func registry() *framework.Registry {
	r := framework.NewRegistry()
	kube.Register(r)
	collectorkube.Register(r)
	actuatorkube.Register(r)
	actions.Register(r)
	rewards.Register(r)
	hpa.Register(r)
	baselines.Register(r)
	return r
}

// e2eConfig is a tiny real-cluster experiment: one constant profile, two policies (static
// at 3 replicas, and a threshold rule on the request rate that Prometheus reports), one
// repetition of 25 s each with decisions every 5 s, scalelab's load generator sending
// deterministic arrivals to the emulator.
const e2eConfig = `
experiment:
  name: e2e-kube
  seed: 5
  repetitions: 1
  profiles: [steady]
  duration: 25s
  warmup: 5s
  control_interval: 5s
  baseline: static
  workers: 1
  arrivals: deterministic
profiles:
  steady: {type: constant, rate: %[1]g}
backend:
  type: kubernetes
  kubeconfig: %[2]q
  namespace: %[3]q
  workload: {kind: Deployment, name: triton-mobilenetv4}
  steady_timeout: 60s
  pod_metrics: false
  feature_source: prometheus
  prometheus:
    address: %[4]q
    model: mobilenetv4
  load_generator: true
  load:
    url: %[5]q
    model: mobilenetv4
    payload: uint8
    shape: [3, 8, 8]
    metrics_addr: %[6]q
workload: {min_replicas: 1, max_replicas: 4, initial_replicas: 1}
slo: {latency: 50ms, client_timeout: 1s}
state:
  features: [request_rate, p95_latency_ms, queue_length, cpu_util, replicas_desired, replicas_ready]
  window: 10s
action: {type: replica_delta, max_step: 1}
reward:
  terms:
    latency: {weight: 1.0, shape: hinge, quantile: 0.95}
    replica_cost: {weight: 0.3}
guardrails: {max_step: 1, up_cooldown: 0s, down_cooldown: 0s}
fallback: {type: hold, deadline: 1s, max_consecutive_failures: 5}
policies:
  static:
    type: static
    replicas: 3
  threshold:
    type: threshold
    feature: request_rate
    upper: %[7]g
    lower: 1
    up_cooldown: 4s
    down_cooldown: 4s
    period: 5s
`

// TestRunExperimentOnKubernetes runs `scalelab run` with backend: kubernetes end to end on
// the test control plane: a kwok node with 4 GPUs and the Triton Deployment; `scalelab
// serve` as the inference endpoint the load generator hits (kwok's pods do not serve);
// a real Prometheus scraping the emulator and the load generator. Both runs must be
// written (kpis.json, run.json, trajectory.csv), with the load generator's request count
// matching the profile over the measured time and latency quantiles measured; the
// actuator's scale actions must show on the Deployment: Reset to 1 replica, static's 3,
// and threshold's scale-ups driven by the request rate read through Prometheus.
func TestRunExperimentOnKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("70-second end-to-end run on the test control plane")
	}
	e := k8stest.Require(t, env)
	promtest.Require(t)
	realtimetest.Exclusive(t)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node := "gpu-" + ns
	if _, err := e.AddNode(ctx, node, k8stest.NodeOptions{GPUs: 4, Labels: map[string]string{"scalelab.test/pool": ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteNode(context.Background(), node) })
	labels := map[string]string{"app.kubernetes.io/name": "triton"}
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "triton-mobilenetv4", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{"scalelab.test/pool": ns},
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{Name: "triton", Image: "nvcr.io/nvidia/tritonserver:25.01-py3",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), kube.GPUResource: resource.MustParse("1")},
							Limits:   corev1.ResourceList{kube.GPUResource: resource.MustParse("1")},
						}}},
				},
			},
		},
	}
	if _, err := e.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := watchReplicas(ctx, t, e, ns, d.Name)

	// The emulator: the workload's inference endpoint and Triton's, DCGM's, cAdvisor's and
	// kube-state-metrics' series for one pod, as the stack would scrape them.
	scfg := serve.Defaults()
	scfg.InputShape, scfg.MetricsAddr, scfg.Namespace, scfg.Pod, scfg.Node = []int64{3, 8, 8}, "", ns, "triton-mobilenetv4-emulated", node
	srv, err := serve.New(scfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	sl := promtest.Listen(t)
	go func() { _ = srv.Serve(ctx, sl, nil) }()
	// The load generator's metrics server starts with the first run: a free port now.
	ll := promtest.Listen(t)
	lgAddr := ll.Addr().String()
	ll.Close()
	prom := promtest.Start(t, time.Second,
		promtest.Job{Name: "triton", Target: sl.Addr().String(), HonorLabels: true},
		promtest.Job{Name: "loadgen", Target: lgAddr, Optional: true})

	const rps, upper = 40.0, 20.0
	dir := t.TempDir()
	path := filepath.Join(dir, "e2e.yaml")
	text := fmt.Sprintf(e2eConfig, rps, e.Kubeconfig, ns, prom.URL, "http://"+sl.Addr().String(), lgAddr, upper)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := registry()
	loaded, err := config.Load(path, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	b := &experiments.Builder{Loaded: loaded, Registry: reg, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	root := filepath.Join(dir, "results")
	start := time.Now()
	res, err := b.RunExperiment(ctx, experiments.Options{Root: root, Workers: 1, Version: "e2e"})
	if err != nil {
		t.Fatalf("RunExperiment: %v", err)
	}
	t.Logf("two 25-second runs took %v", time.Since(start).Round(time.Millisecond))
	if len(res.Outcomes) != 2 {
		t.Fatalf("%d runs, want 2", len(res.Outcomes))
	}

	for _, pol := range []string{"static", "threshold"} {
		run := filepath.Join(root, "runs", pol, "steady", "rep-0")
		for _, f := range []string{"kpis.json", "run.json", "trajectory.csv", "latency_cdf.csv"} {
			if _, err := os.Stat(filepath.Join(run, f)); err != nil {
				t.Errorf("%s: %v", pol, err)
			}
		}
		var k framework.KPIs
		raw, err := os.ReadFile(filepath.Join(run, "kpis.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &k); err != nil {
			t.Fatal(err)
		}
		var info experiments.RunInfo
		if raw, err := os.ReadFile(filepath.Join(run, "run.json")); err != nil || json.Unmarshal(raw, &info) != nil || info.Backend != kube.Type {
			t.Errorf("%s: run.json %+v (%v), want backend kubernetes", pol, info, err)
		}
		// Deterministic arrivals at 40 req/s over the measured 20 s (25 s less the 5 s
		// warm-up): 800 requests; allow 5 % for the wall-clock edges of the windows.
		want := rps * k.MeasuredSeconds
		if k.MeasuredSeconds < 19 || k.MeasuredSeconds > 22 || float64(k.Arrivals) < 0.95*want || float64(k.Arrivals) > 1.05*want {
			t.Errorf("%s: %d arrivals over %.2f s measured, want %.0f ± 5 %%", pol, k.Arrivals, k.MeasuredSeconds, want)
		}
		if k.Completions < k.Arrivals*95/100 || k.Drops+k.Failures > k.Arrivals/100 {
			t.Errorf("%s: %d completions, %d drops, %d failures of %d arrivals", pol, k.Completions, k.Drops, k.Failures, k.Arrivals)
		}
		if !(k.P50LatencyMS > 0) || !(k.P95LatencyMS >= k.P50LatencyMS) || !(k.P99LatencyMS >= k.P95LatencyMS) || k.P99LatencyMS > 1000 {
			t.Errorf("%s: latency p50 %v, p95 %v, p99 %v ms, want 0 < p50 ≤ p95 ≤ p99 < 1 s", pol, k.P50LatencyMS, k.P95LatencyMS, k.P99LatencyMS)
		}
		if !(k.MeanReplicas >= 1) || k.MeanReplicas > 4 || !(k.GPUSeconds > 0) {
			t.Errorf("%s: mean replicas %v, GPU-seconds %v", pol, k.MeanReplicas, k.GPUSeconds)
		}
		t.Logf("%-9s arrivals %d over %.1f s, p50 %.2f ms, p95 %.2f ms, mean replicas %.2f, CPU util %.3f",
			pol, k.Arrivals, k.MeasuredSeconds, k.P50LatencyMS, k.P95LatencyMS, k.MeanReplicas, k.CPUUtil)
	}

	// The scale actions on the Deployment: static's Reset to 1 and its 3; threshold's
	// Reset to 1, then scale-ups as Prometheus reports 40 req/s over the threshold of 20.
	seen := replicas()
	t.Logf("Deployment spec.replicas over the experiment: %v", seen)
	idx := func(from, v int) int {
		for i := from; i < len(seen); i++ {
			if seen[i] == v {
				return i
			}
		}
		return -1
	}
	s3 := idx(0, 3)
	if s3 < 0 {
		t.Fatalf("static's 3 replicas never set: %v", seen)
	}
	r1 := idx(s3, 1)
	if r1 < 0 {
		t.Fatalf("the threshold run's Reset to 1 replica never seen: %v", seen)
	}
	if idx(r1, 2) < 0 {
		t.Errorf("threshold never scaled up although the request rate (%v) exceeds %v: %v", rps, upper, seen)
	}
}

// watchReplicas records every distinct spec.replicas of the Deployment (in order) until
// ctx ends; the returned function reads them.
func watchReplicas(ctx context.Context, t *testing.T, e *k8stest.Env, ns, name string) func() []int {
	t.Helper()
	w, err := e.Client.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen []int
	)
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			if dep, ok := ev.Object.(*appsv1.Deployment); ok && dep.Spec.Replicas != nil {
				n := int(*dep.Spec.Replicas)
				mu.Lock()
				if len(seen) == 0 || seen[len(seen)-1] != n {
					seen = append(seen, n)
				}
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), seen...)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the run's logger).
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
