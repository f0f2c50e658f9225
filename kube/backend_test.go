package kube

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/loadgen"
	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

func fakeBackend(t *testing.T, clk *fakeClock, load LoadDriver, objs ...runtime.Object) *Backend {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Namespace, cfg.Workload.Name, cfg.FeatureSource = "ns", "m", FeatureSourceNone
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "ns"},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "m"}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, cfg, framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4, InitialReplicas: 1},
		Options{Client: fake.NewClientset(append([]runtime.Object{d}, objs...)...), Now: clk.Now, Load: load})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// The pod informer feeds the accounting: pods created after New are integrated from the
// moment the watcher sees them.
func TestBackendAccountsWatchedPods(t *testing.T) {
	clk := &fakeClock{t: t0}
	b := fakeBackend(t, clk, nil, mkPod("a", ready))
	b.Accounting().Cut()
	clk.Add(10 * time.Second)
	if _, err := b.Client().CoreV1().Pods("ns").Create(context.Background(), mkPod("b", ready), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.acct.Levels().Replicas != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("levels = %+v, want the new pod seen", b.acct.Levels())
		}
		time.Sleep(5 * time.Millisecond)
	}
	clk.Add(5 * time.Second)
	w := b.Accounting().Cut()
	// 1 pod for 10 s, then 2 for 5 s: 20 replica-seconds, 20 GPU-seconds, 10 CPU core-seconds.
	if w.Totals.ReplicaSeconds != 20 || w.Totals.GPUSeconds != 20 || w.Totals.CPURequestSeconds != 10 {
		t.Errorf("totals = %+v", w.Totals)
	}
}

// Advance keeps decisions on the Reset + k·Δ grid: time spent acting is not added to the
// interval, and an overrun returns at once.
func TestBackendAdvanceKeepsTheGrid(t *testing.T) {
	clk := &fakeClock{t: t0}
	b := fakeBackend(t, clk, nil)
	b.Attach(true)
	if err := b.Reset(context.Background(), framework.Episode{}); err != nil {
		t.Fatal(err)
	}
	// Acting took 20 s: the 15 s step is overdue, Advance returns at once.
	clk.Add(20 * time.Second)
	start := time.Now()
	if err := b.Advance(context.Background(), 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("an overdue Advance waited %v", time.Since(start))
	}
	// The next decision time is t0 + 30 s: 10 s ahead of the clock, so Advance waits (it
	// returns only when the context ends).
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Advance(ctx, 15*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Advance before the next decision time = %v, want it to wait", err)
	}
	if err := b.Advance(context.Background(), -time.Second); err == nil {
		t.Error("a negative Advance was accepted")
	}
}

// Attached, Reset writes nothing: no HPA removal, no scaling, even with a foreign HPA.
func TestBackendAttachWritesNothing(t *testing.T) {
	min := int32(1)
	foreign := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "ns"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "m"},
			MinReplicas: &min, MaxReplicas: 3},
	}
	clk := &fakeClock{t: t0}
	b := fakeBackend(t, clk, nil, foreign)
	// Not attached: the foreign HPA blocks setting the initial replicas.
	if err := b.Reset(context.Background(), framework.Episode{InitialReplicas: 1}); !errors.Is(err, ErrHPAConflict) {
		t.Fatalf("Reset = %v, want ErrHPAConflict", err)
	}
	b.Attach(true)
	cs := b.Client().(*fake.Clientset)
	cs.ClearActions()
	if err := b.Reset(context.Background(), framework.Episode{InitialReplicas: 1}); err != nil {
		t.Fatal(err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("attached Reset wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if b.Episode() != 2 {
		t.Errorf("Episode() = %d after two Resets", b.Episode())
	}
}

func TestNewNeedsTheWorkload(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Namespace, cfg.FeatureSource = "ns", FeatureSourceNone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := New(ctx, cfg, framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 2}, Options{Client: fake.NewClientset()})
	if err == nil || !strings.Contains(err.Error(), "triton-mobilenetv4") {
		t.Fatalf("New without the Deployment = %v, want an error naming it", err)
	}
	cfg.Workload.Kind = "CronJob"
	if _, err := New(ctx, cfg, framework.WorkloadConfig{}, Options{Client: fake.NewClientset()}); err == nil || !strings.Contains(err.Error(), "workload.kind") {
		t.Fatalf("New with a bad kind = %v", err)
	}
}

// The loadgen driver sends an episode's load to a KServe v2 endpoint (scalelab serve)
// and its windows carry the client-side counts and latencies.
func TestLoadgenDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("sends real requests for about 2 s")
	}
	scfg := serve.Defaults()
	scfg.InputShape, scfg.MetricsAddr, scfg.Node = []int64{3, 8, 8}, "", "test"
	sc, err := sim.ScenarioFromMap(map[string]any{"base": sim.DefaultScenario})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.NewWithScenario(scfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); srv.Close() }()
	lc := loadgen.Defaults()
	lc.URL, lc.Shape, lc.Payload, lc.MetricsAddr = hs.URL, []int64{3, 8, 8}, loadgen.PayloadUINT8, "127.0.0.1:0"
	d, err := NewLoadgenDriver(lc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ep := framework.Episode{Seed: 3, Duration: 10 * time.Second, SLO: 100 * time.Millisecond, ClientTimeout: time.Second,
		Load: load.Load{Name: "c", Profile: load.Constant{RPS: 50}, Arrivals: load.Arrivals{Kind: load.Deterministic}}}
	if err := d.Start(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	d.Cut()
	time.Sleep(1500 * time.Millisecond)
	w := d.Cut()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	// 50 req/s deterministic over ≈ 1.5 s: about 75 arrivals; allow for a loaded machine.
	secs := w.Duration().Seconds()
	if w.Totals.Arrivals < int64(50*secs*0.5) || w.Totals.Completions == 0 || w.Latency.Count() != w.Totals.Completions {
		t.Errorf("window over %.2f s: %+v, %d latencies", secs, w.Totals, w.Latency.Count())
	}
	// A stopped driver's window is empty but well formed.
	if d.Stop() != nil {
		t.Error("second Stop failed")
	}
}

// waitSteadyAsync runs WaitSteady in the background and returns its result channel.
func waitSteadyAsync(b *Backend, n int, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.WaitSteady(context.Background(), n, timeout) }()
	return done
}

// waitLevels waits until the backend's watcher has seen a pod set of n pods.
func waitPods(t *testing.T, b *Backend, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(b.Watcher().Pods()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("watcher sees %d pods, want %d", len(b.Watcher().Pods()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An Unschedulable verdict given before a pod of the workload released its GPU is not
// trusted: the scheduler retries such a pod and may bind it a moment later. WaitSteady
// returns once the pod has changed (here: bound and Ready), or once the reschedule window
// has passed with the pod unchanged (the scheduler's retry failed again).
func TestWaitSteadyDistrustsVerdictsBeforeARelease(t *testing.T) {
	defer func(w time.Duration) { rescheduleWindow = w }(rescheduleWindow)
	rescheduleWindow = 400 * time.Millisecond
	ctx := context.Background()
	for _, binds := range []bool{true, false} {
		t.Run(map[bool]string{true: "pod bound after the release", false: "retry fails again"}[binds], func(t *testing.T) {
			clk := &fakeClock{t: t0}
			// Two replicas desired: a is Ready, b Ready but terminating (it holds its GPU), c
			// was marked Unschedulable while b held the GPU.
			b := fakeBackend(t, clk, nil, mkPod("a", ready), mkPod("b", ready, deleting), mkPod("c", unschedulable))
			waitPods(t, b, 3)
			done := waitSteadyAsync(b, 2, 10*time.Second)
			pods := b.Client().CoreV1().Pods("ns")
			// b is gone: its GPU is free. a Ready and c Unschedulable look steady, but c's
			// verdict predates the release.
			if err := pods.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			waitPods(t, b, 2)
			start := time.Now()
			select {
			case err := <-done:
				t.Fatalf("WaitSteady returned (%v) on a verdict given before the release", err)
			case <-time.After(100 * time.Millisecond):
			}
			if n, _ := b.Watcher().StaleVerdicts(b.Watcher().Pods()); n != 1 {
				t.Errorf("StaleVerdicts = %d, want 1 (c)", n)
			}
			if binds {
				// The scheduler retries c and binds it; kwok (here: the test) makes it Ready.
				c := mkPod("c", ready)
				c.ResourceVersion = "2"
				if _, err := pods.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if rc := Counts(b.Watcher().Pods(), 2); rc.Ready != 2 {
					t.Errorf("after WaitSteady: %+v, want 2 ready", rc)
				}
				return
			}
			// Nothing changes: the verdict stands once the window has passed.
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if waited := time.Since(start); waited < 250*time.Millisecond {
				t.Errorf("WaitSteady trusted the unchanged verdict after %v, before the %v window", waited, rescheduleWindow)
			}
		})
	}
}
