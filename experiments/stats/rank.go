package stats

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// RankTestResult is the outcome of a rank test.
type RankTestResult struct {
	// Statistic is U₁ of the first sample (Mann–Whitney) or min(W⁺, W⁻) (Wilcoxon), as SciPy
	// reports them.
	Statistic float64 `json:"statistic"`
	// WPlus is the Wilcoxon sum of ranks of positive differences (R's V); NaN for Mann–Whitney.
	WPlus float64 `json:"w_plus"`
	// P is the two-sided p-value.
	P float64 `json:"p"`
	// Z is the standardised statistic of the normal approximation; NaN when Exact.
	Z float64 `json:"z"`
	// Exact is true when P comes from the exact null distribution.
	Exact bool `json:"exact"`
	// N is the number of observations ranked (Wilcoxon: non-zero differences).
	N int `json:"n"`
	// Note says why P is NaN or which approximation was used and why, or is empty.
	Note string `json:"note,omitempty"`
}

// RankMethod selects how a rank test computes its p-value.
type RankMethod int

// Rank test methods.
const (
	// Auto chooses as documented on each test (SciPy's method='auto').
	Auto RankMethod = iota
	// Exact uses the exact null distribution where it is valid (no ties; no zero
	// differences; within the size limits) and otherwise falls back to Asymptotic, saying so
	// in the Note.
	Exact
	// Asymptotic uses the normal approximation.
	Asymptotic
)

// ranks returns the ranks (1-based, ties given their average rank) of xs and the sizes of
// the tie groups (only groups of two or more).
func ranks(xs []float64) (r []float64, ties []int) {
	n := len(xs)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	r = make([]float64, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && xs[idx[j]] == xs[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1 … j
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		if j-i > 1 {
			ties = append(ties, j-i)
		}
		i = j
	}
	return r, ties
}

// mwuExactLimit bounds the work of the exact Mann–Whitney distribution (m²·N² operations).
const mwuExactLimit = 1e8

// MannWhitneyU is the two-sided Mann–Whitney U test (Wilcoxon rank-sum test) of H₀: the
// samples come from the same distribution, for independent samples x and y. With R₁ the sum
// of the ranks of x in the pooled sample (ties get average ranks),
//
//	U₁ = R₁ − nₓ(nₓ+1)/2,  U₂ = nₓnᵧ − U₁,  U = max(U₁, U₂).
//
// The method follows SciPy's mannwhitneyu(method='auto'): when the smaller sample has at
// most 8 values and there are no ties, p = 2·P(U' ≥ U) under the exact null distribution
// (counted exactly; Mann & Whitney 1947); otherwise the normal approximation with tie and
// continuity correction,
//
//	z = (U − nₓnᵧ/2 − 1/2) / √(nₓnᵧ/12 · ((N+1) − Σ(t³−t)/(N(N−1)))),  p = 2·(1 − Φ(z)),
//
// with N = nₓ + nᵧ and t the sizes of the tie groups; p is capped at 1. If every value is
// tied, p = 1. Statistic is U₁ (SciPy's convention). NaN with a Note for an empty sample or
// non-finite values. MannWhitneyUMethod chooses the method.
func MannWhitneyU(x, y []float64) RankTestResult { return MannWhitneyUMethod(x, y, Auto) }

// MannWhitneyUMethod is MannWhitneyU with the p-value method chosen: Exact (valid without
// ties, and computed while m²·N² ≤ 10⁸ for the smaller size m) or Asymptotic.
func MannWhitneyUMethod(x, y []float64, method RankMethod) RankTestResult {
	nx, ny := len(x), len(y)
	res := RankTestResult{Statistic: math.NaN(), WPlus: math.NaN(), P: math.NaN(), Z: math.NaN(), N: nx + ny}
	switch {
	case nx == 0 || ny == 0:
		res.Note = fmt.Sprintf("need values in both samples, got %d and %d", nx, ny)
		return res
	case !finite(x) || !finite(y):
		res.Note = "non-finite values"
		return res
	}
	pooled := append(slices.Clone(x), y...)
	r, ties := ranks(pooled)
	var r1 float64
	for _, v := range r[:nx] {
		r1 += v
	}
	u1 := r1 - float64(nx*(nx+1))/2
	u := math.Max(u1, float64(nx*ny)-u1)
	res.Statistic = u1
	m, n := min(nx, ny), max(nx, ny)
	N := float64(nx + ny)
	exactOK := len(ties) == 0 && float64(m*m)*N*N <= mwuExactLimit
	useExact := exactOK && (method == Exact || method == Auto && m <= 8)
	switch {
	case useExact:
		res.Exact = true
		res.P = math.Min(1, 2*mwuSF(int(math.Round(u)), m, n))
	case len(ties) == 1 && ties[0] == nx+ny:
		res.P = 1
		res.Note = "all values are tied"
	default:
		var tieTerm float64
		for _, t := range ties {
			tieTerm += float64(t*t*t - t)
		}
		mn := float64(nx * ny)
		s := math.Sqrt(mn / 12 * ((N + 1) - tieTerm/(N*(N-1))))
		res.Z = (u - mn/2 - 0.5) / s
		res.P = math.Min(1, 2*distuv.UnitNormal.Survival(res.Z))
		switch {
		case method == Asymptotic:
		case len(ties) > 0:
			res.Note = "normal approximation (ties)"
		case !exactOK && (method == Exact || m <= 8):
			res.Note = "normal approximation (exact distribution too large)"
		}
	}
	return res
}

// mwuSF is P(U ≥ u) for the Mann–Whitney U of samples of sizes m ≤ n under H₀. It counts the
// m-subsets of the ranks 1 … m+n by their sum W (U = W − m(m+1)/2); every subset is equally
// likely.
func mwuSF(u, m, n int) float64 {
	N := m + n
	maxW := m*N - m*(m-1)/2
	// f[k][w]: number of k-subsets of the ranks seen so far with sum w.
	f := make([][]float64, m+1)
	for k := range f {
		f[k] = make([]float64, maxW+1)
	}
	f[0][0] = 1
	for j := 1; j <= N; j++ {
		for k := min(j, m); k >= 1; k-- {
			prev, cur := f[k-1], f[k]
			for w := maxW; w >= j; w-- {
				cur[w] += prev[w-j]
			}
		}
	}
	var tail, total float64
	offset := m * (m + 1) / 2
	for w, c := range f[m] {
		total += c
		if w-offset >= u {
			tail += c
		}
	}
	return tail / total
}

// wilcoxonExactMax is the largest number of non-zero differences tested exactly (SciPy's
// threshold; R's is n < 50).
const wilcoxonExactMax = 50

// wilcoxonExactLimit is the largest n the Exact method computes exactly.
const wilcoxonExactLimit = 200

// WilcoxonSignedRank is the two-sided Wilcoxon signed-rank test of H₀: the differences
// dᵢ = xᵢ − yᵢ are symmetric about 0, for paired samples. Zero differences are dropped
// (Wilcoxon's method, SciPy's zero_method='wilcox', R's default); the n remaining |dᵢ| are
// ranked (ties get average ranks) and
//
//	W⁺ = Σ_{dᵢ>0} rank(|dᵢ|),  W⁻ = n(n+1)/2 − W⁺,  Statistic = min(W⁺, W⁻).
//
// With n ≤ 50, no ties and no zeros, p = 2·min(P(W ≤ W⁺), P(W ≥ W⁺)) under the exact null
// distribution (all 2ⁿ sign patterns equally likely; Wilcoxon 1945), capped at 1. Otherwise
// the normal approximation with the tie correction and without a continuity correction
// (SciPy's default; R's wilcox.test(correct = FALSE)):
//
//	z = (min(W⁺, W⁻) − n(n+1)/4) / √(n(n+1)(2n+1)/24 − Σ(t³−t)/48),  p = 2·Φ(−|z|).
//
// At small n the exact test has a floor: with n = 5 the smallest two-sided p is
// 2/2⁵ = 0.0625, so it cannot reject at α = 0.05 however large the effect.
// NaN with a Note for unequal lengths, non-finite values, or no non-zero difference.
// WilcoxonSignedRankMethod chooses the method.
func WilcoxonSignedRank(x, y []float64) RankTestResult { return WilcoxonSignedRankMethod(x, y, Auto) }

// WilcoxonSignedRankMethod is WilcoxonSignedRank with the p-value method chosen: Exact
// (valid without ties or zeros; computed up to n = 200) or Asymptotic.
func WilcoxonSignedRankMethod(x, y []float64, method RankMethod) RankTestResult {
	res := RankTestResult{Statistic: math.NaN(), WPlus: math.NaN(), P: math.NaN(), Z: math.NaN()}
	if len(x) != len(y) {
		res.Note = fmt.Sprintf("paired samples differ in length (%d and %d)", len(x), len(y))
		return res
	}
	var d []float64
	zeros := 0
	for i := range x {
		v := x[i] - y[i]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			res.Note = "non-finite values"
			return res
		case v == 0:
			zeros++
		default:
			d = append(d, v)
		}
	}
	n := len(d)
	res.N = n
	if n == 0 {
		res.Note = fmt.Sprintf("all %d differences are zero", zeros)
		return res
	}
	abs := make([]float64, n)
	for i, v := range d {
		abs[i] = math.Abs(v)
	}
	r, ties := ranks(abs)
	var wPlus float64
	for i, v := range d {
		if v > 0 {
			wPlus += r[i]
		}
	}
	total := float64(n*(n+1)) / 2
	res.WPlus = wPlus
	res.Statistic = math.Min(wPlus, total-wPlus)
	exactOK := len(ties) == 0 && zeros == 0 && n <= wilcoxonExactLimit
	if exactOK && (method == Exact || method == Auto && n <= wilcoxonExactMax) {
		res.Exact = true
		cdf, sf := wilcoxonTails(int(wPlus), n)
		res.P = math.Min(1, 2*math.Min(cdf, sf))
		return res
	}
	var tieTerm float64
	for _, t := range ties {
		tieTerm += float64(t*t*t - t)
	}
	fn := float64(n)
	se := math.Sqrt(fn*(fn+1)*(2*fn+1)/24 - tieTerm/48)
	res.Z = (res.Statistic - fn*(fn+1)/4) / se
	res.P = math.Min(1, 2*distuv.UnitNormal.CDF(-math.Abs(res.Z)))
	var why []string
	if zeros > 0 {
		why = append(why, fmt.Sprintf("%d zero differences dropped", zeros))
	}
	if len(ties) > 0 {
		why = append(why, "ties")
	}
	if len(why) == 0 && method != Asymptotic {
		why = append(why, fmt.Sprintf("n = %d is above the exact method's limit", n))
	}
	if len(why) > 0 {
		res.Note = "normal approximation (" + strings.Join(why, ", ") + ")"
	}
	return res
}

// wilcoxonTails returns P(W ≤ w) and P(W ≥ w) for the signed-rank statistic W⁺ of n
// untied non-zero differences under H₀, counting the subsets of {1 … n} by their sum.
func wilcoxonTails(w, n int) (cdf, sf float64) {
	maxS := n * (n + 1) / 2
	c := make([]float64, maxS+1)
	c[0] = 1
	for k := 1; k <= n; k++ {
		for s := maxS; s >= k; s-- {
			c[s] += c[s-k]
		}
	}
	total := math.Ldexp(1, n)
	for s, v := range c {
		if s <= w {
			cdf += v
		}
		if s >= w {
			sf += v
		}
	}
	return cdf / total, sf / total
}
