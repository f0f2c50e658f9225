// Package promnames holds, in one place, the Prometheus metric families scalelab's
// emulators export under the names of the exporters they stand in for — Triton,
// DCGM-Exporter, cAdvisor, kube-state-metrics — and of scalelab's own load generator:
// their names, help strings, types and label names. The emulator (serve), the simulator's
// exporter (sim/promexport) and the load generator (loadgen) build their descriptors from
// here, so the series they export are identical, and so are the names the Prometheus
// collector's default queries (collectors/prometheus) read.
//
// The package is a leaf: it imports client_golang and nothing of scalelab.
package promnames

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// Family is one metric family: its name, help string and type.
type Family struct {
	Name string
	Help string
	Type prometheus.ValueType
}

// Desc returns the family's descriptor with the given variable labels.
func (f Family) Desc(labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(f.Name, f.Help, labels, nil)
}

// Metric returns a constant sample of the family on d (a descriptor from Desc) with the
// given label values. It panics, as prometheus.MustNewConstMetric, when the label values do
// not match d.
func (f Family) Metric(d *prometheus.Desc, v float64, labelValues ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, f.Type, v, labelValues...)
}

// Label names shared by several families.
const (
	LabelModel     = "model"
	LabelVersion   = "version"
	LabelReason    = "reason"
	LabelGPUUUID   = "gpu_uuid"
	LabelNamespace = "namespace"
	LabelPod       = "pod"
	LabelContainer = "container"
	LabelImage     = "image"
	LabelNode      = "node"
	LabelResource  = "resource"
	LabelUnit      = "unit"
)

// Triton Inference Server (its /metrics, port 8002). Counters are cumulative per model
// and version; durations are whole microseconds.
var (
	TritonRequestSuccess  = Family{"nv_inference_request_success", "Number of successful inference requests, all batch sizes", prometheus.CounterValue}
	TritonRequestFailure  = Family{"nv_inference_request_failure", "Number of failed inference requests, all batch sizes", prometheus.CounterValue}
	TritonInferenceCount  = Family{"nv_inference_count", "Number of inferences performed (does not include cached requests)", prometheus.CounterValue}
	TritonExecCount       = Family{"nv_inference_exec_count", "Number of model executions performed (does not include cached requests)", prometheus.CounterValue}
	TritonRequestDuration = Family{"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds (includes cached requests)", prometheus.CounterValue}
	TritonQueueDuration   = Family{"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds (includes cached requests)", prometheus.CounterValue}
	TritonComputeInput    = Family{"nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds (does not include cached requests)", prometheus.CounterValue}
	TritonComputeInfer    = Family{"nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds (does not include cached requests)", prometheus.CounterValue}
	TritonComputeOutput   = Family{"nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds (does not include cached requests)", prometheus.CounterValue}
	TritonPendingRequests = Family{"nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution per-model.", prometheus.GaugeValue}
	TritonGPUUtilization  = Family{"nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", prometheus.GaugeValue}
	TritonGPUMemoryTotal  = Family{"nv_gpu_memory_total_bytes", "GPU total memory, in bytes", prometheus.GaugeValue}
	TritonGPUMemoryUsed   = Family{"nv_gpu_memory_used_bytes", "GPU used memory, in bytes", prometheus.GaugeValue}
	TritonLabels          = []string{LabelModel, LabelVersion}
	// TritonFailureReasons are the reason label values of nv_inference_request_failure; a
	// request refused by a full queue is REJECTED.
	TritonFailureReasons = []string{"REJECTED", "CANCELED", "BACKEND", "OTHER"}
)

// DCGM-Exporter (per GPU; with pod mapping, one series per pod using the GPU). Utilisation
// is a whole percentage over the collection interval, frame buffer whole MiB.
var (
	DCGMGPUUtil = Family{"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", prometheus.GaugeValue}
	DCGMFBUsed  = Family{"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", prometheus.GaugeValue}
	DCGMFBFree  = Family{"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", prometheus.GaugeValue}
)

// DCGMLabels are DCGM-Exporter's labels, the node's under hostnameLabel ("Hostname" in
// older builds, "hostname" in newer ones), followed by the pod mapping's namespace, pod
// and container.
func DCGMLabels(hostnameLabel string) []string {
	return []string{"gpu", "UUID", "device", "modelName", hostnameLabel, LabelNamespace, LabelPod, LabelContainer}
}

// cAdvisor (through the kubelet), per container.
var (
	CAdvisorCPUUsage   = Family{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", prometheus.CounterValue}
	CAdvisorWorkingSet = Family{"container_memory_working_set_bytes", "Current working set in bytes.", prometheus.GaugeValue}
	CAdvisorLabels     = []string{LabelNamespace, LabelPod, LabelContainer, LabelImage}
)

// kube-state-metrics.
var (
	KSMContainerRequests = Family{"kube_pod_container_resource_requests", "The number of requested request resource by a container.", prometheus.GaugeValue}
	KSMContainerLimits   = Family{"kube_pod_container_resource_limits", "The number of requested limit resource by a container.", prometheus.GaugeValue}
	KSMResourceLabels    = []string{LabelNamespace, LabelPod, LabelContainer, LabelNode, LabelResource, LabelUnit}

	KSMDeploymentSpecReplicas        = Family{"kube_deployment_spec_replicas", "Number of desired pods for a deployment.", prometheus.GaugeValue}
	KSMDeploymentReplicas            = Family{"kube_deployment_status_replicas", "The number of replicas per deployment.", prometheus.GaugeValue}
	KSMDeploymentReplicasReady       = Family{"kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", prometheus.GaugeValue}
	KSMDeploymentReplicasAvailable   = Family{"kube_deployment_status_replicas_available", "The number of available replicas per deployment.", prometheus.GaugeValue}
	KSMDeploymentReplicasUnavailable = Family{"kube_deployment_status_replicas_unavailable", "The number of unavailable replicas per deployment.", prometheus.GaugeValue}
	KSMDeploymentReplicasUpdated     = Family{"kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", prometheus.GaugeValue}
	KSMDeploymentLabels              = []string{LabelNamespace, "deployment"}

	KSMPodStatusPhase = Family{"kube_pod_status_phase", "The pods current phase.", prometheus.GaugeValue}
	KSMPodStatusReady = Family{"kube_pod_status_ready", "Describes whether the pod is ready to serve requests.", prometheus.GaugeValue}
	KSMPodInfo        = Family{"kube_pod_info", "Information about pod.", prometheus.GaugeValue}
	// KSMPodPhases are the phase label values of kube_pod_status_phase (one series each,
	// 1 for the pod's phase).
	KSMPodPhases = []string{"Pending", "Succeeded", "Failed", "Unknown", "Running"}
)

// scalelab's load generator (loadgen), all with the constant label model.
var (
	LoadgenRequests        = Family{"scalelab_loadgen_requests_total", "Requests sent (arrivals).", prometheus.CounterValue}
	LoadgenResponses       = Family{"scalelab_loadgen_responses_total", "Requests finished, by outcome: completed, dropped (timed out, refused) or failed.", prometheus.CounterValue}
	LoadgenResponsesReason = Family{"scalelab_loadgen_responses_by_reason_total", "Requests finished, by outcome and reason (HTTP status, timeout, refused, reset, error).", prometheus.CounterValue}
	LoadgenSLOViolations   = Family{"scalelab_loadgen_slo_violations_total", "Completed requests slower than the SLO.", prometheus.CounterValue}
	// LoadgenRequestDuration is a histogram (LatencyBuckets): its Type is not used.
	LoadgenRequestDuration = Family{"scalelab_loadgen_request_duration_seconds", "End-to-end latency of completed requests, client side.", prometheus.UntypedValue}
	LoadgenInFlight        = Family{"scalelab_loadgen_in_flight_requests", "Requests sent and not yet finished.", prometheus.GaugeValue}
	LoadgenSLO             = Family{"scalelab_loadgen_slo_seconds", "The latency objective.", prometheus.GaugeValue}
	LoadgenOfferedRate     = Family{"scalelab_loadgen_offered_rate", "The load profile's rate now (req/s).", prometheus.GaugeValue}
	// LoadgenOutcomeLabel and LoadgenOutcomes label scalelab_loadgen_responses_total.
	LoadgenOutcomeLabel = "outcome"
	LoadgenOutcomes     = []string{"completed", "dropped", "failed"}
)

// LatencyBuckets are the upper bounds (seconds) of the load generator's latency histogram:
// from 0.5 ms up by factors of 2^(1/8) (≈ 9 %) to about 60 s, so histogram_quantile's
// linear interpolation inside a bucket is off by at most ≈ 4.5 % of the value.
var LatencyBuckets = prometheus.ExponentialBuckets(0.0005, math.Pow(2, 0.125), 137)
