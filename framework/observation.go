package framework

import (
	"fmt"
	"time"
)

// SimEpoch is the wall-clock instant at which every simulated episode starts. A fixed epoch
// keeps simulated timestamps (pod start times, metric timestamps) deterministic.
var SimEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FeatureSpec describes one entry of a state vector: a catalogue feature name, its unit and
// a nominal range used for documentation and optional scaling (Low/High are not clamps).
type FeatureSpec struct {
	Name        string  `json:"name"`
	Unit        string  `json:"unit"`
	Description string  `json:"description"`
	Low         float64 `json:"low"`
	High        float64 `json:"high"`
}

// Observation is what a collector reports at one decision time.
//
// Values holds the configured features in the configured order. Valid[i] is false when
// Values[i] is missing (no data, NaN, stale beyond the configured maximum age); a missing
// value is never reported as zero: Values[i] is then NaN and policies must look at Valid.
// Age[i] is how old the underlying sample is (observation lag included).
type Observation struct {
	Time    time.Time       `json:"time"`
	Values  []float64       `json:"values"`
	Valid   []bool          `json:"valid"`
	Age     []time.Duration `json:"age"`
	Cluster ClusterView     `json:"cluster"`
}

// Value returns the value of the named feature and whether it is valid. It returns
// (NaN, false) when the feature is not part of the observation.
func (o Observation) Value(specs []FeatureSpec, name string) (float64, bool) {
	for i, s := range specs {
		if s.Name == name && i < len(o.Values) {
			return o.Values[i], o.Valid[i]
		}
	}
	return nan(), false
}

// ReplicaCounts are the workload's replica counts as the Deployment controller sees them.
type ReplicaCounts struct {
	Desired     int `json:"desired"`
	Ready       int `json:"ready"`
	Pending     int `json:"pending"` // unscheduled pods
	Starting    int `json:"starting"`
	Terminating int `json:"terminating"`
}

// BatchingSettings are the serving batcher's knobs (Triton's dynamic batching).
type BatchingSettings struct {
	MaxBatchSize   int           `json:"max_batch_size"`
	PreferredSizes []int         `json:"preferred_sizes,omitempty"`
	MaxQueueDelay  time.Duration `json:"max_queue_delay"`
	InstanceCount  int           `json:"instance_count"`
	MaxQueueSize   int           `json:"max_queue_size"` // 0 = unbounded
}

// ClusterView is the structured view of the workload for policies that need more than a
// vector (the HPA does): its pods with phase, readiness and per-pod metric samples as a
// metrics pipeline (metrics-server, prometheus-adapter) would present them, lag included.
type ClusterView struct {
	Now             time.Time     `json:"now"`
	Replicas        ReplicaCounts `json:"replicas"`
	MinReplicas     int           `json:"min_replicas"`
	MaxReplicas     int           `json:"max_replicas"`
	CPURequestMilli int64         `json:"cpu_request_milli"`
	// HPATarget is the target CPU utilisation (percent) of the HPA that Command.HPATarget
	// drives, as in force now; 0 when no such HPA runs (the hpa_target action design's Hold
	// reads it).
	HPATarget float64                 `json:"hpa_target,omitempty"`
	Batching  BatchingSettings        `json:"batching"`
	Pods      []PodView               `json:"pods"`
	Metrics   map[string]MetricSample `json:"metrics,omitempty"` // workload-level (Object/External) metrics by name
}

// PodPhase mirrors corev1.PodPhase.
type PodPhase string

// Pod phases, as in Kubernetes.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
)

// PodView is one pod of the workload.
type PodView struct {
	Name  string   `json:"name"`
	Phase PodPhase `json:"phase"`
	// Ready is the pod's Ready condition; ReadyTransition its last transition time.
	Ready           bool      `json:"ready"`
	ReadyTransition time.Time `json:"ready_transition"`
	// StartTime is when the kubelet accepted the pod (zero while unscheduled).
	StartTime time.Time `json:"start_time"`
	Deleting  bool      `json:"deleting"`
	// Requests in milli-units by resource name ("cpu" in millicores, "memory" in bytes*1000 is
	// not used: memory is in bytes under "memory").
	CPURequestMilli int64 `json:"cpu_request_milli"`
	MemRequestBytes int64 `json:"mem_request_bytes"`
	// Metrics are per-pod samples by metric name. "cpu" is CPU usage in millicores as
	// metrics-server reports it (with its timestamp and window); others are Pods metrics such
	// as "queue_ms" or "inflight" as an adapter would expose them. A pod with no sample for a
	// metric is absent from that metric's point of view.
	Metrics map[string]MetricSample `json:"metrics,omitempty"`
}

// MetricSample is one metric value with the time it describes and the window it covers.
type MetricSample struct {
	Value     float64       `json:"value"`
	Timestamp time.Time     `json:"timestamp"`
	Window    time.Duration `json:"window"`
}

// Catalogue is the state catalogue: every feature name a state design may use, with one
// meaning on every backend. docs/features.md documents it and a test keeps the two in step.
var Catalogue = []FeatureSpec{
	{Name: "request_rate", Unit: "req/s", Description: "arrivals over the feature window", Low: 0, High: 1000},
	{Name: "p50_latency_ms", Unit: "ms", Description: "median end-to-end latency of completions over the window", Low: 0, High: 1000},
	{Name: "p95_latency_ms", Unit: "ms", Description: "95th percentile end-to-end latency over the window", Low: 0, High: 1000},
	{Name: "p99_latency_ms", Unit: "ms", Description: "99th percentile end-to-end latency over the window", Low: 0, High: 1000},
	{Name: "mean_queue_ms", Unit: "ms", Description: "mean time requests spent queued before execution over the window", Low: 0, High: 1000},
	{Name: "queue_length", Unit: "requests", Description: "requests waiting in the serving queues, summed over pods", Low: 0, High: 1000},
	{Name: "qos_violation_rate", Unit: "fraction", Description: "share of requests over the SLO, dropped or failed, over the window", Low: 0, High: 1},
	{Name: "cpu_util", Unit: "fraction", Description: "mean pod CPU usage divided by the pod CPU request", Low: 0, High: 2},
	{Name: "mem_util", Unit: "fraction", Description: "mean pod working set divided by the pod memory request", Low: 0, High: 2},
	{Name: "gpu_util", Unit: "fraction", Description: "mean busy fraction of the GPUs in use", Low: 0, High: 1},
	{Name: "gpu_mem_util", Unit: "fraction", Description: "used over total frame buffer of the GPUs in use", Low: 0, High: 1},
	{Name: "replicas_desired", Unit: "pods", Description: "desired replicas of the workload", Low: 0, High: 16},
	{Name: "replicas_ready", Unit: "pods", Description: "ready replicas", Low: 0, High: 16},
	{Name: "replicas_pending", Unit: "pods", Description: "replicas not yet scheduled or not yet ready", Low: 0, High: 16},
	{Name: "avg_batch_size", Unit: "images", Description: "images per GPU execution over the window", Low: 0, High: 64},
}

// LookupFeature returns the catalogue entry of a feature name.
func LookupFeature(name string) (FeatureSpec, error) {
	for _, f := range Catalogue {
		if f.Name == name {
			return f, nil
		}
	}
	return FeatureSpec{}, fmt.Errorf("unknown feature %q (see docs/features.md)", name)
}

// FeatureNames returns the names of the catalogue, in catalogue order.
func FeatureNames() []string {
	out := make([]string, len(Catalogue))
	for i, f := range Catalogue {
		out[i] = f.Name
	}
	return out
}
