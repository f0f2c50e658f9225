package sim

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

func TestScratch(t *testing.T) {
	sc, _ := BuiltinScenario(DefaultScenario)
	for _, prof := range []string{"low", "high", "mixed"} {
		for _, reps := range []int{1, 2, 3, 4} {
			s, err := New(sc)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := load.Builtin(prof)
			ctx := context.Background()
			start := time.Now()
			if err := s.Reset(ctx, framework.Episode{Seed: 1, Load: load.Load{Profile: p}, InitialReplicas: reps, SLO: 50 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			var tot framework.Totals
			h := framework.NewHistogram()
			for i := 0; i < 120; i++ {
				s.Advance(ctx, 15*time.Second)
				w := s.Cut()
				tot.Add(w.Totals)
				h.Merge(w.Latency)
			}
			el := time.Since(start)
			fmt.Printf("%-5s r=%d arr=%d compl=%d drops=%d fail=%d slo=%d p50=%.2f p95=%.2f p99=%.2f mean=%.2f gpuBusy=%.2f cpu/pod=%.2f batch=%.2f ready=%.1f  wall=%v ev=%d\n",
				prof, reps, tot.Arrivals, tot.Completions, tot.Drops, tot.Failures, tot.SLOViolations, h.QuantileMS(0.5), h.QuantileMS(0.95), h.QuantileMS(0.99), h.MeanMS(),
				tot.GPUBusySeconds/1800, tot.CPUSeconds/tot.ReplicaSeconds, float64(tot.BatchedRequests)/float64(tot.Batches), tot.ReadyReplicaSeconds/1800, el, s.Stats().Events)
		}
	}
}
