package sim

import (
	"context"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// validationScenario is a one-GPU cluster stripped to a textbook queue: no CPU stage, no
// batching (max_batch_size 1), no GPU contention (every batch at full speed), service time
// t_fixed times the chosen jitter, c instances sharing one queue in one pod.
func validationScenario(t testing.TB, service time.Duration, jitter string, instances int) Scenario {
	t.Helper()
	sc, err := ScenarioFromMap(map[string]any{
		"base": DefaultScenario,
		"model": map[string]any{
			"t_min": "0s", "t_fixed": service.String(), "t_per_image": "0s",
			"jitter": jitter, "cpu_per_request": "0s",
		},
		"serving":     map[string]any{"max_batch_size": 1, "max_queue_delay": "0s", "instance_count": instances, "max_queue_size": 0},
		"gpu_sharing": map[string]any{"contention": false},
		"client":      map[string]any{"timeout": "0s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// run simulates d in steps of step and returns the summed totals and merged latencies.
func run(t testing.TB, s *Sim, d, step time.Duration) (framework.Totals, *framework.Histogram) {
	t.Helper()
	ctx := context.Background()
	var tot framework.Totals
	h := framework.NewHistogram()
	for el := time.Duration(0); el < d; el += step {
		if err := s.Advance(ctx, step); err != nil {
			t.Fatal(err)
		}
		w := s.Cut()
		tot.Add(w.Totals)
		h.Merge(w.Latency)
	}
	return tot, h
}

func newEpisode(t testing.TB, sc Scenario, seed uint64, p load.Profile, replicas int) *Sim {
	t.Helper()
	s, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(context.Background(), framework.Episode{Seed: seed, Load: load.Load{Profile: p}, InitialReplicas: replicas, SLO: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return s
}
