package load

import (
	"math"
	"time"
)

// Bounder is implemented by profiles that can bound their rate over an interval more
// tightly than MaxRate. Arrival sampling uses it to thin against a local bound (one
// bound per second of the episode), so bursty profiles cost little more per arrival than
// constant ones. Every built-in profile implements it.
type Bounder interface {
	// MaxRateIn returns an upper bound of Rate over [from, to].
	MaxRateIn(from, to time.Duration) float64
}

// MaxRateIn returns an upper bound of p's rate over [from, to]: p's own bound when it is a
// Bounder, else p.MaxRate().
func MaxRateIn(p Profile, from, to time.Duration) float64 {
	if b, ok := p.(Bounder); ok {
		return b.MaxRateIn(from, to)
	}
	return p.MaxRate()
}

var (
	_ Bounder = Constant{}
	_ Bounder = (*Step)(nil)
	_ Bounder = Ramp{}
	_ Bounder = Sine{}
	_ Bounder = Spike{}
	_ Bounder = (*Sequence)(nil)
	_ Bounder = (*Trace)(nil)
	_ Bounder = Sum(nil)
)

// MaxRateIn returns RPS.
func (c Constant) MaxRateIn(_, _ time.Duration) float64 { return c.RPS }

// MaxRateIn returns the highest level in force during [from, to].
func (s *Step) MaxRateIn(from, to time.Duration) float64 {
	m := s.Rate(from)
	for _, c := range s.Changes {
		if c.At > from && c.At <= to {
			m = math.Max(m, c.RPS)
		}
	}
	return m
}

// MaxRateIn returns the larger rate at the interval's ends (the ramp is monotone).
func (r Ramp) MaxRateIn(from, to time.Duration) float64 {
	return math.Max(r.Rate(from), r.Rate(to))
}

// MaxRateIn returns the sine's maximum over [from, to]: its crest if one lies inside,
// else the larger end value.
func (s Sine) MaxRateIn(from, to time.Duration) float64 {
	if to-from >= s.Period {
		return s.MaxRate()
	}
	m := math.Max(s.Rate(from), s.Rate(to))
	// The crest is where 2π(t+Phase)/Period ≡ π/2 (mod 2π) for a positive amplitude, 3π/2
	// for a negative one: t = Period·(k + c) − Phase with c = 1/4 or 3/4.
	c := 0.25
	if s.Amplitude < 0 {
		c = 0.75
	}
	p := float64(s.Period)
	k := math.Ceil((float64(from+s.Phase) - c*p) / p)
	if crest := p*(k+c) - float64(s.Phase); crest <= float64(to) {
		return s.MaxRate()
	}
	return m
}

// MaxRateIn returns Peak if a spike overlaps [from, to], else Base.
func (s Spike) MaxRateIn(from, to time.Duration) float64 {
	if s.Peak <= s.Base {
		return s.Base
	}
	if to < s.At || s.Length <= 0 {
		return s.Base
	}
	if s.Every <= 0 {
		if from < s.At+s.Length {
			return s.Peak
		}
		return s.Base
	}
	if to-from >= s.Every {
		return s.Peak
	}
	// The spike starting at the last period start at or before to, and the one before it.
	k := (to - s.At) / s.Every
	for _, start := range []time.Duration{s.At + k*s.Every, s.At + (k-1)*s.Every} {
		if start >= s.At && start <= to && start+s.Length > from {
			return s.Peak
		}
	}
	return s.Base
}

// MaxRateIn returns the largest bound of the parts in force during [from, to].
func (s *Sequence) MaxRateIn(from, to time.Duration) float64 {
	if len(s.Parts) == 0 {
		return 0
	}
	if s.Loop && s.total > 0 {
		if to-from >= s.total {
			return s.max
		}
		from, to = from%s.total, to-(from-from%s.total)
		if to > s.total {
			return s.max // wraps around: be safe
		}
	}
	var m float64
	start := time.Duration(0)
	for i, p := range s.Parts {
		end := start + p.Length
		last := i == len(s.Parts)-1
		if from < end || last {
			lo := max(from, start) - start
			hi := to - start
			if !last && to > end {
				hi = p.Length
			}
			m = math.Max(m, MaxRateIn(p.Profile, lo, hi))
		}
		if to < end {
			break
		}
		start = end
	}
	return m
}

// MaxRateIn returns the largest rate of the trace over [from, to] (its points inside and
// its values at the ends).
func (tr *Trace) MaxRateIn(from, to time.Duration) float64 {
	n := len(tr.Times)
	if n == 0 {
		return 0
	}
	if tr.Loop && tr.Times[n-1] > 0 && to.Seconds()-from.Seconds() >= tr.Times[n-1] {
		return tr.max
	}
	if tr.Loop && tr.Times[n-1] > 0 && math.Floor(from.Seconds()/tr.Times[n-1]) != math.Floor(to.Seconds()/tr.Times[n-1]) {
		return tr.max // the interval wraps around
	}
	m := math.Max(tr.Rate(from), tr.Rate(to))
	a, b := from.Seconds(), to.Seconds()
	if tr.Loop && tr.Times[n-1] > 0 {
		off := math.Floor(a/tr.Times[n-1]) * tr.Times[n-1]
		a, b = a-off, b-off
	}
	for i, x := range tr.Times {
		if x > a && x < b {
			m = math.Max(m, tr.Rates[i])
		}
	}
	return m
}

// MaxRateIn returns the sum of the parts' bounds.
func (s Sum) MaxRateIn(from, to time.Duration) float64 {
	var r float64
	for _, p := range s {
		r += MaxRateIn(p, from, to)
	}
	return r
}
