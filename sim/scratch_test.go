package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework/load"
)

func TestScratchTable(t *testing.T) {
	sc := mustBuiltin(t)
	for _, prof := range []string{"low", "high", "mixed"} {
		for r := 1; r <= 4; r++ {
			s := newEpisode(t, sc, 1, mustProfile(t, prof), r)
			tot, h := run(t, s, 30*time.Minute, 15*time.Second)
			fmt.Printf("| %s | %d | %.0f | %.2f | %.1f | %.1f | %.2f %% | %.2f | %.2f | %.1f |\n", prof, r, float64(tot.Completions)/1800, h.QuantileMS(0.5), h.QuantileMS(0.95), h.QuantileMS(0.99),
				100*float64(tot.Drops+tot.SLOViolations+tot.Failures)/float64(tot.Arrivals), tot.GPUBusySeconds/1800, tot.CPUSeconds/tot.CPURequestSeconds, float64(tot.BatchedRequests)/float64(tot.Batches))
		}
	}
}

func TestScratchCapacity(t *testing.T) {
	sc := mustBuiltin(t)
	for r := 1; r <= 4; r++ {
		for rate := 500.0; rate <= 5000; rate += 100 {
			s := newEpisode(t, sc, 1, load.Constant{RPS: rate}, r)
			tot, h := run(t, s, 5*time.Minute, time.Minute)
			viol := float64(tot.Drops+tot.SLOViolations+tot.Failures) / float64(tot.Arrivals)
			if viol > 0.01 || h.QuantileMS(0.95) > 50 {
				fmt.Printf("replicas %d: first rate with > 1%% QoS violations or p95 > 50 ms: %.0f (p95 %.1f, viol %.3f, gpu %.2f)\n", r, rate, h.QuantileMS(0.95), viol, tot.GPUBusySeconds/300)
				break
			}
		}
	}
}
