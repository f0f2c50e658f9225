package sim

import (
	"fmt"
	"math"
	"sort"
)

// node is a Kubernetes node: allocatable CPU and memory (less what other pods request) and
// its GPUs.
type node struct {
	name               string
	cpuAlloc, memAlloc int64 // millicores, bytes available to the workload
	cpuUsed, memUsed   int64 // requested by the workload's bound pods
	pods               int   // workload pods bound to the node
	gpus               []*gpu
}

// gpu is a physical GPU, possibly time-sliced into several nvidia.com/gpu shares.
type gpu struct {
	idx                int
	node               *node
	model              string
	memTotal, memUsed  int64
	shares, sharesUsed int
	pods               int // workload pods holding a share
	jobs               []*instance
	last               int64   // time jobs' progress was last brought up to date
	busyCum            float64 // ns with at least one batch executing
	t                  timer
	ring               []gpuSnap
}

// Pod lifecycle states (the simulator's own; PodView maps them to phase and readiness):
//
//	unscheduled ──bind──▶ pulling ──container start──▶ loading ──model loaded──▶ probing ──probe──▶ ready
//	     │                   │                         │  (GPU memory short: failed)      │
//	     └── delete: gone    └─────────── delete: terminating (grace; in-flight requests finish) ──▶ gone
const (
	psUnscheduled uint8 = iota
	psPulling
	psLoading
	psProbing
	psReady
	psFailed
	psGone
)

// pod is one pod of the workload.
type pod struct {
	serial      int64
	name        string
	rev         int
	state       uint8
	deleting    bool
	ready       bool
	created     int64
	bound       int64 // StartTime: when the kubelet accepted the pod
	started     int64 // container start
	readyTrans  int64 // last Ready transition
	node        *node
	gpu         *gpu
	cpuReqMilli int64
	cpuLimit    float64   // cores available to the pod's CPU stage
	rate        []float64 // cpuRate by requests in service
	invRate     []float64 // 1 / rate
	memReq      int64
	gpuMem      int64

	cfg     batching
	pending batching // settings waiting for the model reload
	hasPend bool

	cpuQ    seqRing
	cpuV    float64 // virtual CPU time: work each request in the stage has received, ns
	cpuLast int64
	cpuCum  float64 // core·ns used

	q         seqRing
	insts     []*instance
	idle      int
	execCount int
	inflight  int

	queueNsCum int64 // queue time of every request the pod executed
	execCum    int64 // requests the pod executed

	// Per-pod totals of finished executions, as Triton counts them (for exporters; see
	// PodStates): batches and requests finished on the GPU, and their summed queue,
	// compute and request (arrival to answer) times.
	doneBatches, doneRequests             int64
	doneQueueNs, doneComputeNs, doneReqNs int64

	cpuT, batchT, lifeT, reloadT timer
	ring                         []podSnap
	mark                         uint64
}

// instance is one model instance of a pod: it executes one batch at a time on the GPU.
type instance struct {
	pod       *pod
	busy      bool
	retiring  bool
	batch     []uint64
	remaining float64 // GPU work left at full speed, ns
	rate      float64 // current speed (share of the GPU)
	execStart int64
}

// newPod takes a pod struct from the pool and initialises it from the current template.
func (s *Sim) newPod() *pod {
	var p *pod
	if n := len(s.free); n > 0 {
		p = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		p = &pod{ring: make([]podSnap, s.histLen)}
		p.cpuT = timer{idx: -1, kind: tkCPU, pod: p}
		p.batchT = timer{idx: -1, kind: tkBatch, pod: p}
		p.lifeT = timer{idx: -1, kind: tkLife, pod: p}
		p.reloadT = timer{idx: -1, kind: tkReload, pod: p}
	}
	s.serial++
	insts, ring := p.insts[:0], p.ring
	cpuQ, q := p.cpuQ, p.q
	rate, invRate := p.rate, p.invRate
	*p = pod{
		serial: s.serial, rev: s.rev, created: s.now,
		cpuReqMilli: s.cpuReq, memReq: int64(s.sc.Workload.MemoryRequest),
		insts: insts, ring: ring, cpuQ: cpuQ, q: q, rate: rate, invRate: invRate,
		cpuT: p.cpuT, batchT: p.batchT, lifeT: p.lifeT, reloadT: p.reloadT,
		bound: math.MinInt64, started: math.MinInt64, readyTrans: s.now,
	}
	p.cpuQ.clear()
	p.q.clear()
	p.name = fmt.Sprintf("%s-r%d-%05d", s.sc.Workload.Name, p.rev, p.serial)
	s.setCPULimit(p, float64(s.cpuLim)/1000)
	for i := range p.ring {
		p.ring[i].k = -1
	}
	s.pods = append(s.pods, p)
	s.stats.PodsCreated++
	s.integrateLevels()
	s.lv.replicas++
	return p
}

// releasePod returns a pod struct to the pool.
func (s *Sim) releasePod(p *pod) {
	s.cancel(&p.cpuT)
	s.cancel(&p.batchT)
	s.cancel(&p.lifeT)
	s.cancel(&p.reloadT)
	for _, in := range p.insts {
		in.batch = in.batch[:0]
		in.pod = nil
	}
	p.insts = p.insts[:0]
	p.state = psGone
	s.free = append(s.free, p)
}

// schedulePod binds an unscheduled pod to the best feasible node as kube-scheduler's
// default profile would, and reports whether it found one. Filter: the node's free CPU,
// memory (allocatable less other pods' requests) and nvidia.com/gpu shares fit the pod's
// requests. Score: NodeResourcesFit LeastAllocated (mean free fraction of CPU and memory
// after placing) + NodeResourcesBalancedAllocation (1 − |cpu − memory fraction| / 2) +
// 2 × PodTopologySpread's default hostname spreading (fewer pods of the workload scores
// higher), each 0–100. Ties are broken at random with the start-up stream, as the
// scheduler's selectHost samples uniformly among the best.
func (s *Sim) schedulePod(p *pod) bool {
	var best *node
	bestScore, ties := -1.0, 0
	minPods, maxPods := math.MaxInt, 0
	for _, n := range s.nodes {
		if s.fits(n, p) {
			minPods = min(minPods, n.pods)
			maxPods = max(maxPods, n.pods)
		}
	}
	for _, n := range s.nodes {
		if !s.fits(n, p) {
			continue
		}
		cpuF := float64(n.cpuUsed+p.cpuReqMilli) / float64(n.cpuAlloc)
		memF := float64(n.memUsed+p.memReq) / float64(n.memAlloc)
		least := 100 * ((1 - cpuF) + (1 - memF)) / 2
		balanced := 100 * (1 - math.Abs(cpuF-memF)/2)
		spread := 100.0
		if maxPods > minPods {
			spread = 100 * float64(maxPods-n.pods) / float64(maxPods-minPods)
		}
		score := least + balanced + 2*spread
		switch {
		case score > bestScore+1e-9:
			best, bestScore, ties = n, score, 1
		case math.Abs(score-bestScore) <= 1e-9:
			ties++
			if s.rUp.IntN(ties) == 0 {
				best = n
			}
		}
	}
	if best == nil {
		return false
	}
	// The device plugin hands out a share of the GPU with the most free shares.
	var g *gpu
	for _, c := range best.gpus {
		if c.sharesUsed < c.shares && (g == nil || c.shares-c.sharesUsed > g.shares-g.sharesUsed) {
			g = c
		}
	}
	s.integrateLevels()
	best.cpuUsed += p.cpuReqMilli
	best.memUsed += p.memReq
	best.pods++
	g.sharesUsed++
	g.pods++
	p.node, p.gpu = best, g
	p.bound = s.now
	p.state = psPulling
	if p.cpuLimit <= 0 {
		s.setCPULimit(p, float64(best.cpuAlloc)/1000) // no limit: the node's allocatable CPU
	}
	s.lv.shares++
	s.lv.cpuReqMilli += p.cpuReqMilli
	s.lv.memReq += p.memReq
	return true
}

func (s *Sim) fits(n *node, p *pod) bool {
	if n.cpuUsed+p.cpuReqMilli > n.cpuAlloc || n.memUsed+p.memReq > n.memAlloc {
		return false
	}
	for _, g := range n.gpus {
		if g.sharesUsed < g.shares {
			return true
		}
	}
	return false
}

// unbind releases a pod's node and GPU resources.
func (s *Sim) unbind(p *pod) {
	if p.node == nil {
		return
	}
	s.integrateLevels()
	p.node.cpuUsed -= p.cpuReqMilli
	p.node.memUsed -= p.memReq
	p.node.pods--
	p.gpu.sharesUsed--
	p.gpu.pods--
	if p.gpuMem > 0 {
		p.gpu.memUsed -= p.gpuMem
		s.lv.gpuMem -= p.gpuMem
		p.gpuMem = 0
	}
	s.lv.shares--
	s.lv.cpuReqMilli -= p.cpuReqMilli
	s.lv.memReq -= p.memReq
	p.node, p.gpu = nil, nil
}

// startContainer starts the pod's container: the server creates its CUDA context and loads
// the model, which needs frame buffer on the pod's GPU. Time-slicing isolates no memory: if
// the GPU lacks it, the pod fails (CUDA out of memory) and false is returned.
func (s *Sim) startContainer(p *pod) bool {
	p.cfg = s.serving
	need := int64(s.sc.Model.GPUMemoryPerPod) + int64(p.cfg.InstanceCount)*int64(s.sc.Model.GPUMemoryPerInstance)
	if p.gpu.memUsed+need > p.gpu.memTotal {
		s.failPod(p)
		return false
	}
	s.integrateLevels()
	p.gpu.memUsed += need
	p.gpuMem = need
	s.lv.gpuMem += need
	s.lv.running++
	p.state = psLoading
	s.setInstances(p, p.cfg.InstanceCount)
	return true
}

// setInstances makes n instances available (adding idle ones or retiring surplus ones).
func (s *Sim) setInstances(p *pod, n int) {
	active := 0
	for _, in := range p.insts {
		if !in.retiring {
			active++
		}
	}
	for ; active < n; active++ {
		var in *instance
		if len(p.insts) < cap(p.insts) {
			p.insts = p.insts[:len(p.insts)+1]
			in = p.insts[len(p.insts)-1]
			if in == nil {
				in = &instance{}
				p.insts[len(p.insts)-1] = in
			}
		} else {
			in = &instance{}
			p.insts = append(p.insts, in)
		}
		*in = instance{pod: p, batch: in.batch[:0]}
		p.idle++
	}
	// Retire surplus: idle ones at once, busy ones when their batch completes.
	for i := len(p.insts) - 1; i >= 0 && active > n; i-- {
		in := p.insts[i]
		if in.retiring {
			continue
		}
		active--
		if in.busy {
			in.retiring = true
			continue
		}
		p.idle--
		s.dropInstance(p, i)
	}
}

func (s *Sim) dropInstance(p *pod, i int) {
	in := p.insts[i]
	last := len(p.insts) - 1
	p.insts[i], p.insts[last] = p.insts[last], in
	p.insts = p.insts[:last]
	// Keep the struct for reuse beyond len (cap) — but never alias it from two slots.
	in.pod = nil
}

// failPod marks a pod Failed (it keeps no resources) and lets the controller replace it.
func (s *Sim) failPod(p *pod) {
	s.unbind(p)
	s.integrateLevels()
	s.lv.replicas--
	p.state = psFailed
	s.stats.PodsFailed++
	s.removePodFromList(p)
	s.failed = append(s.failed, p)
	if keep := s.sc.Workload.FailedPodHistory; len(s.failed) > keep {
		for _, old := range s.failed[:len(s.failed)-keep] {
			s.releasePod(old)
		}
		s.failed = append(s.failed[:0], s.failed[len(s.failed)-keep:]...)
	}
	s.reconcile()
}

func (s *Sim) removePodFromList(p *pod) {
	for i, q := range s.pods {
		if q == p {
			s.pods = append(s.pods[:i], s.pods[i+1:]...)
			return
		}
	}
}

// onLife advances a pod's lifecycle when its timer fires.
func (s *Sim) onLife(p *pod) {
	w := s.sc.Workload
	if p.deleting {
		// The grace period is over: whatever is still in the pod fails.
		s.killPod(p)
		return
	}
	switch p.state {
	case psPulling:
		p.started = s.now
		if !s.startContainer(p) {
			return
		}
		s.schedule(&p.lifeT, s.now+s.sampleDist(w.ModelLoad))
	case psLoading:
		// Ready at the first readiness probe at or after the model is loaded; probes run at
		// started + initialDelay + k·period.
		p.state = psProbing
		first := p.started + int64(w.ReadinessInitialDelay)
		at := first
		if s.now > first {
			per := int64(w.ReadinessPeriod)
			at = first + (s.now-first+per-1)/per*per
		}
		s.schedule(&p.lifeT, at)
	case psProbing:
		s.setReady(p, s.now)
		s.reconcile()
	}
}

// setReady marks a pod Ready and routable.
func (s *Sim) setReady(p *pod, at int64) {
	s.integrateLevels()
	p.state = psReady
	p.ready = true
	p.readyTrans = at
	s.lv.ready++
	s.ready = append(s.ready, p)
	s.dispatch(p)
}

// deletePod starts a pod's deletion. A pod with no request in it (unscheduled, starting, or
// idle) goes at once; otherwise the pod leaves the endpoints (no new requests), its
// in-flight requests finish, and it is gone when empty or when the grace period ends.
func (s *Sim) deletePod(p *pod) {
	if p.deleting {
		return
	}
	s.stats.PodsDeleted++
	s.integrateLevels()
	p.deleting = true
	s.lv.replicas--
	if p.ready {
		p.ready = false
		p.readyTrans = s.now
		s.lv.ready--
		s.removeReady(p)
	}
	s.cancel(&p.reloadT)
	p.hasPend = false
	if p.state == psUnscheduled || p.state == psPulling || p.inflight == 0 {
		s.podGone(p)
		return
	}
	s.schedule(&p.lifeT, s.now+int64(s.sc.Workload.TerminationGrace))
}

func (s *Sim) removeReady(p *pod) {
	for i, q := range s.ready {
		if q == p {
			s.ready = append(s.ready[:i], s.ready[i+1:]...)
			if s.rr >= len(s.ready) {
				s.rr = 0
			}
			return
		}
	}
}

// killPod ends a terminating pod at the end of its grace period: requests still in it
// fail (those whose client already gave up were counted as drops).
func (s *Sim) killPod(p *pod) {
	s.cpuDrain(p, s.now)
	for p.cpuQ.len() > 0 {
		s.failRequest(p.cpuQ.pop())
	}
	for p.q.len() > 0 {
		s.failRequest(p.q.pop())
	}
	if g := p.gpu; g != nil {
		s.gpuSync(g)
		kept := g.jobs[:0]
		for _, j := range g.jobs {
			if j.pod == p {
				for _, seq := range j.batch {
					s.failRequest(seq)
				}
				j.batch = j.batch[:0]
				j.busy = false
				continue
			}
			kept = append(kept, j)
		}
		for i := len(kept); i < len(g.jobs); i++ {
			g.jobs[i] = nil
		}
		g.jobs = kept
		p.execCount = 0
		s.gpuRates(g)
		s.gpuReschedule(g)
	}
	s.podGone(p)
}

func (s *Sim) failRequest(seq uint64) {
	r := s.reqs.at(seq)
	if r.state == reqDone {
		return
	}
	if !r.abandoned {
		s.cum.failures++
	}
	s.finish(seq, r)
}

// maybeGone removes a terminating pod once its last request has left, and reports whether
// it did (the pod struct then goes back to the pool and must not be used again).
func (s *Sim) maybeGone(p *pod) bool {
	if p.deleting && p.inflight == 0 && p.state != psGone {
		s.podGone(p)
		return true
	}
	return false
}

// podGone removes a deleted pod: its resources free up and Pending pods may now fit.
func (s *Sim) podGone(p *pod) {
	s.integrateLevels()
	if p.started != math.MinInt64 && p.state != psFailed && p.gpuMem > 0 {
		s.lv.running--
	}
	s.unbind(p)
	s.removePodFromList(p)
	s.releasePod(p)
	s.reconcile()
}

// reconcile is the Deployment and ReplicaSet controllers plus the scheduler's retry: bring
// the pods to the desired count (rolling to the current template revision with maxSurge and
// maxUnavailable), choose victims as the ReplicaSet controller does, and bind Pending pods.
func (s *Sim) reconcile() {
	if s.reconciling {
		// Called back from inside a pass (a deletion freed resources): the outer loop makes
		// another pass, so no pass ever works on pods a nested one released.
		s.reconcileAgain = true
		return
	}
	s.reconciling = true
	for iter := 0; iter < 16; iter++ {
		s.reconcileAgain = false
		changed := s.reconcileOnce()
		for _, p := range s.pods {
			if p.state == psUnscheduled && !p.deleting && s.schedulePod(p) {
				s.schedule(&p.lifeT, s.now+s.sampleDist(s.sc.Workload.ImagePull))
			}
		}
		if !changed && !s.reconcileAgain {
			break
		}
	}
	s.reconciling = false
}

// reconcileOnce makes one pass and reports whether it changed anything.
func (s *Sim) reconcileOnce() bool {
	var active, oldPods, newPods []*pod
	for _, p := range s.pods {
		if p.deleting {
			continue
		}
		active = append(active, p)
		if p.rev == s.rev {
			newPods = append(newPods, p)
		} else {
			oldPods = append(oldPods, p)
		}
	}
	desired := s.desired
	if len(oldPods) == 0 {
		switch d := desired - len(active); {
		case d > 0:
			for i := 0; i < d; i++ {
				s.newPod()
			}
			return true
		case d < 0:
			for _, p := range s.victims(active, -d) {
				s.deletePod(p)
			}
			return true
		}
		return false
	}
	// Rolling update (Deployment controller, RollingUpdate strategy).
	surge := int(math.Ceil(s.sc.Workload.MaxSurge * float64(desired)))
	unavail := int(math.Floor(s.sc.Workload.MaxUnavailable * float64(desired)))
	if surge == 0 && unavail == 0 {
		unavail = 1
	}
	changed := false
	// Scale up the new ReplicaSet within maxSurge.
	if len(newPods) < desired {
		if n := min(desired-len(newPods), desired+surge-len(active)); n > 0 {
			for i := 0; i < n; i++ {
				s.newPod()
			}
			return true
		}
	} else if len(newPods) > desired {
		for _, p := range s.victims(newPods, len(newPods)-desired) {
			s.deletePod(p)
		}
		return true
	}
	// Scale down the old ReplicaSets, keeping desired − maxUnavailable pods available.
	minAvailable := desired - unavail
	newUnavailable := 0
	for _, p := range newPods {
		if !p.ready {
			newUnavailable++
		}
	}
	maxScaledDown := len(active) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	// First old pods that are not ready (they serve nothing).
	var oldReady []*pod
	for _, p := range s.victims(oldPods, len(oldPods)) {
		if !p.ready && maxScaledDown > 0 {
			s.deletePod(p)
			maxScaledDown--
			changed = true
		} else if p.ready {
			oldReady = append(oldReady, p)
		}
	}
	available := 0
	for _, p := range s.pods {
		if !p.deleting && p.ready {
			available++
		}
	}
	if n := min(available-minAvailable, len(oldReady)); n > 0 {
		for _, p := range oldReady[:n] {
			s.deletePod(p)
		}
		changed = true
	}
	return changed
}

// victims returns the first n pods to delete in the ReplicaSet controller's order
// (controller.ActivePodsWithRanks): unscheduled before scheduled; Pending before Running;
// not ready before ready; more pods of the workload on the same node first; ready for less
// time first; newer first.
func (s *Sim) victims(pods []*pod, n int) []*pod {
	c := append([]*pod(nil), pods...)
	phase := func(p *pod) int { // Pending (image pull) before Running
		if p.state <= psPulling {
			return 0
		}
		return 1
	}
	sort.SliceStable(c, func(i, j int) bool {
		a, b := c[i], c[j]
		if (a.node == nil) != (b.node == nil) {
			return a.node == nil
		}
		if pa, pb := phase(a), phase(b); pa != pb {
			return pa < pb
		}
		if a.ready != b.ready {
			return !a.ready
		}
		if a.node != nil && b.node != nil && a.node.pods != b.node.pods {
			return a.node.pods > b.node.pods
		}
		if a.ready && b.ready && a.readyTrans != b.readyTrans {
			return a.readyTrans > b.readyTrans
		}
		if a.created != b.created {
			return a.created > b.created
		}
		return a.serial > b.serial
	})
	if n > len(c) {
		n = len(c)
	}
	return c[:n]
}
