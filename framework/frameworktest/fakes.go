package frameworktest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Outcome is the fate of one request of the fake Backend.
type Outcome struct {
	// Latency is the end-to-end latency of a completed request.
	Latency time.Duration
	// Dropped marks a request rejected or timed out (counted in Totals.Drops).
	Dropped bool
	// Failed marks a server-side failure (counted in Totals.Failures).
	Failed bool
}

// Backend is a deterministic fake framework.Backend. Its clock starts at
// framework.SimEpoch on Reset and moves only by Advance. Requests arrive every ArrivalEvery
// (the k-th, k = 1, 2, …, at offset k·ArrivalEvery from the episode start); a request is
// accounted entirely in the window (Start, End] that contains its arrival instant
// (completion is instantaneous for accounting purposes), so a window of length w holds
// exactly w / ArrivalEvery arrivals when both are multiples of ArrivalEvery.
//
// Time integrals over an interval of length dt with r desired replicas (all ready at once:
// the fake has no start-up delay) are:
//
//	ReplicaSeconds = ReadyReplicaSeconds = GPUSeconds = r·dt
//	GPUBusySeconds        = min(1, GPUBusyPerReplica·r)·dt   (GPUCount = 1)
//	CPUSeconds            = CPUPerReplica·r·dt
//	CPURequestSeconds     = CPURequestPerReplica·r·dt
//	MemByteSeconds        = MemPerReplica·r·dt
//	MemRequestByteSeconds = MemRequestPerReplica·r·dt
//	GPUMemByteSeconds     = GPUMemPerReplica·r·dt, GPUMemTotalBytes = GPUMemTotal
//	OfferedRequests       = dt / ArrivalEvery
//
// Each completion counts as one batch of one request and QueueFraction of its latency as
// queueing time; a completion slower than the episode's SLO counts as an SLO violation.
type Backend struct {
	// ArrivalEvery is the gap between arrivals; 0 means no traffic.
	ArrivalEvery time.Duration
	// Latency is every completion's latency when Outcome is nil.
	Latency time.Duration
	// Jitter, when positive, adds a uniform random [0, Jitter) to each latency, drawn from a
	// PCG stream seeded by the episode seed (same seed → same latencies).
	Jitter time.Duration
	// Outcome, when set, decides the fate of the k-th request (1-based) arriving at offset at
	// from the episode start while replicas replicas are desired. Jitter is added to its
	// latency.
	Outcome func(k int64, at time.Duration, replicas int) Outcome
	// QueueFraction is the share of a completion's latency accounted as queueing time.
	QueueFraction float64

	// Per-replica resource use for the time integrals.
	GPUBusyPerReplica    float64
	CPUPerReplica        float64 // cores used
	CPURequestPerReplica float64 // cores requested
	MemPerReplica        float64 // bytes used
	MemRequestPerReplica float64 // bytes requested
	GPUMemPerReplica     float64 // frame-buffer bytes used
	GPUMemTotal          float64 // frame-buffer bytes of the GPU

	// AdvanceErr, when set, is returned by every Advance.
	AdvanceErr error

	// Episode is the episode of the last Reset.
	Episode framework.Episode
	// Resets counts Reset calls.
	Resets int
	// Advances logs the length of every Advance call of the current episode.
	Advances []time.Duration
	// Closed is true once Close was called.
	Closed bool

	now      time.Time
	start    time.Time
	replicas int
	next     int64 // index of the next arrival
	rng      *rand.Rand
	win      framework.Window
	acct     accounting
}

var _ framework.Backend = (*Backend)(nil)

// Now is the fake clock.
func (b *Backend) Now() time.Time { return b.now }

// Reset starts an episode at framework.SimEpoch with ep.InitialReplicas replicas.
func (b *Backend) Reset(_ context.Context, ep framework.Episode) error {
	b.Episode = ep
	b.Resets++
	b.Advances = nil
	b.now, b.start = framework.SimEpoch, framework.SimEpoch
	b.replicas = ep.InitialReplicas
	b.next = 1
	b.rng = rand.New(rand.NewPCG(ep.Seed, 0x5ca1e1ab))
	b.acct.b = b
	b.win = framework.Window{Start: b.now, End: b.now, Latency: framework.NewHistogram()}
	return nil
}

// Advance moves the clock by d, accounting the arrivals and time integrals of (now, now+d].
func (b *Backend) Advance(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.AdvanceErr != nil {
		return b.AdvanceErr
	}
	if d < 0 {
		return fmt.Errorf("advance by negative duration %v", d)
	}
	b.Advances = append(b.Advances, d)
	end := b.now.Add(d)
	t := &b.win.Totals
	r := float64(b.replicas)
	dt := d.Seconds()
	t.ReplicaSeconds += r * dt
	t.ReadyReplicaSeconds += r * dt
	t.GPUSeconds += r * dt
	t.GPUBusySeconds += math.Min(1, b.GPUBusyPerReplica*r) * dt
	t.GPUCount = 1
	t.CPUSeconds += b.CPUPerReplica * r * dt
	t.CPURequestSeconds += b.CPURequestPerReplica * r * dt
	t.MemByteSeconds += b.MemPerReplica * r * dt
	t.MemRequestByteSeconds += b.MemRequestPerReplica * r * dt
	t.GPUMemByteSeconds += b.GPUMemPerReplica * r * dt
	t.GPUMemTotalBytes = b.GPUMemTotal
	if b.ArrivalEvery > 0 {
		t.OfferedRequests += float64(d) / float64(b.ArrivalEvery)
		for {
			at := time.Duration(b.next) * b.ArrivalEvery
			if b.start.Add(at).After(end) {
				break
			}
			b.account(b.next, at)
			b.next++
		}
	}
	b.now = end
	return nil
}

func (b *Backend) account(k int64, at time.Duration) {
	o := Outcome{Latency: b.Latency}
	if b.Outcome != nil {
		o = b.Outcome(k, at, b.replicas)
	}
	t := &b.win.Totals
	t.Arrivals++
	switch {
	case o.Dropped:
		t.Drops++
		return
	case o.Failed:
		t.Failures++
		return
	}
	lat := o.Latency
	if b.Jitter > 0 {
		lat += time.Duration(b.rng.Int64N(int64(b.Jitter)))
	}
	t.Completions++
	t.Batches++
	t.BatchedRequests++
	t.QueueSeconds += b.QueueFraction * lat.Seconds()
	if b.Episode.SLO > 0 && lat > b.Episode.SLO {
		t.SLOViolations++
	}
	b.win.Latency.Record(lat)
}

// Accounting returns the fake's ground truth.
func (b *Backend) Accounting() framework.Accounting { return &b.acct }

// Close marks the backend closed.
func (b *Backend) Close() error {
	b.Closed = true
	return nil
}

// Replicas returns the desired replicas in force.
func (b *Backend) Replicas() int { return b.replicas }

// SetReplicas sets the desired (and ready) replicas from now on.
func (b *Backend) SetReplicas(n int) { b.replicas = n }

type accounting struct{ b *Backend }

// Cut closes the current window at the backend's present time.
func (a *accounting) Cut() framework.Window {
	b := a.b
	w := b.win
	w.End = b.now
	b.win = framework.Window{Start: b.now, End: b.now, Latency: framework.NewHistogram()}
	return w
}

// Collector is a fake framework.Collector reporting the backend's replicas as the features
// replicas_desired and replicas_ready, with a cluster view whose Replicas.Desired and
// Replicas.Ready are the backend's replicas and whose bounds are MinReplicas/MaxReplicas.
type Collector struct {
	Backend                  *Backend
	MinReplicas, MaxReplicas int
	// Err, when set, is returned by Collect.
	Err error
	// Calls counts Collect calls.
	Calls int
}

var _ framework.Collector = (*Collector)(nil)

// Features returns replicas_desired and replicas_ready from the catalogue.
func (c *Collector) Features() []framework.FeatureSpec {
	var out []framework.FeatureSpec
	for _, n := range []string{"replicas_desired", "replicas_ready"} {
		f, err := framework.LookupFeature(n)
		if err != nil {
			panic(err)
		}
		out = append(out, f)
	}
	return out
}

// Collect reports the backend's present replicas.
func (c *Collector) Collect(ctx context.Context) (framework.Observation, error) {
	if err := ctx.Err(); err != nil {
		return framework.Observation{}, err
	}
	c.Calls++
	if c.Err != nil {
		return framework.Observation{}, c.Err
	}
	r := c.Backend.Replicas()
	now := c.Backend.Now()
	return framework.Observation{
		Time:   now,
		Values: []float64{float64(r), float64(r)},
		Valid:  []bool{true, true},
		Age:    []time.Duration{0, 0},
		Cluster: framework.ClusterView{
			Now:         now,
			Replicas:    framework.ReplicaCounts{Desired: r, Ready: r},
			MinReplicas: c.MinReplicas,
			MaxReplicas: c.MaxReplicas,
		},
	}, nil
}

// ReplicasDesign is a fake absolute-replicas framework.ActionDesign: a one-dimensional Box
// [Min, Max] whose value, rounded to the nearest integer, is the replica target.
type ReplicasDesign struct{ Min, Max int }

var _ framework.ActionDesign = ReplicasDesign{}

// Name is "replicas".
func (ReplicasDesign) Name() string { return "replicas" }

// Space is Box [Min, Max].
func (d ReplicasDesign) Space() framework.ActionSpace {
	return framework.ActionSpace{Kind: framework.Box, Low: []float64{float64(d.Min)},
		High: []float64{float64(d.Max)}, Names: []string{"replicas"}}
}

// Translate rounds the value to a replica target.
func (d ReplicasDesign) Translate(a framework.Action, _ framework.ClusterView) (framework.Command, error) {
	if len(a.Values) != 1 {
		return framework.Command{}, fmt.Errorf("replicas action needs 1 value, got %d", len(a.Values))
	}
	return framework.Command{Replicas: framework.IntPtr(int(math.Round(a.Values[0])))}, nil
}

// Hold is the current desired replicas.
func (d ReplicasDesign) Hold(view framework.ClusterView) (framework.Action, bool) {
	return framework.Action{Values: []float64{float64(view.Replicas.Desired)}}, true
}

// Actuator is a fake framework.Actuator that sets the backend's replicas and logs every
// command it receives.
type Actuator struct {
	Backend *Backend
	// Err, when set, is returned by Apply.
	Err error
	// Commands logs the commands applied.
	Commands []framework.Command
}

var _ framework.Actuator = (*Actuator)(nil)

// Apply sets the backend's replicas when the command carries a replica target.
func (a *Actuator) Apply(_ context.Context, c framework.Command) (framework.Applied, error) {
	if a.Err != nil {
		return framework.Applied{}, a.Err
	}
	a.Commands = append(a.Commands, c)
	cur := a.Backend.Replicas()
	if c.Replicas == nil || *c.Replicas == cur {
		return framework.Applied{Replicas: cur}, nil
	}
	if *c.Replicas < 0 {
		return framework.Applied{}, errors.New("negative replica target")
	}
	a.Backend.SetReplicas(*c.Replicas)
	return framework.Applied{Replicas: *c.Replicas, Changed: true}, nil
}

// PolicyFunc adapts a function to framework.Policy.
type PolicyFunc func(ctx context.Context, obs framework.Observation) (framework.Action, error)

var _ framework.Policy = PolicyFunc(nil)

// Act calls f.
func (f PolicyFunc) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	return f(ctx, obs)
}

// Replicas returns a policy that always asks for n replicas (a one-value action).
func Replicas(n float64) PolicyFunc {
	return func(context.Context, framework.Observation) (framework.Action, error) {
		return framework.Action{Values: []float64{n}}, nil
	}
}

// RewardTermFunc adapts a function to framework.RewardTerm.
type RewardTermFunc func(s framework.StepInfo) float64

var _ framework.RewardTerm = RewardTermFunc(nil)

// Value calls f.
func (f RewardTermFunc) Value(s framework.StepInfo) float64 { return f(s) }

// Setup is a fully wired fake loop: backend, collector, design, actuator.
type Setup struct {
	Backend   *Backend
	Collector *Collector
	Design    ReplicasDesign
	Actuator  *Actuator
}

// NewSetup wires a fake backend with the given traffic to a collector, a ReplicasDesign
// [min, max] and an actuator.
func NewSetup(b *Backend, lo, hi int) Setup {
	return Setup{
		Backend:   b,
		Collector: &Collector{Backend: b, MinReplicas: lo, MaxReplicas: hi},
		Design:    ReplicasDesign{Min: lo, Max: hi},
		Actuator:  &Actuator{Backend: b},
	}
}

// Loop returns a framework.Loop over the setup with the given policy and interval, the
// default hold fallback and no guardrails, reward or deadline; tests set the rest.
func (s Setup) Loop(p framework.Policy, interval time.Duration) *framework.Loop {
	return &framework.Loop{
		Backend:   s.Backend,
		Collector: s.Collector,
		Design:    s.Design,
		Actuator:  s.Actuator,
		Policy:    p,
		Fallback:  framework.HoldFallback{},
		Interval:  interval,
	}
}
