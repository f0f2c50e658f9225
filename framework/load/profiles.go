package load

import (
	"math"
	"sort"
	"time"
)

// Compile-time checks that every profile implements Profile.
var (
	_ Profile = Constant{}
	_ Profile = (*Step)(nil)
	_ Profile = Ramp{}
	_ Profile = Sine{}
	_ Profile = Spike{}
	_ Profile = (*Sequence)(nil)
	_ Profile = (*Trace)(nil)
)

// Constant is a constant offered rate.
type Constant struct {
	// RPS is the rate in requests per second.
	RPS float64
}

// Rate returns RPS.
func (c Constant) Rate(time.Duration) float64 { return c.RPS }

// MaxRate returns RPS.
func (c Constant) MaxRate() float64 { return c.RPS }

// Change is one level of a Step profile: from At on, the rate is RPS.
type Change struct {
	At  time.Duration
	RPS float64
}

// Step is a piecewise-constant rate: Initial until the first change, then each change's
// rate from its offset until the next change.
type Step struct {
	Initial float64
	// Changes are sorted by At (NewStep sorts them).
	Changes []Change
	max     float64
}

// NewStep returns a Step profile; changes are sorted by offset.
func NewStep(initial float64, changes []Change) *Step {
	cs := append([]Change(nil), changes...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].At < cs[j].At })
	m := initial
	for _, c := range cs {
		m = math.Max(m, c.RPS)
	}
	return &Step{Initial: initial, Changes: cs, max: m}
}

// Rate returns the level in force at t.
func (s *Step) Rate(t time.Duration) float64 {
	// Few changes in practice: a linear scan from the end beats a binary search.
	for i := len(s.Changes) - 1; i >= 0; i-- {
		if t >= s.Changes[i].At {
			return s.Changes[i].RPS
		}
	}
	return s.Initial
}

// MaxRate returns the highest level.
func (s *Step) MaxRate() float64 { return s.max }

// Ramp moves the rate linearly from From to To over [Start, Start+Length]; it is From before
// and To after.
type Ramp struct {
	From, To      float64
	Start, Length time.Duration
}

// Rate returns the ramp's rate at t.
func (r Ramp) Rate(t time.Duration) float64 {
	switch {
	case t <= r.Start:
		return r.From
	case r.Length <= 0 || t >= r.Start+r.Length:
		return r.To
	}
	f := float64(t-r.Start) / float64(r.Length)
	return r.From + f*(r.To-r.From)
}

// MaxRate returns max(From, To).
func (r Ramp) MaxRate() float64 { return math.Max(r.From, r.To) }

// Sine is a periodic (e.g. diurnal) rate:
//
//	rate(t) = max(0, Mean + Amplitude · sin(2π (t + Phase) / Period)).
type Sine struct {
	Mean, Amplitude float64
	Period, Phase   time.Duration
}

// Rate returns the sine's rate at t.
func (s Sine) Rate(t time.Duration) float64 {
	x := 2 * math.Pi * float64(t+s.Phase) / float64(s.Period)
	return math.Max(0, s.Mean+s.Amplitude*math.Sin(x))
}

// MaxRate returns Mean + |Amplitude|.
func (s Sine) MaxRate() float64 { return math.Max(0, s.Mean+math.Abs(s.Amplitude)) }

// Spike is a base rate with rectangular spikes of rate Peak lasting Length, the first at At
// and then every Every (Every = 0: a single spike).
type Spike struct {
	Base, Peak        float64
	At, Length, Every time.Duration
}

// Rate returns Peak inside a spike and Base elsewhere.
func (s Spike) Rate(t time.Duration) float64 {
	if t < s.At {
		return s.Base
	}
	d := t - s.At
	if s.Every > 0 {
		d %= s.Every
	}
	if d < s.Length {
		return s.Peak
	}
	return s.Base
}

// MaxRate returns max(Base, Peak).
func (s Spike) MaxRate() float64 { return math.Max(s.Base, s.Peak) }

// Part is one element of a Sequence: Profile, evaluated from the part's own start, for Length.
type Part struct {
	Profile Profile
	Length  time.Duration
}

// Sequence plays its parts one after another. Each part's profile sees offsets from the
// start of that part. After the last part, the sequence starts over when Loop is set;
// otherwise the last part continues (its profile keeps being evaluated past its length).
type Sequence struct {
	Parts []Part
	Loop  bool
	total time.Duration
	max   float64
}

// NewSequence returns a Sequence of parts (each Length must be > 0).
func NewSequence(parts []Part, loop bool) *Sequence {
	s := &Sequence{Parts: append([]Part(nil), parts...), Loop: loop}
	for _, p := range s.Parts {
		s.total += p.Length
		s.max = math.Max(s.max, p.Profile.MaxRate())
	}
	return s
}

// Rate returns the rate of the part in force at t.
func (s *Sequence) Rate(t time.Duration) float64 {
	if len(s.Parts) == 0 {
		return 0
	}
	if s.Loop && s.total > 0 && t >= s.total {
		t %= s.total
	}
	for i, p := range s.Parts {
		if t < p.Length || i == len(s.Parts)-1 {
			return p.Profile.Rate(t)
		}
		t -= p.Length
	}
	return 0 // unreachable
}

// MaxRate returns the largest MaxRate of the parts.
func (s *Sequence) MaxRate() float64 { return s.max }

// Duration returns the summed length of the parts.
func (s *Sequence) Duration() time.Duration { return s.total }

// Interpolation says how a Trace fills the time between its points.
type Interpolation string

// Interpolations of a trace.
const (
	// Linear interpolates linearly between points.
	Linear Interpolation = "linear"
	// Hold keeps each point's rate until the next point (a step function).
	Hold Interpolation = "step"
)

// Trace is a rate given at points in time (from a CSV file of time_seconds,rate). Like every
// profile it is immutable once built, so one Trace may serve parallel simulators. Before the
// first point the first rate holds; after the last point the last rate holds, unless Loop
// is set, in which case the trace repeats with period equal to the last point's time.
type Trace struct {
	// Times are the points' offsets in seconds, strictly increasing, the first ≥ 0.
	Times []float64
	// Rates are the rates at Times in req/s.
	Rates  []float64
	Interp Interpolation
	Loop   bool
	max    float64
}

// NewTrace returns a Trace over the given points (validated by the caller or by ReadTrace).
func NewTrace(times, rates []float64, interp Interpolation, loop bool) *Trace {
	tr := &Trace{Times: times, Rates: rates, Interp: interp, Loop: loop}
	for _, r := range rates {
		tr.max = math.Max(tr.max, r)
	}
	return tr
}

// Rate returns the interpolated rate at t.
func (tr *Trace) Rate(t time.Duration) float64 {
	n := len(tr.Times)
	if n == 0 {
		return 0
	}
	x := t.Seconds()
	last := tr.Times[n-1]
	if tr.Loop && last > 0 && x >= last {
		x = math.Mod(x, last)
	}
	if x <= tr.Times[0] {
		return tr.Rates[0]
	}
	if x >= last {
		return tr.Rates[n-1]
	}
	// i with Times[i] ≤ x < Times[i+1]: SearchFloat64s gives the first index with
	// Times[j] ≥ x, so step back unless x lies exactly on a point.
	i := sort.SearchFloat64s(tr.Times, x)
	if tr.Times[i] > x {
		i--
	}
	if tr.Interp == Hold {
		return tr.Rates[i]
	}
	f := (x - tr.Times[i]) / (tr.Times[i+1] - tr.Times[i])
	return tr.Rates[i] + f*(tr.Rates[i+1]-tr.Rates[i])
}

// MaxRate returns the largest rate of the points.
func (tr *Trace) MaxRate() float64 { return tr.max }

// Integral returns ∫ p.Rate over [from, to] in requests (the expected arrivals), by the
// midpoint rule on steps of at most 100 ms. Profiles are piecewise smooth at a scale of
// seconds, so the error is below a request per step change.
func Integral(p Profile, from, to time.Duration) float64 {
	if to <= from || p == nil {
		return 0
	}
	const maxStep = 100 * time.Millisecond
	n := int((to - from + maxStep - 1) / maxStep)
	h := float64(to-from) / float64(n)
	var sum float64
	for i := 0; i < n; i++ {
		mid := float64(from) + (float64(i)+0.5)*h
		sum += p.Rate(time.Duration(mid))
	}
	return sum * h / 1e9
}
