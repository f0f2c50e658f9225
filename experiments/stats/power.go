package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// TargetPower is the conventional power a study is sized for.
const TargetPower = 0.8

// maxSampleSize bounds the sample-size searches.
const maxSampleSize = 1 << 24

// tTestPower is the power of a two-sided level-α t-test with df degrees of freedom when the
// test statistic follows the noncentral t distribution with noncentrality ncp:
//
//	power = P(T′ > t_c) + P(T′ < −t_c),  t_c = t_{1−α/2, df},  T′ ~ t′(df, ncp).
//
// The noncentral t CDF is gonum's distuv.NoncentralT, Lenth's Algorithm AS 243 (Applied
// Statistics 38, 1989) — the algorithm of R's pt(q, df, ncp), which it matches to 12
// significant digits in this package's tests.
func tTestPower(ncp, df, alpha float64) float64 {
	if !(df > 0) || !(alpha > 0 && alpha < 1) || math.IsNaN(ncp) || math.IsInf(ncp, 0) {
		return math.NaN()
	}
	tc := tQuantile(1-alpha/2, df)
	nct := distuv.NoncentralT{Nu: df, Mu: math.Abs(ncp)}
	p := 1 - nct.CDF(tc) + nct.CDF(-tc)
	return math.Min(1, math.Max(0, p))
}

// PairedTTestPower is the power of the two-sided paired t-test at level alpha with n pairs
// to detect a true standardised mean difference d_z (mean of the differences over their
// standard deviation; see CohenDz):
//
//	df = n − 1,  ncp = d_z·√n,  power = P(T′ > t_c) + P(T′ < −t_c)
//
// (Cohen 1988, ch. 2; R's power.t.test(n, delta = d_z, sd = 1, type = "paired",
// strict = TRUE), whose values the tests reproduce). With d_z = 0 the power is alpha. NaN for
// n < 2, a non-finite d_z or alpha outside (0, 1).
//
// Used with the observed d_z ("post-hoc power") it adds no information beyond the p-value;
// its use here is to tell how far N is from what the observed effect would need, reported
// with the N of PairedTTestSampleSize.
func PairedTTestPower(dz float64, n int, alpha float64) float64 {
	if n < 2 {
		return math.NaN()
	}
	return tTestPower(dz*math.Sqrt(float64(n)), float64(n-1), alpha)
}

// TwoSampleTTestPower is the power of the two-sided pooled-variance two-sample t-test at
// level alpha with n observations per group to detect a standardised difference d
// (difference of means over the common SD): df = 2(n − 1), ncp = d·√(n/2) (R's
// power.t.test(n, delta = d, sd = 1, strict = TRUE)). NaN for n < 2.
func TwoSampleTTestPower(d float64, n int, alpha float64) float64 {
	if n < 2 {
		return math.NaN()
	}
	return tTestPower(d*math.Sqrt(float64(n)/2), float64(2*(n-1)), alpha)
}

// PairedTTestSampleSize is the smallest number of pairs n ≥ 2 at which the two-sided paired
// t-test at level alpha reaches the target power for the effect d_z (PairedTTestPower is
// increasing in n). It is R's power.t.test(power, delta = d_z, type = "paired",
// strict = TRUE)$n rounded up. ok is false when no n up to 2²⁴ reaches the target: d_z = 0
// or NaN, or target or alpha outside (0, 1).
func PairedTTestSampleSize(dz, alpha, target float64) (n int, ok bool) {
	return sampleSize(func(n int) float64 { return PairedTTestPower(dz, n, alpha) }, dz, alpha, target)
}

// TwoSampleTTestSampleSize is the smallest n ≥ 2 per group at which the two-sided
// two-sample t-test reaches the target power for the standardised difference d (R's
// power.t.test(power, delta = d)$n rounded up); ok as in PairedTTestSampleSize.
func TwoSampleTTestSampleSize(d, alpha, target float64) (n int, ok bool) {
	return sampleSize(func(n int) float64 { return TwoSampleTTestPower(d, n, alpha) }, d, alpha, target)
}

// sampleSize finds the smallest n ≥ 2 with power(n) ≥ target by doubling, then bisection.
func sampleSize(power func(int) float64, effect, alpha, target float64) (int, bool) {
	if !(target > 0 && target < 1) || !(alpha > 0 && alpha < 1) || math.IsNaN(effect) ||
		math.IsInf(effect, 0) || effect == 0 {
		return 0, false
	}
	if power(2) >= target {
		return 2, true
	}
	lo, hi := 2, 4 // power(lo) < target
	for power(hi) < target {
		if hi >= maxSampleSize {
			return 0, false
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if power(mid) >= target {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}
