package kube

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// LoadDriver offers an episode's load to the workload and accounts for it from the client
// side. loadgen's generator is one (see LoadgenDriver); a user who drives load by other
// means can plug in their own.
type LoadDriver interface {
	// Start begins offering ep.Load (profile, arrival process, seed) for ep.Duration and
	// returns once the load runs.
	Start(ctx context.Context, ep framework.Episode) error
	// Cut closes the client-side window at the present time and returns it: arrivals,
	// completions, drops, failures, SLO violations, offered requests and the latency
	// histogram of the completions.
	Cut() framework.Window
	// Stop ends the load and waits for it.
	Stop() error
}

// UsageSource measures what only the cluster's metrics pipeline knows over an interval:
// CPUSeconds, MemByteSeconds, GPUBusySeconds and GPUCount, GPUMemByteSeconds and
// GPUMemTotalBytes, Batches, BatchedRequests and QueueSeconds (Prometheus range queries
// over cAdvisor, DCGM-Exporter and Triton, for example). Fields it cannot measure stay 0.
type UsageSource interface {
	Usage(ctx context.Context, start, end time.Time) (framework.Totals, error)
}

// Accounting is the real cluster's ground truth: the time integrals of the workload's pod
// levels, which it keeps itself from the watcher's events (exact up to the watch latency),
// merged with the load driver's client-side window and the usage source's integrals.
type Accounting struct {
	now   func() time.Time
	load  LoadDriver
	usage UsageSource
	log   *slog.Logger

	mu     sync.Mutex
	levels Levels
	last   time.Time // the integrals cover [start, last]
	start  time.Time
	in     framework.Totals
	// warned records that a missing load driver was reported once.
	warned bool
}

// NewAccounting returns an accounting that starts now; load and usage may be nil.
func NewAccounting(now func() time.Time, load LoadDriver, usage UsageSource, logger *slog.Logger) *Accounting {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := now()
	return &Accounting{now: now, load: load, usage: usage, log: logger, last: t, start: t}
}

var _ framework.Accounting = (*Accounting)(nil)

// integrate adds the current levels × the time since the last integration. Caller holds mu.
func (a *Accounting) integrate(now time.Time) {
	dt := now.Sub(a.last).Seconds()
	if dt <= 0 {
		return
	}
	l := a.levels
	a.in.ReplicaSeconds += float64(l.Replicas) * dt
	a.in.ReadyReplicaSeconds += float64(l.Ready) * dt
	a.in.GPUSeconds += float64(l.GPUs) * dt
	a.in.CPURequestSeconds += float64(l.CPURequestMilli) / 1000 * dt
	a.in.MemRequestByteSeconds += float64(l.MemRequestBytes) * dt
	a.last = now
}

// Observe records the pod levels in force from now on.
func (a *Accounting) Observe(l Levels) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.integrate(a.now())
	a.levels = l
}

// Levels returns the levels last observed.
func (a *Accounting) Levels() Levels {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.levels
}

// Cut closes the window at the present time and returns it; the next starts now.
func (a *Accounting) Cut() framework.Window {
	a.mu.Lock()
	now := a.now()
	a.integrate(now)
	w := framework.Window{Start: a.start, End: now, Totals: a.in, Latency: framework.NewHistogram()}
	a.in = framework.Totals{}
	a.start = now
	load, usage := a.load, a.usage
	warn := load == nil && !a.warned
	a.warned = a.warned || warn
	a.mu.Unlock()

	if warn {
		a.log.Warn("kubernetes backend: no load driver: arrivals, latency and QoS are not measured (the windows report none); enable backend.load_generator or plug in a LoadDriver")
	}
	if load != nil {
		lw := load.Cut()
		w.Totals.Arrivals = lw.Totals.Arrivals
		w.Totals.Completions = lw.Totals.Completions
		w.Totals.Drops = lw.Totals.Drops
		w.Totals.Failures = lw.Totals.Failures
		w.Totals.SLOViolations = lw.Totals.SLOViolations
		w.Totals.OfferedRequests = lw.Totals.OfferedRequests
		if lw.Latency != nil {
			w.Latency = lw.Latency
		}
	}
	if usage != nil && w.End.After(w.Start) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		u, err := usage.Usage(ctx, w.Start, w.End)
		cancel()
		if err != nil {
			a.log.Warn("kubernetes backend: usage integrals unavailable for a window", "start", w.Start, "end", w.End, "err", err)
		} else {
			w.Totals.CPUSeconds = u.CPUSeconds
			w.Totals.MemByteSeconds = u.MemByteSeconds
			w.Totals.GPUBusySeconds = u.GPUBusySeconds
			w.Totals.GPUCount = u.GPUCount
			w.Totals.GPUMemByteSeconds = u.GPUMemByteSeconds
			w.Totals.GPUMemTotalBytes = u.GPUMemTotalBytes
			w.Totals.Batches = u.Batches
			w.Totals.BatchedRequests = u.BatchedRequests
			w.Totals.QueueSeconds = u.QueueSeconds
		}
	}
	return w
}
