package sim

import (
	"math"
	"time"
)

// The serving path of one request:
//
//	arrival ─route─▶ pod CPU stage (processor sharing, cpu_per_request each, ≤ CPU limit)
//	        ─▶ batcher queue (max_queue_size) ─dynamic batching─▶ instance executes t(b)·jitter
//	        on the pod's GPU (time-sliced among busy contexts) ─▶ response.

// The CPU stage is limited processor sharing: at most http_threads requests (Triton's HTTP
// worker threads) are being received and decoded at once, sharing the pod's CPU limit, each
// at most one core; the others wait for a thread in arrival order and use no CPU. Every
// request needs the same work, so requests leave the stage in arrival order and its
// evolution between arrivals is known in closed form. It is therefore evaluated lazily:
// cpuDrain replays it up to a time, moving the requests done by then into the batcher
// queue with their exact exit times. A timer marks the next exit only while the pod has an
// idle instance (only then can an exit start a batch); while all instances are busy the
// stage needs no events at all, which is most of the work at high load. Invariant: a pod
// with an idle instance and a non-empty CPU stage has its CPU timer armed at the next exit,
// so a drain never releases a request an idle instance should have started earlier.
//
// Each request in service carries cpuTarget, the value of the stage's virtual time V (the
// work each request in service has received since V was last 0) at which it is done.

// cpuRate is the speed of each request in service in a pod's CPU stage: processor sharing
// of the pod's CPU limit among the m requests in service, each using at most one core.
func cpuRate(p *pod, m int) float64 {
	if m < len(p.rate) {
		return p.rate[m]
	}
	if r := p.cpuLimit / float64(m); r < 1 {
		return r
	}
	return 1
}

// cpuInvRate is 1 / cpuRate(p, m), tabulated like it to keep divisions off the hot path.
func cpuInvRate(p *pod, m int) float64 {
	if m < len(p.invRate) {
		return p.invRate[m]
	}
	return 1 / cpuRate(p, m)
}

// setCPULimit sets the pod's CPU limit and tabulates its per-request speeds.
func (s *Sim) setCPULimit(p *pod, cores float64) {
	p.cpuLimit = cores
	n := min(s.threads, 64) + 1
	p.rate, p.invRate = p.rate[:0], p.invRate[:0]
	for m := 0; m < n; m++ {
		r := 1.0
		if m > 0 && cores/float64(m) < 1 {
			r = cores / float64(m)
		}
		p.rate = append(p.rate, r)
		p.invRate = append(p.invRate, 1/r)
	}
}

// inService is how many of the n requests in a CPU stage hold a thread.
func (s *Sim) inService(n int) int {
	if n > s.threads {
		return s.threads
	}
	return n
}

// cpuPop removes the stage's oldest request and gives its thread to the next waiting one.
func (s *Sim) cpuPop(p *pod) uint64 {
	seq := p.cpuQ.pop()
	if p.cpuQ.len() >= s.threads {
		s.reqs.at(p.cpuQ.at(s.threads - 1)).cpuTarget = p.cpuV + s.cpuWork
	}
	return seq
}

// cpuDrain replays the pod's CPU stage up to time t and returns how many requests left it
// for the batcher queue (not dispatched here).
func (s *Sim) cpuDrain(p *pod, t int64) int {
	released := 0
	for {
		n := p.cpuQ.len()
		if n == 0 {
			p.cpuLast = t
			p.cpuV = 0
			return released
		}
		m := s.inService(n)
		r := cpuRate(p, m)
		seq := p.cpuQ.front()
		req := s.reqs.at(seq)
		left := req.cpuTarget - p.cpuV
		if left < 0 {
			left = 0
		}
		tc := p.cpuLast + int64(math.Ceil(left*cpuInvRate(p, m)))
		if tc > t {
			dt := float64(t - p.cpuLast)
			p.cpuV += r * dt
			used := r * float64(m) * dt
			p.cpuCum += used
			s.cpuCum += used
			p.cpuLast = t
			return released
		}
		dt := float64(tc - p.cpuLast)
		p.cpuV += r * dt
		used := r * float64(m) * dt
		p.cpuCum += used
		s.cpuCum += used
		p.cpuLast = tc
		s.cpuPop(p)
		released++
		s.enqueueAt(p, seq, req, tc)
	}
}

// cpuSync replays the pod's CPU stage up to now and lets the batcher act on what left it.
func (s *Sim) cpuSync(p *pod) {
	if s.cpuDrain(p, s.now) > 0 && p.idle > 0 {
		s.dispatch(p)
	}
}

// cpuArm keeps the invariant above: the CPU timer is armed at the next exit iff the pod has
// an idle instance and requests in its CPU stage.
func (s *Sim) cpuArm(p *pod) {
	n := p.cpuQ.len()
	if n == 0 || p.idle == 0 {
		s.cancel(&p.cpuT)
		return
	}
	left := s.reqs.at(p.cpuQ.front()).cpuTarget - p.cpuV
	if left < 0 {
		left = 0
	}
	s.schedule(&p.cpuT, p.cpuLast+int64(math.Ceil(left*cpuInvRate(p, s.inService(n)))))
}

func (s *Sim) cpuAdd(p *pod, seq uint64) {
	s.cpuSync(p)
	r := s.reqs.at(seq)
	r.state = reqCPU
	if p.cpuQ.len() < s.threads {
		r.cpuTarget = p.cpuV + s.cpuWork // a thread is free
	}
	p.cpuQ.push(seq)
	s.cpuArm(p)
}

func (s *Sim) onCPU(p *pod) {
	s.cpuSync(p)
	s.cpuArm(p)
	s.maybeGone(p)
}

// cpuAbandon removes a request whose client gave up from the pod's CPU stage (after a
// cpuSync): the connection closes and its thread goes to the next request. Requests share
// one client timeout and enter a pod's CPU stage in arrival order, so it is the stage's
// oldest request.
func (s *Sim) cpuAbandon(p *pod, seq uint64, r *request) {
	if p.cpuQ.len() == 0 || p.cpuQ.front() != seq {
		panic("sim: abandoned request is not the oldest in its pod's CPU stage")
	}
	s.cpuPop(p)
	s.finish(seq, r)
	s.cpuArm(p)
	s.maybeGone(p)
}

// enqueue puts a request that needs no CPU work straight into the batcher queue.
func (s *Sim) enqueue(p *pod, seq uint64) {
	if s.enqueueAt(p, seq, s.reqs.at(seq), s.now) {
		s.dispatch(p)
	}
}

// enqueueAt puts a request into the batcher queue at time t, or rejects it when the queue
// is full (Triton's max_queue_size: a drop). It reports whether the request was queued.
func (s *Sim) enqueueAt(p *pod, seq uint64, r *request, t int64) bool {
	if p.cfg.MaxQueueSize > 0 && p.q.len() >= p.cfg.MaxQueueSize {
		if !r.abandoned {
			s.cum.drops++
		}
		s.finish(seq, r)
		return false
	}
	r.state = reqQueued
	r.enqueue = t
	p.q.push(seq)
	return true
}

// dispatch is Triton's dynamic batcher: while an instance is idle and requests wait, form a
// batch of max_batch_size if that many wait; else of the largest preferred size that many
// wait for; else, with no delay configured or once the oldest request has waited
// max_queue_delay, of everything waiting (up to the maximum); otherwise wait for the delay.
func (s *Sim) dispatch(p *pod) {
	s.cancel(&p.batchT)
	defer s.cpuArm(p)
	for p.idle > 0 && p.q.len() > 0 {
		n := p.q.len()
		cfg := &p.cfg
		b := 0
		switch {
		case n >= cfg.MaxBatchSize:
			b = cfg.MaxBatchSize
		default:
			for _, ps := range cfg.PreferredSizes {
				if ps <= n && ps > b {
					b = ps
				}
			}
			if b == 0 {
				oldest := s.reqs.at(p.q.front()).enqueue
				if cfg.MaxQueueDelay <= 0 || s.now-oldest >= int64(cfg.MaxQueueDelay) {
					b = n
				} else {
					s.schedule(&p.batchT, oldest+int64(cfg.MaxQueueDelay))
					return
				}
			}
		}
		s.startBatch(p, b)
	}
}

// serviceWork draws the GPU time of a batch of b at full speed: t(b)·jitter in ns.
func (s *Sim) serviceWork(b int) float64 {
	t := s.tFixed + s.tPer*float64(b)
	if t < s.tMin {
		t = s.tMin
	}
	switch s.sc.Model.Jitter {
	case JitterExponential:
		return t * s.rSvc.ExpFloat64()
	case JitterLognormal:
		if s.jitSigma > 0 {
			return t * math.Exp(s.jitMu+s.jitSigma*s.rSvc.NormFloat64())
		}
	}
	return t
}

func (s *Sim) startBatch(p *pod, b int) {
	var in *instance
	for _, c := range p.insts {
		if !c.busy && !c.retiring {
			in = c
			break
		}
	}
	in.busy = true
	p.idle--
	p.execCount++
	in.execStart = s.now
	for i := 0; i < b; i++ {
		seq := p.q.pop()
		r := s.reqs.at(seq)
		r.state = reqExec
		p.queueNsCum += s.now - r.enqueue
		in.batch = append(in.batch, seq)
	}
	p.execCum += int64(b)
	s.cum.batches++
	s.cum.batched += int64(b)
	in.remaining = s.serviceWork(b)
	g := p.gpu
	s.gpuSync(g)
	g.jobs = append(g.jobs, in)
	s.gpuRates(g)
	s.gpuReschedule(g)
}

// gpuSync brings the progress of a GPU's running batches, and its busy time, up to now.
func (s *Sim) gpuSync(g *gpu) {
	dt := float64(s.now - g.last)
	if dt > 0 && len(g.jobs) > 0 {
		for _, j := range g.jobs {
			j.remaining -= j.rate * dt
		}
		g.busyCum += dt
	}
	g.last = s.now
}

// gpuRates sets each running batch's speed. With contention, the GPU's time is shared
// equally among the contexts (pods) with work, times the time-slicing efficiency when more
// than one is busy, and a context's share equally among its running instances. Without
// contention every batch runs at full speed.
func (s *Sim) gpuRates(g *gpu) {
	if !s.sc.GPUSharing.Contention {
		for _, j := range g.jobs {
			j.rate = 1
		}
		return
	}
	s.markSeq++
	mark := s.markSeq
	m := 0
	for _, j := range g.jobs {
		if j.pod.mark != mark {
			j.pod.mark = mark
			m++
		}
	}
	eff := 1.0
	if m > 1 {
		eff = s.sc.GPUSharing.TimesliceEfficiency
	}
	for _, j := range g.jobs {
		j.rate = eff / float64(m) / float64(j.pod.execCount)
	}
}

func (s *Sim) gpuReschedule(g *gpu) {
	if len(g.jobs) == 0 {
		s.cancel(&g.t)
		return
	}
	next := math.Inf(1)
	for _, j := range g.jobs {
		if d := j.remaining / j.rate; d < next {
			next = d
		}
	}
	if next < 0 {
		next = 0
	}
	s.schedule(&g.t, s.now+int64(math.Ceil(next)))
}

// onGPU completes the batches that are done on the GPU.
func (s *Sim) onGPU(g *gpu) {
	s.gpuSync(g)
	var done [8]*instance
	finished := done[:0]
	kept := g.jobs[:0]
	for _, j := range g.jobs {
		if j.remaining/j.rate <= 0.5 {
			finished = append(finished, j)
		} else {
			kept = append(kept, j)
		}
	}
	for i := len(kept); i < len(g.jobs); i++ {
		g.jobs[i] = nil
	}
	g.jobs = kept
	for _, j := range finished {
		j.pod.execCount--
	}
	s.gpuRates(g)
	s.gpuReschedule(g)
	for _, j := range finished {
		s.batchDone(j)
	}
}

// batchDone answers a completed batch's requests.
func (s *Sim) batchDone(in *instance) {
	p := in.pod
	p.doneBatches++
	p.doneRequests += int64(len(in.batch))
	for _, seq := range in.batch {
		r := s.reqs.at(seq)
		p.doneQueueNs += in.execStart - r.enqueue
		p.doneComputeNs += s.now - in.execStart
		p.doneReqNs += s.now - r.arrival
		if !r.abandoned {
			lat := s.now - r.arrival
			s.cum.completions++
			s.cum.queueNs += in.execStart - r.enqueue
			if s.slo > 0 && lat > s.slo {
				s.cum.slo++
			}
			s.hist.Record(time.Duration(lat))
			s.curLat.add(lat)
		}
		s.finish(seq, r)
	}
	in.batch = in.batch[:0]
	in.busy = false
	if in.retiring {
		for i, c := range p.insts {
			if c == in {
				s.dropInstance(p, i)
				break
			}
		}
	} else {
		p.idle++
	}
	if s.maybeGone(p) {
		return
	}
	s.cpuDrain(p, s.now)
	s.dispatch(p)
}

// onReload completes a model reload: the pod's batching settings change.
func (s *Sim) onReload(p *pod) {
	if !p.hasPend || p.deleting {
		return
	}
	next := p.pending
	p.hasPend = false
	// The new instances need their own engine memory.
	delta := int64(next.InstanceCount-p.cfg.InstanceCount) * int64(s.sc.Model.GPUMemoryPerInstance)
	if delta > 0 && p.gpu.memUsed+delta > p.gpu.memTotal {
		s.stats.FailedReloads++
		return // Triton keeps serving the old configuration
	}
	s.integrateLevels()
	p.gpu.memUsed += delta
	p.gpuMem += delta
	s.lv.gpuMem += delta
	p.cfg = next
	s.stats.Reloads++
	s.setInstances(p, next.InstanceCount)
	s.dispatch(p)
}
