package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// batching is the framework's batching settings type, used for a pod's serving config.
type batching = framework.BatchingSettings

var _ framework.Backend = (*Sim)(nil)

// Stream identifiers: each random source of an episode is its own PCG stream seeded with
// (Episode.Seed, stream), so the arrival sequence does not depend on anything a policy does.
const (
	streamArrivals uint64 = 0x61727269766c7331 // "arrivls1"
	streamService  uint64 = 0x7365727669636531 // "service1"
	streamStartup  uint64 = 0x7374617274757031 // "startup1"
	streamRouting  uint64 = 0x726f7574696e6731 // "routing1"
)

// initialPodAge is how long the pods present at Reset have been running (so that the HPA's
// CPU initialisation period does not apply to a steady workload).
const initialPodAge = 10 * time.Minute

// Stats are counters about the simulation itself (not KPIs) over the current episode.
type Stats struct {
	// Events is the number of timer events processed.
	Events uint64
	// PodsCreated, PodsFailed and PodsDeleted count pods of the workload.
	PodsCreated, PodsFailed, PodsDeleted int
	// Reloads and FailedReloads count model reloads after batching changes.
	Reloads, FailedReloads int
	// InflightSeconds is ∫ (requests in the pods) dt, for Little's law.
	InflightSeconds float64
	// Elapsed is the simulated time since Reset.
	Elapsed time.Duration
}

// Sim is the embedded discrete-event simulator: a cluster of nodes and time-sliced GPUs,
// a Deployment of Triton-like inference pods, routing, metrics with lag, and ground-truth
// accounting. It implements framework.Backend. A Sim is not safe for concurrent use; run
// one Sim per goroutine.
type Sim struct {
	sc Scenario

	// derived model parameters, ns
	tMin, tFixed, tPer float64
	jitMu, jitSigma    float64 // lognormal jitter: exp(μ + σ·N(0,1)) has mean 1 and CV jitter_cv
	cpuWork            float64
	threads            int // requests whose CPU work proceeds at once in a pod
	res                int64
	histLen            int

	episode uint64
	now     int64
	limit   int64
	seq     uint64
	heap    timerHeap
	closed  bool

	pcg                    [4]*rand.PCG
	rArr, rSvc, rUp, rRout *rand.Rand

	load       load.Load
	src        load.Source
	nextArr    int64 // the next arrival, unless arrPending
	arrPending bool
	slo        int64
	timeout    int64
	timeoutT   timer
	tcur       uint64
	tickT      timer

	nodes   []*node
	gpus    []*gpu
	pods    []*pod // live pods (terminating included), creation order
	failed  []*pod // recently failed pods, oldest first
	free    []*pod // pool of pod structs for reuse
	ready   []*pod // routable pods
	rr      int
	serial  int64
	desired int
	rev     int
	// reconciling guards the controllers against re-entry; reconcileAgain asks for a pass.
	reconciling, reconcileAgain bool
	cpuReq                      int64   // template CPU request, millicores
	cpuLim                      int64   // template CPU limit, millicores (0 = none)
	limRat                      float64 // limit / request of the scenario (0 = no limit)
	serving                     batching
	// hpaTarget is the target of the HPA an actuator runs (0: none), for the cluster view.
	hpaTarget float64

	reqs     reqRing
	inflight int64
	inflLast int64
	inflNs   float64

	cum    counters
	cpuCum float64 // core·ns used by the workload's pods
	lv     levels
	lvLast int64
	in     integrals
	hist   *framework.Histogram
	cut    cutState

	snaps  []snapshot
	curLat latBins

	periodics []*periodic
	stats     Stats
	markSeq   uint64
	wcache    windowCache
}

// counters are cumulative event counts of an episode.
type counters struct {
	arrivals, completions, drops, failures, slo int64
	batches, batched                            int64
	queueNs                                     int64 // queue time of completions
}

// levels are the cluster's current state levels that time integrals accumulate.
type levels struct {
	replicas    int   // pods that exist, not terminating, not failed
	ready       int   // ready pods
	shares      int   // nvidia.com/gpu shares held (bound pods, terminating included)
	cpuReqMilli int64 // CPU requested by bound pods
	memReq      int64 // memory requested by bound pods
	running     int   // started containers
	gpuMem      int64 // frame buffer in use
}

// integrals are ∫ level dt in level·ns.
type integrals struct {
	replica, ready, shares, cpuReqMilli, memReq, running, gpuMem float64
}

type cutState struct {
	t      int64
	c      counters
	in     integrals
	cpu    float64
	infl   float64
	busy   float64
	stamps int
}

// periodic is a registered callback on the virtual clock.
type periodic struct {
	period int64
	fn     func(now time.Time)
	t      timer
	active bool
}

// New returns a simulator for the scenario (validated). Call Reset before Advance.
func New(sc Scenario) (*Sim, error) {
	if errs := sc.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("sim: invalid scenario %q: %w", sc.Name, errors.Join(errs...))
	}
	s := &Sim{sc: sc}
	m := sc.Model
	s.tMin, s.tFixed, s.tPer = float64(m.TMin), float64(m.TFixed), float64(m.TPerImage)
	s.cpuWork = float64(m.CPUPerRequest)
	s.threads = sc.Serving.HTTPThreads
	s2 := math.Log1p(m.JitterCV * m.JitterCV)
	s.jitMu, s.jitSigma = -s2/2, math.Sqrt(s2)
	s.res = int64(sc.Observation.Resolution)
	s.histLen = int(sc.Observation.History/sc.Observation.Resolution) + 2
	s.snaps = make([]snapshot, s.histLen)
	for i := range s.pcg {
		s.pcg[i] = rand.NewPCG(0, 0)
	}
	s.rArr, s.rSvc, s.rUp, s.rRout = rand.New(s.pcg[0]), rand.New(s.pcg[1]), rand.New(s.pcg[2]), rand.New(s.pcg[3])
	s.timeoutT = timer{idx: -1, kind: tkTimeout}
	s.tickT = timer{idx: -1, kind: tkTick}
	for _, ns := range sc.Nodes {
		for c := 0; c < ns.Count; c++ {
			name := ns.Name
			if ns.Count > 1 {
				name = fmt.Sprintf("%s-%d", ns.Name, c)
			}
			n := &node{name: name, cpuAlloc: int64(ns.CPU - ns.ReservedCPU), memAlloc: int64(ns.Memory - ns.ReservedMemory)}
			for _, gs := range ns.GPUs {
				for gi := 0; gi < gs.Count; gi++ {
					g := &gpu{idx: len(s.gpus), node: n, model: gs.Model, memTotal: int64(gs.Memory), shares: gs.TimeSlicingReplicas}
					g.t = timer{idx: -1, kind: tkGPU, gpu: g}
					g.ring = make([]gpuSnap, s.histLen)
					n.gpus = append(n.gpus, g)
					s.gpus = append(s.gpus, g)
				}
			}
			s.nodes = append(s.nodes, n)
		}
	}
	if sc.Workload.CPULimit > 0 {
		s.limRat = float64(sc.Workload.CPULimit) / float64(sc.Workload.CPURequest)
	}
	s.hist = framework.NewHistogram()
	return s, nil
}

// Scenario returns the simulator's scenario.
func (s *Sim) Scenario() Scenario { return s.sc }

// Now returns the virtual clock: framework.SimEpoch plus the simulated time since Reset.
func (s *Sim) Now() time.Time { return framework.SimEpoch.Add(time.Duration(s.now)) }

// Episode returns a counter incremented by every Reset (components with per-episode state
// compare it to notice a new episode).
func (s *Sim) Episode() uint64 { return s.episode }

// Stats returns counters about the current episode's simulation.
func (s *Sim) Stats() Stats {
	st := s.stats
	s.integrateInflight()
	st.InflightSeconds = s.inflNs / 1e9
	st.Elapsed = time.Duration(s.now)
	return st
}

// Close releases the simulator. It is idempotent.
func (s *Sim) Close() error {
	s.closed = true
	return nil
}

// Reset starts an episode: a fresh cluster at framework.SimEpoch with ep.InitialReplicas
// ready pods of the scenario's template, the load ep.Load seeded by ep.Seed, and empty
// accounting. Periodic callbacks stay registered and restart their phase. Reset reuses the
// simulator's memory, so it is cheap enough to call thousands of times.
func (s *Sim) Reset(ctx context.Context, ep framework.Episode) error {
	if s.closed {
		return errors.New("sim: Reset after Close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if ep.Load.Profile == nil {
		return errors.New("sim: episode has no load profile")
	}
	if err := ep.Load.Arrivals.Validate(); err != nil {
		return fmt.Errorf("sim: episode load %q: %w", ep.Load.Name, err)
	}
	if ep.InitialReplicas < 0 {
		return fmt.Errorf("sim: initial replicas must be ≥ 0, got %d", ep.InitialReplicas)
	}
	if ep.SLO < 0 || ep.ClientTimeout < 0 {
		return fmt.Errorf("sim: SLO (%s) and client timeout (%s) must be ≥ 0", ep.SLO, ep.ClientTimeout)
	}
	s.episode++
	// Clear the previous episode: timers, pods, requests, accounting.
	for _, t := range s.heap {
		t.idx = -1
	}
	s.heap = s.heap[:0]
	s.now, s.seq, s.limit = 0, 0, 0
	for _, p := range s.pods {
		s.releasePod(p)
	}
	for _, p := range s.failed {
		s.releasePod(p)
	}
	s.pods, s.failed, s.ready = s.pods[:0], s.failed[:0], s.ready[:0]
	for _, n := range s.nodes {
		n.cpuUsed, n.memUsed, n.pods = 0, 0, 0
	}
	for _, g := range s.gpus {
		g.memUsed, g.sharesUsed, g.last, g.busyCum, g.pods = 0, 0, 0, 0, 0
		g.jobs = g.jobs[:0]
	}
	s.reqs.reset()
	s.inflight, s.inflLast, s.inflNs = 0, 0, 0
	s.cum, s.cpuCum, s.lv, s.lvLast, s.in = counters{}, 0, levels{}, 0, integrals{}
	s.hist.Reset()
	s.cut = cutState{}
	s.curLat = latBins{}
	s.stats = Stats{}
	s.wcache = windowCache{}
	s.rr, s.serial, s.tcur = 0, 0, 0
	s.reconciling, s.reconcileAgain = false, false
	s.rev = 1
	s.cpuReq = int64(s.sc.Workload.CPURequest)
	s.cpuLim = int64(s.sc.Workload.CPULimit)
	s.serving = s.sc.Serving.settings()

	seed := ep.Seed
	s.pcg[0].Seed(seed, streamArrivals)
	s.pcg[1].Seed(seed, streamService)
	s.pcg[2].Seed(seed, streamStartup)
	s.pcg[3].Seed(seed, streamRouting)
	s.load = ep.Load
	s.src.Reset(ep.Load, s.rArr)
	s.slo = int64(ep.SLO)
	s.timeout = int64(s.sc.Client.Timeout)
	if ep.ClientTimeout > 0 {
		s.timeout = int64(ep.ClientTimeout)
	}

	// The initial replicas: already running and ready (the workload is steady at start).
	s.desired = ep.InitialReplicas
	for i := 0; i < ep.InitialReplicas; i++ {
		p := s.newPod()
		p.created = -int64(initialPodAge)
		if !s.schedulePod(p) {
			continue // stays Pending, as on a full cluster
		}
		p.bound = p.created
		p.started = p.created
		if !s.startContainer(p) {
			continue
		}
		p.state = psProbing
		s.setReady(p, p.created+int64(s.sc.Workload.ReadinessPeriod))
	}
	s.reconcile()

	s.snapshotAt(0)
	s.schedule(&s.tickT, s.res)
	s.arrPending = true
	for _, per := range s.periodics {
		if per.active {
			s.schedule(&per.t, per.period)
		}
	}
	return nil
}

// Advance simulates d of virtual time, processing every event up to and including now+d.
func (s *Sim) Advance(ctx context.Context, d time.Duration) error {
	if s.closed {
		return errors.New("sim: Advance after Close")
	}
	if s.load.Profile == nil {
		return errors.New("sim: Advance before Reset")
	}
	if d < 0 {
		return fmt.Errorf("sim: cannot advance by a negative duration %s", d)
	}
	target := s.now + int64(d)
	s.limit = target
	if s.arrPending {
		s.pullArrival()
	}
	var n uint64
	for {
		// Arrivals come from the load's own sequence, merged with the timers (an arrival
		// first on a tie) instead of going through the heap.
		if !s.arrPending && s.nextArr <= target && (len(s.heap) == 0 || s.nextArr <= s.heap[0].at) {
			s.now = s.nextArr
			s.onArrival()
		} else {
			if len(s.heap) == 0 || s.heap[0].at > target {
				break
			}
			t := s.heap[0]
			s.now = t.at
			s.heap.remove(0)
			s.fire(t)
		}
		n++
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				s.stats.Events += n
				return err
			}
		}
	}
	s.stats.Events += n
	s.now = target
	return nil
}

func (s *Sim) fire(t *timer) {
	switch t.kind {
	case tkCPU:
		s.onCPU(t.pod)
	case tkGPU:
		s.onGPU(t.gpu)
	case tkBatch:
		s.dispatch(t.pod)
	case tkTimeout:
		s.onTimeout()
	case tkTick:
		s.onTick()
	case tkLife:
		s.onLife(t.pod)
	case tkReload:
		s.onReload(t.pod)
	case tkPeriodic:
		per := t.per
		s.schedule(&per.t, s.now+per.period)
		per.fn(s.Now())
	}
}

// schedule (re)arms t at virtual time at (never before now).
func (s *Sim) schedule(t *timer, at int64) {
	if at < s.now {
		at = s.now
	}
	t.at = at
	t.seq = s.seq
	s.seq++
	if t.kind == tkTick {
		// A metrics tick goes before every other timer at its instant, so that anything
		// reading metrics at that instant (a periodic controller) sees its snapshot.
		t.seq = 0
	}
	if t.idx >= 0 {
		s.heap.fix(t.idx)
	} else {
		s.heap.push(t)
	}
}

func (s *Sim) cancel(t *timer) {
	if t.idx >= 0 {
		s.heap.remove(t.idx)
	}
}

// pullArrival schedules the next arrival if it lies within the current Advance.
func (s *Sim) pullArrival() {
	off, ok := s.src.NextBefore(time.Duration(s.limit))
	if !ok {
		s.arrPending = true
		return
	}
	s.arrPending = false
	s.nextArr = int64(off)
}

func (s *Sim) onArrival() {
	s.cum.arrivals++
	p := s.route()
	if p == nil {
		s.cum.drops++ // no ready pod: the connection is refused
	} else {
		seq := s.reqs.push(s.now, p)
		s.addInflight(1)
		p.inflight++
		if s.cpuWork > 0 {
			s.cpuAdd(p, seq)
		} else {
			s.enqueue(p, seq)
		}
		if s.timeout > 0 && !s.timeoutT.armed() {
			s.schedule(&s.timeoutT, s.now+s.timeout)
		}
	}
	s.pullArrival()
}

// route picks a ready pod for a new request, or nil when none is ready.
func (s *Sim) route() *pod {
	n := len(s.ready)
	switch {
	case n == 0:
		return nil
	case n == 1:
		return s.ready[0]
	}
	switch s.sc.Routing {
	case RoutingRoundRobin:
		s.rr++
		if s.rr >= n {
			s.rr = 0
		}
		return s.ready[s.rr]
	case RoutingLeastOutstanding:
		// Fewest requests in the pod; ties go to the first after the last choice.
		best := -1
		for k := 1; k <= n; k++ {
			i := (s.rr + k) % n
			if best < 0 || s.ready[i].inflight < s.ready[best].inflight {
				best = i
			}
		}
		s.rr = best
		return s.ready[best]
	default:
		return s.ready[s.rRout.IntN(n)]
	}
}

func (s *Sim) addInflight(d int64) {
	s.integrateInflight()
	s.inflight += d
}

func (s *Sim) integrateInflight() {
	s.inflNs += float64(s.inflight) * float64(s.now-s.inflLast)
	s.inflLast = s.now
}

// finish retires a request: it leaves its pod and the ring.
func (s *Sim) finish(seq uint64, r *request) {
	r.state = reqDone
	r.pod.inflight--
	s.addInflight(-1)
	if seq == s.reqs.head {
		s.reqs.reclaim()
	}
}

// onTimeout expires requests whose client gave up: they count as drops; a request still in
// its pod's CPU stage is abandoned there (the connection closes), one already queued or on
// the GPU runs to the end (the server does not notice) but no longer counts as completed.
func (s *Sim) onTimeout() {
	if s.tcur < s.reqs.head {
		s.tcur = s.reqs.head
	}
	for s.tcur < s.reqs.tail {
		r := s.reqs.at(s.tcur)
		if r.state == reqDone || r.abandoned {
			s.tcur++
			continue
		}
		if r.arrival+s.timeout > s.now {
			s.schedule(&s.timeoutT, r.arrival+s.timeout)
			return
		}
		if r.state == reqCPU {
			s.cpuSync(r.pod) // it may have left the CPU stage before now
		}
		r.abandoned = true
		s.cum.drops++
		if r.state == reqCPU {
			s.cpuAbandon(r.pod, s.tcur, r)
		}
		s.tcur++
	}
}

// sampleDist draws from a duration distribution with the start-up stream.
func (s *Sim) sampleDist(d Dist) int64 {
	var v float64
	switch d.Kind {
	case DistUniform:
		v = float64(d.Min) + s.rUp.Float64()*float64(d.Max-d.Min)
	case DistLognormal:
		v = float64(d.Mean) * lognormalUnit(s.rUp, d.CV)
	case DistExponential:
		v = float64(d.Mean) * s.rUp.ExpFloat64()
	default:
		v = float64(d.Mean)
	}
	if v < float64(d.Min) {
		v = float64(d.Min)
	}
	if d.Max > 0 && v > float64(d.Max) {
		v = float64(d.Max)
	}
	return int64(v)
}

// lognormalUnit draws a lognormal factor with mean 1 and coefficient of variation cv.
func lognormalUnit(r *rand.Rand, cv float64) float64 {
	if cv <= 0 {
		return 1
	}
	s2 := math.Log1p(cv * cv)
	return math.Exp(-s2/2 + math.Sqrt(s2)*r.NormFloat64())
}
