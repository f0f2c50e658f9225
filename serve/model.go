package serve

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/sim"
)

// streamService is the simulator's PCG stream for service-time jitter (sim's
// streamService, "service1"): with the same seed, the emulator draws the same sequence of
// jitter factors as the simulator's service stream.
const streamService uint64 = 0x7365727669636531

// never is the event time of a component with nothing scheduled.
const never = math.MaxInt64

// ModelParams are the emulated pod's service model, with the simulator's names and
// meanings (sim.ModelSpec, sim.ServingSpec): a CPU stage of CPUPerRequest of work per image
// under limited processor sharing of CPULimit cores among HTTPThreads requests, each using at
// most one core; a dynamic batcher; and InstanceCount model instances executing a batch of b
// images in t(b) = max(TMin, TFixed + TPerImage·b) times a jitter factor, sharing the GPU
// equally when several run at once (Contention).
type ModelParams struct {
	TMin, TFixed, TPerImage time.Duration
	// Jitter is sim.JitterLognormal (mean 1, CV JitterCV), sim.JitterDeterministic or
	// sim.JitterExponential (mean 1).
	Jitter   string
	JitterCV float64
	// CPUPerRequest is the CPU work per image of a request (a request of one image, as the
	// simulator's requests are, costs exactly this).
	CPUPerRequest time.Duration
	// CPULimit is the pod's CPU in cores shared by the CPU stage.
	CPULimit    float64
	HTTPThreads int
	Batching    framework.BatchingSettings
	// Contention shares the GPU among the pod's running batches (the simulator's rule for
	// one pod's instances); false runs every batch at full speed.
	Contention bool
	// Seed seeds the jitter stream.
	Seed uint64
}

// ParamsFromScenario takes the model of the scenario's pods: its model and serving
// sections, the workload's CPU limit (or, when the workload has none, the allocatable CPU of
// the scenario's first node).
func ParamsFromScenario(sc sim.Scenario, seed uint64) ModelParams {
	m := sc.Model
	limit := sc.Workload.CPULimit.Cores()
	if limit <= 0 && len(sc.Nodes) > 0 {
		limit = (sc.Nodes[0].CPU - sc.Nodes[0].ReservedCPU).Cores()
	}
	s := sc.Serving
	return ModelParams{
		TMin: m.TMin, TFixed: m.TFixed, TPerImage: m.TPerImage,
		Jitter: m.Jitter, JitterCV: m.JitterCV,
		CPUPerRequest: m.CPUPerRequest,
		CPULimit:      limit,
		HTTPThreads:   s.HTTPThreads,
		Batching: framework.BatchingSettings{
			MaxBatchSize: s.MaxBatchSize, PreferredSizes: append([]int(nil), s.PreferredBatchSizes...),
			MaxQueueDelay: s.MaxQueueDelay, InstanceCount: s.InstanceCount, MaxQueueSize: s.MaxQueueSize,
		},
		Contention: sc.GPUSharing.Contention,
		Seed:       seed,
	}
}

// Validate checks the parameters, naming the scenario key of each problem.
func (p ModelParams) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.TMin < 0 || p.TFixed < 0 || p.TPerImage < 0 {
		add("model: t_min, t_fixed and t_per_image must be ≥ 0, got %s, %s, %s", p.TMin, p.TFixed, p.TPerImage)
	}
	if p.TMin <= 0 && p.TFixed <= 0 && p.TPerImage <= 0 {
		add("model: a batch must take GPU time: set t_fixed, t_per_image or t_min")
	}
	switch p.Jitter {
	case sim.JitterLognormal:
		if !(p.JitterCV >= 0) || math.IsInf(p.JitterCV, 0) {
			add("model.jitter_cv: must be a finite number ≥ 0, got %v", p.JitterCV)
		}
	case sim.JitterDeterministic, sim.JitterExponential:
	default:
		add("model.jitter: must be lognormal, deterministic or exponential, got %q", p.Jitter)
	}
	if p.CPUPerRequest < 0 {
		add("model.cpu_per_request: must be ≥ 0, got %s", p.CPUPerRequest)
	}
	if p.CPUPerRequest > 0 && !(p.CPULimit > 0) {
		add("workload.cpu_limit: the CPU stage needs CPU: must be > 0, got %v cores", p.CPULimit)
	}
	if p.HTTPThreads < 1 {
		add("serving.http_threads: must be ≥ 1, got %d", p.HTTPThreads)
	}
	b := p.Batching
	if b.MaxBatchSize < 1 {
		add("serving.max_batch_size: must be ≥ 1, got %d", b.MaxBatchSize)
	}
	for i, ps := range b.PreferredSizes {
		if ps < 1 || ps > b.MaxBatchSize {
			add("serving.preferred_batch_sizes[%d]: must be in [1, max_batch_size], got %d", i, ps)
		}
	}
	if b.MaxQueueDelay < 0 {
		add("serving.max_queue_delay: must be ≥ 0, got %s", b.MaxQueueDelay)
	}
	if b.InstanceCount < 1 {
		add("serving.instance_count: must be ≥ 1, got %d", b.InstanceCount)
	}
	if b.MaxQueueSize < 0 {
		add("serving.max_queue_size: must be ≥ 0, got %d", b.MaxQueueSize)
	}
	return errs
}

// Request is one inference request inside the model. Times are the model's virtual
// nanoseconds; Done is closed when the request has completed or been rejected.
type Request struct {
	Images int
	// Arrival is when the request entered the model, Enqueue when it left the CPU stage
	// for the batcher queue, Start when its batch started executing and End when it
	// completed (or was rejected).
	Arrival, Enqueue, Start, End int64
	// Batch is the number of images of the batch that executed the request.
	Batch int
	// Rejected is set when the batcher queue was full (Triton's max_queue_size).
	Rejected bool
	Done     chan struct{}

	cpuTarget float64 // value of the CPU stage's virtual time at which its work is done
}

// Counters are the model's cumulative counts and time integrals since it started, with
// Triton's per-request semantics: a batch's execution time is added once for each request
// it served.
type Counters struct {
	Arrivals    int64 // requests that entered the model
	Completions int64 // requests answered successfully
	Rejected    int64 // requests refused because the batcher queue was full
	Images      int64 // images of completed requests (nv_inference_count)
	Batches     int64 // executions (nv_inference_exec_count)
	// RequestNs, QueueNs and ComputeNs sum, over completed requests, the time from arrival
	// to completion, from enqueue to execution start, and the execution time of the
	// request's batch.
	RequestNs, QueueNs, ComputeNs int64
	// CPUCoreNs is the CPU used by the CPU stage in core·ns.
	CPUCoreNs float64
	// GPUBusyNs is the time at least one batch was executing.
	GPUBusyNs int64
	// InflightNs is ∫ (requests in the model) dt in request·ns.
	InflightNs float64
	// Pending is the batcher queue's length now (nv_inference_pending_request_count) and
	// Inflight the requests in the model now.
	Pending, Inflight int
	// Now is the virtual time the counters describe.
	Now int64
}

type instance struct {
	busy      bool
	retiring  bool // removed when its batch completes (the instance count was lowered)
	batch     []*Request
	images    int
	remaining float64 // full-speed GPU work left, ns
	start     int64
}

// Model is the emulated pod in virtual time: a discrete-event model of the simulator's
// serving path for one pod (CPU stage → batcher queue → instances on the GPU), advanced
// explicitly to a time and fed arrivals at the present time. It is deterministic given its
// seed and the arrival times, and not safe for concurrent use.
type Model struct {
	p                  ModelParams
	tMin, tFixed, tPer float64
	cpuWork            float64 // ns of CPU work per image
	jitMu, jitSigma    float64
	rng                *rand.Rand
	now                int64

	cpu  []*Request // CPU stage in arrival order; the first min(len, threads) hold a thread
	cpuV float64    // work each request in service has received since the stage was last empty

	q       []*Request // batcher queue, FIFO from qHead
	qHead   int
	qImages int
	delayAt int64 // max_queue_delay deadline of the oldest queued request, or never

	insts   []*instance
	idle    int
	running int

	c    Counters
	hist *framework.Histogram
}

// NewModel returns a model at virtual time 0 with an empty pod.
func NewModel(p ModelParams) (*Model, error) {
	if errs := p.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("serve: invalid model: %w", errors.Join(errs...))
	}
	m := &Model{p: p, tMin: float64(p.TMin), tFixed: float64(p.TFixed), tPer: float64(p.TPerImage),
		cpuWork: float64(p.CPUPerRequest), delayAt: never, hist: framework.NewHistogram()}
	s2 := math.Log1p(p.JitterCV * p.JitterCV)
	m.jitMu, m.jitSigma = -s2/2, math.Sqrt(s2)
	m.rng = rand.New(rand.NewPCG(p.Seed, streamService))
	for i := 0; i < p.Batching.InstanceCount; i++ {
		m.insts = append(m.insts, &instance{})
	}
	m.idle = len(m.insts)
	return m, nil
}

// Params returns the model's parameters.
func (m *Model) Params() ModelParams { return m.p }

// Now returns the model's virtual time.
func (m *Model) Now() int64 { return m.now }

// Counters returns the cumulative counters at the model's present time.
func (m *Model) Counters() Counters {
	c := m.c
	c.Pending = len(m.q) - m.qHead
	c.Now = m.now
	return c
}

// TakeLatencies returns the histogram of the latencies (arrival to completion) of the
// requests completed since the previous call, and starts a new one.
func (m *Model) TakeLatencies() *framework.Histogram {
	h := m.hist
	m.hist = framework.NewHistogram()
	return h
}

// cpuRate is the speed of each of the n requests in service in the CPU stage.
func (m *Model) cpuRate(n int) float64 {
	if r := m.p.CPULimit / float64(n); r < 1 {
		return r
	}
	return 1
}

func (m *Model) inService() int { return min(len(m.cpu), m.p.HTTPThreads) }

// gpuRate is the speed of each running batch.
func (m *Model) gpuRate() float64 {
	if m.p.Contention && m.running > 1 {
		return 1 / float64(m.running)
	}
	return 1
}

// NextEvent returns the virtual time of the model's next internal event (a CPU-stage exit,
// a batch completion, a batching delay running out), or math.MaxInt64 when there is none.
func (m *Model) NextEvent() int64 {
	next := m.delayAt
	if n := m.inService(); n > 0 {
		r := m.cpuRate(n)
		for _, req := range m.cpu[:n] {
			left := math.Max(req.cpuTarget-m.cpuV, 0)
			next = min(next, m.now+int64(math.Ceil(left/r)))
		}
	}
	if m.running > 0 {
		r := m.gpuRate()
		for _, in := range m.insts {
			if in.busy {
				next = min(next, m.now+int64(math.Ceil(math.Max(in.remaining, 0)/r)))
			}
		}
	}
	return next
}

// Advance processes every internal event up to virtual time t and moves the model to t.
// Requests that complete are closed (Done) with their virtual End time. t before the
// model's present time is treated as the present.
func (m *Model) Advance(t int64) {
	for {
		e := m.NextEvent()
		if e > t {
			break
		}
		m.integrate(e)
		m.fire()
	}
	m.integrate(t)
}

// integrate moves the continuous state (CPU-stage and GPU progress, integrals) to time t.
func (m *Model) integrate(t int64) {
	if t <= m.now {
		return
	}
	dt := float64(t - m.now)
	if n := m.inService(); n > 0 {
		r := m.cpuRate(n)
		m.cpuV += r * dt
		m.c.CPUCoreNs += r * float64(n) * dt
	}
	if m.running > 0 {
		r := m.gpuRate()
		for _, in := range m.insts {
			if in.busy {
				in.remaining -= r * dt
			}
		}
		m.c.GPUBusyNs += t - m.now
	}
	m.c.InflightNs += float64(m.c.Inflight) * dt
	m.now = t
}

// fire handles everything due at the present time.
func (m *Model) fire() {
	// CPU-stage exits: requests in service whose work is done leave for the queue, in
	// arrival order; their threads go to the oldest waiting requests.
	if n := m.inService(); n > 0 {
		r := m.cpuRate(n)
		kept := m.cpu[:0]
		var exits []*Request
		for i, req := range m.cpu {
			if i < n && (req.cpuTarget-m.cpuV)/r <= 0.5 {
				exits = append(exits, req)
				continue
			}
			kept = append(kept, req)
		}
		for i := len(kept); i < len(m.cpu); i++ {
			m.cpu[i] = nil
		}
		m.cpu = kept
		if len(exits) > 0 {
			// Promote waiting requests to the freed threads.
			for i := n - len(exits); i < m.inService(); i++ {
				m.cpu[i].cpuTarget = m.cpuV + m.cpuWork*float64(m.cpu[i].Images)
			}
			if len(m.cpu) == 0 {
				m.cpuV = 0
			}
			for _, req := range exits {
				m.enqueue(req)
			}
		}
	}
	// Batch completions.
	if m.running > 0 {
		r := m.gpuRate()
		for _, in := range m.insts {
			if in.busy && in.remaining/r <= 0.5 {
				m.complete(in)
			}
		}
		m.pruneRetired()
	}
	if m.delayAt <= m.now {
		m.delayAt = never
	}
	m.dispatch()
}

// Arrive adds a request of the given number of images at the model's present time (call
// Advance to the arrival time first) and returns it.
func (m *Model) Arrive(images int) *Request {
	if images < 1 {
		images = 1
	}
	req := &Request{Images: images, Arrival: m.now, Done: make(chan struct{})}
	m.c.Arrivals++
	m.c.Inflight++
	if m.cpuWork <= 0 {
		m.enqueue(req)
		m.dispatch()
		return req
	}
	if len(m.cpu) < m.p.HTTPThreads {
		req.cpuTarget = m.cpuV + m.cpuWork*float64(images)
	}
	m.cpu = append(m.cpu, req)
	return req
}

// enqueue puts a request that finished its CPU work into the batcher queue, or rejects it
// when the queue is full.
func (m *Model) enqueue(req *Request) {
	req.Enqueue = m.now
	if mq := m.p.Batching.MaxQueueSize; mq > 0 && len(m.q)-m.qHead >= mq {
		req.Rejected = true
		req.End = m.now
		m.c.Rejected++
		m.c.Inflight--
		close(req.Done)
		return
	}
	m.q = append(m.q, req)
	m.qImages += req.Images
}

// dispatch is Triton's dynamic batcher (the simulator's rule, with requests of several
// images never split): while an instance is idle and requests wait, form a batch of
// max_batch_size images if that many wait; else of the largest preferred size that many
// wait for; else, with no delay configured or once the oldest request has waited
// max_queue_delay, of everything waiting (up to the maximum); otherwise wait for the delay.
func (m *Model) dispatch() {
	m.delayAt = never
	b := m.p.Batching
	for m.idle > 0 && len(m.q) > m.qHead {
		n := m.qImages
		target := 0
		if n >= b.MaxBatchSize {
			target = b.MaxBatchSize
		} else {
			for _, ps := range b.PreferredSizes {
				if ps <= n && ps > target {
					target = ps
				}
			}
			if target == 0 {
				oldest := m.q[m.qHead].Enqueue
				if b.MaxQueueDelay <= 0 || m.now-oldest >= int64(b.MaxQueueDelay) {
					target = n
				} else {
					m.delayAt = oldest + int64(b.MaxQueueDelay)
					return
				}
			}
		}
		m.start(target)
	}
}

// start runs a batch of the oldest queued requests holding at most target images (at
// least one request) on an idle instance.
func (m *Model) start(target int) {
	var in *instance
	for _, c := range m.insts {
		if !c.busy {
			in = c
			break
		}
	}
	in.busy = true
	in.start = m.now
	in.batch = in.batch[:0]
	in.images = 0
	for m.qHead < len(m.q) {
		req := m.q[m.qHead]
		if in.images > 0 && in.images+req.Images > target {
			break
		}
		m.q[m.qHead] = nil
		m.qHead++
		m.qImages -= req.Images
		req.Start = m.now
		in.batch = append(in.batch, req)
		in.images += req.Images
	}
	if m.qHead > 1024 && m.qHead*2 > len(m.q) {
		m.q = append(m.q[:0], m.q[m.qHead:]...)
		m.qHead = 0
	}
	m.idle--
	m.running++
	in.remaining = m.serviceWork(in.images)
}

// serviceWork draws a batch's GPU time at full speed: t(b)·jitter in ns.
func (m *Model) serviceWork(b int) float64 {
	t := math.Max(m.tMin, m.tFixed+m.tPer*float64(b))
	switch m.p.Jitter {
	case sim.JitterExponential:
		return t * m.rng.ExpFloat64()
	case sim.JitterLognormal:
		if m.jitSigma > 0 {
			return t * math.Exp(m.jitMu+m.jitSigma*m.rng.NormFloat64())
		}
	}
	return t
}

// complete answers a finished batch's requests.
func (m *Model) complete(in *instance) {
	exec := m.now - in.start
	m.c.Batches++
	for _, req := range in.batch {
		req.End = m.now
		req.Batch = in.images
		m.c.Completions++
		m.c.Images += int64(req.Images)
		m.c.RequestNs += m.now - req.Arrival
		m.c.QueueNs += req.Start - req.Enqueue
		m.c.ComputeNs += exec
		m.c.Inflight--
		m.hist.Record(time.Duration(m.now - req.Arrival))
		close(req.Done)
	}
	clear(in.batch)
	in.batch = in.batch[:0]
	in.busy = false
	m.running--
	if in.retiring {
		return // pruned after the completions (see pruneRetired)
	}
	m.idle++
}

// pruneRetired removes the retiring instances whose batch has completed.
func (m *Model) pruneRetired() {
	kept := m.insts[:0]
	for _, in := range m.insts {
		if !in.retiring || in.busy {
			kept = append(kept, in)
		}
	}
	clear(m.insts[len(kept):])
	m.insts = kept
}

// SetBatching replaces the batching settings at the model's present time, as a Triton
// model reload with a new configuration does once the new model is ready: the batcher
// applies the new limits to the requests queued now and later; more instances start idle;
// fewer instances retire the idle ones first and the busy ones when their batch completes.
// It returns an error naming the setting when the settings are invalid.
func (m *Model) SetBatching(b framework.BatchingSettings) error {
	p := m.p
	p.Batching = b
	p.Batching.PreferredSizes = append([]int(nil), b.PreferredSizes...)
	if errs := p.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	m.p = p
	active := 0
	for _, in := range m.insts {
		if !in.retiring {
			active++
		}
	}
	for ; active < b.InstanceCount; active++ {
		m.insts = append(m.insts, &instance{})
		m.idle++
	}
	for i := len(m.insts) - 1; i >= 0 && active > b.InstanceCount; i-- {
		in := m.insts[i]
		switch {
		case in.retiring:
		case !in.busy:
			m.insts = append(m.insts[:i], m.insts[i+1:]...)
			m.idle--
			active--
		default:
			in.retiring = true
			active--
		}
	}
	m.dispatch()
	return nil
}
