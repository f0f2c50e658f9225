package stats

import (
	"math"
	"slices"
)

// Holm returns the Holm–Bonferroni adjusted p-values of a family of tests (Holm 1979, "A
// simple sequentially rejective multiple test procedure"; R's p.adjust(method = "holm")).
// With the m non-NaN p-values sorted ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎,
//
//	p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1) · p₍ⱼ₎),
//
// returned in the input order. Rejecting where p̃ ≤ α controls the family-wise error rate at
// α. NaN p-values (tests that could not be computed) stay NaN and, as in R, do not count in
// m. The input is not modified.
func Holm(p []float64) []float64 {
	out := make([]float64, len(p))
	var idx []int
	for i, v := range p {
		if math.IsNaN(v) {
			out[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	m := len(idx)
	running := 0.0
	for rank, i := range idx {
		running = math.Max(running, math.Min(1, float64(m-rank)*p[i]))
		out[i] = running
	}
	return out
}

// Significant reports whether p ≤ alpha; a NaN p-value is never significant.
func Significant(p, alpha float64) bool { return p <= alpha }
