package sim

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// benchRun simulates d of the default scenario under profile p with a fixed replica count,
// cutting an accounting window every 15 s as the runner does, and returns the arrivals.
func benchRun(b *testing.B, s *Sim, p load.Profile, replicas int, d time.Duration, seed uint64) int64 {
	ctx := context.Background()
	if err := s.Reset(ctx, framework.Episode{Seed: seed, Load: load.Load{Profile: p}, InitialReplicas: replicas, SLO: 50 * time.Millisecond}); err != nil {
		b.Fatal(err)
	}
	var n int64
	for el := time.Duration(0); el < d; el += 15 * time.Second {
		if err := s.Advance(ctx, 15*time.Second); err != nil {
			b.Fatal(err)
		}
		n += s.Cut().Totals.Arrivals
	}
	return n
}

// BenchmarkHigh30m is one seed-experiment run at the high profile: 30 simulated minutes at
// 2,600 req/s (4.68 M requests) on three replicas with dynamic batching. It reports
// simulated requests per second of CPU time (the loop is single-threaded).
func BenchmarkHigh30m(b *testing.B) {
	s, err := New(mustScenario(b))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := load.Builtin("high")
	var reqs int64
	cpu0 := cpuSeconds()
	for i := 0; b.Loop(); i++ {
		reqs += benchRun(b, s, p, 3, 30*time.Minute, uint64(i))
	}
	reportRate(b, reqs, cpu0)
}

// BenchmarkMixed30m is a seed-experiment run at the mixed profile on three replicas.
func BenchmarkMixed30m(b *testing.B) {
	s, err := New(mustScenario(b))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := load.Builtin("mixed")
	var reqs int64
	cpu0 := cpuSeconds()
	for i := 0; b.Loop(); i++ {
		reqs += benchRun(b, s, p, 3, 30*time.Minute, uint64(i))
	}
	reportRate(b, reqs, cpu0)
}

// BenchmarkHourAt200 is a simulated hour at 200 req/s on one replica (target: < 1 s).
func BenchmarkHourAt200(b *testing.B) {
	s, err := New(mustScenario(b))
	if err != nil {
		b.Fatal(err)
	}
	var reqs int64
	cpu0 := cpuSeconds()
	for i := 0; b.Loop(); i++ {
		reqs += benchRun(b, s, load.Constant{RPS: 200}, 1, time.Hour, uint64(i))
	}
	reportRate(b, reqs, cpu0)
}

// BenchmarkDayAt1000 is a simulated day at 1,000 req/s on two replicas (86.4 M requests);
// it reports the largest heap in use and the memory obtained from the OS, sampled every
// simulated hour (target: memory flat in simulated time, < 100 MB).
func BenchmarkDayAt1000(b *testing.B) {
	s, err := New(mustScenario(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var peakHeap, peakSys uint64
	var reqs int64
	cpu0 := cpuSeconds()
	for i := 0; b.Loop(); i++ {
		if err := s.Reset(ctx, framework.Episode{Seed: uint64(i), Load: load.Load{Profile: load.Constant{RPS: 1000}}, InitialReplicas: 2, SLO: 50 * time.Millisecond}); err != nil {
			b.Fatal(err)
		}
		for h := 0; h < 24; h++ {
			for k := 0; k < 240; k++ {
				if err := s.Advance(ctx, 15*time.Second); err != nil {
					b.Fatal(err)
				}
				reqs += s.Cut().Totals.Arrivals
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			peakSys = max(peakSys, ms.Sys)
		}
	}
	reportRate(b, reqs, cpu0)
	b.ReportMetric(float64(peakHeap)/(1<<20), "MB-heap")
	b.ReportMetric(float64(peakSys)/(1<<20), "MB-sys")
}

// BenchmarkReset is the cost of starting an episode (training resets thousands of times).
func BenchmarkReset(b *testing.B) {
	s, err := New(mustScenario(b))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := load.Builtin("mixed")
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := s.Reset(ctx, framework.Episode{Seed: uint64(i), Load: load.Load{Profile: p}, InitialReplicas: 2, SLO: 50 * time.Millisecond}); err != nil {
			b.Fatal(err)
		}
	}
}

// reportRate reports simulated requests per wall second and per CPU second of the process
// (the simulation is single-threaded; CPU time also counts the garbage collector).
func reportRate(b *testing.B, reqs int64, cpu0 float64) {
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "simreq/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(reqs)/cpu, "simreq/cpu-s")
		b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	}
}

func mustScenario(b *testing.B) Scenario {
	sc, ok := BuiltinScenario(DefaultScenario)
	if !ok {
		b.Fatal("default scenario missing")
	}
	return sc
}

// TestMemoryFlat checks that memory does not grow with simulated time: the live heap after
// 30 simulated minutes at 1,000 req/s and after 2 hours differ by less than 2 MB (nothing
// per request is kept once it completes). The benchmark BenchmarkDayAt1000 measures a day.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 7.2 M requests")
	}
	s, err := New(mustScenarioT(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Reset(ctx, framework.Episode{Seed: 1, Load: load.Load{Profile: load.Constant{RPS: 1000}}, InitialReplicas: 2, SLO: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	heapAfter := func(d time.Duration) uint64 {
		for el := time.Duration(0); el < d; el += 15 * time.Second {
			if err := s.Advance(ctx, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			s.Cut()
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	early := heapAfter(30 * time.Minute)
	late := heapAfter(90 * time.Minute)
	runtime.KeepAlive(s)
	if late > early+2<<20 {
		t.Fatalf("live heap grew from %d to %d bytes between 30 min and 2 h of simulated time", early, late)
	}
	t.Logf("live heap %0.1f MB after 30 min, %0.1f MB after 2 h", float64(early)/(1<<20), float64(late)/(1<<20))
}

func mustScenarioT(t *testing.T) Scenario {
	sc, ok := BuiltinScenario(DefaultScenario)
	if !ok {
		t.Fatal("default scenario missing")
	}
	return sc
}
