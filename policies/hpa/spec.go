package hpa

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/hpa/algorithm"
)

// DecodeSpec decodes a HorizontalPodAutoscalerSpec written as in a cluster manifest
// (camelCase keys, quantities such as "500m"), strictly: unknown or duplicate fields are
// errors. raw is the case-preserved config subtree (map[string]any, as the loader hands
// over BuildContext.Raw["spec"]), or YAML/JSON text as a string or []byte.
func DecodeSpec(raw any) (autoscalingv2.HorizontalPodAutoscalerSpec, error) {
	var data []byte
	switch v := raw.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	case map[string]any:
		b, err := json.Marshal(v)
		if err != nil {
			return autoscalingv2.HorizontalPodAutoscalerSpec{}, fmt.Errorf("spec: %w", err)
		}
		data = b
	default:
		return autoscalingv2.HorizontalPodAutoscalerSpec{}, fmt.Errorf("spec: must be a HorizontalPodAutoscalerSpec mapping, got %T", raw)
	}
	var spec autoscalingv2.HorizontalPodAutoscalerSpec
	if err := yaml.UnmarshalStrict(data, &spec); err != nil {
		return autoscalingv2.HorizontalPodAutoscalerSpec{}, fmt.Errorf("spec: %w", err)
	}
	return spec, nil
}

// ResolveSpec turns the policy's raw `spec` into the defaulted spec it runs, with every
// problem found: decoding errors, the API server's validation (upstream wording), metric
// kinds scalelab cannot evaluate, and bounds outside the workload's. A missing spec (nil)
// means the API server's default HPA between the workload's bounds: CPU at 80 %, no
// behavior. An omitted scaleTargetRef refers to the scenario's workload.
func ResolveSpec(raw any, w framework.WorkloadConfig) (autoscalingv2.HorizontalPodAutoscalerSpec, []error) {
	var spec autoscalingv2.HorizontalPodAutoscalerSpec
	if raw == nil {
		lo := int32(w.MinReplicas)
		spec = autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &lo, MaxReplicas: int32(w.MaxReplicas)}
	} else {
		var err error
		if spec, err = DecodeSpec(raw); err != nil {
			return spec, []error{err}
		}
	}
	spec = algorithm.DefaultSpec(spec)
	path := field.NewPath("spec")
	var errs []error
	for _, e := range algorithm.ValidateSpec(spec, path, algorithm.ValidationOptions{AllowEmptyScaleTargetRef: true}) {
		errs = append(errs, e)
	}
	for i, m := range spec.Metrics {
		if m.Type == autoscalingv2.ContainerResourceMetricSourceType {
			errs = append(errs, field.Invalid(path.Child("metrics").Index(i).Child("type"), string(m.Type),
				"not supported by scalelab: pods carry pod-level requests and usage only; use a Resource metric"))
		}
	}
	lo, hi := int32(w.MinReplicas), int32(w.MaxReplicas)
	// Bounds are checked only for values the API server accepts (no duplicate complaints).
	if spec.MinReplicas != nil && *spec.MinReplicas >= 1 && (*spec.MinReplicas < lo || *spec.MinReplicas > hi) {
		errs = append(errs, field.Invalid(path.Child("minReplicas"), *spec.MinReplicas,
			fmt.Sprintf("must lie within the workload's bounds [workload.min_replicas %d, workload.max_replicas %d]", lo, hi)))
	}
	if spec.MaxReplicas >= 1 && (spec.MaxReplicas < lo || spec.MaxReplicas > hi) {
		errs = append(errs, field.Invalid(path.Child("maxReplicas"), spec.MaxReplicas,
			fmt.Sprintf("must lie within the workload's bounds [workload.min_replicas %d, workload.max_replicas %d]", lo, hi)))
	}
	return spec, errs
}

// InputFromView converts the framework's cluster view into the algorithm's input, the way
// the controller's pod lister and metrics clients would present the same cluster:
//   - scale.spec.replicas is Replicas.Desired; scale.status.replicas is counted from the pods;
//   - a pod's Ready condition is True or False, or absent when it is not ready and has never
//     transitioned (zero ReadyTransition);
//   - requests: "cpu" from CPURequestMilli (the view's CPURequestMilli when the pod's is 0;
//     no request when both are 0), "memory" from MemRequestBytes × 1000 (none when 0);
//   - samples: Metrics["cpu"] is already in millicores; every other metric (bytes for
//     "memory", plain values for Pods metrics) is multiplied by 1000 into milli-units,
//     rounded up as resource.Quantity.MilliValue rounds;
//   - Object and External metrics are looked up by metric name in ClusterView.Metrics (the
//     described object and the selector are not used); a missing name fails that metric.
func InputFromView(v framework.ClusterView) algorithm.Input {
	pods := make([]algorithm.PodSample, len(v.Pods))
	for i, p := range v.Pods {
		s := algorithm.PodSample{
			Name:            p.Name,
			Phase:           corev1.PodPhase(p.Phase),
			ReadyTransition: p.ReadyTransition,
			StartTime:       p.StartTime,
			Deleting:        p.Deleting,
			Requests:        make(map[corev1.ResourceName]int64, 2),
			Metrics:         make(map[string]algorithm.Metric, len(p.Metrics)),
		}
		switch {
		case p.Ready:
			s.Ready = corev1.ConditionTrue
		case !p.ReadyTransition.IsZero():
			s.Ready = corev1.ConditionFalse
		}
		cpu := p.CPURequestMilli
		if cpu == 0 {
			cpu = v.CPURequestMilli
		}
		if cpu > 0 {
			s.Requests[corev1.ResourceCPU] = cpu
		}
		if p.MemRequestBytes > 0 {
			s.Requests[corev1.ResourceMemory] = p.MemRequestBytes * 1000
		}
		for name, m := range p.Metrics {
			scale := 1000.0
			if name == string(corev1.ResourceCPU) {
				scale = 1
			}
			s.Metrics[name] = algorithm.Metric{Value: milli(m.Value, scale), Timestamp: m.Timestamp, Window: m.Window}
		}
		pods[i] = s
	}
	in := algorithm.Input{SpecReplicas: int32(v.Replicas.Desired), Pods: pods}
	in.Object = func(_ autoscalingv2.CrossVersionObjectReference, id autoscalingv2.MetricIdentifier) (int64, time.Time, error) {
		m, ok := v.Metrics[id.Name]
		if !ok {
			return 0, time.Time{}, fmt.Errorf("metric %q is not in the cluster view", id.Name)
		}
		return milli(m.Value, 1000), m.Timestamp, nil
	}
	in.External = func(id autoscalingv2.MetricIdentifier) ([]int64, time.Time, error) {
		m, ok := v.Metrics[id.Name]
		if !ok {
			return nil, time.Time{}, fmt.Errorf("metric %q is not in the cluster view", id.Name)
		}
		return []int64{milli(m.Value, 1000)}, m.Timestamp, nil
	}
	return in
}

// milli converts v × scale to an integer, rounding up like Quantity.MilliValue but
// forgiving binary representation noise (0.3 × 1000 is 300, not 301).
func milli(v, scale float64) int64 {
	x := v * scale
	switch {
	case math.IsNaN(x):
		return 0
	case x >= math.MaxInt64:
		return math.MaxInt64
	case x <= math.MinInt64:
		return math.MinInt64
	}
	if r := math.Round(x); math.Abs(x-r) < 1e-6*math.Max(1, math.Abs(x)) {
		return int64(r)
	}
	return int64(math.Ceil(x))
}
