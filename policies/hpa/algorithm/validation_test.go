package algorithm

import (
	"reflect"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validSpec() autoscalingv2.HorizontalPodAutoscalerSpec {
	s := CPUUtilizationSpec(1, 4, 60)
	s.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "triton"}
	return s
}

func TestValidateSpec(t *testing.T) {
	q := resource.MustParse
	tests := []struct {
		name   string
		mutate func(s *autoscalingv2.HorizontalPodAutoscalerSpec)
		want   []string
	}{
		{"valid", func(*autoscalingv2.HorizontalPodAutoscalerSpec) {}, nil},
		{"minReplicas 0", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.MinReplicas = ptr[int32](0) },
			[]string{
				"spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
				// Upstream's scale-to-zero rule reports this too for a CPU-only spec.
				"spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
			}},
		{"maxReplicas 0", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.MaxReplicas = 0 }, []string{
			"spec.maxReplicas: Invalid value: 0: must be greater than 0",
			"spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
		}},
		{"min above max", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.MinReplicas = ptr[int32](5); s.MaxReplicas = 3 },
			[]string{"spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`"}},
		{"scaleTargetRef missing kind, bad name", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{Name: "a/b"}
		}, []string{
			"spec.scaleTargetRef.kind: Required value",
			`spec.scaleTargetRef.name: Invalid value: "a/b": may not contain '/'`,
		}},
		{"utilisation 0", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Target.AverageUtilization = ptr[int32](0)
		},
			[]string{"spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"}},
		{"utilisation and value", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Target.AverageValue = ptr(q("500m"))
		},
			[]string{"spec.metrics[0].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization"}},
		{"resource without target", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Target.AverageUtilization = nil
		},
			[]string{"spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"}},
		{"negative average value", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(q("-1"))}
		}, []string{`spec.metrics[0].resource.target.averageValue: Invalid value: "-1": must be positive`}},
		{"unknown target type", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.Metrics[0].Resource.Target.Type = "Percent" },
			[]string{`spec.metrics[0].resource.target.type: Invalid value: "Percent": must be either Utilization, Value, or AverageValue`}},
		{"unknown metric type", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.Metrics[0].Type = "Foo" }, []string{
			`spec.metrics[0].type: Unsupported value: "Foo": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"`,
		}},
		{"type without its source", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Type = autoscalingv2.PodsMetricSourceType
		}, []string{
			"spec.metrics[0].pods: Required value: must populate information for the given metric source",
		}},
		{"two sources", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Pods = &autoscalingv2.PodsMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: "queue_ms"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(q("10"))}}
		}, []string{"spec.metrics[0].pods: Forbidden: must populate the given metric source only"}},
		{"pods metric without averageValue", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0] = autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "queue_ms"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType}}}
		}, []string{"spec.metrics[0].pods.target.averageValue: Required value: must specify a positive target averageValue"}},
		{"external with both targets", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0] = autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "queue"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr(q("5")), AverageValue: ptr(q("1"))}}}
		}, []string{"spec.metrics[0].external.target.value: Forbidden: may not set both a target value for metric and a per-pod target"}},
		{"object without described object or name", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0] = autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr(q("5"))}}}
		}, []string{
			"spec.metrics[0].object.describedObject.kind: Required value",
			"spec.metrics[0].object.describedObject.name: Required value",
			"spec.metrics[0].object.metric.name: Required value: must specify a metric name",
		}},
		{"behavior: empty policies, bad window, bad select", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			sel := autoscalingv2.ScalingPolicySelect("Foo")
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{}, StabilizationWindowSeconds: ptr[int32](3601)},
				ScaleDown: &autoscalingv2.HPAScalingRules{SelectPolicy: &sel, StabilizationWindowSeconds: ptr[int32](-1), Policies: []autoscalingv2.HPAScalingPolicy{{Type: "Percent", Value: 10, PeriodSeconds: 60}}},
			}
		}, []string{
			"spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600",
			"spec.behavior.scaleUp.policies: Required value: must specify at least one Policy",
			"spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: -1: must be greater than or equal to zero",
			`spec.behavior.scaleDown.selectPolicy: Unsupported value: "Foo": supported values: "Disabled", "Max", "Min"`,
		}},
		{"behavior: bad policies", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: "Bogus", Value: 0, PeriodSeconds: 0},
				{Type: "Pods", Value: 1, PeriodSeconds: 1801},
			}}}
		}, []string{
			`spec.behavior.scaleUp.policies[0].type: Unsupported value: "Bogus": supported values: "Percent", "Pods"`,
			"spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
			"spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 0: must be greater than zero",
			"spec.behavior.scaleUp.policies[1].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
		}},
		{"behavior: negative tolerance", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{Tolerance: ptr(q("-0.1"))}}
		}, []string{`spec.behavior.scaleDown.tolerance: Invalid value: "-100m": must be greater or equal to zero`}},
		{"behavior: zero tolerance is valid", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: ptr(q("0"))}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			errs := ValidateSpec(DefaultSpec(s), field.NewPath("spec"), ValidationOptions{})
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestValidateSpecEmptyScaleTargetRef(t *testing.T) {
	s := CPUUtilizationSpec(1, 4, 60)
	if errs := ValidateSpec(s, field.NewPath("spec"), ValidationOptions{AllowEmptyScaleTargetRef: true}); len(errs) != 0 {
		t.Errorf("allowed empty ref: %v", errs)
	}
	if errs := ValidateSpec(s, field.NewPath("spec"), ValidationOptions{}); len(errs) != 2 {
		t.Errorf("required ref: got %v, want kind and name required", errs)
	}
}

func TestDefaultSpec(t *testing.T) {
	d := DefaultSpec(autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 4})
	if d.MinReplicas == nil || *d.MinReplicas != 1 {
		t.Errorf("minReplicas %v, want 1", d.MinReplicas)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Resource == nil || d.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		*d.Metrics[0].Resource.Target.AverageUtilization != 80 || d.Metrics[0].Resource.Target.Type != autoscalingv2.UtilizationMetricType {
		t.Errorf("metrics %+v, want CPU at 80 %% utilisation", d.Metrics)
	}
	if d.Behavior != nil {
		t.Errorf("behavior %+v, want nil (legacy path)", d.Behavior)
	}

	// A partial behavior is completed field by field.
	in := autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 4, Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr[int32](30)},
	}}
	d = DefaultSpec(in)
	up, down := d.Behavior.ScaleUp, d.Behavior.ScaleDown
	wantUp := []autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 4, PeriodSeconds: 15}, {Type: "Percent", Value: 100, PeriodSeconds: 15}}
	if *up.StabilizationWindowSeconds != 30 || *up.SelectPolicy != autoscalingv2.MaxChangePolicySelect || !reflect.DeepEqual(up.Policies, wantUp) {
		t.Errorf("scaleUp %+v", up)
	}
	wantDown := []autoscalingv2.HPAScalingPolicy{{Type: "Percent", Value: 100, PeriodSeconds: 15}}
	if down.StabilizationWindowSeconds != nil || *down.SelectPolicy != autoscalingv2.MaxChangePolicySelect || !reflect.DeepEqual(down.Policies, wantDown) {
		t.Errorf("scaleDown %+v", down)
	}
	if in.Behavior.ScaleDown != nil || in.MinReplicas != nil {
		t.Error("DefaultSpec modified its argument")
	}
}

func TestTolerancesFor(t *testing.T) {
	q := resource.MustParse
	b := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: ptr(q("0.05"))}}
	if got := TolerancesFor(b, 0.1); got != (Tolerances{ScaleDown: 0.1, ScaleUp: 0.05}) {
		t.Errorf("got %+v", got)
	}
	if got := TolerancesFor(nil, 0.2); got != UniformTolerance(0.2) {
		t.Errorf("got %+v", got)
	}
}
