package serve

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric families the emulator exports, with the names and labels of the exporters it
// stands in for (see the package documentation).
var (
	tritonLabels = []string{"model", "version"}

	descSuccess   = prometheus.NewDesc("nv_inference_request_success", "Number of successful inference requests, all batch sizes", tritonLabels, nil)
	descFailure   = prometheus.NewDesc("nv_inference_request_failure", "Number of failed inference requests, all batch sizes", append(tritonLabels, "reason"), nil)
	descCount     = prometheus.NewDesc("nv_inference_count", "Number of inferences performed (does not include cached requests)", tritonLabels, nil)
	descExecCount = prometheus.NewDesc("nv_inference_exec_count", "Number of model executions performed (does not include cached requests)", tritonLabels, nil)
	descReqDur    = prometheus.NewDesc("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds (includes cached requests)", tritonLabels, nil)
	descQueueDur  = prometheus.NewDesc("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds (includes cached requests)", tritonLabels, nil)
	descInputDur  = prometheus.NewDesc("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds (does not include cached requests)", tritonLabels, nil)
	descInferDur  = prometheus.NewDesc("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds (does not include cached requests)", tritonLabels, nil)
	descOutputDur = prometheus.NewDesc("nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds (does not include cached requests)", tritonLabels, nil)
	descPending   = prometheus.NewDesc("nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution per-model.", tritonLabels, nil)
	descGPUUtil   = prometheus.NewDesc("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", []string{"gpu_uuid"}, nil)
	descGPUTotal  = prometheus.NewDesc("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", []string{"gpu_uuid"}, nil)
	descGPUUsed   = prometheus.NewDesc("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", []string{"gpu_uuid"}, nil)

	descArrivals = prometheus.NewDesc("scalelab_emulator_requests_total", "Requests that entered the emulated model (the emulator's ground truth)", tritonLabels, nil)
	descBusy     = prometheus.NewDesc("scalelab_emulator_gpu_busy_seconds_total", "Time the emulated GPU executed at least one batch (the emulator's ground truth)", nil, nil)
)

// failureReasons are the reason label values Triton exports for failures.
var failureReasons = []string{"REJECTED", "CANCELED", "BACKEND", "OTHER"}

// gpuUUID is the emulated GPU's identifier.
const gpuUUID = "GPU-5ca1e1ab-0000-4000-8000-000000000000"

// collector reads a consistent snapshot of the model at each scrape.
type collector struct{ s *Server }

// Describe sends nothing: the collector is unchecked (its families depend on the
// configured exporters).
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect advances the model to the present and exports its state.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	s.m.Advance(s.vnow())
	k := s.m.Counters()
	util := s.gpuUtil
	s.mu.Unlock()
	cfg := s.cfg
	used, total := s.gpuMemory()
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	mv := []string{cfg.Model, cfg.Version}
	counter(descArrivals, float64(k.Arrivals), mv...)
	counter(descBusy, float64(k.GPUBusyNs)/1e9)
	if cfg.exports(ExporterTriton) {
		counter(descSuccess, float64(k.Completions), mv...)
		for _, r := range failureReasons {
			v := 0.0
			if r == "REJECTED" {
				v = float64(k.Rejected)
			}
			counter(descFailure, v, cfg.Model, cfg.Version, r)
		}
		counter(descCount, float64(k.Images), mv...)
		counter(descExecCount, float64(k.Batches), mv...)
		// Triton's duration counters are whole microseconds.
		counter(descReqDur, math.Floor(float64(k.RequestNs)/1e3), mv...)
		counter(descQueueDur, math.Floor(float64(k.QueueNs)/1e3), mv...)
		counter(descInputDur, 0, mv...)
		counter(descInferDur, math.Floor(float64(k.ComputeNs)/1e3), mv...)
		counter(descOutputDur, 0, mv...)
		gauge(descPending, float64(k.Pending), mv...)
		gauge(descGPUUtil, util, gpuUUID)
		gauge(descGPUTotal, total, gpuUUID)
		gauge(descGPUUsed, used, gpuUUID)
	}
	pod := []string{cfg.Namespace, cfg.Pod, cfg.Container}
	if cfg.exports(ExporterDCGM) {
		labels := []string{"gpu", "UUID", "device", "modelName", cfg.DCGMHostnameLabel, "namespace", "pod", "container"}
		lv := append([]string{"0", gpuUUID, "nvidia0", gpuModel(s)}, append([]string{cfg.Node}, pod...)...)
		const mib = 1 << 20
		// DCGM reports utilisation as a whole percentage and frame buffer in whole MiB.
		gauge(prometheus.NewDesc("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", labels, nil), math.Round(util*100), lv...)
		gauge(prometheus.NewDesc("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", labels, nil), math.Round(used/mib), lv...)
		gauge(prometheus.NewDesc("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", labels, nil), math.Round((total-used)/mib), lv...)
	}
	w := s.sc.Workload
	if cfg.exports(ExporterCAdvisor) {
		labels := []string{"namespace", "pod", "container", "image"}
		lv := append(append([]string(nil), pod...), "scalelab/serve")
		counter(prometheus.NewDesc("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", labels, nil), k.CPUCoreNs/1e9, lv...)
		ws := float64(w.MemoryWorkingSet) + float64(w.MemoryPerRequest)*float64(k.Inflight)
		gauge(prometheus.NewDesc("container_memory_working_set_bytes", "Current working set in bytes.", labels, nil), ws, lv...)
	}
	if cfg.exports(ExporterKubeStateMetrics) {
		labels := []string{"namespace", "pod", "container", "node", "resource", "unit"}
		req := prometheus.NewDesc("kube_pod_container_resource_requests", "The number of requested request resource by a container.", labels, nil)
		gauge(req, w.CPURequest.Cores(), append(append([]string(nil), pod...), cfg.Node, "cpu", "core")...)
		gauge(req, float64(w.MemoryRequest), append(append([]string(nil), pod...), cfg.Node, "memory", "byte")...)
		if w.CPULimit > 0 {
			lim := prometheus.NewDesc("kube_pod_container_resource_limits", "The number of requested limit resource by a container.", labels, nil)
			gauge(lim, w.CPULimit.Cores(), append(append([]string(nil), pod...), cfg.Node, "cpu", "core")...)
		}
	}
}

func gpuModel(s *Server) string {
	for _, n := range s.sc.Nodes {
		for _, g := range n.GPUs {
			if g.Model != "" {
				return g.Model
			}
		}
	}
	return "emulated GPU"
}
