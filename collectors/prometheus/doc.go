// Package prometheus computes scalelab's catalogue features (docs/features.md) on a real
// cluster from a Prometheus server: each feature is a PromQL expression evaluated as an
// instant query through client_golang's api/prometheus/v1, with a per-query timeout.
//
// Source is the feature source; collectors/kube composes it with the Kubernetes API's view
// of the workload into the "kubernetes" collector. Collector wraps a Source as a plain
// framework.Collector on wall time, without a cluster view.
//
// # Missing and stale values
//
// An empty result or a NaN (for example a mean over a window without requests, 0/0) makes
// a feature missing: its value is NaN and its validity false, never 0. Each query has a
// freshness query giving the time of the newest sample it rests on; the feature's age is
// the evaluation time minus that, and a value older than max_age is missing too.
//
// # Default queries
//
// A feature has a list of default queries tried in order — the load generator's own metrics
// first (the client's view, as the simulator's KPIs are), then Triton's, DCGM-Exporter's,
// cAdvisor's and kube-state-metrics'. With the placeholders of Config.Placeholders ($window
// is the feature window W):
//
//	request_rate        sum(rate(scalelab_loadgen_requests_total{$loadgen}[$window]))
//	                    else Triton: rate of nv_inference_request_success + nv_inference_request_failure
//	p50/p95/p99_latency 1000 * histogram_quantile(q, sum by (le) (rate(scalelab_loadgen_request_duration_seconds_bucket{$loadgen}[$window])))
//	                    else Triton's latency summary nv_inference_request_summary_us{quantile=q} / 1000
//	qos_violation_rate  (Δ scalelab_loadgen_slo_violations_total + Δ responses_total{outcome!="completed"}) / Δ requests_total, at most 1
//	mean_queue_ms       Δ nv_inference_queue_duration_us / Δ nv_inference_request_success / 1000
//	queue_length        sum(nv_inference_pending_request_count{$triton})
//	avg_batch_size      Δ nv_inference_count / Δ nv_inference_exec_count
//	gpu_util            avg over GPUs of avg_over_time(DCGM_FI_DEV_GPU_UTIL[$window]) / 100, else Triton's nv_gpu_utilization
//	gpu_mem_util        DCGM_FI_DEV_FB_USED / (FB_USED + FB_FREE) summed over GPUs, else nv_gpu_memory_used_bytes / total
//	cpu_util            mean over pods of rate(container_cpu_usage_seconds_total) / kube_pod_container_resource_requests{resource="cpu"}
//	mem_util            mean over pods of container_memory_working_set_bytes / kube_pod_container_resource_requests{resource="memory"}
//	replicas_desired    kube_deployment_spec_replicas
//	replicas_ready      kube_deployment_status_replicas_ready
//	replicas_pending    kube_deployment_status_replicas_unavailable
//
// where Δ is increase(…[$window]) summed over the selected series. DCGM-Exporter series are
// reduced per GPU (max by UUID) since pods sharing a time-sliced GPU each report it, and
// with gpu_hostname set both of DCGM-Exporter's spellings of the node label (Hostname,
// hostname) are matched. Config.Queries replaces a feature's queries with one of the
// user's, Config.Freshness gives its freshness query.
//
// The package's integration test runs the whole path on loopback — `scalelab serve` and
// `scalelab loadgen` scraped by a real Prometheus (promtest) — and checks every feature
// against the values computed natively over the same window. sim/promexport's test does
// the same with the simulator's exporter (replica counts included) against the
// simulator's native features.
package prometheus
