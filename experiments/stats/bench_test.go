package stats

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkCompare measures one KPI comparison at the seed experiment's N = 5 (a report
// makes one per KPI × profile × policy).
func BenchmarkCompare(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	p, q := simulatePairs(rng, 5, 1)
	for b.Loop() {
		Compare(p, q, 0.05)
	}
}

// BenchmarkCompareN30 measures a comparison at N = 30 (exact rank distributions are larger).
func BenchmarkCompareN30(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	p, q := simulatePairs(rng, 30, 0.3)
	for b.Loop() {
		Compare(p, q, 0.05)
	}
}
