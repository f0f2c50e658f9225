// Package promexport exports the embedded simulator's state with the real metric names —
// Triton's nv_inference_*, DCGM-Exporter's DCGM_FI_DEV_*, cAdvisor's container_*,
// kube-state-metrics' kube_deployment_* and kube_pod_*, and scalelab's load generator's
// scalelab_loadgen_* (its latency histogram included) — through client_golang, while the
// simulation is paced at real time. A real Prometheus scraping it, and the Prometheus
// collector (collectors/prometheus) querying that Prometheus, then see a simulated cluster
// exactly as they would see the real one: the real-cluster metrics path can be checked
// against the simulator's native features (collectors/sim), and dashboards, alerts and
// prometheus-adapter rules can be tried without a cluster.
//
// # Pacing
//
// Realtime is a framework.Backend around a *sim.Sim: its Advance(d) advances the
// simulation in steps of Config.Step of virtual time, each when the wall clock has reached
// it (virtual time = episode start + Speed × wall time since Reset), and after each step
// publishes a snapshot to the Exporter. It owns the simulator's accounting: it cuts the
// simulator every step, feeds the load generator's counters and latency histogram from the
// cut, and hands the loop the merged windows when the loop cuts (the totals are the
// simulator's, to floating-point rounding of the sums). The collector and actuator of the
// loop keep using the *sim.Sim: everything touching the simulator runs on the loop's
// goroutine, and scrapes only read the published snapshot.
//
// At Speed 1 the exported series mean what the real exporters' mean. At Speed s, per
// second rates read by PromQL are s times the simulated ones and PromQL windows cover s
// times more simulated time; latencies, ratios and gauges are unaffected.
//
// # Series
//
// Per pod (labels namespace, pod and, for per-container series, container — the labels a
// ServiceMonitor and the exporters give them) whose container runs:
//
//	nv_inference_request_success, _count, _exec_count, _request_duration_us,
//	_queue_duration_us, _compute_infer_duration_us (input and output 0),
//	nv_inference_request_failure{reason} (0: the simulator's pods refuse nothing but a full
//	queue, which is counted as a drop by the client), nv_inference_pending_request_count,
//	nv_gpu_utilization, nv_gpu_memory_{used,total}_bytes    model, version, gpu_uuid
//	container_cpu_usage_seconds_total, container_memory_working_set_bytes
//	                                                       (and the pod cgroup, container="")
//
// per pod of the workload (kube-state-metrics): kube_pod_status_phase, kube_pod_status_ready,
// kube_pod_info, kube_pod_container_resource_requests and _limits; for the Deployment:
// kube_deployment_spec_replicas, kube_deployment_status_replicas, _ready, _available and
// _unavailable (desired − available, as the Deployment controller computes it); per GPU
// (DCGM-Exporter, one series per pod holding a share, or one without pod labels):
// DCGM_FI_DEV_GPU_UTIL (the busy percentage over the last gpu_interval), DCGM_FI_DEV_FB_USED
// and _FREE; and the load generator's series, model label only: requests_total,
// responses_total{outcome}, slo_violations_total, request_duration_seconds (a histogram with
// loadgen's buckets), in_flight_requests, slo_seconds, offered_rate. Triton counts a request
// when its batch finishes on the GPU, whether or not its client still waits; the load
// generator's series are the client's view (a request whose client timed out is a drop).
//
// Names and labels come from serve/promnames, shared with `scalelab serve` and loadgen.
// `scalelab sim-export` runs one policy of an experiment config this way and serves
// /metrics (docs/simulator.md).
package promexport
