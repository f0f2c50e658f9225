// Package algorithm is the Kubernetes HorizontalPodAutoscaler (autoscaling/v2) as
// kube-controller-manager implements it, ported from pkg/controller/podautoscaler
// (replica_calculator.go, horizontal.go, metrics/utilization.go) and from the API server's
// defaulting and validation of the HPA (pkg/apis/autoscaling/v2/defaults.go,
// pkg/apis/autoscaling/validation), as of Kubernetes 1.36 with k8s.io/api v0.36.3.
//
// It is a leaf package: it imports nothing of scalelab, only k8s.io/api and
// k8s.io/apimachinery types, so the HPA baseline (policies/hpa), the simulator's
// "hpa_target" actuator and anyone testing against upstream's cases use the same code.
//
// # Pods and metrics
//
// Each call receives the scale target's pods as []PodSample: name, phase, the Ready
// condition's status ("" when absent) and last transition time, start time, a deleting flag,
// requests in milli-units by resource, and metric samples in milli-units by name (resource
// names "cpu"/"memory" for Resource metrics, metric names for Pods metrics), each with the
// timestamp and window its pipeline reports. A pod without a sample for a metric is
// "missing" for that metric. Milli-units: CPU in millicores; memory in bytes × 1000; a Pods
// metric value v is 1000·v (what resource.Quantity.MilliValue returns).
//
// # Replica calculator
//
// ReplicaCalculator holds the CPU initialisation period (5 min) and the initial readiness
// delay (30 s); every method takes an explicit now and the HPA's Tolerances (per
// direction: no scaling while 1 − down ≤ ratio ≤ 1 + up). One method per metric source, each
// returning the proposed replicas and the observed value as upstream's do:
//
//	GetResourceReplicas             Resource, target averageUtilization (percent)
//	GetRawResourceReplicas          Resource, target averageValue
//	GetMetricReplicas               Pods, target averageValue
//	GetObjectMetricReplicas         Object, target value
//	GetObjectPerPodMetricReplicas   Object, target averageValue
//	GetExternalMetricReplicas       External, target value
//	GetExternalPerPodMetricReplicas External, target averageValue
//
// Upstream's rules hold: deleting and failed pods are ignored; pending pods, and for CPU
// pods that are unready or have just started, are set aside and count as 0 % only when
// scaling up; pods without samples count as 0 % on a scale-up and as max(100 %, target) of
// their request (the target, for plain values) on a scale-down; after this rebalancing the
// proposal reverts to the current count when it is within tolerance or would reverse the
// direction of the change. Proposals for utilisation are ceil(ratio × pods counted), not
// ratio × the replica count.
//
// CombineProposals combines several metrics as upstream does: the largest proposal wins,
// and a failing metric blocks a scale-down (all failing blocks everything).
//
// # Normaliser
//
// Normalizer holds the recommendation history and the past scale events of one HPA. Given
// the HPA's behavior (nil selects the legacy path), min, max, current and recommended
// replicas and now, Normalize returns the replicas to set: legacy — the highest
// recommendation of the downscale stabilisation window (5 min), then at most
// max(2 × current, 4); with behavior — stabilisation between the scale-up window's lowest and
// the scale-down window's highest recommendation, then the Pods/Percent policies over their
// periods chosen by selectPolicy (Max, Min, Disabled), then [min, max]. RecordScaleEvent
// stores each applied change for the policies' periods.
//
// # API-server rules
//
// DefaultSpec applies the API server's defaulting (minReplicas 1, CPU at 80 % when no metric,
// scaleUp "max(100 %, 4 pods) per 15 s, no window", scaleDown "100 % per 15 s, 300 s
// window" filled into a present behavior). ValidateSpec applies its validation with
// upstream's messages, e.g. "spec.minReplicas: Invalid value: 0: must be greater than or
// equal to 1".
//
// # Controller
//
// Controller is the simple entry point: a defaulted, validated spec plus Settings (the
// controller's flags) and the normaliser; Sync(now, Input) runs one reconciliation and
// returns the replicas to set and the HPA status (current metrics, conditions such as
// ScalingLimited). Call it every 15 s of (virtual) time:
//
//	c, err := algorithm.NewController(algorithm.CPUUtilizationSpec(1, 4, 60), algorithm.DefaultSettings())
//	...
//	res, err := c.Sync(now, algorithm.Input{SpecReplicas: desired, Pods: pods})
//	// set desired = res.Replicas; err reports failed metrics (the HPA then holds or
//	// proceeds exactly as upstream does).
//	c.SetSpec(algorithm.CPUUtilizationSpec(1, 4, 70)) // a new target keeps the history
//
// # What is not ported
//
// Label selectors (the caller passes the pods and series that match), the scale
// subresource and API calls, events, ContainerResource metrics (pod samples carry no
// per-container data: such a metric fails), scale to zero (the HPAScaleToZero alpha gate is
// off: minReplicas ≥ 1), and the rate limiting of the controller's work queue. The
// HPAConfigurableTolerance gate is on (its default since 1.35).
package algorithm
