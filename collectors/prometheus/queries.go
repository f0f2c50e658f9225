package prometheus

import "fmt"

// Query is one way to compute a feature: Expr gives its value (a single sample; an empty
// result or NaN means missing) and Freshness the Unix time of the newest sample it rests
// on (empty: the age is reported as 0). Both may hold placeholders (Config.Placeholders).
type Query struct {
	Expr      string `json:"expr"`
	Freshness string `json:"freshness,omitempty"`
}

func fresh(metric, sel string) string { return fmt.Sprintf("max(timestamp(%s{%s}))", metric, sel) }

// DefaultQueries returns, for every catalogue feature, its default queries in order of
// preference: the first whose result is a number gives the feature. The load generator's
// own metrics come first (they are the client's view, as the simulator's KPIs are), then
// Triton's, DCGM-Exporter's, cAdvisor's and kube-state-metrics'.
func (c Config) DefaultQueries() map[string][]Query {
	q := map[string][]Query{}
	// Load generator (loadgen): arrivals and client-side latency and QoS.
	q["request_rate"] = []Query{
		{`sum(rate(scalelab_loadgen_requests_total{$loadgen}[$window]))`, fresh("scalelab_loadgen_requests_total", "$loadgen")},
		{`sum(rate(nv_inference_request_success{$triton}[$window])) + (sum(rate(nv_inference_request_failure{$triton}[$window])) or vector(0))`,
			fresh("nv_inference_request_success", "$triton")},
	}
	for _, p := range []struct {
		name string
		q    string
	}{{"p50_latency_ms", "0.5"}, {"p95_latency_ms", "0.95"}, {"p99_latency_ms", "0.99"}} {
		q[p.name] = []Query{
			{`1000 * histogram_quantile(` + p.q + `, sum by (le) (rate(scalelab_loadgen_request_duration_seconds_bucket{$loadgen}[$window])))`,
				fresh("scalelab_loadgen_request_duration_seconds_count", "$loadgen")},
			// Triton's server-side latency summary (--metrics-config summary_latencies=true),
			// over Triton's own summary window rather than W.
			{`max(nv_inference_request_summary_us{$triton,quantile="` + p.q + `"}) / 1000`,
				fresh("nv_inference_request_summary_us_count", "$triton")},
		}
	}
	q["qos_violation_rate"] = []Query{
		{`clamp_max((sum(increase(scalelab_loadgen_slo_violations_total{$loadgen}[$window])) + sum(increase(scalelab_loadgen_responses_total{$loadgen,outcome!="completed"}[$window]))) / sum(increase(scalelab_loadgen_requests_total{$loadgen}[$window])), 1)`,
			fresh("scalelab_loadgen_requests_total", "$loadgen")},
	}
	// Triton.
	q["mean_queue_ms"] = []Query{
		{`sum(increase(nv_inference_queue_duration_us{$triton}[$window])) / sum(increase(nv_inference_request_success{$triton}[$window])) / 1000`,
			fresh("nv_inference_queue_duration_us", "$triton")},
	}
	q["queue_length"] = []Query{
		{`sum(nv_inference_pending_request_count{$triton})`, fresh("nv_inference_pending_request_count", "$triton")},
	}
	q["avg_batch_size"] = []Query{
		{`sum(increase(nv_inference_count{$triton}[$window])) / sum(increase(nv_inference_exec_count{$triton}[$window]))`,
			fresh("nv_inference_exec_count", "$triton")},
	}
	// DCGM-Exporter, then Triton's own GPU gauges. Series are deduplicated per GPU (pods
	// sharing a time-sliced GPU each report it).
	q["gpu_util"] = []Query{
		{`avg(max by (UUID) (` + c.dcgm("avg_over_time(DCGM_FI_DEV_GPU_UTIL{%s}[$window])") + `)) / 100`, c.dcgmFresh("DCGM_FI_DEV_GPU_UTIL")},
		{`avg(max by (gpu_uuid) (avg_over_time(nv_gpu_utilization{$pods}[$window])))`, fresh("nv_gpu_utilization", "$pods")},
	}
	used := `sum(max by (UUID) (` + c.dcgm("DCGM_FI_DEV_FB_USED{%s}") + `))`
	free := `sum(max by (UUID) (` + c.dcgm("DCGM_FI_DEV_FB_FREE{%s}") + `))`
	q["gpu_mem_util"] = []Query{
		{used + ` / (` + used + ` + ` + free + `)`, c.dcgmFresh("DCGM_FI_DEV_FB_USED")},
		{`sum(max by (gpu_uuid) (nv_gpu_memory_used_bytes{$pods})) / sum(max by (gpu_uuid) (nv_gpu_memory_total_bytes{$pods}))`,
			fresh("nv_gpu_memory_used_bytes", "$pods")},
	}
	// cAdvisor over kube-state-metrics: the mean over pods of usage / request.
	q["cpu_util"] = []Query{
		{`avg(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{$containers}[$window])) / sum by (namespace, pod) (kube_pod_container_resource_requests{$pods,resource="cpu"}))`,
			fresh("container_cpu_usage_seconds_total", "$containers")},
	}
	q["mem_util"] = []Query{
		{`avg(sum by (namespace, pod) (container_memory_working_set_bytes{$containers}) / sum by (namespace, pod) (kube_pod_container_resource_requests{$pods,resource="memory"}))`,
			fresh("container_memory_working_set_bytes", "$containers")},
	}
	// kube-state-metrics (collectors/kube reads these from the API without lag).
	q["replicas_desired"] = []Query{{`sum(kube_deployment_spec_replicas{$deployment})`, fresh("kube_deployment_spec_replicas", "$deployment")}}
	q["replicas_ready"] = []Query{{`sum(kube_deployment_status_replicas_ready{$deployment})`, fresh("kube_deployment_status_replicas_ready", "$deployment")}}
	q["replicas_pending"] = []Query{{`sum(kube_deployment_status_replicas_unavailable{$deployment})`, fresh("kube_deployment_status_replicas_unavailable", "$deployment")}}
	return q
}

// dcgm renders a DCGM-Exporter expression whose %s is its label matchers: with
// gpu_hostname set, as the union of the series whose Hostname label matches and those
// whose hostname label matches (DCGM-Exporter renamed the label; both are in use).
func (c Config) dcgm(format string) string {
	if c.GPUHostname == "" {
		return fmt.Sprintf(format, "$gpu")
	}
	a := fmt.Sprintf(format, join("$gpu", matcher("Hostname", "=~", c.GPUHostname)))
	b := fmt.Sprintf(format, join("$gpu", matcher("hostname", "=~", c.GPUHostname)))
	return "(" + a + " or " + b + ")"
}

// dcgmFresh is the freshness query of a DCGM-Exporter metric (timestamp() sees sample
// times only when applied to a selector, so it goes inside the union).
func (c Config) dcgmFresh(metric string) string {
	return "max(" + c.dcgm("timestamp("+metric+"{%s})") + ")"
}

// QueriesFor returns the queries of a feature under this configuration, placeholders
// expanded: the override if the config has one, else the defaults.
func (c Config) QueriesFor(feature string) ([]Query, error) {
	if expr, ok := c.Queries[feature]; ok {
		return []Query{{Expr: c.Expand(expr), Freshness: c.Expand(c.Freshness[feature])}}, nil
	}
	qs, ok := c.DefaultQueries()[feature]
	if !ok {
		return nil, fmt.Errorf("feature %q has no Prometheus query (set queries.%s)", feature, feature)
	}
	out := make([]Query, len(qs))
	for i, q := range qs {
		out[i] = Query{Expr: c.Expand(q.Expr), Freshness: c.Expand(q.Freshness)}
	}
	return out, nil
}
