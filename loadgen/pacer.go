package loadgen

import (
	"math/rand/v2"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// StreamArrivals is the simulator's PCG stream of arrivals (sim's streamArrivals,
// "arrivls1"). Seeding a load.Source with rand.NewPCG(seed, StreamArrivals) draws the
// arrival offsets the simulator draws for an episode of that seed, so a real run and a
// simulated run with one seed offer the identical request sequence.
const StreamArrivals uint64 = 0x61727269766c7331

var _ vegeta.Pacer = (*Pacer)(nil)

// Pacer is a vegeta.Pacer that sends requests at the arrival times of a framework/load
// Load — the same profile definitions and arrival processes the simulator draws from. The
// n-th hit is due at the n-th arrival offset of the Load's Source; when the attack runs
// late the next hits are sent at once (open loop: arrivals never wait for responses).
//
// vegeta calls Pace from one goroutine; Lag may be read concurrently.
type Pacer struct {
	prof load.Profile
	src  *load.Source
	next time.Duration // offset of hit idx
	idx  uint64
	done bool

	mu  sync.Mutex
	lag *framework.Histogram // how late each hit was handed to a worker
	max time.Duration
}

// NewPacer returns a pacer following l for horizon (no arrival at or after it), seeded as
// the simulator seeds an episode's arrivals.
func NewPacer(l load.Load, seed uint64, horizon time.Duration) *Pacer {
	src := l.NewSource(rand.New(rand.NewPCG(seed, StreamArrivals)))
	src.SetHorizon(horizon)
	p := &Pacer{prof: l.Profile, src: src, lag: framework.NewHistogram()}
	p.next, p.done = p.draw()
	return p
}

func (p *Pacer) draw() (time.Duration, bool) {
	off, ok := p.src.Next()
	return off, !ok
}

// Pace returns how long to wait before hit number hits (0-based), or stop when the load
// has no arrival left before the horizon. Called right after the previous hit was handed
// to a worker, it also records how late that hit was against its arrival time.
func (p *Pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits > 0 && hits == p.idx+1 && !p.done {
		p.recordLag(elapsed - p.next)
	}
	for p.idx < hits && !p.done {
		p.next, p.done = p.draw()
		p.idx++
	}
	if p.done {
		return 0, true
	}
	return p.next - elapsed, false
}

func (p *Pacer) recordLag(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.mu.Lock()
	p.lag.Record(d)
	p.max = max(p.max, d)
	p.mu.Unlock()
}

// Rate returns the profile's rate at elapsed.
func (p *Pacer) Rate(elapsed time.Duration) float64 { return p.prof.Rate(elapsed) }

// Lag returns quantiles of how late hits left against their arrival times: the median,
// the 99th percentile and the maximum (the time of Pace's return to the worker hand-off
// is not counted, so this is a lower bound within timer resolution).
func (p *Pacer) Lag() (p50, p99, maximum time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lag.Count() == 0 {
		return 0, 0, 0
	}
	ms := func(v float64) time.Duration { return time.Duration(v * 1e6) }
	return ms(p.lag.QuantileMS(0.5)), ms(p.lag.QuantileMS(0.99)), p.max
}
