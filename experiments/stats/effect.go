package stats

import (
	"math"
)

// HedgesJ is Hedges' exact small-sample correction factor for a standardised mean
// difference with df degrees of freedom (Hedges 1981, eq. 6e; Hedges & Olkin 1985):
//
//	J(df) = Γ(df/2) / (√(df/2) · Γ((df−1)/2)),
//
// well approximated by 1 − 3/(4·df − 1). NaN for df ≤ 1.
func HedgesJ(df float64) float64 {
	if !(df > 1) {
		return math.NaN()
	}
	a, _ := math.Lgamma(df / 2)
	b, _ := math.Lgamma((df - 1) / 2)
	return math.Exp(a-b) / math.Sqrt(df/2)
}

// HedgesG is Hedges' g for two independent samples: Cohen's d with the pooled standard
// deviation, corrected for small-sample bias,
//
//	s_p = √(((nₓ−1)s²ₓ + (nᵧ−1)s²ᵧ) / (nₓ+nᵧ−2)),  g = J(nₓ+nᵧ−2) · (x̄ − ȳ) / s_p
//
// (Hedges 1981; Lakens 2013, "Calculating and reporting effect sizes", eq. 1 and 4, which
// uses the approximate J). NaN when a sample has fewer than 2 values, nₓ + nᵧ < 4, a value
// is not finite, or s_p = 0 (the standardised difference is undefined).
func HedgesG(x, y []float64) float64 {
	nx, ny := len(x), len(y)
	if nx < 2 || ny < 2 || nx+ny < 4 || !finite(x) || !finite(y) {
		return math.NaN()
	}
	sx, sy := StdDev(x), StdDev(y)
	df := float64(nx + ny - 2)
	sp := math.Sqrt((float64(nx-1)*sx*sx + float64(ny-1)*sy*sy) / df)
	if sp == 0 {
		return math.NaN()
	}
	return HedgesJ(df) * (Mean(x) - Mean(y)) / sp
}

// HedgesGPaired is the paired (within-subject) Hedges' g, g_z: the mean difference
// standardised by the standard deviation of the differences dᵢ = xᵢ − yᵢ, corrected with
// J(n − 1),
//
//	d_z = d̄ / s_d = t / √n,  g_z = J(n − 1) · d_z
//
// (Lakens 2013, eq. 6; Cohen 1988 §2.3.5). d_z is the effect the paired t-test and its power
// depend on. It is not comparable with the independent-samples g when pairs are strongly
// correlated (as common random numbers make them): d_z grows as the pairing removes
// variance. Lakens' d_av (mean difference over the average of the two SDs) is the
// alternative for comparing across designs. NaN for unequal lengths, n < 3, non-finite
// values or s_d = 0.
func HedgesGPaired(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 3 {
		return math.NaN()
	}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - y[i]
	}
	if !finite(d) {
		return math.NaN()
	}
	sd := StdDev(d)
	if sd == 0 {
		return math.NaN()
	}
	return HedgesJ(float64(len(d)-1)) * Mean(d) / sd
}

// CohenDz is the paired standardised mean difference d_z = d̄ / s_d of dᵢ = xᵢ − yᵢ without
// the small-sample correction (the effect size R's power.t.test(type = "paired") takes as
// delta/sd). NaN for unequal lengths, n < 2, non-finite values or s_d = 0.
func CohenDz(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - y[i]
	}
	if !finite(d) {
		return math.NaN()
	}
	sd := StdDev(d)
	if sd == 0 {
		return math.NaN()
	}
	return Mean(d) / sd
}

// CliffsDelta is Cliff's dominance statistic (Cliff 1993, "Dominance statistics: ordinal
// analyses to answer ordinal questions", Psychological Bulletin 114(3)):
//
//	δ = (#{(i,j): xᵢ > yⱼ} − #{(i,j): xᵢ < yⱼ}) / (nₓ·nᵧ),
//
// in [−1, 1]; δ = 2U₁/(nₓnᵧ) − 1 with U₁ the Mann–Whitney statistic of x. NaN for an empty
// sample or non-finite values.
func CliffsDelta(x, y []float64) float64 {
	if len(x) == 0 || len(y) == 0 || !finite(x) || !finite(y) {
		return math.NaN()
	}
	var dom int
	for _, a := range x {
		for _, b := range y {
			switch {
			case a > b:
				dom++
			case a < b:
				dom--
			}
		}
	}
	return float64(dom) / float64(len(x)*len(y))
}

// CliffsDeltaMagnitude labels |δ| with the thresholds of Romano et al. (2006), "Appropriate
// statistics for ordinal level data": negligible < 0.147 ≤ small < 0.33 ≤ medium < 0.474 ≤
// large. Empty for NaN.
func CliffsDeltaMagnitude(delta float64) string {
	a := math.Abs(delta)
	switch {
	case math.IsNaN(a):
		return ""
	case a < 0.147:
		return "negligible"
	case a < 0.33:
		return "small"
	case a < 0.474:
		return "medium"
	}
	return "large"
}

// HedgesGMagnitude labels |g| with Cohen's (1988) conventions: negligible < 0.2 ≤ small <
// 0.5 ≤ medium < 0.8 ≤ large. Empty for NaN.
func HedgesGMagnitude(g float64) string {
	a := math.Abs(g)
	switch {
	case math.IsNaN(a):
		return ""
	case a < 0.2:
		return "negligible"
	case a < 0.5:
		return "small"
	case a < 0.8:
		return "medium"
	}
	return "large"
}
