package algorithm

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// DefaultCPUUtilization is the target the API server gives a spec without metrics (percent).
const DefaultCPUUtilization int32 = 80

// Defaults of the behavior field, as pkg/apis/autoscaling/v2/defaults.go sets them.
const (
	scaleUpLimitPercent     int32 = 100
	scaleUpLimitMinimumPods int32 = 4
	scaleUpPeriod           int32 = 15
	scaleDownPeriod         int32 = 15
	scaleDownLimitPercent   int32 = 100
)

// defaultScaleUpRules returns the scale-up rules the API server fills in: no stabilisation,
// selectPolicy Max over "4 pods per 15 s" and "100 % per 15 s".
func defaultScaleUpRules() *autoscalingv2.HPAScalingRules {
	window := int32(0)
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: &window,
		SelectPolicy:               &maxPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: scaleUpLimitMinimumPods, PeriodSeconds: scaleUpPeriod},
			{Type: autoscalingv2.PercentScalingPolicy, Value: scaleUpLimitPercent, PeriodSeconds: scaleUpPeriod},
		},
	}
}

// defaultScaleDownRules returns the scale-down rules the API server fills in: selectPolicy
// Max over "100 % per 15 s". The stabilisation window stays nil: the controller fills it
// from its --horizontal-pod-autoscaler-downscale-stabilization flag (300 s by default).
func defaultScaleDownRules() *autoscalingv2.HPAScalingRules {
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: &maxPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: scaleDownLimitPercent, PeriodSeconds: scaleDownPeriod},
		},
	}
}

// copyScalingRules copies the non-nil fields of from over to (upstream's copyHPAScalingRules).
func copyScalingRules(from, to *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if from == nil {
		return to
	}
	if from.SelectPolicy != nil {
		p := *from.SelectPolicy
		to.SelectPolicy = &p
	}
	if from.StabilizationWindowSeconds != nil {
		w := *from.StabilizationWindowSeconds
		to.StabilizationWindowSeconds = &w
	}
	if from.Policies != nil {
		to.Policies = append([]autoscalingv2.HPAScalingPolicy{}, from.Policies...)
	}
	if from.Tolerance != nil {
		t := from.Tolerance.DeepCopy()
		to.Tolerance = &t
	}
	return to
}

// GenerateScaleUpRules returns fully defaulted scale-up rules: every nil field of rules is
// taken from the API server's default (upstream's GenerateHPAScaleUpRules). rules is not
// modified.
func GenerateScaleUpRules(rules *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	return copyScalingRules(rules, defaultScaleUpRules())
}

// GenerateScaleDownRules returns defaulted scale-down rules (upstream's
// GenerateHPAScaleDownRules). Only StabilizationWindowSeconds may stay nil; the controller
// resolves it from its downscale stabilisation setting.
func GenerateScaleDownRules(rules *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	return copyScalingRules(rules, defaultScaleDownRules())
}

// DefaultSpec returns a copy of spec with the API server's defaulting applied
// (SetDefaults_HorizontalPodAutoscaler for autoscaling/v2): minReplicas 1 when unset; a
// spec without metrics gets one Resource metric, CPU at 80 % average utilisation; a
// behavior that is present has its nil scaleUp/scaleDown rules and fields filled. A spec
// without behavior keeps a nil behavior (the controller then takes its legacy path).
func DefaultSpec(spec autoscalingv2.HorizontalPodAutoscalerSpec) autoscalingv2.HorizontalPodAutoscalerSpec {
	out := *spec.DeepCopy()
	if out.MinReplicas == nil {
		one := int32(1)
		out.MinReplicas = &one
	}
	if len(out.Metrics) == 0 {
		target := DefaultCPUUtilization
		out.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: &target,
				},
			},
		}}
	}
	if out.Behavior != nil {
		out.Behavior.ScaleUp = GenerateScaleUpRules(out.Behavior.ScaleUp)
		out.Behavior.ScaleDown = GenerateScaleDownRules(out.Behavior.ScaleDown)
	}
	return out
}

// CPUUtilizationSpec returns the spec of a plain CPU HPA: the given bounds, one Resource
// metric at targetPercent average utilisation and no behavior (legacy normalisation). It is
// what the simulator's "hpa_target" action drives.
func CPUUtilizationSpec(minReplicas, maxReplicas, targetPercent int32) autoscalingv2.HorizontalPodAutoscalerSpec {
	return autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: &minReplicas,
		MaxReplicas: maxReplicas,
		Metrics: []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: &targetPercent,
				},
			},
		}},
	}
}
