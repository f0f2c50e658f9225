package load

import (
	"math"
	"time"
)

// Sum is the sum of several profiles' rates (e.g. a diurnal base plus bursts).
type Sum []Profile

// Rate returns the summed rate at t.
func (s Sum) Rate(t time.Duration) float64 {
	var r float64
	for _, p := range s {
		r += p.Rate(t)
	}
	return r
}

// MaxRate returns the sum of the parts' MaxRate (an upper bound).
func (s Sum) MaxRate() float64 {
	var r float64
	for _, p := range s {
		r += p.MaxRate()
	}
	return r
}

var _ Profile = Sum(nil)

// Built-in profile sizes for the default scenario (sim.BuiltinScenario("edge-rtx3080")),
// derived in docs/simulator.md. One pod's CPU limit of 500 m at 0.4 ms of CPU per request
// serves at most CapacityPerPod = 1,250 req/s; the time-sliced RTX 3080 executes at most
// ≈ 5,300 images/s (batch 32), ≈ 3,500 at batch 8. Measured on the simulator, the highest
// rate served with ≤ 1 % QoS violations is ≈ 1,100 req/s with one replica, 2,300 with two,
// 3,500 with three and 3,900 with four.
const (
	// CapacityPerPod is the req/s one default-scenario pod's CPU limit can serve.
	CapacityPerPod = 1250.0
	// LowRate is the `low` profile: 24 % of one pod's CPU capacity (HPA stays at 1 replica).
	LowRate = 300.0
	// HighRate is the `high` profile: beyond two pods' CPU capacity (2,500 req/s), so at
	// least three of the four allowed replicas are needed; the GPU is then saturated.
	HighRate = 2600.0
	// MixedMean, MixedAmplitude and MixedPeriod shape the `mixed` profile's cycle: from 300
	// to 2,100 req/s and back every 12 minutes, starting at the trough.
	MixedMean      = 1200.0
	MixedAmplitude = 900.0
	MixedPeriod    = 12 * time.Minute
	// MixedBurst is the extra rate of the `mixed` profile's bursts, which last MixedBurstLength
	// and come every MixedPeriod, the first at MixedBurstAt (just after the cycle's crest).
	MixedBurst       = 1500.0
	MixedBurstAt     = 7 * time.Minute
	MixedBurstLength = 45 * time.Second
)

// Builtin returns the built-in profiles sized for the default scenario:
//
//   - low: constant 300 req/s — one replica is plenty (24 % of its CPU capacity).
//   - high: constant 2,600 req/s — needs three of the four allowed replicas (two pods serve
//     at most 2,500 req/s); with three the GPU is saturated and a fourth adds contention.
//   - mixed: a 12-minute cycle 1,200 ± 900 req/s (300 → 2,100 → 300, starting at the trough)
//     plus a 45-second burst of +1,500 req/s every 12 minutes starting at minute 7 (peaks of
//     ≈ 3,500 req/s, three replicas' capacity), so a 30-minute run holds 2.5 cycles and 3
//     bursts; the mean over a cycle is 1,294 req/s.
//
// ok is false for any other name.
func Builtin(name string) (Profile, bool) {
	switch name {
	case "low":
		return Constant{RPS: LowRate}, true
	case "high":
		return Constant{RPS: HighRate}, true
	case "mixed":
		return Sum{
			Sine{Mean: MixedMean, Amplitude: MixedAmplitude, Period: MixedPeriod, Phase: -MixedPeriod / 4},
			Spike{Base: 0, Peak: MixedBurst, At: MixedBurstAt, Length: MixedBurstLength, Every: MixedPeriod},
		}, true
	}
	return nil, false
}

// BuiltinNames returns the names Builtin knows.
func BuiltinNames() []string { return []string{"high", "low", "mixed"} }

// mean is used by tests and docs: the time-average of a profile over [0, d].
func mean(p Profile, d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return Integral(p, 0, d) / d.Seconds()
}
