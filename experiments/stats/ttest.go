package stats

import (
	"fmt"
	"math"
)

// TTestResult is the outcome of a t-test of the difference of means.
type TTestResult struct {
	// T is the t statistic, DF its degrees of freedom (fractional for Welch).
	T  float64 `json:"t"`
	DF float64 `json:"df"`
	// P is the two-sided p-value.
	P float64 `json:"p"`
	// Diff is the estimated difference: mean of x − y (paired) or mean(x) − mean(y) (Welch).
	Diff float64 `json:"diff"`
	// CILow and CIHigh bound the 95 % confidence interval of Diff.
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	// Note says why the statistic is NaN, or is empty.
	Note string `json:"note,omitempty"`
}

func nanTTest(diff float64, note string) TTestResult {
	return TTestResult{T: math.NaN(), DF: math.NaN(), P: math.NaN(), Diff: diff,
		CILow: math.NaN(), CIHigh: math.NaN(), Note: note}
}

// essentiallyConstant is R's t.test test for data whose standard error vanishes against the
// mean: stderr < 10·ε·|scale| (ε the float64 machine epsilon). Such data make t undefined.
func essentiallyConstant(se, scale float64) bool {
	return se <= 10*epsilon*math.Abs(scale)
}

const epsilon = 2.220446049250313e-16

// PairedTTest is the paired (dependent-samples) t-test of H₀: E[x − y] = 0 on the pairs
// (xᵢ, yᵢ), e.g. a policy and the baseline under the same evaluation seed. With dᵢ = xᵢ − yᵢ,
//
//	t = d̄ / (s_d / √n),  df = n − 1,  p = 2·P(T_df ≥ |t|),
//	95 % CI of d̄: d̄ ± t_{0.975, n−1} · s_d / √n
//
// (Student 1908; R's t.test(x, y, paired = TRUE); SciPy's ttest_rel). Degenerate inputs give
// NaN T, P and CI with a Note: unequal lengths, n < 2, non-finite values, and differences
// that are (essentially) constant — including all zero — for which, as in R, the test is
// undefined; Diff still holds d̄.
func PairedTTest(x, y []float64) TTestResult {
	if len(x) != len(y) {
		return nanTTest(math.NaN(), fmt.Sprintf("paired samples differ in length (%d and %d)", len(x), len(y)))
	}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - y[i]
	}
	n := len(d)
	switch {
	case n < 2:
		return nanTTest(Mean(d), fmt.Sprintf("need at least 2 pairs, got %d", n))
	case !finite(d):
		return nanTTest(math.NaN(), "non-finite values")
	}
	m, sd := Mean(d), StdDev(d)
	se := sd / math.Sqrt(float64(n))
	if essentiallyConstant(se, m) {
		return nanTTest(m, fmt.Sprintf("the differences are constant (%g): t is undefined", m))
	}
	df := float64(n - 1)
	t := m / se
	h := tQuantile(0.975, df) * se
	return TTestResult{T: t, DF: df, P: tTwoSided(t, df), Diff: m, CILow: m - h, CIHigh: m + h}
}

// WelchTTest is Welch's unequal-variances t-test of H₀: E[x] = E[y] for independent
// samples:
//
//	t = (x̄ − ȳ) / √(s²ₓ/nₓ + s²ᵧ/nᵧ),
//	df = (s²ₓ/nₓ + s²ᵧ/nᵧ)² / ((s²ₓ/nₓ)²/(nₓ−1) + (s²ᵧ/nᵧ)²/(nᵧ−1))   (Welch–Satterthwaite),
//	p = 2·P(T_df ≥ |t|),  95 % CI: (x̄ − ȳ) ± t_{0.975, df} · √(s²ₓ/nₓ + s²ᵧ/nᵧ)
//
// (Welch 1947; R's t.test(x, y); SciPy's ttest_ind(equal_var=False)). NaN with a Note when a
// sample has fewer than 2 values, a value is not finite, or both samples are (essentially)
// constant.
func WelchTTest(x, y []float64) TTestResult {
	nx, ny := len(x), len(y)
	switch {
	case nx < 2 || ny < 2:
		return nanTTest(Mean(x)-Mean(y), fmt.Sprintf("need at least 2 values per sample, got %d and %d", nx, ny))
	case !finite(x) || !finite(y):
		return nanTTest(math.NaN(), "non-finite values")
	}
	mx, my := Mean(x), Mean(y)
	vx, vy := StdDev(x), StdDev(y)
	vx, vy = vx*vx/float64(nx), vy*vy/float64(ny)
	se := math.Sqrt(vx + vy)
	if essentiallyConstant(se, math.Max(math.Abs(mx), math.Abs(my))) {
		return nanTTest(mx-my, "both samples are constant: t is undefined")
	}
	df := (vx + vy) * (vx + vy) / (vx*vx/float64(nx-1) + vy*vy/float64(ny-1))
	t := (mx - my) / se
	h := tQuantile(0.975, df) * se
	return TTestResult{T: t, DF: df, P: tTwoSided(t, df), Diff: mx - my, CILow: mx - my - h, CIHigh: mx - my + h}
}
