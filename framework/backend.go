package framework

import (
	"context"
	"time"

	"github.com/scalelab/scalelab/framework/load"
)

// Episode is what a backend needs to start one run or one training episode.
type Episode struct {
	// Seed seeds every random stream of the episode (arrivals, service, start-up, routing).
	Seed uint64
	// Load is the offered load (profile and arrival process).
	Load load.Load
	// InitialReplicas is the replica count at the start.
	InitialReplicas int
	// Duration is the planned episode length (a backend may use it to size buffers).
	Duration time.Duration
	// SLO is the latency objective counted in Totals.SLOViolations.
	SLO time.Duration
	// ClientTimeout is how long a client waits before giving up on a request (counted as a
	// drop); 0 means the backend's default.
	ClientTimeout time.Duration
}

// Backend is a cluster the framework drives: the embedded simulator or a real cluster.
type Backend interface {
	// Now is the backend's clock: virtual time in the simulator, wall time on a cluster.
	Now() time.Time
	// Reset starts an episode: on the simulator, a fresh cluster at SimEpoch; on a real
	// cluster, set the initial replicas, wait until steady and start the load.
	Reset(ctx context.Context, ep Episode) error
	// Advance simulates (or waits) d of time.
	Advance(ctx context.Context, d time.Duration) error
	// Accounting is the ground truth of what happened, identical for every policy.
	Accounting() Accounting
	// Close releases resources.
	Close() error
}

// Accounting gives the ground truth of a run, window by window.
type Accounting interface {
	// Cut closes the current accounting window at the backend's present time and returns
	// it; the next window starts now. The first window of an episode starts at Reset.
	Cut() Window
}

// Totals are counts and time integrals over one window (or a run, summed).
type Totals struct {
	Arrivals      int64 `json:"arrivals"`
	Completions   int64 `json:"completions"`
	Drops         int64 `json:"drops"`          // rejected (queue full, no ready pod) or timed out by the client
	Failures      int64 `json:"failures"`       // server-side failures
	SLOViolations int64 `json:"slo_violations"` // completions slower than the SLO

	// Time integrals, in the unit named.
	ReplicaSeconds        float64 `json:"replica_seconds"`       // pods that exist (any phase but Terminating)
	ReadyReplicaSeconds   float64 `json:"ready_replica_seconds"` // ready pods
	GPUSeconds            float64 `json:"gpu_seconds"`           // nvidia.com/gpu shares allocated × time
	GPUBusySeconds        float64 `json:"gpu_busy_seconds"`      // summed over physical GPUs
	GPUCount              int     `json:"gpu_count"`             // physical GPUs in the cluster
	CPUSeconds            float64 `json:"cpu_seconds"`           // CPU used by the workload's pods
	CPURequestSeconds     float64 `json:"cpu_request_seconds"`   // CPU requested × time (cores·s)
	MemByteSeconds        float64 `json:"mem_byte_seconds"`      // working set × time
	MemRequestByteSeconds float64 `json:"mem_request_byte_seconds"`
	GPUMemByteSeconds     float64 `json:"gpu_mem_byte_seconds"` // frame buffer used × time
	GPUMemTotalBytes      float64 `json:"gpu_mem_total_bytes"`
	Batches               int64   `json:"batches"`
	BatchedRequests       int64   `json:"batched_requests"`
	QueueSeconds          float64 `json:"queue_seconds"`    // total time completions spent queued
	OfferedRequests       float64 `json:"offered_requests"` // integral of the offered rate (expected arrivals)
}

// Add accumulates o into t.
func (t *Totals) Add(o Totals) {
	t.Arrivals += o.Arrivals
	t.Completions += o.Completions
	t.Drops += o.Drops
	t.Failures += o.Failures
	t.SLOViolations += o.SLOViolations
	t.ReplicaSeconds += o.ReplicaSeconds
	t.ReadyReplicaSeconds += o.ReadyReplicaSeconds
	t.GPUSeconds += o.GPUSeconds
	t.GPUBusySeconds += o.GPUBusySeconds
	if o.GPUCount > t.GPUCount {
		t.GPUCount = o.GPUCount
	}
	t.CPUSeconds += o.CPUSeconds
	t.CPURequestSeconds += o.CPURequestSeconds
	t.MemByteSeconds += o.MemByteSeconds
	t.MemRequestByteSeconds += o.MemRequestByteSeconds
	t.GPUMemByteSeconds += o.GPUMemByteSeconds
	if o.GPUMemTotalBytes > t.GPUMemTotalBytes {
		t.GPUMemTotalBytes = o.GPUMemTotalBytes
	}
	t.Batches += o.Batches
	t.BatchedRequests += o.BatchedRequests
	t.QueueSeconds += o.QueueSeconds
	t.OfferedRequests += o.OfferedRequests
}

// Window is the accounting of one interval (Start, End].
type Window struct {
	Start   time.Time
	End     time.Time
	Totals  Totals
	Latency *Histogram // end-to-end latency of the completions in the window
}

// Duration is End − Start.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }
