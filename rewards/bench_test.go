package rewards

import (
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// BenchmarkLatencyTerm measures the latency term on a step of 3 000 completions (about
// 200 req/s over 15 s): it runs once per decision during training.
func BenchmarkLatencyTerm(b *testing.B) {
	lat := make([]time.Duration, 3000)
	for i := range lat {
		lat[i] = time.Duration(5+i%60) * time.Millisecond
	}
	s := framework.StepInfo{Window: window(framework.Totals{Arrivals: 3000, Completions: 3000}, lat...), SLO: 50 * time.Millisecond}
	l, err := NewLatency(DefaultLatencyConfig(), 50*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		l.Value(s)
	}
}
