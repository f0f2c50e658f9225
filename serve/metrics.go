package serve

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	pn "github.com/scalelab/scalelab/serve/promnames"
)

// Metric families the emulator exports, with the names and labels of the exporters it
// stands in for (see the package documentation; the names live in serve/promnames, shared
// with the simulator's exporter and the load generator).
var (
	descSuccess   = pn.TritonRequestSuccess.Desc(pn.TritonLabels...)
	descFailure   = pn.TritonRequestFailure.Desc(append(append([]string(nil), pn.TritonLabels...), pn.LabelReason)...)
	descCount     = pn.TritonInferenceCount.Desc(pn.TritonLabels...)
	descExecCount = pn.TritonExecCount.Desc(pn.TritonLabels...)
	descReqDur    = pn.TritonRequestDuration.Desc(pn.TritonLabels...)
	descQueueDur  = pn.TritonQueueDuration.Desc(pn.TritonLabels...)
	descInputDur  = pn.TritonComputeInput.Desc(pn.TritonLabels...)
	descInferDur  = pn.TritonComputeInfer.Desc(pn.TritonLabels...)
	descOutputDur = pn.TritonComputeOutput.Desc(pn.TritonLabels...)
	descPending   = pn.TritonPendingRequests.Desc(pn.TritonLabels...)
	descGPUUtil   = pn.TritonGPUUtilization.Desc(pn.LabelGPUUUID)
	descGPUTotal  = pn.TritonGPUMemoryTotal.Desc(pn.LabelGPUUUID)
	descGPUUsed   = pn.TritonGPUMemoryUsed.Desc(pn.LabelGPUUUID)

	descCPU        = pn.CAdvisorCPUUsage.Desc(pn.CAdvisorLabels...)
	descWorkingSet = pn.CAdvisorWorkingSet.Desc(pn.CAdvisorLabels...)
	descRequests   = pn.KSMContainerRequests.Desc(pn.KSMResourceLabels...)
	descLimits     = pn.KSMContainerLimits.Desc(pn.KSMResourceLabels...)

	descArrivals = prometheus.NewDesc("scalelab_emulator_requests_total", "Requests that entered the emulated model (the emulator's ground truth)", pn.TritonLabels, nil)
	descBusy     = prometheus.NewDesc("scalelab_emulator_gpu_busy_seconds_total", "Time the emulated GPU executed at least one batch (the emulator's ground truth)", nil, nil)
)

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
		for _, r := range pn.TritonFailureReasons {
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
		d := dcgmDescs(cfg.DCGMHostnameLabel)
		lv := append([]string{"0", gpuUUID, "nvidia0", gpuModel(s)}, append([]string{cfg.Node}, pod...)...)
		const mib = 1 << 20
		// DCGM reports utilisation as a whole percentage and frame buffer in whole MiB.
		gauge(d.util, math.Round(util*100), lv...)
		gauge(d.used, math.Round(used/mib), lv...)
		gauge(d.free, math.Round((total-used)/mib), lv...)
	}
	w := s.sc.Workload
	if cfg.exports(ExporterCAdvisor) {
		lv := append(append([]string(nil), pod...), "scalelab/serve")
		counter(descCPU, k.CPUCoreNs/1e9, lv...)
		ws := float64(w.MemoryWorkingSet) + float64(w.MemoryPerRequest)*float64(k.Inflight)
		gauge(descWorkingSet, ws, lv...)
	}
	if cfg.exports(ExporterKubeStateMetrics) {
		gauge(descRequests, w.CPURequest.Cores(), append(append([]string(nil), pod...), cfg.Node, "cpu", "core")...)
		gauge(descRequests, float64(w.MemoryRequest), append(append([]string(nil), pod...), cfg.Node, "memory", "byte")...)
		if w.CPULimit > 0 {
			gauge(descLimits, w.CPULimit.Cores(), append(append([]string(nil), pod...), cfg.Node, "cpu", "core")...)
		}
	}
}

// dcgm are DCGM-Exporter's descriptors under one spelling of the node label.
type dcgm struct{ util, used, free *prometheus.Desc }

var dcgmByLabel = map[string]dcgm{}

func init() {
	for _, l := range []string{"Hostname", "hostname"} {
		ls := pn.DCGMLabels(l)
		dcgmByLabel[l] = dcgm{pn.DCGMGPUUtil.Desc(ls...), pn.DCGMFBUsed.Desc(ls...), pn.DCGMFBFree.Desc(ls...)}
	}
}

func dcgmDescs(hostnameLabel string) dcgm { return dcgmByLabel[hostnameLabel] }

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
