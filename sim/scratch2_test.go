package sim

import (
	"context"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

func BenchmarkScratchHigh(b *testing.B) {
	sc, _ := BuiltinScenario(DefaultScenario)
	s, _ := New(sc)
	p, _ := load.Builtin("high")
	ctx := context.Background()
	for b.Loop() {
		s.Reset(ctx, framework.Episode{Seed: 1, Load: load.Load{Profile: p}, InitialReplicas: 3, SLO: 50 * time.Millisecond})
		for i := 0; i < 120; i++ {
			s.Advance(ctx, 15*time.Second)
			s.Cut()
		}
	}
}
