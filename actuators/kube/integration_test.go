package kube

// Integration tests against a real control plane (internal/k8stest): kube-apiserver, etcd,
// the real Deployment, ReplicaSet and HPA controllers, kube-scheduler and kwok GPU nodes.
// They skip when the binaries are not built (outside CI); see scripts/build-k8s-testenv.sh.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	"k8s.io/client-go/util/retry"

	collectorkube "github.com/scalelab/scalelab/collectors/kube"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/internal/k8stest"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/kserve"
	kb "github.com/scalelab/scalelab/kube"
	"github.com/scalelab/scalelab/serve"
)

var env *k8stest.Env

func TestMain(m *testing.M) {
	os.Exit(k8stest.Main(m, k8stest.Options{HPASyncPeriod: time.Second}, &env))
}

// cluster is one test's namespace with a kwok GPU node of its own and a Deployment of
// pods requesting one nvidia.com/gpu each, pinned to that node.
type cluster struct {
	e    *k8stest.Env
	ns   string
	name string
}

func newCluster(t *testing.T, gpus int, replicas int32) *cluster {
	t.Helper()
	e := k8stest.Require(t, env)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := "gpu-" + ns
	if _, err := e.AddNode(ctx, node, k8stest.NodeOptions{GPUs: gpus, Labels: map[string]string{"scalelab.test/pool": ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteNode(context.Background(), node) })
	labels := map[string]string{"app": "triton-mobilenetv4"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "triton-mobilenetv4", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{"scalelab.test/pool": ns},
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{
						Name:  "triton",
						Image: "nvcr.io/nvidia/tritonserver:25.01-py3",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi"), kb.GPUResource: resource.MustParse("1")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), kb.GPUResource: resource.MustParse("1")},
						},
					}},
				},
			},
		},
	}
	if _, err := e.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait for the initial pods to run, so each test starts from a settled workload.
	// (k8stest.AddNode returns only once the node has lost the not-ready taint the API
	// server gives new nodes: before, pods created at once were marked Unschedulable for a
	// moment, which a test of pending pods took for the GPUs being full.)
	for {
		pods, err := e.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for i := range pods.Items {
			if ok, _ := kb.PodReady(&pods.Items[i]); ok {
				ready++
			}
		}
		if ready >= int(min(replicas, int32(gpus))) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d initial pods ready on node %s: %v", ready, replicas, node, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return &cluster{e: e, ns: ns, name: d.Name}
}

func (c *cluster) actuator(t *testing.T, mut ...func(*Options)) *Actuator {
	t.Helper()
	o := Options{Namespace: c.ns, Workload: kb.WorkloadRef{Kind: kb.KindDeployment, Name: c.name}, MinReplicas: 1, MaxReplicas: 8,
		FieldManager: "scalelab", Triton: kb.TritonConfig{Port: 8000, Timeout: time.Second}}
	for _, m := range mut {
		m(&o)
	}
	a, err := New(c.e.Client, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (c *cluster) backend(t *testing.T, mut ...func(*kb.Config)) *kb.Backend {
	t.Helper()
	cfg := kb.DefaultConfig()
	cfg.Namespace, cfg.Workload.Name, cfg.FeatureSource, cfg.SteadyTimeout = c.ns, c.name, kb.FeatureSourceNone, 60*time.Second
	for _, m := range mut {
		m(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := kb.New(ctx, cfg, framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 8, InitialReplicas: 1}, kb.Options{Client: c.e.Client, REST: c.e.Config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func (c *cluster) desired(t *testing.T) int32 {
	t.Helper()
	d, err := c.e.Client.AppsV1().Deployments(c.ns).Get(context.Background(), c.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// waitFor polls cond every 100 ms for up to timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// The actuator scales a GPU Deployment through the scale subresource on a real API server;
// the real controllers create pods, the real scheduler binds them to the kwok node until
// its 4 GPUs are used, and the pods beyond stay Pending — which the collector reports.
func TestIntegrationScaleGPUDeployment(t *testing.T) {
	c := newCluster(t, 4, 1)
	b := c.backend(t)
	col, err := collectorkube.New(b, collectorkube.Options{
		Features:    []framework.FeatureSpec{{Name: "replicas_desired"}, {Name: "replicas_ready"}, {Name: "replicas_pending"}},
		MinReplicas: 1, MaxReplicas: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	a := c.actuator(t)
	ctx := context.Background()
	for _, step := range []struct{ replicas, ready, pending int }{
		{3, 3, 0},
		{6, 4, 2}, // the node has 4 nvidia.com/gpu
		{2, 2, 0},
	} {
		ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(step.replicas)})
		if err != nil {
			t.Fatal(err)
		}
		if ap.Replicas != step.replicas || !ap.Changed {
			t.Fatalf("Applied = %+v, want %d replicas", ap, step.replicas)
		}
		var obs framework.Observation
		waitFor(t, 30*time.Second, "collector sees the scaled workload", func(ctx context.Context) (bool, error) {
			obs, err = col.Collect(ctx)
			if err != nil {
				return false, err
			}
			rc := obs.Cluster.Replicas
			return rc.Desired == step.replicas && rc.Ready == step.ready && rc.Pending == step.pending && rc.Starting == 0 && rc.Terminating == 0 &&
				len(obs.Cluster.Pods) == step.replicas, nil
		})
		want := []float64{float64(step.replicas), float64(step.ready), float64(step.pending)}
		for i, w := range want {
			if !obs.Valid[i] || obs.Values[i] != w {
				t.Errorf("%d replicas: feature %d = %v (valid %v), want %v", step.replicas, i, obs.Values[i], obs.Valid[i], w)
			}
		}
		if step.pending > 0 {
			pendingSeen := 0
			for _, p := range obs.Cluster.Pods {
				if p.Phase == framework.PodPending && !p.Ready && p.StartTime.IsZero() {
					pendingSeen++
				}
			}
			if pendingSeen != step.pending {
				t.Errorf("%d Pending pods in the view, want %d: %+v", pendingSeen, step.pending, obs.Cluster.Pods)
			}
		}
		for _, p := range obs.Cluster.Pods {
			if p.Ready && (p.ReadyTransition.IsZero() || p.StartTime.IsZero() || p.CPURequestMilli != 500) {
				t.Errorf("ready pod %+v lacks its transition time, start time or CPU request", p)
			}
		}
	}
}

// The actuator creates an HPA and patches it with autoscaling/v2 merge patches; the
// cluster's HPA controller then enforces the new bounds (with no metrics API it only
// enforces min and max).
func TestIntegrationPatchHPA(t *testing.T) {
	c := newCluster(t, 8, 5)
	a := c.actuator(t, func(o *Options) { o.ManageHPA = true; o.MinReplicas, o.MaxReplicas = 1, 5 })
	ctx := context.Background()
	ap, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(50)})
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Changed {
		t.Fatalf("Applied = %+v, want the HPA created", ap)
	}
	if ap, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(80)}); err != nil || !ap.Changed {
		t.Fatalf("retarget: %+v, %v", ap, err)
	}
	max := int32(4)
	if ch, err := a.Target().PatchHPA(ctx, c.name, kb.HPAPatch{MaxReplicas: &max}); err != nil || !ch {
		t.Fatalf("PatchHPA max 4: changed %v, %v", ch, err)
	}
	h, err := c.e.Client.AutoscalingV2().HorizontalPodAutoscalers(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kb.CPUTarget(h) != 80 || h.Spec.MaxReplicas != 4 || *h.Spec.MinReplicas != 1 {
		t.Errorf("HPA spec = %+v, want CPU 80 %%, replicas 1–4", h.Spec)
	}
	waitFor(t, 30*time.Second, "the HPA controller scales 5 → 4", func(context.Context) (bool, error) { return c.desired(t) == 4, nil })
}

// A conflict is forced on the real API server: between the actuator's read of the scale
// subresource and its write, another client updates the Deployment, so the write carries a
// stale resourceVersion and the server answers 409; the actuator reads again and succeeds.
func TestIntegrationConflictRetry(t *testing.T) {
	c := newCluster(t, 4, 1)
	a := c.actuator(t)
	ctx := context.Background()
	racer := &racingClient{Interface: c.e.Client, races: 2, t: t}
	a.t.Client = racer
	ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(3)})
	if err != nil {
		t.Fatal(err)
	}
	if ap.Replicas != 3 || c.desired(t) != 3 {
		t.Errorf("Applied %+v, Deployment at %d; want 3", ap, c.desired(t))
	}
	// At least the two forced conflicts; the Deployment controller's own status writes
	// may add more, as on any busy cluster.
	if a.Conflicts() < 2 || racer.raced != 2 {
		t.Errorf("Conflicts() = %d after %d competing writes, want ≥ 2 after 2", a.Conflicts(), racer.raced)
	}
	d, err := c.e.Client.AppsV1().Deployments(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil || d.Annotations["competitor"] != "2" {
		t.Errorf("the competitor's writes were lost: annotations %v, %v", d.Annotations, err)
	}
}

// Server-side dry run: the API server validates the writes (a scale, an HPA, a template
// patch) and persists none of them.
func TestIntegrationDryRun(t *testing.T) {
	c := newCluster(t, 4, 1)
	a := c.actuator(t, func(o *Options) { o.DryRun, o.ManageHPA, o.CPUResize = true, true, kb.CPUResizeRolling })
	ctx := context.Background()
	ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(3)})
	if err != nil {
		t.Fatal(err)
	}
	if !ap.DryRun || ap.Replicas != 1 {
		t.Errorf("Applied = %+v, want a dry run at 1 replica", ap)
	}
	if ap, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(60), CPURequestMilli: framework.Int64Ptr(900)}); err != nil || !ap.DryRun {
		t.Fatalf("dry-run HPA and CPU: %+v, %v", ap, err)
	}
	// An invalid write is still rejected by the server under dry run (validation runs).
	if _, err := a.Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(3000)}); err == nil {
		t.Error("a CPU request above the 2-core limit passed server-side dry run")
	}
	time.Sleep(500 * time.Millisecond) // let any (wrongly) persisted change surface
	d, err := c.e.Client.AppsV1().Deployments(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().MilliValue() != 500 {
		t.Errorf("Deployment changed under dry run: replicas %d, cpu %v", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu())
	}
	hs, err := c.e.Client.AutoscalingV2().HorizontalPodAutoscalers(c.ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(hs.Items) != 0 {
		t.Errorf("HPAs after a dry run: %d, %v; want none", len(hs.Items), err)
	}
}

// The actuator refuses to fight an HPA; with manage_hpa it pins the HPA and the HPA
// controller then agrees with the replicas it set.
func TestIntegrationRefusesToFightHPA(t *testing.T) {
	c := newCluster(t, 4, 2)
	ctx := context.Background()
	lo := int32(2)
	user := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "users-hpa", Namespace: c.ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: c.name},
			MinReplicas:    &lo, MaxReplicas: 4, Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(70)},
		},
	}
	if _, err := c.e.Client.AutoscalingV2().HorizontalPodAutoscalers(c.ns).Create(ctx, user, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.actuator(t).Apply(ctx, framework.Command{Replicas: framework.IntPtr(3)})
	if !errors.Is(err, ErrHPAConflict) {
		t.Fatalf("Apply = %v, want ErrHPAConflict", err)
	}
	if c.desired(t) != 2 {
		t.Errorf("replicas changed to %d despite the refusal", c.desired(t))
	}
	ap, err := c.actuator(t, func(o *Options) { o.ManageHPA = true }).Apply(ctx, framework.Command{Replicas: framework.IntPtr(3)})
	if err != nil || ap.Replicas != 3 {
		t.Fatalf("with manage_hpa: %+v, %v", ap, err)
	}
	// Three HPA sync periods later the controller has not moved the replicas back.
	time.Sleep(3 * time.Second)
	if got := c.desired(t); got != 3 {
		t.Errorf("replicas = %d after the HPA synced, want 3 (pinned)", got)
	}
	h, _ := c.e.Client.AutoscalingV2().HorizontalPodAutoscalers(c.ns).Get(ctx, "users-hpa", metav1.GetOptions{})
	if *h.Spec.MinReplicas != 3 || h.Spec.MaxReplicas != 3 || h.Annotations[kb.OriginalSpecAnnotation] == "" {
		t.Errorf("users-hpa = %+v %v, want pinned to 3 with its original spec recorded", h.Spec, h.Annotations)
	}
}

// The HPA baseline on a real cluster: the actuator applies the policy's spec and stands
// back; the cluster's HPA controller enforces it (here its minReplicas of 3), whatever
// the policy recommends.
func TestIntegrationHPABaselineStandsBack(t *testing.T) {
	c := newCluster(t, 4, 1)
	b := c.backend(t)
	a := c.actuator(t)
	a.BindEpisode(b.Episode)
	lo := int32(3)
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &lo, MaxReplicas: 4, Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(70)}}
	if err := a.BindPolicy(hpaPolicy{spec}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(1)})
	if err != nil {
		t.Fatal(err)
	}
	if ap.Replicas != 1 || !ap.Changed {
		t.Errorf("Applied = %+v, want the spec applied and replicas untouched", ap)
	}
	waitFor(t, 30*time.Second, "the cluster's HPA controller raises replicas to its minimum", func(context.Context) (bool, error) { return c.desired(t) == 3, nil })
	// A new episode: Reset removes scalelab's HPA, sets the initial replicas and waits; the
	// next Apply applies the spec again.
	if err := b.Reset(ctx, framework.Episode{InitialReplicas: 1}); err != nil {
		t.Fatal(err)
	}
	if c.desired(t) != 1 {
		t.Errorf("after Reset replicas = %d, want 1", c.desired(t))
	}
	if _, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the HPA re-applied in the new episode", func(context.Context) (bool, error) { return c.desired(t) == 3, nil })
}

// Reset sets the initial replicas, waits for a steady workload (pods beyond the GPUs are
// unschedulable, which counts as settled), and refuses a workload a foreign HPA controls.
func TestIntegrationBackendReset(t *testing.T) {
	c := newCluster(t, 2, 1)
	b := c.backend(t)
	ctx := context.Background()
	start := time.Now()
	if err := b.Reset(ctx, framework.Episode{InitialReplicas: 3}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	rc := kb.Counts(b.Watcher().Pods(), 3)
	if rc.Ready != 2 || rc.Pending != 1 || !kb.Steady(b.Watcher().Pods(), 3) {
		t.Errorf("after Reset: %+v, want 2 ready and 1 pending, steady", rc)
	}
	b.Accounting().Cut()
	time.Sleep(time.Second)
	w := b.Accounting().Cut()
	// 3 replicas (2 bound) for about a second: replica-seconds ≈ 3 × 1 s, GPU-seconds ≈ 2 × 1 s.
	secs := w.Duration().Seconds()
	if d := w.Totals.ReplicaSeconds - 3*secs; d < -1e-6 || d > 1e-6 {
		t.Errorf("replica-seconds %v over %v s, want 3 per second", w.Totals.ReplicaSeconds, secs)
	}
	if d := w.Totals.GPUSeconds - 2*secs; d < -1e-6 || d > 1e-6 {
		t.Errorf("GPU-seconds %v over %v s, want 2 per second", w.Totals.GPUSeconds, secs)
	}
	t.Logf("Reset to 3 replicas on a 2-GPU node took %v", took)

	lo := int32(1)
	if _, err := c.e.Client.AutoscalingV2().HorizontalPodAutoscalers(c.ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: c.ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: c.name},
			MinReplicas:    &lo, MaxReplicas: 4,
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Reset(ctx, framework.Episode{InitialReplicas: 1}); !errors.Is(err, kb.ErrHPAConflict) {
		t.Errorf("Reset with a foreign HPA = %v, want ErrHPAConflict", err)
	}
}

// Reset must not take an Unschedulable verdict given before a pod of the workload freed
// its GPU for a settled workload. Here a pod holding one of the node's two GPUs is kept
// terminating by a finalizer while its replacement is marked Unschedulable; when the
// finalizer goes, the GPU is free and the scheduler binds the replacement on its next
// attempt (after its backoff, about a second). Reset, waiting meanwhile, must return only
// with both replicas Ready — not at the instant the old pod disappears, when the
// replacement's stale verdict makes the workload look settled.
func TestIntegrationResetWaitsOutStaleVerdicts(t *testing.T) {
	c := newCluster(t, 2, 2)
	b := c.backend(t)
	ctx := context.Background()
	pods := c.e.Client.CoreV1().Pods(c.ns)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("%d pods, %v; want 2", len(list.Items), err)
	}
	old := list.Items[0].Name
	const hold = "scalelab.test/hold"
	patch := []byte(`{"metadata":{"finalizers":["` + hold + `"]}}`)
	if _, err := pods.Patch(ctx, old, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the replacement pod is marked Unschedulable", func(context.Context) (bool, error) {
		for _, p := range b.Watcher().Pods() {
			if kb.Unschedulable(p) {
				return true, nil
			}
		}
		return false, nil
	})
	done := make(chan error, 1)
	go func() { done <- b.Reset(ctx, framework.Episode{InitialReplicas: 2}) }()
	select {
	case err := <-done:
		t.Fatalf("Reset returned (%v) while a pod was terminating", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := pods.Patch(ctx, old, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rc := kb.Counts(b.Watcher().Pods(), 2); rc.Ready != 2 || rc.Pending != 0 || rc.Starting != 0 || rc.Terminating != 0 {
		t.Errorf("after Reset: %+v, want 2 ready (the replacement bound once the GPU was free)", rc)
	}
}

// Batching actions reach `scalelab serve` through Triton's model-control API exactly as
// they would reach Triton: the actuator reads the model's configuration, applies the
// batching settings and reloads the model with the configuration override; the emulator's
// batcher then runs with them (12 simultaneous requests under max_batch_size 2 take at
// least 6 executions), the kubernetes collector's view reads them back, settings already
// in force cause no reload, and a dry run reloads nothing.
func TestIntegrationBatchingReloadsTheEmulator(t *testing.T) {
	realtimetest.Exclusive(t)
	c := newCluster(t, 1, 1)
	scfg := serve.Defaults()
	scfg.InputShape, scfg.MetricsAddr, scfg.Node, scfg.ReloadTime = []int64{3, 8, 8}, "", "edge", 200*time.Millisecond
	srv, err := serve.New(scfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	triton := kb.TritonConfig{Model: "mobilenetv4", Endpoints: []string{hs.URL}, Port: 8000, Timeout: 5 * time.Second}
	a := c.actuator(t, func(o *Options) { o.Triton = triton })
	ctx := context.Background()

	want := framework.BatchingSettings{MaxBatchSize: 2, PreferredSizes: []int{2}, MaxQueueDelay: time.Millisecond, InstanceCount: 2, MaxQueueSize: 100}
	ap, err := a.Apply(ctx, framework.Command{Batching: &want})
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Changed || !strings.Contains(ap.Note, "reloaded") {
		t.Errorf("Applied = %+v, want a reload", ap)
	}
	if got := srv.Batching(); !sameBatching(got, want) || got.InstanceCount != 2 || srv.Reloads() != 1 {
		t.Fatalf("the emulator runs %+v after %d reloads, want %+v after 1", got, srv.Reloads(), want)
	}
	// The emulator's batcher uses the new settings.
	before := srv.Counters()
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, hl, _ := kserve.EncodeRequest(kserve.Request{Inputs: []kserve.Tensor{{Name: "input", Datatype: kserve.UINT8, Shape: []int64{1, 3, 8, 8}, Data: make([]byte, 192)}}}, true)
			req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v2/models/mobilenetv4/infer", bytes.NewReader(body))
			req.Header.Set(kserve.HeaderContentLength, strconv.Itoa(hl))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("infer: HTTP %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	after := srv.Counters()
	if images, batches := after.Images-before.Images, after.Batches-before.Batches; images != 12 || batches < 6 {
		t.Errorf("12 requests ran as %d images in %d executions, want at least 6 under max_batch_size 2", images, batches)
	}
	// The collector's cluster view reads the settings back through the same API.
	b := c.backend(t)
	col, err := collectorkube.New(b, collectorkube.Options{Features: []framework.FeatureSpec{{Name: "replicas_desired"}}, MinReplicas: 1, MaxReplicas: 8,
		Triton: &kb.Triton{Model: "mobilenetv4", HTTP: &http.Client{Timeout: 5 * time.Second}}, TritonEndpoints: []string{hs.URL}})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := col.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBatching(obs.Cluster.Batching, want) || obs.Cluster.Batching.InstanceCount != 2 {
		t.Errorf("the collector sees %+v, want %+v", obs.Cluster.Batching, want)
	}
	// Settings in force: no reload. Under dry run: nothing reloads.
	if ap, err := a.Apply(ctx, framework.Command{Batching: &want}); err != nil || ap.Changed || srv.Reloads() != 1 {
		t.Errorf("the same settings again: %+v, %v, %d reloads; want no change", ap, err, srv.Reloads())
	}
	dry := c.actuator(t, func(o *Options) { o.Triton, o.DryRun = triton, true })
	other := framework.BatchingSettings{MaxBatchSize: 8, MaxQueueDelay: 100 * time.Microsecond, InstanceCount: 1}
	if ap, err := dry.Apply(ctx, framework.Command{Batching: &other}); err != nil || !ap.DryRun || srv.Reloads() != 1 || srv.Batching().MaxBatchSize != 2 {
		t.Errorf("dry run: %+v, %v; %d reloads, batching %+v", ap, err, srv.Reloads(), srv.Batching())
	}
}

// racingClient is the real clientset with one twist: right after the first `races` reads
// of a Deployment's scale subresource, a competing client updates the Deployment (an
// annotation), so the scale the caller holds carries a stale resourceVersion and its
// update is rejected by the API server with 409 Conflict.
type racingClient struct {
	kubernetes.Interface
	races, raced int
	t            *testing.T
}

func (r *racingClient) AppsV1() appsv1client.AppsV1Interface {
	return racingApps{AppsV1Interface: r.Interface.AppsV1(), r: r}
}

type racingApps struct {
	appsv1client.AppsV1Interface
	r *racingClient
}

func (a racingApps) Deployments(ns string) appsv1client.DeploymentInterface {
	return racingDeployments{DeploymentInterface: a.AppsV1Interface.Deployments(ns), r: a.r}
}

type racingDeployments struct {
	appsv1client.DeploymentInterface
	r *racingClient
}

func (d racingDeployments) GetScale(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error) {
	sc, err := d.DeploymentInterface.GetScale(ctx, name, opts)
	if err != nil || d.r.raced >= d.r.races {
		return sc, err
	}
	d.r.raced++
	n := strconv.Itoa(d.r.raced)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := d.DeploymentInterface.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if dep.Annotations == nil {
			dep.Annotations = map[string]string{}
		}
		dep.Annotations["competitor"] = n
		_, err = d.DeploymentInterface.Update(ctx, dep, metav1.UpdateOptions{})
		return err
	}); err != nil {
		d.r.t.Errorf("competing write: %v", err)
	}
	return sc, nil
}

// In-place resize on a real API server (Kubernetes 1.36 serves pods/resize). The API server
// refuses it for running pods whose kubelet does not report container resources (kwok's
// do not; a pod whose status kwok has not filled in yet may pass): the actuator says the
// action is simulation-only there. Once the pods' status carries
// their resources, as a kubelet with in-place resize reports them, each running pod's CPU
// request changes without a restart and the pod template stays as it was.
func TestIntegrationInPlaceResize(t *testing.T) {
	c := newCluster(t, 4, 2)
	b := c.backend(t)
	ctx := context.Background()
	if err := b.WaitSteady(ctx, 2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The API server can only tell that a node cannot resize once a container runs: until
	// kwok has written the running state, it lets the resize through (isPodResizeRequestSupported
	// upstream). Wait for that state so the refusal below is what a real cluster gives.
	waitRunningContainers(t, c, 2)
	a := c.actuator(t, func(o *Options) { o.CPUResize = kb.CPUResizeInPlace })
	_, err := a.Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(750)})
	if !errors.Is(err, ErrSimulationOnly) || !strings.Contains(err.Error(), "cpu_resize: rolling") {
		t.Fatalf("resize on kwok's pods = %v, want ErrSimulationOnly pointing to cpu_resize: rolling", err)
	}
	// Report the containers' resources in the pods' status, as a resize-capable kubelet does.
	pods, err := c.e.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		for j := range p.Status.ContainerStatuses {
			r := p.Spec.Containers[j].Resources
			p.Status.ContainerStatuses[j].Resources = &r
		}
		if _, err := c.e.Client.CoreV1().Pods(c.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ap, err := a.Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(750)})
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Changed || ap.Replicas != 2 || !strings.Contains(ap.Note, "in-place resize") {
		t.Errorf("Applied = %+v", ap)
	}
	pods, err = c.e.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if got := p.Spec.Containers[0].Resources.Requests.Cpu().MilliValue(); got != 750 {
			t.Errorf("pod %s requests %dm, want 750m", p.Name, got)
		}
	}
	d, err := c.e.Client.AppsV1().Deployments(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil || d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().MilliValue() != 500 || d.Generation != 1 {
		t.Errorf("the template changed (generation %d): %v", d.Generation, err)
	}
}

// waitRunningContainers waits until n pods of the test namespace report a running container.
func waitRunningContainers(t *testing.T, c *cluster, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := c.e.Client.CoreV1().Pods(c.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Running != nil {
					running++
					break
				}
			}
		}
		if running >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods report a running container after 30s", running, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
