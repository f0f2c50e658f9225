package sim

import (
	"time"

	"github.com/scalelab/scalelab/framework"
)

// PodState is one pod of the workload as exporters of the real metric names need it
// (sim/promexport): its Kubernetes-level state and its cumulative counters since it was
// created, at the simulator's present time.
type PodState struct {
	Name string
	// Node is the node the pod is bound to ("" while unscheduled); GPU the index of the
	// physical GPU holding its nvidia.com/gpu share (-1: none).
	Node string
	GPU  int
	// Phase, Ready and Deleting are as in framework.PodView; Running is true once the
	// container has started (it then holds frame buffer and shows in cAdvisor).
	Phase    framework.PodPhase
	Ready    bool
	Deleting bool
	Running  bool
	// Requests and limit of the pod (the limit 0 when the template has none).
	CPURequestMilli int64
	CPULimitMilli   int64
	MemRequestBytes int64
	// CPUSeconds is the CPU time its serving stage used (core-seconds).
	CPUSeconds float64
	// WorkingSetBytes is its modelled working set now; GPUMemBytes its frame buffer.
	WorkingSetBytes float64
	GPUMemBytes     int64
	// Inflight counts requests in the pod (CPU stage, queue, executing); Queued those
	// waiting in the batcher queue (Triton's pending request count).
	Inflight int
	Queued   int
	// Finished executions as Triton counts them, whether or not the client still waited:
	// batches, requests (one image each), and the requests' summed queue time (enqueue to
	// execution start), compute time (execution) and request time (arrival to answer).
	Batches        int64
	Requests       int64
	QueueSeconds   float64
	ComputeSeconds float64
	RequestSeconds float64
	// Batching is the pod's serving configuration in force.
	Batching framework.BatchingSettings
}

// GPUState is one physical GPU at the simulator's present time.
type GPUState struct {
	Index int
	Node  string
	Model string
	// BusySeconds is the cumulative time at least one batch executed on it.
	BusySeconds float64
	// MemUsedBytes and MemTotalBytes are its frame buffer.
	MemUsedBytes  int64
	MemTotalBytes int64
	// Pods counts the workload's pods holding a share of it.
	Pods int
}

// PodStates returns the workload's pods (live ones in creation order, then the failed
// pods still visible) with their state and cumulative counters at the present time. It
// brings the lazily evaluated CPU stages and GPU progress up to now first, as ClusterView
// does; it changes nothing that affects the simulation.
func (s *Sim) PodStates() []PodState {
	s.syncAll()
	out := make([]PodState, 0, len(s.pods)+len(s.failed))
	for _, p := range s.pods {
		out = append(out, s.podState(p))
	}
	for _, p := range s.failed {
		out = append(out, s.podState(p))
	}
	return out
}

func (s *Sim) podState(p *pod) PodState {
	ps := PodState{
		Name: p.name, GPU: -1,
		Ready: p.ready, Deleting: p.deleting,
		Running:         p.gpuMem > 0,
		CPURequestMilli: p.cpuReqMilli,
		CPULimitMilli:   int64(p.cpuLimit*1000 + 0.5),
		MemRequestBytes: p.memReq,
		CPUSeconds:      p.cpuCum / 1e9,
		GPUMemBytes:     p.gpuMem,
		Inflight:        p.inflight,
		Queued:          p.q.len(),
		Batches:         p.doneBatches,
		Requests:        p.doneRequests,
		QueueSeconds:    float64(p.doneQueueNs) / 1e9,
		ComputeSeconds:  float64(p.doneComputeNs) / 1e9,
		RequestSeconds:  float64(p.doneReqNs) / 1e9,
		Batching:        p.cfg,
	}
	if s.sc.Workload.CPULimit == 0 {
		ps.CPULimitMilli = 0 // the template sets no limit
	}
	if ps.Running {
		ps.WorkingSetBytes = s.workingSet(int64(p.inflight))
	}
	if p.node != nil {
		ps.Node = p.node.name
	}
	if p.gpu != nil {
		ps.GPU = p.gpu.idx
	}
	switch p.state {
	case psUnscheduled, psPulling:
		ps.Phase = framework.PodPending
	case psFailed:
		ps.Phase = framework.PodFailed
		ps.Running = false
	default:
		ps.Phase = framework.PodRunning
	}
	ps.Batching.PreferredSizes = append([]int(nil), p.cfg.PreferredSizes...)
	return ps
}

// GPUStates returns the cluster's physical GPUs at the present time, in scenario order.
func (s *Sim) GPUStates() []GPUState {
	out := make([]GPUState, 0, len(s.gpus))
	for _, g := range s.gpus {
		s.gpuSync(g)
		out = append(out, GPUState{Index: g.idx, Node: g.node.name, Model: g.model, BusySeconds: g.busyCum / 1e9,
			MemUsedBytes: g.memUsed, MemTotalBytes: g.memTotal, Pods: g.pods})
	}
	return out
}

// Offered returns the load profile's offered rate (req/s) at the present time (0 before
// the first Reset).
func (s *Sim) Offered() float64 {
	if s.load.Profile == nil {
		return 0
	}
	return s.load.Profile.Rate(time.Duration(s.now))
}
