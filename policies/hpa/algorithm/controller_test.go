package algorithm

import (
	"errors"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// cpuAndQueueSpec scales on CPU (target 60 %) and on the Pods metric queue_ms (10 ms).
func cpuAndQueueSpec(minR, maxR int32) autoscalingv2.HorizontalPodAutoscalerSpec {
	s := CPUUtilizationSpec(minR, maxR, 60)
	s.Metrics = append(s.Metrics, autoscalingv2.MetricSpec{
		Type: autoscalingv2.PodsMetricSourceType,
		Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "queue_ms"},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(resource.MustParse("10"))},
		},
	})
	return s
}

// podsWith returns n ready pods with the given CPU usage and, when queueMilli ≥ 0, a queue_ms sample.
func podsWith(n int, cpuMilli, queueMilli int64) []PodSample {
	out := make([]PodSample, n)
	for i := range out {
		p := newPod(podName(i)).cpu(cpuMilli)
		if queueMilli >= 0 {
			p.metric("queue_ms", queueMilli)
		}
		out[i] = p.sample()
	}
	return out
}

func condition(st autoscalingv2.HorizontalPodAutoscalerStatus, typ autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}

func TestControllerSeveralMetrics(t *testing.T) {
	tests := []struct {
		name        string
		current     int32
		pods        []PodSample
		want        int32
		wantMetric  int32
		wantErr     string // substring; "" means no error
		wantMetricN string
	}{
		{
			// CPU: util 90 %, ratio 1.5, ceil(1.5 × 4) = 6. Queue: avg 20 ms, ratio 2, ceil(2 × 4) = 8.
			// The largest wins: 8 (legacy limit max(2 × 4, 4) = 8).
			name: "largest proposal wins", current: 4, pods: podsWith(4, 900, 20000),
			want: 8, wantMetric: 8, wantMetricN: "pods metric queue_ms",
		},
		{
			// CPU: util 10 %, ratio 1/6, ceil(4/6) = 1; the queue metric fails: a failing
			// metric blocks the scale-down → hold 4.
			name: "failing metric blocks scale-down", current: 4, pods: podsWith(4, 100, -1),
			want: 4, wantMetric: -1,
			wantErr: "failed to compute desired number of replicas based on listed metrics: invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric queue_ms: no metrics returned from custom metrics API",
		},
		{
			// CPU proposes 6 (a scale-up); the failing queue metric does not block it.
			name: "failing metric does not block scale-up", current: 4, pods: podsWith(4, 900, -1),
			want: 6, wantMetric: 6, wantMetricN: "cpu resource utilization (percentage of request)",
			wantErr: "invalid metrics (1 invalid out of 2)",
		},
		{
			// Every metric fails: no samples at all.
			name: "all metrics fail", current: 4, pods: join(one(newPod("a")), one(newPod("b"))),
			want: 4, wantMetric: -1, wantErr: "invalid metrics (2 invalid out of 2), first error is: failed to get cpu utilization: unable to get metrics for resource cpu",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewController(cpuAndQueueSpec(1, 10), DefaultSettings())
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Sync(t0, Input{SpecReplicas: tt.current, Pods: tt.pods})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if res.Replicas != tt.want || res.MetricReplicas != tt.wantMetric {
				t.Errorf("replicas %d (metrics %d), want %d (%d)", res.Replicas, res.MetricReplicas, tt.want, tt.wantMetric)
			}
			if tt.wantMetricN != "" && res.Metric != tt.wantMetricN {
				t.Errorf("metric %q, want %q", res.Metric, tt.wantMetricN)
			}
			if res.Status.DesiredReplicas != tt.want && tt.wantMetric != -1 {
				t.Errorf("status desired %d, want %d", res.Status.DesiredReplicas, tt.want)
			}
		})
	}
}

func TestControllerFailingMetricCondition(t *testing.T) {
	c, _ := NewController(cpuAndQueueSpec(1, 10), DefaultSettings())
	res, err := c.Sync(t0, Input{SpecReplicas: 4, Pods: podsWith(4, 100, -1)})
	if err == nil {
		t.Fatal("no error")
	}
	cond := condition(res.Status, autoscalingv2.ScalingActive)
	if cond.Status != corev1.ConditionFalse || cond.Reason != "FailedGetPodsMetric" ||
		!strings.HasPrefix(cond.Message, "the HPA was unable to compute the replica count: ") {
		t.Errorf("ScalingActive %+v", cond)
	}
	// The CPU status is reported; the failed metric's entry is empty.
	if len(res.Status.CurrentMetrics) != 2 || res.Status.CurrentMetrics[0].Resource == nil || res.Status.CurrentMetrics[1].Type != "" {
		t.Errorf("current metrics %+v", res.Status.CurrentMetrics)
	}
}

func TestControllerBounds(t *testing.T) {
	tests := []struct {
		name       string
		current    int32
		want       int32
		wantReason string
	}{
		{"above max", 6, 4, "Current number of replicas above Spec.MaxReplicas"},
		{"below min", 1, 2, "Current number of replicas below Spec.MinReplicas"},
		{"zero disables scaling", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := NewController(CPUUtilizationSpec(2, 4, 60), DefaultSettings())
			res, err := c.Sync(t0, Input{SpecReplicas: tt.current, Pods: podsWith(int(tt.current), 600, -1)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Replicas != tt.want || res.Reason != tt.wantReason {
				t.Errorf("got %d (%q), want %d (%q)", res.Replicas, res.Reason, tt.want, tt.wantReason)
			}
		})
	}
	c, _ := NewController(CPUUtilizationSpec(2, 4, 60), DefaultSettings())
	res, _ := c.Sync(t0, Input{SpecReplicas: 0})
	if cond := condition(res.Status, autoscalingv2.ScalingActive); cond.Reason != "ScalingDisabled" || res.Rescale {
		t.Errorf("zero replicas: %+v, rescale %v", cond, res.Rescale)
	}
}

func TestControllerHistorySurvivesSetSpec(t *testing.T) {
	c, err := NewController(CPUUtilizationSpec(1, 10, 60), DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at      int
		target  int32 // 0 = unchanged
		pods    []PodSample
		current int32
		want    int32
	}{
		// 4 pods at 90 %: ratio 1.5, ceil(6) = 6.
		{0, 0, podsWith(4, 900, -1), 4, 6},
		// 6 pods at 30 %: ratio 0.5, ceil(3) = 3, stabilised to the recent 6.
		{15, 0, podsWith(6, 300, -1), 6, 6},
		// Target 100 %: ratio 0.3, ceil(1.8) = 2, still stabilised to 6.
		{30, 100, podsWith(6, 300, -1), 6, 6},
		// At t0+301 s the 6 has left the 300 s window; the window holds 3 (t0+15) and 2, 2:
		// the result is 3 — a reset history would give 2.
		{301, 0, podsWith(6, 300, -1), 6, 3},
	}
	for i, s := range steps {
		if s.target != 0 {
			if err := c.SetSpec(CPUUtilizationSpec(1, 10, s.target)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := c.Sync(secs(s.at), Input{SpecReplicas: s.current, Pods: s.pods})
		if err != nil {
			t.Fatal(err)
		}
		if res.Replicas != s.want {
			t.Fatalf("step %d: got %d, want %d", i, res.Replicas, s.want)
		}
	}
	if err := c.SetSpec(CPUUtilizationSpec(0, 10, 60)); !errors.Is(err, ErrInvalidSpec) ||
		!strings.Contains(err.Error(), "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1") {
		t.Errorf("SetSpec with minReplicas 0: %v", err)
	}
}

func TestControllerBehaviorConditions(t *testing.T) {
	spec := CPUUtilizationSpec(1, 10, 60)
	spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
		Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}},
	}}
	c, err := NewController(spec, DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	// 2 pods at 150 % of a 60 % target: ratio 2.5, ceil(5) = 5, limited to 2 + 1 = 3.
	res, err := c.Sync(t0, Input{SpecReplicas: 2, Pods: podsWith(2, 1500, -1)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replicas != 3 || res.MetricReplicas != 5 || !res.Rescale {
		t.Fatalf("got %d from %d, want 3 from 5", res.Replicas, res.MetricReplicas)
	}
	lim := condition(res.Status, autoscalingv2.ScalingLimited)
	if lim.Status != corev1.ConditionTrue || lim.Reason != "ScaleUpLimit" || !lim.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("ScalingLimited %+v", lim)
	}
	if able := condition(res.Status, autoscalingv2.AbleToScale); able.Reason != "SucceededRescale" ||
		able.Message != "the HPA controller was able to update the target scale to 3" {
		t.Errorf("AbleToScale %+v", able)
	}
	if res.Status.LastScaleTime == nil || !res.Status.LastScaleTime.Time.Equal(t0) || res.Status.CurrentReplicas != 2 || res.Status.DesiredReplicas != 3 {
		t.Errorf("status %+v", res.Status)
	}
	cur := res.Status.CurrentMetrics[0].Resource.Current
	if *cur.AverageUtilization != 150 || cur.AverageValue.MilliValue() != 1500 {
		t.Errorf("current metric %+v", cur)
	}
	if res.Reason != "cpu resource utilization (percentage of request) above target" {
		t.Errorf("reason %q", res.Reason)
	}
	// 30 s later the +1 event is inside the 60 s period: no further scale-up; the
	// ScalingLimited condition stays True, so its transition time does not move.
	res, _ = c.Sync(secs(30), Input{SpecReplicas: 3, Pods: podsWith(3, 1500, -1)})
	if res.Replicas != 3 || res.Rescale {
		t.Errorf("t0+30 s: got %d (rescale %v), want 3", res.Replicas, res.Rescale)
	}
	if lim := condition(res.Status, autoscalingv2.ScalingLimited); !lim.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("ScalingLimited transition moved to %v", lim.LastTransitionTime)
	}
}

func TestControllerBehaviorTolerance(t *testing.T) {
	spec := CPUUtilizationSpec(1, 10, 60)
	spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: ptr(resource.MustParse("0.5"))}}
	c, _ := NewController(spec, DefaultSettings())
	// util 84 % → ratio 1.4 ≤ 1 + 0.5: hold (the cluster-wide 0.1 would scale to ceil(2.8) = 3).
	res, err := c.Sync(t0, Input{SpecReplicas: 2, Pods: podsWith(2, 840, -1)})
	if err != nil || res.Replicas != 2 {
		t.Errorf("got %d, %v; want 2", res.Replicas, err)
	}
	// util 30 % → ratio 0.5 < 1 − 0.1 (the scale-down tolerance stays cluster-wide): ceil(1.0) = 1.
	res, err = c.Sync(secs(15), Input{SpecReplicas: 2, Pods: podsWith(2, 300, -1)})
	if err != nil || res.MetricReplicas != 1 {
		t.Errorf("got proposal %d, %v; want 1", res.MetricReplicas, err)
	}
}

func TestControllerObjectAndExternal(t *testing.T) {
	q := resource.MustParse
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: ptr[int32](1), MaxReplicas: 20,
		Metrics: []autoscalingv2.MetricSpec{
			{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
				DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Service", Name: "triton"},
				Metric:          autoscalingv2.MetricIdentifier{Name: "request_rate"},
				Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr(q("100"))},
			}},
			{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "queue_length"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(q("10"))},
			}},
		},
	}
	c, err := NewController(spec, DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	in := Input{
		SpecReplicas: 3,
		Pods:         podsWith(3, 1, -1),
		Object: func(d autoscalingv2.CrossVersionObjectReference, m autoscalingv2.MetricIdentifier) (int64, time.Time, error) {
			if d.Name != "triton" || m.Name != "request_rate" {
				return 0, time.Time{}, errors.New("not found")
			}
			return 150000, t0, nil // 150 req/s
		},
		External: func(m autoscalingv2.MetricIdentifier) ([]int64, time.Time, error) {
			return []int64{40000, 15000}, t0, nil // 55 queued
		},
	}
	// Object: 150/100 = 1.5 × 3 ready = ceil(4.5) = 5. External: 55 over (10 × 3): ratio
	// 1.83 → ceil(55/10) = 6. The largest is 6 (legacy limit max(6, 4) = 6).
	res, err := c.Sync(t0, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Replicas != 6 || res.Metric != "external metric queue_length(nil)" {
		t.Errorf("got %d from %q, want 6 from the external metric", res.Replicas, res.Metric)
	}
	if v := res.Status.CurrentMetrics[1].External.Current.AverageValue.MilliValue(); v != 18334 {
		t.Errorf("external per-pod value %d milli, want ceil(55000/3) = 18334", v)
	}
	// Without a metrics source both fail.
	res, err = c.Sync(secs(15), Input{SpecReplicas: 6, Pods: podsWith(6, 1, -1)})
	if err == nil || res.Replicas != 6 || !strings.Contains(err.Error(), "2 invalid out of 2") {
		t.Errorf("no sources: %d, %v", res.Replicas, err)
	}
}

func TestControllerContainerResourceFails(t *testing.T) {
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 4, Metrics: []autoscalingv2.MetricSpec{{
		Type: autoscalingv2.ContainerResourceMetricSourceType,
		ContainerResource: &autoscalingv2.ContainerResourceMetricSource{Name: corev1.ResourceCPU, Container: "triton",
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr[int32](60)}},
	}}}
	c, err := NewController(spec, DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Sync(t0, Input{SpecReplicas: 2, Pods: podsWith(2, 900, -1)})
	if err == nil || res.Replicas != 2 {
		t.Errorf("got %d, %v; want a failing metric and no scaling", res.Replicas, err)
	}
}

func TestCombineProposals(t *testing.T) {
	fail := errors.New("boom")
	tests := []struct {
		name        string
		spec        int32
		proposals   []Proposal
		want        int32
		wantMetric  string
		wantFirst   int
		wantErrText string
	}{
		{"largest wins", 4, []Proposal{{3, "a", nil}, {7, "b", nil}, {5, "c", nil}}, 7, "b", -1, ""},
		{"tie keeps the first", 4, []Proposal{{5, "a", nil}, {5, "b", nil}}, 5, "a", -1, ""},
		{"failure blocks a scale-down", 4, []Proposal{{2, "a", nil}, {0, "", fail}}, -1, "", 1, "invalid metrics (1 invalid out of 2), first error is: boom"},
		{"failure does not block a hold", 4, []Proposal{{0, "", fail}, {4, "b", nil}}, 4, "b", 0, "invalid metrics (1 invalid out of 2), first error is: boom"},
		{"failure does not block a scale-up", 4, []Proposal{{6, "a", nil}, {0, "", fail}, {0, "", fail}}, 6, "a", 1, "invalid metrics (2 invalid out of 3), first error is: boom"},
		{"all fail", 4, []Proposal{{0, "", fail}}, -1, "", 0, "invalid metrics (1 invalid out of 1), first error is: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, m, first, err := CombineProposals(tt.spec, tt.proposals)
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			if r != tt.want || m != tt.wantMetric || first != tt.wantFirst || errText != tt.wantErrText {
				t.Errorf("got (%d, %q, %d, %q), want (%d, %q, %d, %q)", r, m, first, errText, tt.want, tt.wantMetric, tt.wantFirst, tt.wantErrText)
			}
		})
	}
}
