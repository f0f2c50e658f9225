package kube

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/scalelab/scalelab/framework"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // substrings of the errors, in order
	}{
		{"defaults", func(*Config) {}, nil},
		{"kind", func(c *Config) { c.Workload.Kind = "DaemonSet" }, []string{"workload.kind: must be Deployment or StatefulSet"}},
		{"names", func(c *Config) { c.Namespace, c.Workload.Name = "Bad_NS", "" }, []string{"namespace:", "workload.name:"}},
		{"resize", func(c *Config) { c.CPUResize = "vpa" }, []string{`cpu_resize: must be none, in_place or rolling, got "vpa"`}},
		{"triton", func(c *Config) { c.Triton.Port, c.Triton.Endpoints = 0, []string{"pod-1:8000"} }, []string{"triton.port:", "triton.endpoints[0]:"}},
		{"source", func(c *Config) { c.FeatureSource = "graphite" }, []string{"feature_source: must be prometheus or none"}},
		{"prometheus checked only when used", func(c *Config) { c.FeatureSource, c.Prometheus.Address = FeatureSourceNone, "" }, nil},
		{"prometheus", func(c *Config) { c.Prometheus.Address = "localhost" }, []string{"prometheus.address:"}},
		{"load checked only when enabled", func(c *Config) { c.Load.Model = "" }, nil},
		{"load", func(c *Config) { c.LoadGenerator, c.Load.Model = true, "" }, []string{"load.model: required"}},
		{"limits", func(c *Config) { c.QPS, c.Burst, c.SteadyTimeout = 0, 0, 0 }, []string{"steady_timeout:", "qps:", "burst:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(c)
			errs := c.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}

// A model configuration as Triton prints it (GET /v2/models/m/config), with a 64-bit field
// printed as a string, as protobuf's JSON mapping does.
const tritonConfig = `{
  "name": "mobilenetv4", "platform": "onnxruntime_onnx", "max_batch_size": 8,
  "input": [{"name": "input", "data_type": "TYPE_FP32", "dims": ["3", "224", "224"]}],
  "dynamic_batching": {"preferred_batch_size": [4, 8], "max_queue_delay_microseconds": "100",
                       "default_queue_policy": {"max_queue_size": "64", "timeout_action": "REJECT"}},
  "instance_group": [{"name": "g", "count": 1, "kind": "KIND_GPU", "gpus": [0]}]
}`

func decodeConfig(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBatchingOf(t *testing.T) {
	got := BatchingOf(decodeConfig(t, tritonConfig))
	want := framework.BatchingSettings{MaxBatchSize: 8, PreferredSizes: []int{4, 8}, MaxQueueDelay: 100 * time.Microsecond, InstanceCount: 1, MaxQueueSize: 64}
	if !sameSettings(got, want) {
		t.Errorf("BatchingOf = %+v, want %+v", got, want)
	}
	if got := BatchingOf(map[string]any{"max_batch_size": 0.0}); got.InstanceCount != 1 || got.MaxBatchSize != 0 || got.MaxQueueDelay != 0 {
		t.Errorf("BatchingOf(no batching) = %+v, want one instance, no batching", got)
	}
}

func sameSettings(x, y framework.BatchingSettings) bool {
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}

// WithBatching changes only the batching fields: a reload keeps inputs, platform, the
// instance group's GPUs and the queue policy's other fields.
func TestWithBatching(t *testing.T) {
	cfg := decodeConfig(t, tritonConfig)
	b := framework.BatchingSettings{MaxBatchSize: 16, PreferredSizes: []int{16}, MaxQueueDelay: 2 * time.Millisecond, InstanceCount: 2}
	out := WithBatching(cfg, b)
	// Round trip through JSON, as the load request does.
	text, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	back := decodeConfig(t, string(text))
	if got := BatchingOf(back); !sameSettings(got, b) {
		t.Errorf("BatchingOf(WithBatching(cfg, b)) = %+v, want %+v", got, b)
	}
	if back["platform"] != "onnxruntime_onnx" || back["input"] == nil {
		t.Errorf("other fields lost: %s", text)
	}
	db := back["dynamic_batching"].(map[string]any)
	qp, ok := db["default_queue_policy"].(map[string]any)
	if !ok || qp["timeout_action"] != "REJECT" || qp["max_queue_size"] != nil {
		t.Errorf("queue policy = %v, want timeout_action kept and max_queue_size removed (0 = unbounded)", db["default_queue_policy"])
	}
	g := back["instance_group"].([]any)[0].(map[string]any)
	if g["kind"] != "KIND_GPU" || g["gpus"] == nil || g["count"] != json.Number("2") {
		t.Errorf("instance group = %v, want kind and gpus kept, count 2", g)
	}
	// The input map is not modified.
	if cfg["max_batch_size"] != json.Number("8") {
		t.Errorf("WithBatching modified its input: max_batch_size = %v", cfg["max_batch_size"])
	}
	// No instance group and InstanceCount > 0: one KIND_GPU group.
	out = WithBatching(map[string]any{"max_batch_size": 4}, framework.BatchingSettings{MaxBatchSize: 4, InstanceCount: 3})
	if gs := out["instance_group"].([]any); len(gs) != 1 || gs[0].(map[string]any)["kind"] != "KIND_GPU" {
		t.Errorf("instance_group = %v, want one KIND_GPU group", out["instance_group"])
	}
}

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "m"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "triton",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi"), GPUResource: resource.MustParse("1")},
				Limits:   corev1.ResourceList{GPUResource: resource.MustParse("1")},
			},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func bound(p *corev1.Pod) { p.Spec.NodeName = "gpu-node" }
func ready(p *corev1.Pod) {
	bound(p)
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &metav1.Time{Time: t0}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Time{Time: t0.Add(5 * time.Second)}})
}
func starting(p *corev1.Pod) {
	bound(p)
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse})
}
func unschedulable(p *corev1.Pod) {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."})
}
func deleting(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }
func failed(p *corev1.Pod)   { p.Status.Phase = corev1.PodFailed }

func TestCountsLevelsSteady(t *testing.T) {
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		desired int
		counts  framework.ReplicaCounts
		levels  Levels
		steady  bool
	}{
		{
			name:    "two ready, one beyond GPU capacity",
			pods:    []*corev1.Pod{mkPod("a", ready), mkPod("b", ready), mkPod("c", unschedulable)},
			desired: 3,
			counts:  framework.ReplicaCounts{Desired: 3, Ready: 2, Pending: 1},
			// Replicas count every live pod (3); requests only the two bound ones:
			// 2 × 500m, 2 × 1 GiB, 2 GPUs.
			levels: Levels{Replicas: 3, Ready: 2, GPUs: 2, CPURequestMilli: 1000, MemRequestBytes: 2 << 30},
			steady: true,
		},
		{
			name:    "one starting",
			pods:    []*corev1.Pod{mkPod("a", ready), mkPod("b", starting)},
			desired: 2,
			counts:  framework.ReplicaCounts{Desired: 2, Ready: 1, Starting: 1},
			levels:  Levels{Replicas: 2, Ready: 1, GPUs: 2, CPURequestMilli: 1000, MemRequestBytes: 2 << 30},
			steady:  false,
		},
		{
			name:    "terminating pod holds resources but is no replica",
			pods:    []*corev1.Pod{mkPod("a", ready), mkPod("b", ready, deleting)},
			desired: 1,
			counts:  framework.ReplicaCounts{Desired: 1, Ready: 1, Terminating: 1},
			levels:  Levels{Replicas: 1, Ready: 1, GPUs: 2, CPURequestMilli: 1000, MemRequestBytes: 2 << 30},
			steady:  false,
		},
		{
			name:    "failed pods count nowhere",
			pods:    []*corev1.Pod{mkPod("a", ready), mkPod("b", ready, failed)},
			desired: 1,
			counts:  framework.ReplicaCounts{Desired: 1, Ready: 1},
			levels:  Levels{Replicas: 1, Ready: 1, GPUs: 1, CPURequestMilli: 500, MemRequestBytes: 1 << 30},
			steady:  true,
		},
		{
			name:    "fewer pods than desired",
			pods:    []*corev1.Pod{mkPod("a", ready)},
			desired: 2,
			counts:  framework.ReplicaCounts{Desired: 2, Ready: 1},
			levels:  Levels{Replicas: 1, Ready: 1, GPUs: 1, CPURequestMilli: 500, MemRequestBytes: 1 << 30},
			steady:  false,
		},
		{
			name:    "pending but not yet marked unschedulable",
			pods:    []*corev1.Pod{mkPod("a")},
			desired: 1,
			counts:  framework.ReplicaCounts{Desired: 1, Pending: 1},
			levels:  Levels{Replicas: 1},
			steady:  false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Counts(tt.pods, tt.desired); got != tt.counts {
				t.Errorf("Counts = %+v, want %+v", got, tt.counts)
			}
			if got := LevelsOf(tt.pods); got != tt.levels {
				t.Errorf("LevelsOf = %+v, want %+v", got, tt.levels)
			}
			if got := Steady(tt.pods, tt.desired); got != tt.steady {
				t.Errorf("Steady = %v, want %v", got, tt.steady)
			}
		})
	}
}

func TestPodView(t *testing.T) {
	v := PodView(mkPod("a", ready))
	want := framework.PodView{Name: "a", Phase: framework.PodRunning, Ready: true, ReadyTransition: t0.Add(5 * time.Second),
		StartTime: t0, CPURequestMilli: 500, MemRequestBytes: 1 << 30}
	if v.Name != want.Name || v.Phase != want.Phase || v.Ready != want.Ready || !v.ReadyTransition.Equal(want.ReadyTransition) ||
		!v.StartTime.Equal(want.StartTime) || v.CPURequestMilli != want.CPURequestMilli || v.MemRequestBytes != want.MemRequestBytes || v.Deleting {
		t.Errorf("PodView = %+v, want %+v", v, want)
	}
	// A terminating pod is not Ready even if its condition still says so.
	if v := PodView(mkPod("b", ready, deleting)); v.Ready || !v.Deleting {
		t.Errorf("terminating PodView = %+v, want not ready, deleting", v)
	}
	// A pod with no phase yet is Pending.
	p := mkPod("c")
	p.Status.Phase = ""
	if v := PodView(p); v.Phase != framework.PodPending || !v.StartTime.IsZero() {
		t.Errorf("new PodView = %+v, want Pending, no start time", v)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fakeLoad struct{ w framework.Window }

func (f *fakeLoad) Start(context.Context, framework.Episode) error { return nil }
func (f *fakeLoad) Cut() framework.Window                          { return f.w }
func (f *fakeLoad) Stop() error                                    { return nil }

type fakeUsage struct {
	start, end time.Time
	err        error
}

func (f *fakeUsage) Usage(_ context.Context, s, e time.Time) (framework.Totals, error) {
	f.start, f.end = s, e
	return framework.Totals{CPUSeconds: 3.5, GPUBusySeconds: 7, GPUCount: 1, Batches: 40, BatchedRequests: 100, QueueSeconds: 0.25}, f.err
}

func TestAccountingIntegratesLevels(t *testing.T) {
	clk := &fakeClock{t: t0}
	a := NewAccounting(clk.Now, nil, nil, nil)
	a.Observe(Levels{Replicas: 2, Ready: 1, GPUs: 2, CPURequestMilli: 1000, MemRequestBytes: 2 << 30})
	clk.Add(10 * time.Second)
	a.Observe(Levels{Replicas: 3, Ready: 3, GPUs: 3, CPURequestMilli: 1500, MemRequestBytes: 3 << 30})
	clk.Add(5 * time.Second)
	w := a.Cut()
	// Replica-seconds: 2 × 10 s + 3 × 5 s = 35; ready: 1 × 10 + 3 × 5 = 25; GPU-seconds as
	// replicas (one GPU each) = 35; CPU requests: 1.0 core × 10 s + 1.5 × 5 s = 17.5
	// core-seconds; memory: 2 GiB × 10 s + 3 GiB × 5 s = 35 GiB·s.
	want := framework.Totals{ReplicaSeconds: 35, ReadyReplicaSeconds: 25, GPUSeconds: 35, CPURequestSeconds: 17.5, MemRequestByteSeconds: 35 * (1 << 30)}
	if w.Totals != want {
		t.Errorf("totals = %+v, want %+v", w.Totals, want)
	}
	if !w.Start.Equal(t0) || !w.End.Equal(t0.Add(15*time.Second)) || w.Latency == nil || w.Latency.Count() != 0 {
		t.Errorf("window = [%v, %v] latency %v, want [t0, t0+15s] and an empty histogram", w.Start, w.End, w.Latency)
	}
	// The next window starts where this one ended and integrates the current levels.
	clk.Add(2 * time.Second)
	w = a.Cut()
	if !w.Start.Equal(t0.Add(15*time.Second)) || w.Totals.ReplicaSeconds != 6 || w.Totals.CPURequestSeconds != 3 {
		t.Errorf("second window = %+v from %v, want 6 replica-seconds and 3 core-seconds from t0+15s", w.Totals, w.Start)
	}
}

func TestAccountingMergesLoadAndUsage(t *testing.T) {
	clk := &fakeClock{t: t0}
	h := framework.NewHistogram()
	h.Record(20 * time.Millisecond)
	h.Record(80 * time.Millisecond)
	load := &fakeLoad{w: framework.Window{Totals: framework.Totals{Arrivals: 10, Completions: 8, Drops: 1, Failures: 1, SLOViolations: 3, OfferedRequests: 9.5,
		ReplicaSeconds: 99 /* a client knows no replicas: ignored */}, Latency: h}}
	usage := &fakeUsage{}
	a := NewAccounting(clk.Now, load, usage, nil)
	a.Observe(Levels{Replicas: 1, Ready: 1, GPUs: 1, CPURequestMilli: 500})
	clk.Add(4 * time.Second)
	w := a.Cut()
	want := framework.Totals{Arrivals: 10, Completions: 8, Drops: 1, Failures: 1, SLOViolations: 3, OfferedRequests: 9.5,
		ReplicaSeconds: 4, ReadyReplicaSeconds: 4, GPUSeconds: 4, CPURequestSeconds: 2,
		CPUSeconds: 3.5, GPUBusySeconds: 7, GPUCount: 1, Batches: 40, BatchedRequests: 100, QueueSeconds: 0.25}
	if w.Totals != want {
		t.Errorf("totals = %+v\nwant     %+v", w.Totals, want)
	}
	if w.Latency != h {
		t.Error("latency histogram is not the load driver's")
	}
	if !usage.start.Equal(t0) || !usage.end.Equal(t0.Add(4*time.Second)) {
		t.Errorf("usage asked for [%v, %v], want the window [t0, t0+4s]", usage.start, usage.end)
	}
	// A failing usage source leaves its fields 0 and does not fail the window.
	usage.err = errors.New("prometheus down")
	clk.Add(time.Second)
	if w := a.Cut(); w.Totals.CPUSeconds != 0 || w.Totals.ReplicaSeconds != 1 || math.IsNaN(w.Totals.GPUSeconds) {
		t.Errorf("totals with a failing usage source = %+v, want usage fields 0 and levels integrated", w.Totals)
	}
}
