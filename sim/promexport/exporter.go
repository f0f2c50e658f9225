package promexport

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scalelab/scalelab/framework"
	pn "github.com/scalelab/scalelab/serve/promnames"
	"github.com/scalelab/scalelab/sim"
)

// Exporter is a prometheus.Collector of the simulated cluster's state under the real
// exporters' metric names. Realtime publishes a snapshot to it after every step; a scrape
// reads the latest snapshot (it never touches the simulator), so it is safe for concurrent
// use with the pacer.
type Exporter struct {
	cfg        Config
	deployment string
	gpuRequest int
	gpuModel   []string

	mu   sync.Mutex
	snap snapshot
	lg   loadgenState
	gpu  []gpuSampler
	reg  *prometheus.Registry
}

// snapshot is the simulated cluster at one instant.
type snapshot struct {
	at      time.Time // virtual
	pods    []sim.PodState
	gpus    []sim.GPUState
	desired int
	offered float64
}

// loadgenState is the load generator's view, cumulative over the exporter's life (like a
// long-running load generator's counters).
type loadgenState struct {
	arrivals, completions, drops, failures, slow int64
	latency                                      *framework.Histogram
	slo                                          time.Duration
}

// gpuSampler measures one GPU's busy fraction over successive intervals, as DCGM-Exporter
// reports DCGM_FI_DEV_GPU_UTIL (and Triton nv_gpu_utilization).
type gpuSampler struct {
	at   time.Duration // virtual time of the last sample
	busy float64       // busy seconds then
	util float64       // the last sample: busy fraction over the interval before at
}

var _ prometheus.Collector = (*Exporter)(nil)

func newExporter(cfg Config, sc sim.Scenario) *Exporter {
	e := &Exporter{cfg: cfg, deployment: sc.Workload.Name, gpuRequest: sc.Workload.GPURequest, lg: loadgenState{latency: framework.NewHistogram()}}
	for _, n := range sc.Nodes {
		for c := 0; c < n.Count; c++ {
			for _, g := range n.GPUs {
				for i := 0; i < g.Count; i++ {
					e.gpuModel = append(e.gpuModel, g.Model)
				}
			}
		}
	}
	e.reg = prometheus.NewRegistry()
	e.reg.MustRegister(e)
	return e
}

// Handler serves /metrics: the exporter's series in Prometheus' exposition format.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry holding the exporter.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// startEpisode resets what an episode resets (pods and GPUs start afresh; the load
// generator's counters keep counting).
func (e *Exporter) startEpisode(ep framework.Episode) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gpu = make([]gpuSampler, len(e.gpuModel))
	e.lg.slo = ep.SLO
}

// observe accounts one accounting window of the simulator into the load generator's view.
func (e *Exporter) observe(w framework.Window) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := w.Totals
	e.lg.arrivals += t.Arrivals
	e.lg.completions += t.Completions
	e.lg.drops += t.Drops
	e.lg.failures += t.Failures
	e.lg.slow += t.SLOViolations
	if w.Latency != nil {
		e.lg.latency.Merge(w.Latency)
	}
}

// publish takes a snapshot of the simulator at its present time and samples the GPUs'
// utilisation when a sampling interval has ended.
func (e *Exporter) publish(s *sim.Sim) {
	sn := snapshot{at: s.Now(), pods: s.PodStates(), gpus: s.GPUStates(), desired: s.Desired(), offered: s.Offered()}
	now := sn.at.Sub(framework.SimEpoch)
	iv := e.cfg.GPUInterval
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, g := range sn.gpus {
		if i >= len(e.gpu) {
			break
		}
		gs := &e.gpu[i]
		if now/iv > gs.at/iv && now > gs.at {
			gs.util = (g.BusySeconds - gs.busy) / (now - gs.at).Seconds()
			gs.at, gs.busy = now, g.BusySeconds
		}
	}
	e.snap = sn
}

// GPUUUID is the UUID the exporter gives the simulated GPU of an index.
func GPUUUID(index int) string { return fmt.Sprintf("GPU-5ca1e1ab-0000-4000-8000-%012d", index) }

// Describe sends nothing: the collector is unchecked (its families depend on the
// configured exporters).
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Descriptors, built once.
var (
	podL        = []string{pn.LabelNamespace, pn.LabelPod, pn.LabelContainer}
	tritonL     = append(append([]string(nil), pn.TritonLabels...), podL...)
	dSuccess    = pn.TritonRequestSuccess.Desc(tritonL...)
	dFailure    = pn.TritonRequestFailure.Desc(append(append([]string(nil), tritonL...), pn.LabelReason)...)
	dCount      = pn.TritonInferenceCount.Desc(tritonL...)
	dExec       = pn.TritonExecCount.Desc(tritonL...)
	dReqDur     = pn.TritonRequestDuration.Desc(tritonL...)
	dQueueDur   = pn.TritonQueueDuration.Desc(tritonL...)
	dInputDur   = pn.TritonComputeInput.Desc(tritonL...)
	dInferDur   = pn.TritonComputeInfer.Desc(tritonL...)
	dOutputDur  = pn.TritonComputeOutput.Desc(tritonL...)
	dPending    = pn.TritonPendingRequests.Desc(tritonL...)
	gpuPodL     = append([]string{pn.LabelGPUUUID}, podL...)
	dGPUUtil    = pn.TritonGPUUtilization.Desc(gpuPodL...)
	dGPUTotal   = pn.TritonGPUMemoryTotal.Desc(gpuPodL...)
	dGPUUsed    = pn.TritonGPUMemoryUsed.Desc(gpuPodL...)
	dCPU        = pn.CAdvisorCPUUsage.Desc(pn.CAdvisorLabels...)
	dWorkingSet = pn.CAdvisorWorkingSet.Desc(pn.CAdvisorLabels...)
	dRequests   = pn.KSMContainerRequests.Desc(pn.KSMResourceLabels...)
	dLimits     = pn.KSMContainerLimits.Desc(pn.KSMResourceLabels...)
	dPhase      = pn.KSMPodStatusPhase.Desc(pn.LabelNamespace, pn.LabelPod, "phase")
	dReady      = pn.KSMPodStatusReady.Desc(pn.LabelNamespace, pn.LabelPod, "condition")
	dInfo       = pn.KSMPodInfo.Desc(pn.LabelNamespace, pn.LabelPod, pn.LabelNode, "created_by_kind")
	dSpec       = pn.KSMDeploymentSpecReplicas.Desc(pn.KSMDeploymentLabels...)
	dReplicas   = pn.KSMDeploymentReplicas.Desc(pn.KSMDeploymentLabels...)
	dRReady     = pn.KSMDeploymentReplicasReady.Desc(pn.KSMDeploymentLabels...)
	dAvailable  = pn.KSMDeploymentReplicasAvailable.Desc(pn.KSMDeploymentLabels...)
	dUnavail    = pn.KSMDeploymentReplicasUnavailable.Desc(pn.KSMDeploymentLabels...)
	dDCGM       = map[string][3]*prometheus.Desc{}
	lgL         = []string{pn.LabelModel}
	dLGRequests = pn.LoadgenRequests.Desc(lgL...)
	dLGResp     = pn.LoadgenResponses.Desc(pn.LabelModel, pn.LoadgenOutcomeLabel)
	dLGSlow     = pn.LoadgenSLOViolations.Desc(lgL...)
	dLGLatency  = pn.LoadgenRequestDuration.Desc(lgL...)
	dLGInflight = pn.LoadgenInFlight.Desc(lgL...)
	dLGSLO      = pn.LoadgenSLO.Desc(lgL...)
	dLGOffered  = pn.LoadgenOfferedRate.Desc(lgL...)
)

func init() {
	for _, l := range []string{"Hostname", "hostname"} {
		ls := pn.DCGMLabels(l)
		dDCGM[l] = [3]*prometheus.Desc{pn.DCGMGPUUtil.Desc(ls...), pn.DCGMFBUsed.Desc(ls...), pn.DCGMFBFree.Desc(ls...)}
	}
}

// Collect exports the latest snapshot.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	sn := e.snap
	utils := make([]float64, len(e.gpu))
	for i, g := range e.gpu {
		utils[i] = g.util
	}
	lg := e.lg
	lg.latency = nil
	var buckets map[float64]uint64
	var count uint64
	var sum float64
	if e.cfg.exports(ExporterLoadgen) {
		buckets, count, sum = histogramOf(e.lg.latency)
	}
	e.mu.Unlock()

	cfg := e.cfg
	emit := func(f pn.Family, d *prometheus.Desc, v float64, lv ...string) { ch <- f.Metric(d, v, lv...) }
	gpuUsed := func(i int) (used, total float64) {
		if i < 0 || i >= len(sn.gpus) {
			return 0, 0
		}
		return float64(sn.gpus[i].MemUsedBytes), float64(sn.gpus[i].MemTotalBytes)
	}
	for _, p := range sn.pods {
		if !p.Running {
			continue
		}
		tl := []string{cfg.Model, cfg.Version, cfg.Namespace, p.Name, cfg.Container}
		if cfg.exports(ExporterTriton) {
			emit(pn.TritonRequestSuccess, dSuccess, float64(p.Requests), tl...)
			for _, r := range pn.TritonFailureReasons {
				emit(pn.TritonRequestFailure, dFailure, 0, append(append([]string(nil), tl...), r)...)
			}
			emit(pn.TritonInferenceCount, dCount, float64(p.Requests), tl...)
			emit(pn.TritonExecCount, dExec, float64(p.Batches), tl...)
			// Triton's duration counters are whole microseconds.
			emit(pn.TritonRequestDuration, dReqDur, math.Floor(p.RequestSeconds*1e6), tl...)
			emit(pn.TritonQueueDuration, dQueueDur, math.Floor(p.QueueSeconds*1e6), tl...)
			emit(pn.TritonComputeInput, dInputDur, 0, tl...)
			emit(pn.TritonComputeInfer, dInferDur, math.Floor(p.ComputeSeconds*1e6), tl...)
			emit(pn.TritonComputeOutput, dOutputDur, 0, tl...)
			emit(pn.TritonPendingRequests, dPending, float64(p.Queued), tl...)
			if p.GPU >= 0 {
				gl := []string{GPUUUID(p.GPU), cfg.Namespace, p.Name, cfg.Container}
				used, total := gpuUsed(p.GPU)
				if p.GPU < len(utils) {
					emit(pn.TritonGPUUtilization, dGPUUtil, utils[p.GPU], gl...)
				}
				emit(pn.TritonGPUMemoryTotal, dGPUTotal, total, gl...)
				emit(pn.TritonGPUMemoryUsed, dGPUUsed, used, gl...)
			}
		}
		if cfg.exports(ExporterCAdvisor) {
			// The container, and the pod's cgroup (container="", as cAdvisor exports it; the
			// default queries select containers with container!="").
			for _, c := range [][2]string{{cfg.Container, cfg.Image}, {"", ""}} {
				cl := []string{cfg.Namespace, p.Name, c[0], c[1]}
				emit(pn.CAdvisorCPUUsage, dCPU, p.CPUSeconds, cl...)
				emit(pn.CAdvisorWorkingSet, dWorkingSet, p.WorkingSetBytes, cl...)
			}
		}
	}
	if cfg.exports(ExporterDCGM) {
		d := dDCGM[cfg.DCGMHostnameLabel]
		const mib = 1 << 20
		perNode := map[string]int{}
		for i, g := range sn.gpus {
			dev := perNode[g.Node]
			perNode[g.Node]++
			base := []string{fmt.Sprint(dev), GPUUUID(i), fmt.Sprintf("nvidia%d", dev), g.Model, g.Node}
			users := 0
			series := func(ns, pod, ctr string) {
				lv := append(append([]string(nil), base...), ns, pod, ctr)
				util := 0.0
				if i < len(utils) {
					util = utils[i]
				}
				// DCGM reports utilisation as a whole percentage and frame buffer in whole MiB.
				ch <- prometheus.MustNewConstMetric(d[0], prometheus.GaugeValue, math.Round(util*100), lv...)
				ch <- prometheus.MustNewConstMetric(d[1], prometheus.GaugeValue, math.Round(float64(g.MemUsedBytes)/mib), lv...)
				ch <- prometheus.MustNewConstMetric(d[2], prometheus.GaugeValue, math.Round(float64(g.MemTotalBytes-g.MemUsedBytes)/mib), lv...)
			}
			for _, p := range sn.pods {
				if p.Running && p.GPU == i {
					users++
					series(cfg.Namespace, p.Name, cfg.Container)
				}
			}
			if users == 0 {
				series("", "", "")
			}
		}
	}
	if cfg.exports(ExporterKubeStateMetrics) {
		ready, live := 0, 0
		for _, p := range sn.pods {
			if p.Phase != framework.PodFailed && !p.Deleting {
				live++
				if p.Ready {
					ready++
				}
			}
			for _, ph := range pn.KSMPodPhases {
				v := 0.0
				if ph == string(p.Phase) {
					v = 1
				}
				emit(pn.KSMPodStatusPhase, dPhase, v, cfg.Namespace, p.Name, ph)
			}
			for _, c := range []string{"true", "false", "unknown"} {
				v := 0.0
				if (c == "true") == (p.Ready && !p.Deleting) && c != "unknown" {
					v = 1
				}
				emit(pn.KSMPodStatusReady, dReady, v, cfg.Namespace, p.Name, c)
			}
			emit(pn.KSMPodInfo, dInfo, 1, cfg.Namespace, p.Name, p.Node, "ReplicaSet")
			rl := func(res, unit string) []string {
				return []string{cfg.Namespace, p.Name, cfg.Container, p.Node, res, unit}
			}
			emit(pn.KSMContainerRequests, dRequests, float64(p.CPURequestMilli)/1000, rl("cpu", "core")...)
			emit(pn.KSMContainerRequests, dRequests, float64(p.MemRequestBytes), rl("memory", "byte")...)
			emit(pn.KSMContainerRequests, dRequests, float64(e.gpuRequest), rl("nvidia_com_gpu", "integer")...)
			if p.CPULimitMilli > 0 {
				emit(pn.KSMContainerLimits, dLimits, float64(p.CPULimitMilli)/1000, rl("cpu", "core")...)
			}
		}
		dl := []string{cfg.Namespace, e.deployment}
		emit(pn.KSMDeploymentSpecReplicas, dSpec, float64(sn.desired), dl...)
		emit(pn.KSMDeploymentReplicas, dReplicas, float64(live), dl...)
		emit(pn.KSMDeploymentReplicasReady, dRReady, float64(ready), dl...)
		// minReadySeconds 0: available = ready; the controller reports desired − available.
		emit(pn.KSMDeploymentReplicasAvailable, dAvailable, float64(ready), dl...)
		emit(pn.KSMDeploymentReplicasUnavailable, dUnavail, math.Max(0, float64(sn.desired-ready)), dl...)
	}
	if cfg.exports(ExporterLoadgen) {
		m := cfg.Model
		emit(pn.LoadgenRequests, dLGRequests, float64(lg.arrivals), m)
		emit(pn.LoadgenResponses, dLGResp, float64(lg.completions), m, "completed")
		emit(pn.LoadgenResponses, dLGResp, float64(lg.drops), m, "dropped")
		emit(pn.LoadgenResponses, dLGResp, float64(lg.failures), m, "failed")
		emit(pn.LoadgenSLOViolations, dLGSlow, float64(lg.slow), m)
		ch <- prometheus.MustNewConstHistogram(dLGLatency, count, sum, buckets, m)
		emit(pn.LoadgenInFlight, dLGInflight, float64(lg.arrivals-lg.completions-lg.drops-lg.failures), m)
		emit(pn.LoadgenSLO, dLGSLO, lg.slo.Seconds(), m)
		emit(pn.LoadgenOfferedRate, dLGOffered, sn.offered, m)
	}
}

// histogramOf returns the cumulative counts of a latency histogram at the load generator's
// bucket bounds (le, seconds), its count and its sum in seconds. A value counts under le
// when the lowest value of its HdrHistogram bucket (1 µs resolution, 3 significant digits)
// is at most le.
func histogramOf(h *framework.Histogram) (map[float64]uint64, uint64, float64) {
	buckets := make(map[float64]uint64, len(pn.LatencyBuckets))
	n := h.Count()
	if n == 0 {
		for _, le := range pn.LatencyBuckets {
			buckets[le] = 0
		}
		return buckets, 0, 0
	}
	per := make([]uint64, len(pn.LatencyBuckets))
	for _, b := range hdr.Import(h.Encode()).Distribution() {
		if b.Count == 0 {
			continue
		}
		v := float64(b.From) / 1e6
		// The first bound ≥ v (values above the last bound count only in +Inf).
		lo, hi := 0, len(pn.LatencyBuckets)
		for lo < hi {
			mid := (lo + hi) / 2
			if pn.LatencyBuckets[mid] >= v {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if lo < len(per) {
			per[lo] += uint64(b.Count)
		}
	}
	var cum uint64
	for i, le := range pn.LatencyBuckets {
		cum += per[i]
		buckets[le] = cum
	}
	return buckets, uint64(n), h.MeanMS() / 1000 * float64(n)
}
