package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Where a metric comes from decides its lag. A value visible at time t was computed at
// e = ⌊⌊t/S⌋·S / E⌋·E: the exporter produces a sample every E (E = 0: counters update per
// request) and Prometheus scrapes every S. Everything is aligned to the episode start.
type metricSource uint8

const (
	srcApp metricSource = iota // Triton / load-generator counters scraped every app_scrape_interval
	srcGPU                     // DCGM-Exporter every gpu_exporter_interval, scraped every gpu_scrape_interval
	srcCPU                     // cAdvisor via the kubelet, scraped every cpu_scrape_interval
	srcAPI                     // the Kubernetes API: no lag
)

// FeatureValue is one feature as a collector sees it.
type FeatureValue struct {
	// Value is the feature's value (NaN when !OK).
	Value float64
	// At is the virtual time the value describes (its age is Now − At).
	At time.Time
	// Window is the interval the value summarises (0 for gauges).
	Window time.Duration
	// OK is false when there is no data, e.g. a latency quantile over a window without
	// completions: such a value is missing, never 0.
	OK bool
}

// visible returns the time of the latest sample of a source visible now.
func (s *Sim) visible(src metricSource) int64 {
	o := s.sc.Observation
	var scrape, export int64
	switch src {
	case srcApp:
		scrape = int64(o.AppScrapeInterval)
	case srcGPU:
		scrape, export = int64(o.GPUScrapeInterval), int64(o.GPUExporterInterval)
	case srcCPU:
		scrape = int64(o.CPUScrapeInterval)
	default:
		return s.now
	}
	e := s.now / scrape * scrape
	if export > 0 {
		e = e / export * export
	}
	return e
}

// maxLag is the largest lag any source can have.
func (s *Sim) maxLag() time.Duration {
	o := s.sc.Observation
	return max(o.AppScrapeInterval, o.CPUScrapeInterval, o.GPUScrapeInterval+o.GPUExporterInterval, o.MetricsServerResolution)
}

// CheckWindow reports whether features can be computed over window: a positive multiple of
// the scenario's observation resolution that, with the largest observation lag, fits in the
// recorded history.
func (s *Sim) CheckWindow(window time.Duration) error {
	o := s.sc.Observation
	switch {
	case window <= 0 || window%o.Resolution != 0:
		return fmt.Errorf("window: must be a positive multiple of the simulator's observation.resolution (%s), got %s", o.Resolution, window)
	case window+s.maxLag() > o.History:
		return fmt.Errorf("window: %s plus the largest observation lag %s exceeds the simulator's observation.history %s", window, s.maxLag(), o.History)
	}
	return nil
}

// windowStats are the workload's counters over one window (e − W, e].
type windowStats struct {
	ok       bool  // the window has data (e > 0 and both ends recorded)
	span     int64 // ns covered (shorter than W at the episode start)
	d        counters
	queueLen int64
	lat      latBins
	latN     int64
}

type windowCache struct {
	valid   bool
	ep      uint64
	e, w    int64
	stats   windowStats
	fromTop bool
}

// window returns the workload counters over (e − w, e], clipped at the episode start.
func (s *Sim) window(e, w int64) *windowStats {
	c := &s.wcache
	if c.valid && c.ep == s.episode && c.e == e && c.w == w {
		return &c.stats
	}
	c.valid, c.ep, c.e, c.w = true, s.episode, e, w
	st := &c.stats
	*st = windowStats{}
	start := max(e-w, 0)
	k1, k0 := e/s.res, start/s.res
	hi, lo := s.snap(k1), s.snap(k0)
	if hi == nil || lo == nil || k1 == k0 {
		if hi != nil {
			st.queueLen = hi.queueLen
		}
		return st
	}
	st.ok = true
	st.span = e - start
	st.queueLen = hi.queueLen
	a, b := hi.c, lo.c
	st.d = counters{
		arrivals: a.arrivals - b.arrivals, completions: a.completions - b.completions,
		drops: a.drops - b.drops, failures: a.failures - b.failures, slo: a.slo - b.slo,
		batches: a.batches - b.batches, batched: a.batched - b.batched, queueNs: a.queueNs - b.queueNs,
	}
	for k := k0 + 1; k <= k1; k++ {
		sn := s.snap(k)
		if sn == nil {
			continue
		}
		for i, n := range sn.lat {
			if n != 0 {
				st.lat[i] += n
				st.latN += int64(n)
			}
		}
	}
	return st
}

// quantileMS returns the q-quantile of binned latencies in ms (the midpoint of the bin
// holding the ⌈q·N⌉-th value).
func quantileMS(b *latBins, n int64, q float64) float64 {
	rank := int64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var cum int64
	for i, c := range b {
		cum += int64(c)
		if cum >= rank {
			return latBinMidMS(i)
		}
	}
	return latBinMidMS(latNBins - 1)
}

// Feature returns a catalogue feature computed over window as a real metrics pipeline would
// show it now (lag included). It returns an error for a name outside framework.Catalogue.
func (s *Sim) Feature(name string, window time.Duration) (FeatureValue, error) {
	w := int64(window)
	nan := math.NaN()
	fv := func(src metricSource, at int64, v float64, ok bool, win time.Duration) FeatureValue {
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			v, ok = nan, false
		}
		return FeatureValue{Value: v, At: framework.SimEpoch.Add(time.Duration(at)), Window: win, OK: ok}
	}
	switch name {
	case "request_rate", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "mean_queue_ms",
		"queue_length", "qos_violation_rate", "avg_batch_size":
		e := s.visible(srcApp)
		st := s.window(e, w)
		d := st.d
		switch name {
		case "request_rate":
			return fv(srcApp, e, float64(d.arrivals)/(float64(st.span)/1e9), st.ok, window), nil
		case "p50_latency_ms", "p95_latency_ms", "p99_latency_ms":
			q := map[string]float64{"p50_latency_ms": 0.5, "p95_latency_ms": 0.95, "p99_latency_ms": 0.99}[name]
			if !st.ok || st.latN == 0 {
				return fv(srcApp, e, nan, false, window), nil
			}
			return fv(srcApp, e, quantileMS(&st.lat, st.latN, q), true, window), nil
		case "mean_queue_ms":
			return fv(srcApp, e, float64(d.queueNs)/1e6/float64(d.completions), st.ok && d.completions > 0, window), nil
		case "queue_length":
			return fv(srcApp, e, float64(st.queueLen), s.snap(e/s.res) != nil, 0), nil
		case "qos_violation_rate":
			// Drops are counted when the client gives up, up to a timeout after the arrival,
			// so right after an overload ends they can outnumber the window's arrivals: a
			// share is at most 1.
			v := math.Min(1, float64(d.slo+d.drops+d.failures)/float64(d.arrivals))
			return fv(srcApp, e, v, st.ok && d.arrivals > 0, window), nil
		default: // avg_batch_size
			return fv(srcApp, e, float64(d.batched)/float64(d.batches), st.ok && d.batches > 0, window), nil
		}
	case "cpu_util", "mem_util":
		e := s.visible(srcCPU)
		v, ok := s.podMean(name, e, w)
		if name == "mem_util" {
			return fv(srcCPU, e, v, ok, 0), nil
		}
		return fv(srcCPU, e, v, ok, window), nil
	case "gpu_util", "gpu_mem_util":
		e := s.visible(srcGPU)
		k1, k0 := e/s.res, max(e-w, 0)/s.res
		var sum, used, total float64
		n := 0
		for _, g := range s.gpus {
			hi := g.snapAt(s.episode, k1)
			if hi == nil || hi.pods == 0 {
				continue // not in use by the workload
			}
			if name == "gpu_mem_util" {
				used += float64(hi.mem)
				total += float64(g.memTotal)
				n++
				continue
			}
			lo := g.snapAt(s.episode, k0)
			if lo == nil || k1 == k0 {
				continue
			}
			sum += (hi.busy - lo.busy) / float64((k1-k0)*s.res)
			n++
		}
		if name == "gpu_mem_util" {
			return fv(srcGPU, e, used/total, n > 0, 0), nil
		}
		return fv(srcGPU, e, sum/float64(n), n > 0, window), nil
	case "replicas_desired", "replicas_ready", "replicas_pending":
		rc := s.Replicas()
		v := map[string]int{"replicas_desired": rc.Desired, "replicas_ready": rc.Ready, "replicas_pending": rc.Pending + rc.Starting}[name]
		return fv(srcAPI, s.now, float64(v), true, 0), nil
	}
	return FeatureValue{Value: nan}, fmt.Errorf("sim: unknown feature %q", name)
}

func (g *gpu) snapAt(ep uint64, k int64) *gpuSnap {
	if k < 0 {
		return nil
	}
	sn := &g.ring[int(k%int64(len(g.ring)))]
	if sn.ep != ep || sn.k != k {
		return nil
	}
	return sn
}

func (p *pod) snapAt(k int64) *podSnap {
	if k < 0 {
		return nil
	}
	sn := &p.ring[int(k%int64(len(p.ring)))]
	if sn.k != k {
		return nil
	}
	return sn
}

// podMean averages cpu_util (usage over (e − w, e] / request) or mem_util (working set at
// e / request) over the pods whose container was running at e.
func (s *Sim) podMean(name string, e, w int64) (float64, bool) {
	k1, k0 := e/s.res, max(e-w, 0)/s.res
	var sum float64
	n := 0
	for _, p := range s.pods {
		hi := p.snapAt(k1)
		if hi == nil || !hi.running {
			continue
		}
		if name == "mem_util" {
			sum += s.workingSet(hi.inflight) / float64(p.memReq)
			n++
			continue
		}
		// Usage over the part of the window the pod existed in.
		var lo *podSnap
		k := k0
		for ; k < k1; k++ {
			if lo = p.snapAt(k); lo != nil {
				break
			}
		}
		if lo == nil {
			continue
		}
		usage := (hi.cpu - lo.cpu) / float64((k1-k)*s.res) // cores
		sum += usage / (float64(p.cpuReqMilli) / 1000)
		n++
	}
	if n == 0 {
		return math.NaN(), false
	}
	return sum / float64(n), true
}

func (s *Sim) workingSet(inflight int64) float64 {
	return float64(s.sc.Workload.MemoryWorkingSet) + float64(s.sc.Workload.MemoryPerRequest)*float64(inflight)
}

// Replicas returns the workload's replica counts as the Deployment controller sees them.
func (s *Sim) Replicas() framework.ReplicaCounts {
	rc := framework.ReplicaCounts{Desired: s.desired}
	for _, p := range s.pods {
		switch {
		case p.deleting:
			rc.Terminating++
		case p.ready:
			rc.Ready++
		case p.state == psUnscheduled:
			rc.Pending++
		default:
			rc.Starting++
		}
	}
	return rc
}

// ClusterView returns the structured view of the workload: replica counts, bounds, template
// settings, every pod (failed ones kept for failed_pod_history) with phase, readiness and
// its transition time, start time, requests and per-pod metric samples, and workload-level
// metrics keyed by catalogue feature name (valid ones only) computed over window.
//
// Per-pod samples: "cpu" (millicores) and "memory" (bytes) as metrics-server reports them —
// the usage over the last metric_resolution before its latest scrape, with that scrape's
// Timestamp and Window — present once the container has run a whole resolution; "inflight"
// (requests in the pod now, as a queue-proxy would report); "queue_ms" (mean queue time of
// the requests the pod executed over the window, Triton metrics lag); "gpu_util" (the busy
// fraction of the pod's GPU over the window, DCGM lag; device-level under time-slicing).
func (s *Sim) ClusterView(window time.Duration, minReplicas, maxReplicas int) framework.ClusterView {
	s.syncAll()
	v := framework.ClusterView{
		Now:             s.Now(),
		Replicas:        s.Replicas(),
		MinReplicas:     minReplicas,
		MaxReplicas:     maxReplicas,
		CPURequestMilli: s.cpuReq,
		HPATarget:       s.hpaTarget,
		Batching:        s.Batching(),
		Metrics:         map[string]framework.MetricSample{},
	}
	for _, f := range framework.Catalogue {
		fvl, err := s.Feature(f.Name, window)
		if err == nil && fvl.OK {
			v.Metrics[f.Name] = framework.MetricSample{Value: fvl.Value, Timestamp: fvl.At, Window: fvl.Window}
		}
	}
	res := int64(s.sc.Observation.MetricsServerResolution)
	sm := s.now / res * res
	eApp, eGPU := s.visible(srcApp), s.visible(srcGPU)
	w := int64(window)
	for _, p := range s.pods {
		v.Pods = append(v.Pods, s.podView(p, sm, res, eApp, eGPU, w))
	}
	for _, p := range s.failed {
		v.Pods = append(v.Pods, s.podView(p, sm, res, eApp, eGPU, w))
	}
	return v
}

func (s *Sim) podView(p *pod, sm, res, eApp, eGPU, w int64) framework.PodView {
	pv := framework.PodView{
		Name:            p.name,
		Ready:           p.ready,
		ReadyTransition: framework.SimEpoch.Add(time.Duration(p.readyTrans)),
		Deleting:        p.deleting,
		CPURequestMilli: p.cpuReqMilli,
		MemRequestBytes: p.memReq,
	}
	switch p.state {
	case psUnscheduled, psPulling:
		pv.Phase = framework.PodPending
	case psFailed:
		pv.Phase = framework.PodFailed
	default:
		pv.Phase = framework.PodRunning
	}
	if p.bound != math.MinInt64 {
		pv.StartTime = framework.SimEpoch.Add(time.Duration(p.bound))
	}
	if p.state == psFailed || p.state == psUnscheduled || p.state == psPulling {
		return pv
	}
	m := map[string]framework.MetricSample{}
	ts := func(t int64) time.Time { return framework.SimEpoch.Add(time.Duration(t)) }
	if hi, lo := p.snapAt(sm/s.res), p.snapAt((sm-res)/s.res); sm-res >= 0 && hi != nil && lo != nil && lo.running {
		m["cpu"] = framework.MetricSample{Value: (hi.cpu - lo.cpu) / float64(res) * 1000, Timestamp: ts(sm), Window: time.Duration(res)}
		m["memory"] = framework.MetricSample{Value: s.workingSet(hi.inflight), Timestamp: ts(sm), Window: time.Duration(res)}
	}
	m["inflight"] = framework.MetricSample{Value: float64(p.inflight), Timestamp: s.Now()}
	if hi, lo := p.snapAt(eApp/s.res), p.firstSnapFrom(max(eApp-w, 0)/s.res, eApp/s.res); hi != nil && lo != nil && hi.exec > lo.exec {
		m["queue_ms"] = framework.MetricSample{Value: float64(hi.queueNs-lo.queueNs) / 1e6 / float64(hi.exec-lo.exec), Timestamp: ts(eApp), Window: time.Duration(w)}
	}
	if g := p.gpu; g != nil {
		k1, k0 := eGPU/s.res, max(eGPU-w, 0)/s.res
		if hi, lo := g.snapAt(s.episode, k1), g.snapAt(s.episode, k0); hi != nil && lo != nil && k1 > k0 {
			m["gpu_util"] = framework.MetricSample{Value: (hi.busy - lo.busy) / float64((k1-k0)*s.res), Timestamp: ts(eGPU), Window: time.Duration(w)}
		}
	}
	pv.Metrics = m
	return pv
}

// firstSnapFrom returns the pod's earliest snapshot in ticks [k0, k1), or nil.
func (p *pod) firstSnapFrom(k0, k1 int64) *podSnap {
	for k := k0; k < k1; k++ {
		if sn := p.snapAt(k); sn != nil {
			return sn
		}
	}
	return nil
}
