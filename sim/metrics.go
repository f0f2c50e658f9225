package sim

import (
	"math/bits"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// latBins is a compact log-linear latency histogram in microseconds: exact below 32 µs,
// then 32 bins per power of two (bin width ≤ 1/32 of its lower bound, so a bin's midpoint is
// within 1.6 % of any value in it), up to 2^29 µs ≈ 9 minutes. It backs the windowed
// latency features; the accounting uses framework.Histogram (HdrHistogram).
type latBins [latNBins]uint32

const (
	latSubBits = 5
	latSub     = 1 << latSubBits
	latMaxExp  = 28
	latNBins   = latSub + (latMaxExp-latSubBits+1)*latSub
)

func latBin(ns int64) int {
	us := ns / 1000
	if us < latSub {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 1
	if e > latMaxExp {
		return latNBins - 1
	}
	return latSub + (e-latSubBits)*latSub + int((us>>(e-latSubBits))&(latSub-1))
}

// latBinMidMS returns the midpoint of bin i in milliseconds.
func latBinMidMS(i int) float64 {
	if i < latSub {
		return (float64(i) + 0.5) / 1000
	}
	e := (i-latSub)/latSub + latSubBits
	sub := (i - latSub) % latSub
	lo := float64(int64(latSub+sub) << (e - latSubBits))
	w := float64(int64(1) << (e - latSubBits))
	return (lo + w/2) / 1000
}

func (b *latBins) add(ns int64) { b[latBin(ns)]++ }

// snapshot is the state of the workload at one metrics tick: cumulative counters, gauges,
// and the latencies of the completions since the previous tick.
type snapshot struct {
	ep       uint64
	k        int64 // tick index: t = k·resolution
	c        counters
	queueLen int64
	lat      latBins
}

// gpuSnap is one GPU's state at a tick.
type gpuSnap struct {
	ep   uint64
	k    int64
	busy float64 // cumulative busy ns
	mem  int64   // frame buffer used
	pods int     // workload pods holding a share
}

// podSnap is one pod's state at a tick (the ring is cleared when the pod is created).
type podSnap struct {
	k        int64
	cpu      float64 // cumulative core·ns
	queueNs  int64   // cumulative queue time of executed requests
	exec     int64   // cumulative executed requests
	inflight int64
	running  bool
}

func (s *Sim) integrateLevels() {
	dt := float64(s.now - s.lvLast)
	if dt > 0 {
		s.in.replica += float64(s.lv.replicas) * dt
		s.in.ready += float64(s.lv.ready) * dt
		s.in.shares += float64(s.lv.shares) * dt
		s.in.cpuReqMilli += float64(s.lv.cpuReqMilli) * dt
		s.in.memReq += float64(s.lv.memReq) * dt
		s.in.running += float64(s.lv.running) * dt
		s.in.gpuMem += float64(s.lv.gpuMem) * dt
	}
	s.lvLast = s.now
}

// syncAll brings every continuous quantity (CPU stages, GPU progress, integrals) up to now.
func (s *Sim) syncAll() {
	for _, p := range s.pods {
		s.cpuSync(p)
	}
	for _, g := range s.gpus {
		s.gpuSync(g)
	}
	s.integrateLevels()
	s.integrateInflight()
}

func (s *Sim) onTick() {
	s.syncAll()
	s.snapshotAt(s.now)
	s.schedule(&s.tickT, s.now+s.res)
}

// snapshotAt records the tick at time t (a multiple of the resolution).
func (s *Sim) snapshotAt(t int64) {
	k := t / s.res
	i := int(k % int64(s.histLen))
	sn := &s.snaps[i]
	sn.ep, sn.k, sn.c = s.episode, k, s.cum
	var ql int64
	for _, p := range s.pods {
		ql += int64(p.q.len())
		ps := &p.ring[i]
		*ps = podSnap{k: k, cpu: p.cpuCum, queueNs: p.queueNsCum, exec: p.execCum, inflight: int64(p.inflight),
			running: p.gpuMem > 0}
	}
	sn.queueLen = ql
	sn.lat = s.curLat
	s.curLat = latBins{}
	for _, g := range s.gpus {
		g.ring[i] = gpuSnap{ep: s.episode, k: k, busy: g.busyCum, mem: g.memUsed, pods: g.pods}
	}
}

// snap returns the global snapshot of tick k, or nil if it is not (or no longer) recorded.
func (s *Sim) snap(k int64) *snapshot {
	if k < 0 {
		return nil
	}
	sn := &s.snaps[int(k%int64(s.histLen))]
	if sn.ep != s.episode || sn.k != k {
		return nil
	}
	return sn
}

// Accounting returns the simulator itself: its Cut closes a ground-truth window.
func (s *Sim) Accounting() framework.Accounting { return s }

// Cut closes the current accounting window at the present virtual time and returns it; the
// next window starts now. The window's Latency histogram is the caller's to keep.
func (s *Sim) Cut() framework.Window {
	s.syncAll()
	var busy, gpuMemTotal float64
	for _, g := range s.gpus {
		busy += g.busyCum
		gpuMemTotal += float64(g.memTotal)
	}
	c, p := s.cum, s.cut
	in := s.in
	w := s.sc.Workload
	tot := framework.Totals{
		Arrivals:              c.arrivals - p.c.arrivals,
		Completions:           c.completions - p.c.completions,
		Drops:                 c.drops - p.c.drops,
		Failures:              c.failures - p.c.failures,
		SLOViolations:         c.slo - p.c.slo,
		ReplicaSeconds:        (in.replica - p.in.replica) / 1e9,
		ReadyReplicaSeconds:   (in.ready - p.in.ready) / 1e9,
		GPUSeconds:            (in.shares - p.in.shares) / 1e9,
		GPUBusySeconds:        (busy - p.busy) / 1e9,
		GPUCount:              len(s.gpus),
		CPUSeconds:            (s.cpuCum - p.cpu) / 1e9,
		CPURequestSeconds:     (in.cpuReqMilli - p.in.cpuReqMilli) / 1e12,
		MemByteSeconds:        (float64(w.MemoryWorkingSet)*(in.running-p.in.running) + float64(w.MemoryPerRequest)*(s.inflNs-p.infl)) / 1e9,
		MemRequestByteSeconds: (in.memReq - p.in.memReq) / 1e9,
		GPUMemByteSeconds:     (in.gpuMem - p.in.gpuMem) / 1e9,
		GPUMemTotalBytes:      gpuMemTotal,
		Batches:               c.batches - p.c.batches,
		BatchedRequests:       c.batched - p.c.batched,
		QueueSeconds:          float64(c.queueNs-p.c.queueNs) / 1e9,
		OfferedRequests:       load.Integral(s.load.Profile, time.Duration(p.t), time.Duration(s.now)),
	}
	win := framework.Window{
		Start:   framework.SimEpoch.Add(time.Duration(p.t)),
		End:     s.Now(),
		Totals:  tot,
		Latency: s.hist,
	}
	s.hist = framework.NewHistogram()
	s.cut = cutState{t: s.now, c: c, in: in, cpu: s.cpuCum, infl: s.inflNs, busy: busy}
	return win
}
