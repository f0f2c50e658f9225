package stats

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultLevel is the confidence level of Summarize and of the tests' intervals.
const DefaultLevel = 0.95

// Mean is the arithmetic mean Σxᵢ/n (gonum stat.Mean); NaN for an empty sample.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return stat.Mean(xs, nil)
}

// StdDev is the sample standard deviation with Bessel's correction,
// s = √(Σ(xᵢ − x̄)² / (n − 1)) (gonum stat.StdDev); NaN when n < 2.
func StdDev(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	return stat.StdDev(xs, nil)
}

// Summary describes one sample: its size, mean, standard deviation (n − 1) and a confidence
// interval for the mean at Level.
type Summary struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	SD     float64 `json:"sd"`
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	Level  float64 `json:"level"`
}

// HalfWidth is half the confidence interval's width (the "±" of "mean ± CI").
func (s Summary) HalfWidth() float64 { return (s.CIHigh - s.CILow) / 2 }

// Summarize returns the summary of xs with a 95 % Student-t confidence interval.
func Summarize(xs []float64) Summary { return Describe(xs, DefaultLevel) }

// Describe returns the summary of xs with the Student-t confidence interval for the
// mean at the given level (0 < level < 1):
//
//	x̄ ± t_{(1+level)/2, n−1} · s / √n
//
// (e.g. Montgomery & Runger, Applied Statistics and Probability for Engineers, §8.2; R's
// t.test). With n = 0 every field but N is NaN; with n = 1 the mean is the value and SD and
// the interval are NaN; a sample with zero variance has the interval [x̄, x̄]. A level
// outside (0, 1) gives a NaN interval.
func Describe(xs []float64, level float64) Summary {
	s := Summary{N: len(xs), Mean: Mean(xs), SD: StdDev(xs), CILow: math.NaN(), CIHigh: math.NaN(), Level: level}
	if s.N < 2 || !(level > 0 && level < 1) || !finite(xs) {
		return s
	}
	h := tQuantile((1+level)/2, float64(s.N-1)) * s.SD / math.Sqrt(float64(s.N))
	s.CILow, s.CIHigh = s.Mean-h, s.Mean+h
	return s
}

// Quantile is the p-quantile of xs by linear interpolation between order statistics,
// Hyndman & Fan's type 7 (the default of R's quantile and NumPy's percentile): with the
// sorted sample x₍₁₎ ≤ … ≤ x₍ₙ₎ and h = (n − 1)·p,
//
//	Q(p) = x₍⌊h⌋+1₎ + (h − ⌊h⌋)·(x₍⌊h⌋+2₎ − x₍⌊h⌋+1₎).
//
// NaN for an empty sample or p outside [0, 1]. xs is not modified.
func Quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantileSorted(s, p)
}

func quantileSorted(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Bootstrap configures BootstrapCI.
type Bootstrap struct {
	// Resamples is the number of bootstrap resamples B (default 10 000).
	Resamples int
	// Level is the confidence level (default 0.95).
	Level float64
	// Seed seeds the resampling (PCG); the same seed gives the same interval.
	Seed uint64
	// Statistic is the statistic bootstrapped (default Mean).
	Statistic func([]float64) float64
}

// BootstrapCI is the bootstrap percentile confidence interval of a statistic (Efron &
// Tibshirani, An Introduction to the Bootstrap, 1993, §13.3): draw B resamples of size n
// with replacement, compute the statistic θ*_b of each, and return the type-7 quantiles of
// θ*_1 … θ*_B at (1 − level)/2 and (1 + level)/2. Deterministic for a given Seed. NaN when
// n < 2 (a single value has no sampling variability to resample) or the data are not finite.
// The percentile interval under-covers at small n: for normal data and a nominal 0.95 its
// coverage measured here is about 0.85 at n = 5, 0.90 at n = 10 and 0.94 at n = 30 (the
// Student-t interval: 0.95 throughout). Prefer Summarize's interval for means at small N.
func BootstrapCI(xs []float64, b Bootstrap) (lo, hi float64) {
	if b.Resamples <= 0 {
		b.Resamples = 10000
	}
	if b.Level == 0 {
		b.Level = DefaultLevel
	}
	if b.Statistic == nil {
		b.Statistic = Mean
	}
	n := len(xs)
	if n < 2 || !(b.Level > 0 && b.Level < 1) || !finite(xs) {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(b.Seed, 0x5ca1ab1e_b0075742))
	theta := make([]float64, b.Resamples)
	buf := make([]float64, n)
	for i := range theta {
		for j := range buf {
			buf[j] = xs[rng.IntN(n)]
		}
		theta[i] = b.Statistic(buf)
	}
	slices.Sort(theta)
	return quantileSorted(theta, (1-b.Level)/2), quantileSorted(theta, (1+b.Level)/2)
}

// tQuantile is the p-quantile of Student's t with df degrees of freedom.
func tQuantile(p, df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// tTwoSided is the two-sided p-value 2·P(T_df ≥ |t|).
func tTwoSided(t, df float64) float64 {
	return math.Min(1, 2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t)))
}

// finite reports whether no value is NaN or ±Inf.
func finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
