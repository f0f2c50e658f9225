package load

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Validate checks an arrival process: a known kind, and for Gamma a finite CV > 0. The
// empty kind means Poisson.
func (a Arrivals) Validate() error {
	switch a.Kind {
	case "", Poisson, Deterministic:
		return nil
	case Gamma:
		if !(a.CV > 0) || math.IsInf(a.CV, 0) {
			return fmt.Errorf("arrival_cv: gamma arrivals need a finite CV > 0, got %v", a.CV)
		}
		return nil
	}
	return fmt.Errorf("arrivals: unknown kind %q (want poisson, deterministic or gamma)", a.Kind)
}

// segSeconds is the length of a Poisson thinning segment.
const segSeconds = 1.0

// maxStepSeconds bounds one integration step of the renewal sampler (deterministic and
// gamma arrivals) where the rate is low or zero.
const maxStepSeconds = 1.0

// Source draws successive arrival offsets (from the start of the episode) of a Load. It is
// allocation-free per arrival and deterministic given its random source.
//
// Poisson arrivals are a non-homogeneous Poisson process sampled exactly by thinning
// (Lewis–Shedler) against a piecewise-constant bound: the profile's MaxRateIn over each
// second of the episode (see Bounder), else its MaxRate. Deterministic and gamma arrivals are renewal
// processes in operational time: with Λ(t) = ∫₀ᵗ rate, the arrivals are the times at which
// Λ crosses the partial sums of i.i.d. unit-mean gaps (1 for deterministic, so arrivals are
// spaced 1/rate following the rate; Gamma(shape 1/CV², scale CV²) for gamma, whose
// inter-arrival CV is CV at constant rate). Λ is integrated with a midpoint step per
// arrival (steps of at most 1 s where the rate is low), exact for piecewise-constant
// rates between steps.
//
// The sequence of arrivals does not depend on how callers bound their requests
// (NextBefore with any limits yields the same sequence as Next), so simulations that
// advance in different chunks see identical arrivals.
type Source struct {
	r       *rand.Rand
	p       Profile
	kind    ArrivalKind
	maxRate float64
	shape   float64 // gamma shape k = 1/CV²
	scale   float64 // gamma scale θ = CV²

	t          float64 // seconds: current position of the sampler
	segEnd     float64 // Poisson: end of the current thinning segment (seconds)
	segMax     float64 // Poisson: rate bound over the current segment
	segInv     float64 // 1 / segMax
	need       float64 // renewal: operational time left before the next arrival
	pending    float64 // an arrival already drawn but not yet handed out
	hasPending bool
	horizon    float64
}

// NewSource returns a Source drawing from r. A nil profile or a zero MaxRate yields no
// arrivals. The arrival kind must be valid (see Arrivals.Validate); an unknown kind panics.
func (l Load) NewSource(r *rand.Rand) *Source {
	s := &Source{}
	s.Reset(l, r)
	return s
}

// Reset reuses s for another episode of l drawing from r (no allocation).
func (s *Source) Reset(l Load, r *rand.Rand) {
	*s = Source{r: r, p: l.Profile, kind: l.Arrivals.Kind, horizon: math.Inf(1)}
	if s.kind == "" {
		s.kind = Poisson
	}
	if err := l.Arrivals.Validate(); err != nil {
		panic("load: " + err.Error())
	}
	if l.Profile != nil {
		s.maxRate = l.Profile.MaxRate()
	}
	if s.kind == Gamma {
		cv2 := l.Arrivals.CV * l.Arrivals.CV
		s.shape, s.scale = 1/cv2, cv2
	}
	if s.kind != Poisson {
		s.need = s.gap()
	}
}

// SetHorizon bounds Next: it reports no arrival beyond offset h. Without a horizon, Next on
// a profile whose rate stays zero forever would not return.
func (s *Source) SetHorizon(h time.Duration) { s.horizon = h.Seconds() }

// Next returns the next arrival offset, or ok = false when there is none before the
// horizon (or the profile's MaxRate is 0).
func (s *Source) Next() (offset time.Duration, ok bool) {
	return s.next(s.horizon)
}

// NextBefore returns the next arrival offset if it lies at or before limit; otherwise it
// returns ok = false and keeps its state, so a later call with a larger limit continues the
// same sequence.
func (s *Source) NextBefore(limit time.Duration) (offset time.Duration, ok bool) {
	l := float64(limit) * 1e-9
	if l > s.horizon {
		l = s.horizon
	}
	return s.next(l)
}

func (s *Source) next(limit float64) (time.Duration, bool) {
	if !(s.maxRate > 0) {
		return 0, false
	}
	if !s.hasPending && !s.draw(limit) {
		return 0, false
	}
	if s.pending > limit {
		return 0, false
	}
	s.hasPending = false
	return time.Duration(s.pending*1e9 + 0.5), true // rounded (pending ≥ 0)
}

// draw advances the sampler until it has a pending arrival (true) or its position passed
// limit without one (false). The steps taken never depend on limit.
func (s *Source) draw(limit float64) bool {
	if s.kind == Poisson {
		for {
			if s.t >= s.segEnd {
				// A new thinning segment [k, k+1) s with its own bound. The exponential
				// clock restarts at the segment start (memoryless), so this stays exact.
				k := math.Floor(s.t / segSeconds)
				s.segEnd = (k + 1) * segSeconds
				s.segMax = math.Min(MaxRateIn(s.p, secs(k*segSeconds), secs(s.segEnd)), s.maxRate)
				s.segInv = 0
				if s.segMax > 0 {
					s.segInv = 1 / s.segMax
				}
			}
			if s.segMax <= 0 {
				s.t = s.segEnd
				if s.t > limit {
					return false
				}
				continue
			}
			next := s.t + s.r.ExpFloat64()*s.segInv
			if next >= s.segEnd {
				s.t = s.segEnd
				if s.t > limit {
					return false
				}
				continue
			}
			s.t = next
			// Accept with probability rate/bound (no draw needed when it is 1).
			if r := s.p.Rate(secs(s.t)); r >= s.segMax || s.r.Float64()*s.segMax <= r {
				s.pending, s.hasPending = s.t, true
				return true
			}
			if s.t > limit {
				return false
			}
		}
	}
	for {
		// Near: the arrival is less than a step away at the current rate; refine the rate at
		// the midpoint of the gap (second order for smooth profiles).
		if r0 := s.p.Rate(secs(s.t)); r0 > 0 && s.need/r0 <= maxStepSeconds {
			if rm := s.p.Rate(secs(s.t + s.need/(2*r0))); rm > 0 && s.need/rm <= maxStepSeconds {
				return s.arrive(s.need / rm)
			}
		}
		// Far (or the rate changes a lot): take a whole step at its midpoint rate.
		rm := s.p.Rate(secs(s.t + maxStepSeconds/2))
		if rm > 0 && rm*maxStepSeconds >= s.need {
			return s.arrive(s.need / rm)
		}
		s.need -= rm * maxStepSeconds
		s.t += maxStepSeconds
		if s.t > limit {
			return false
		}
	}
}

// arrive moves the renewal sampler dt seconds on to an arrival and draws the next gap.
func (s *Source) arrive(dt float64) bool {
	s.t += dt
	s.need = s.gap()
	s.pending, s.hasPending = s.t, true
	return true
}

// gap draws one unit-mean gap in operational time.
func (s *Source) gap() float64 {
	if s.kind == Deterministic {
		return 1
	}
	return s.scale * gammaUnit(s.r, s.shape)
}

// gammaUnit draws Gamma(k, 1) by Marsaglia and Tsang's method (ACM TOMS 26(3), 2000), with
// the boost X·U^(1/k) for k < 1.
func gammaUnit(r *rand.Rand, k float64) float64 {
	boost := 1.0
	if k < 1 {
		boost = math.Pow(r.Float64(), 1/k)
		k++
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}

func secs(x float64) time.Duration { return time.Duration(x * 1e9) }
