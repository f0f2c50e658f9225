package hpa

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/framework"
)

var (
	t0       = framework.SimEpoch.Add(time.Hour)
	workload = framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4, InitialReplicas: 1}
)

// manifestSpec reads testdata/hpa-manifest.yaml the way the config loader reads raw
// subtrees (sigs.k8s.io/yaml into map[string]any, keys case-preserved) and returns "spec".
func manifestSpec(t *testing.T) any {
	t.Helper()
	data, err := os.ReadFile("testdata/hpa-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	return obj["spec"]
}

func TestManifestSpecDecodes(t *testing.T) {
	spec, errs := ResolveSpec(manifestSpec(t), workload)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if spec.ScaleTargetRef.Name != "triton" || *spec.MinReplicas != 1 || spec.MaxReplicas != 4 || len(spec.Metrics) != 2 {
		t.Errorf("spec %+v", spec)
	}
	if v := spec.Metrics[1].Pods.Target.AverageValue.MilliValue(); v != 20000 {
		t.Errorf("queue_ms target %d milli, want 20000", v)
	}
	up, down := spec.Behavior.ScaleUp, spec.Behavior.ScaleDown
	if up.Tolerance.MilliValue() != 50 || len(up.Policies) != 2 {
		t.Errorf("scaleUp %+v", up)
	}
	// The manifest's scaleDown has no selectPolicy: the API server defaults it to Max.
	if *down.SelectPolicy != autoscalingv2.MaxChangePolicySelect || *down.StabilizationWindowSeconds != 120 {
		t.Errorf("scaleDown %+v", down)
	}
}

func TestResolveSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  any
		want []string
	}{
		{"minReplicas 0", map[string]any{"minReplicas": 0, "maxReplicas": 4}, []string{
			"spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
			"spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
		}},
		{"min above max", map[string]any{"minReplicas": 3, "maxReplicas": 2}, []string{
			"spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
		}},
		{"unknown field", map[string]any{"maxReplica": 3}, []string{
			`spec: error unmarshaling JSON: while decoding JSON: json: unknown field "maxReplica"`,
		}},
		{"bad quantity", map[string]any{"maxReplicas": 3, "metrics": []any{map[string]any{"type": "Pods", "pods": map[string]any{
			"metric": map[string]any{"name": "q"}, "target": map[string]any{"type": "AverageValue", "averageValue": "ten"}}}}}, []string{
			"spec: error unmarshaling JSON: while decoding JSON: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
		}},
		{"outside the workload", map[string]any{"minReplicas": 2, "maxReplicas": 8}, []string{
			"spec.maxReplicas: Invalid value: 8: must lie within the workload's bounds [workload.min_replicas 1, workload.max_replicas 4]",
		}},
		{"container resource", map[string]any{"maxReplicas": 4, "metrics": []any{map[string]any{"type": "ContainerResource", "containerResource": map[string]any{
			"name": "cpu", "container": "triton", "target": map[string]any{"type": "Utilization", "averageUtilization": 60}}}}}, []string{
			`spec.metrics[0].type: Invalid value: "ContainerResource": not supported by scalelab: pods carry pod-level requests and usage only; use a Resource metric`,
		}},
		{"not a mapping", []any{1, 2}, []string{"spec: must be a HorizontalPodAutoscalerSpec mapping, got []interface {}"}},
		{"YAML text", "maxReplicas: 3\nminReplicas: 0\n", []string{
			"spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
			"spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := ResolveSpec(tt.raw, workload)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestResolveSpecMissing(t *testing.T) {
	spec, errs := ResolveSpec(nil, framework.WorkloadConfig{MinReplicas: 2, MaxReplicas: 6})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if *spec.MinReplicas != 2 || spec.MaxReplicas != 6 || *spec.Metrics[0].Resource.Target.AverageUtilization != 80 || spec.Behavior != nil {
		t.Errorf("default spec %+v", spec)
	}
}

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	f, ok := r.Policies[Type]
	if !ok || !slices.Equal(f.RawKeys, []string{"spec"}) {
		t.Fatalf("factory %+v", f)
	}
	cfg := f.Defaults().(*Config)
	if cfg.SyncPeriod != 15*time.Second || cfg.Tolerance != 0.1 || cfg.CPUInitializationPeriod != 5*time.Minute ||
		cfg.InitialReadinessDelay != 30*time.Second || cfg.DownscaleStabilization != 5*time.Minute {
		t.Errorf("defaults %+v", cfg)
	}
	bc := framework.BuildContext{Name: "hpa", Workload: workload, Raw: map[string]any{"spec": map[string]any{"minReplicas": 0, "maxReplicas": 4}}}
	if errs := f.Check(bc, cfg); len(errs) == 0 || errs[0].Error() != "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1" {
		t.Errorf("Check: %v", errs)
	}
	if _, err := f.New(bc, cfg); err == nil || !strings.Contains(err.Error(), "spec.minReplicas: Invalid value: 0") {
		t.Errorf("New with an invalid spec: %v", err)
	}
	bc.Raw = map[string]any{"spec": manifestSpec(t)}
	p, err := f.New(bc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pol := p.(*Policy)
	if pol.Period() != 15*time.Second || pol.RequiredActionDesign() != "replicas" {
		t.Errorf("period %v, design %q", pol.Period(), pol.RequiredActionDesign())
	}
}

func TestConfigValidate(t *testing.T) {
	c := &Config{SyncPeriod: 0, Tolerance: -1, CPUInitializationPeriod: -1, InitialReadinessDelay: -1, DownscaleStabilization: -1}
	errs := c.Validate()
	var keys []string
	for _, e := range errs {
		keys = append(keys, strings.SplitN(e.Error(), ":", 2)[0])
	}
	want := []string{"sync_period", "tolerance", "cpu_initialization_period", "initial_readiness_delay", "downscale_stabilization"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if errs := DefaultConfig().Validate(); len(errs) != 0 {
		t.Errorf("defaults invalid: %v", errs)
	}
}

// view returns a cluster view of n ready pods, each using cpuMilli of a 1000m request.
func view(now time.Time, desired, n int, cpuMilli float64) framework.ClusterView {
	v := framework.ClusterView{Now: now, Replicas: framework.ReplicaCounts{Desired: desired, Ready: n}, CPURequestMilli: 1000}
	for i := range n {
		v.Pods = append(v.Pods, framework.PodView{
			Name: "triton-" + string(rune('a'+i)), Phase: framework.PodRunning, Ready: true,
			ReadyTransition: now.Add(-9 * time.Minute), StartTime: now.Add(-10 * time.Minute),
			CPURequestMilli: 1000, MemRequestBytes: 1 << 30,
			Metrics: map[string]framework.MetricSample{
				"cpu":    {Value: cpuMilli, Timestamp: now.Add(-5 * time.Second), Window: 30 * time.Second},
				"memory": {Value: 1 << 29, Timestamp: now.Add(-5 * time.Second), Window: 30 * time.Second},
			},
		})
	}
	return v
}

func cpuSpec(target int) map[string]any {
	return map[string]any{"minReplicas": 1, "maxReplicas": 4, "metrics": []any{map[string]any{
		"type": "Resource", "resource": map[string]any{"name": "cpu", "target": map[string]any{"type": "Utilization", "averageUtilization": target}}}}}
}

func act(t *testing.T, p *Policy, v framework.ClusterView) int {
	t.Helper()
	a, err := p.Act(context.Background(), framework.Observation{Time: v.Now, Cluster: v})
	if err != nil {
		t.Fatal(err)
	}
	return int(a.Values[0])
}

func TestPolicyAct(t *testing.T) {
	p, err := New(cpuSpec(60), workload, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2 pods at 90 %: ratio 1.5, ceil(1.5 × 2) = 3.
	if got := act(t, p, view(t0, 2, 2, 900)); got != 3 {
		t.Errorf("scale-up: got %d, want 3", got)
	}
	st := p.LastStatus()
	if st.Error != "" || !st.Result.Rescale || st.Result.Status.DesiredReplicas != 3 || !st.Time.Equal(t0) {
		t.Errorf("status %+v", st)
	}
	// 15 s later, 3 pods at 20 %: ratio 1/3, ceil(1.0) = 1 — held at 3 by the 300 s window.
	if got := act(t, p, view(t0.Add(15*time.Second), 3, 3, 200)); got != 3 {
		t.Errorf("stabilised scale-down: got %d, want 3", got)
	}
	// A new episode forgets the window: the same view now scales to 1.
	p.Reset()
	if p.LastStatus().Result.Replicas != 0 {
		t.Error("Reset kept the status")
	}
	if got := act(t, p, view(t0.Add(15*time.Second), 3, 3, 200)); got != 1 {
		t.Errorf("after Reset: got %d, want 1", got)
	}
}

func TestPolicyMissingMetricsHold(t *testing.T) {
	p, err := New(cpuSpec(60), workload, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := view(t0, 3, 3, 0)
	for i := range v.Pods {
		delete(v.Pods[i].Metrics, "cpu")
	}
	if got := act(t, p, v); got != 3 {
		t.Errorf("got %d, want the current 3", got)
	}
	if e := p.LastStatus().Error; !strings.Contains(e, "unable to get metrics for resource cpu: no metrics returned from resource metrics API") {
		t.Errorf("status error %q", e)
	}
}

func TestPolicyCanceledContext(t *testing.T) {
	p, _ := New(cpuSpec(60), workload, DefaultConfig(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Act(ctx, framework.Observation{Cluster: view(t0, 1, 1, 100)}); err == nil {
		t.Error("no error on a canceled context")
	}
}

func TestInputFromView(t *testing.T) {
	v := view(t0, 2, 2, 333)
	v.Pods[0].Metrics["queue_ms"] = framework.MetricSample{Value: 0.3, Timestamp: t0}
	v.Pods[1].Ready = false
	v.Pods[1].CPURequestMilli = 0 // falls back to the view's request
	v.Pods = append(v.Pods, framework.PodView{Name: "new", Phase: framework.PodPending})
	v.Metrics = map[string]framework.MetricSample{"queue_length": {Value: 55, Timestamp: t0}}
	in := InputFromView(v)
	a, b, c := in.Pods[0], in.Pods[1], in.Pods[2]
	if a.Metrics["cpu"].Value != 333 || a.Metrics["queue_ms"].Value != 300 || a.Metrics["memory"].Value != (1<<29)*1000 {
		t.Errorf("pod a metrics %+v", a.Metrics)
	}
	if a.Requests[corev1.ResourceCPU] != 1000 || a.Requests[corev1.ResourceMemory] != (1<<30)*1000 || a.Ready != corev1.ConditionTrue {
		t.Errorf("pod a %+v", a)
	}
	if b.Ready != corev1.ConditionFalse || b.Requests[corev1.ResourceCPU] != 1000 {
		t.Errorf("pod b %+v", b)
	}
	if c.Ready != "" || c.Phase != corev1.PodPending {
		t.Errorf("pod c %+v", c)
	}
	if in.SpecReplicas != 2 {
		t.Errorf("spec replicas %d", in.SpecReplicas)
	}
	vals, _, err := in.External(autoscalingv2.MetricIdentifier{Name: "queue_length"})
	if err != nil || len(vals) != 1 || vals[0] != 55000 {
		t.Errorf("external %v %v", vals, err)
	}
	if _, _, err := in.Object(autoscalingv2.CrossVersionObjectReference{}, autoscalingv2.MetricIdentifier{Name: "nope"}); err == nil {
		t.Error("object: no error for an absent metric")
	}
}

func TestPolicyExternalMetricFromView(t *testing.T) {
	spec := map[string]any{"maxReplicas": 8, "metrics": []any{map[string]any{"type": "External", "external": map[string]any{
		"metric": map[string]any{"name": "queue_length"}, "target": map[string]any{"type": "AverageValue", "averageValue": "10"}}}}}
	p, err := New(spec, framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 8}, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := view(t0, 3, 3, 100)
	v.Metrics = map[string]framework.MetricSample{"queue_length": {Value: 55, Timestamp: t0}}
	// 55 queued over 10 per pod for 3 pods: ratio 1.83 → ceil(5.5) = 6 (legacy limit 6).
	if got := act(t, p, v); got != 6 {
		t.Errorf("got %d, want 6", got)
	}
}
