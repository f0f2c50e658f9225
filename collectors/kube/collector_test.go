package kube

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/scalelab/scalelab/framework"
	kb "github.com/scalelab/scalelab/kube"
)

const ns = "inference"

var (
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(10 * time.Minute)
)

func dep(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "mobilenetv4"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "mobilenetv4", Namespace: ns, Generation: 2},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "triton", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}},
					{Name: "sidecar", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
				}},
			},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2},
	}
}

func pod(name string, mut func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "mobilenetv4"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "triton", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("2Gi")}}},
			{Name: "sidecar", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
		}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	mut(p)
	return p
}

func running(ready bool, at time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName = "gpu"
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = "10.0.0." + p.Name[len(p.Name)-1:]
		p.Status.StartTime = &metav1.Time{Time: t0}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Time{Time: at}}}
	}
}

// fixture: desired 3; pod-a Ready, pod-b started but not Ready, pod-c unschedulable (the GPU
// is full), pod-d terminating, pod-e failed (invisible); an HPA at CPU 65 %.
func fixture() []runtime.Object {
	min := int32(1)
	return []runtime.Object{
		dep(3),
		pod("pod-a", running(true, t0.Add(20*time.Second))),
		pod("pod-b", running(false, time.Time{})),
		pod("pod-c", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
		}),
		pod("pod-d", func(p *corev1.Pod) {
			running(true, t0)(p)
			p.DeletionTimestamp = &metav1.Time{Time: now}
			p.Finalizers = []string{"test"}
		}),
		pod("pod-e", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
		&autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "mobilenetv4", Namespace: ns},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "mobilenetv4"},
				MinReplicas:    &min, MaxReplicas: 4, Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(65)},
			},
		},
	}
}

func backend(t *testing.T, objs ...runtime.Object) *kb.Backend {
	t.Helper()
	cfg := kb.DefaultConfig()
	cfg.Namespace = ns
	cfg.FeatureSource = kb.FeatureSourceNone
	cfg.Workload.Name = "mobilenetv4"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := kb.New(ctx, cfg, framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4, InitialReplicas: 1},
		kb.Options{Client: fake.NewClientset(objs...), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type fakeSource struct {
	vals  map[string]float64
	ages  map[string]time.Duration
	err   error
	asked []string
}

func (s *fakeSource) Collect(_ context.Context, at time.Time, fs []framework.FeatureSpec) ([]float64, []bool, []time.Duration, error) {
	if !at.Equal(now) {
		return nil, nil, nil, errors.New("asked at the wrong time")
	}
	if s.err != nil {
		return nil, nil, nil, s.err
	}
	vals, valid, age := make([]float64, len(fs)), make([]bool, len(fs)), make([]time.Duration, len(fs))
	s.asked = nil
	for i, f := range fs {
		s.asked = append(s.asked, f.Name)
		v, ok := s.vals[f.Name]
		vals[i], valid[i], age[i] = v, ok, s.ages[f.Name]
		if !ok {
			vals[i] = math.NaN()
		}
	}
	return vals, valid, age, nil
}

func features(t *testing.T, names ...string) []framework.FeatureSpec {
	t.Helper()
	var out []framework.FeatureSpec
	for _, n := range names {
		f, err := framework.LookupFeature(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestCollect(t *testing.T) {
	b := backend(t, fixture()...)
	mc := metricsfake.NewSimpleClientset()
	pm := &metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-a", Namespace: ns, Labels: map[string]string{"app": "mobilenetv4"}},
		Timestamp:  metav1.Time{Time: now.Add(-15 * time.Second)}, Window: metav1.Duration{Duration: 30 * time.Second},
		Containers: []metricsv1beta1.ContainerMetrics{
			{Name: "triton", Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m"), corev1.ResourceMemory: resource.MustParse("1Gi")}},
			{Name: "sidecar", Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
		},
	}
	if err := mc.Tracker().Create(metricsv1beta1.SchemeGroupVersion.WithResource("pods"), pm, ns); err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{
		vals: map[string]float64{"request_rate": 42, "p95_latency_ms": math.NaN(), "gpu_util": 0.7},
		ages: map[string]time.Duration{"request_rate": 5 * time.Second, "gpu_util": 3 * time.Minute},
	}
	c, err := New(b, Options{
		Features: features(t, "request_rate", "p95_latency_ms", "replicas_desired", "replicas_ready", "replicas_pending", "gpu_util", "cpu_util"),
		MaxAge:   2 * time.Minute, MinReplicas: 1, MaxReplicas: 4, Source: src, Metrics: mc, Container: "triton",
	})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The source is asked only for what the API cannot give.
	if want := []string{"request_rate", "p95_latency_ms", "gpu_util", "cpu_util"}; !equalStrings(src.asked, want) {
		t.Errorf("source asked for %v, want %v", src.asked, want)
	}
	type fv struct {
		v     float64
		valid bool
		age   time.Duration
	}
	want := []fv{
		{42, true, 5 * time.Second},          // request_rate from the source
		{math.NaN(), false, 0},               // p95: NaN is missing
		{3, true, 0},                         // desired: spec.replicas
		{1, true, 0},                         // ready: pod-a
		{2, true, 0},                         // pending + starting: pod-c + pod-b
		{math.NaN(), false, 3 * time.Minute}, // gpu_util older than max_age
		{math.NaN(), false, 0},               // cpu_util: the source has none
	}
	for i, w := range want {
		v, ok, age := obs.Values[i], obs.Valid[i], obs.Age[i]
		if ok != w.valid || age != w.age || (w.valid && v != w.v) || (!w.valid && !math.IsNaN(v)) {
			t.Errorf("%s = (%v, %v, %v), want (%v, %v, %v)", c.Features()[i].Name, v, ok, age, w.v, w.valid, w.age)
		}
	}
	v := obs.Cluster
	wantCounts := framework.ReplicaCounts{Desired: 3, Ready: 1, Pending: 1, Starting: 1, Terminating: 1}
	if v.Replicas != wantCounts || v.MinReplicas != 1 || v.MaxReplicas != 4 || v.HPATarget != 65 || v.CPURequestMilli != 500 || !v.Now.Equal(now) {
		t.Errorf("view = %+v\nwant counts %+v, bounds 1–4, HPA target 65, CPU request 500m", v, wantCounts)
	}
	if len(v.Pods) != 4 {
		t.Fatalf("%d pods in the view, want 4 (the failed pod left out)", len(v.Pods))
	}
	a := v.Pods[0]
	// Requests sum the pod's containers: 500m + 100m.
	if a.Name != "pod-a" || !a.Ready || !a.ReadyTransition.Equal(t0.Add(20*time.Second)) || !a.StartTime.Equal(t0) || a.CPURequestMilli != 600 || a.MemRequestBytes != 2<<30 {
		t.Errorf("pod-a = %+v", a)
	}
	// metrics-server's sample: containers summed, 320m and 1 GiB + 64 MiB.
	cpu, mem := a.Metrics["cpu"], a.Metrics["memory"]
	if cpu.Value != 320 || mem.Value != float64(1<<30+64<<20) || !cpu.Timestamp.Equal(now.Add(-15*time.Second)) || cpu.Window != 30*time.Second {
		t.Errorf("pod-a samples = %+v", a.Metrics)
	}
	if v.Pods[1].Metrics != nil || v.Pods[1].Ready || v.Pods[1].Phase != framework.PodRunning {
		t.Errorf("pod-b = %+v, want running, not ready, no samples", v.Pods[1])
	}
	if v.Pods[2].Phase != framework.PodPending || !v.Pods[2].StartTime.IsZero() {
		t.Errorf("pod-c = %+v, want Pending without a start time", v.Pods[2])
	}
	if !v.Pods[3].Deleting || v.Pods[3].Ready {
		t.Errorf("pod-d = %+v, want deleting and not ready", v.Pods[3])
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A failing source (Prometheus down) leaves its features missing; the replica counts and
// the view still come from the API, and Collect does not fail.
func TestCollectSourceFailure(t *testing.T) {
	b := backend(t, fixture()...)
	for _, src := range []FeatureSource{&fakeSource{err: errors.New("connection refused")}, nil} {
		c, err := New(b, Options{Features: features(t, "p95_latency_ms", "replicas_ready"), Source: src})
		if err != nil {
			t.Fatal(err)
		}
		obs, err := c.Collect(context.Background())
		if err != nil {
			t.Fatalf("source %v: Collect = %v, want no error", src, err)
		}
		if obs.Valid[0] || !math.IsNaN(obs.Values[0]) || !obs.Valid[1] || obs.Values[1] != 1 {
			t.Errorf("source %v: values %v valid %v, want p95 missing and 1 ready", src, obs.Values, obs.Valid)
		}
	}
}

// Without the workload, replicas_desired is missing rather than 0.
func TestCollectWithoutWorkloadCountsIsMissing(t *testing.T) {
	b := backend(t, fixture()...)
	if err := b.Client().AppsV1().Deployments(ns).Delete(context.Background(), "mobilenetv4", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := New(b, Options{Features: features(t, "replicas_desired")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		obs, err := c.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Valid[0] && math.IsNaN(obs.Values[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas_desired = %v valid %v after the Deployment was deleted, want missing", obs.Values[0], obs.Valid[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestViewBatchingFromTriton(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/models/mobilenetv4/config" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"max_batch_size": 8, "dynamic_batching": map[string]any{"preferred_batch_size": []int{4}, "max_queue_delay_microseconds": "200"}})
	}))
	defer srv.Close()
	b := backend(t, fixture()...)
	c, err := New(b, Options{Triton: &kb.Triton{Model: "mobilenetv4"}, TritonEndpoints: []string{"http://127.0.0.1:1", srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The first endpoint refuses connections; the second answers.
	if v.Batching.MaxBatchSize != 8 || v.Batching.MaxQueueDelay != 200*time.Microsecond || len(v.Batching.PreferredSizes) != 1 || v.Batching.InstanceCount != 1 {
		t.Errorf("batching = %+v", v.Batching)
	}
}

func TestNewRejectsUnknownFeature(t *testing.T) {
	b := backend(t, fixture()...)
	if _, err := New(b, Options{Features: []framework.FeatureSpec{{Name: "gpu_temperature"}}}); err == nil {
		t.Fatal("New accepted a feature outside the catalogue")
	}
}
