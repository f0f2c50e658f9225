package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// erlangC is the probability that an arrival waits in an M/M/c queue with offered load
// a = λ/μ (Erlang's C formula):
//
//	C(c, a) = (aᶜ/c!) · c/(c − a) / ( Σ_{k<c} aᵏ/k! + (aᶜ/c!) · c/(c − a) ).
func erlangC(c int, a float64) float64 {
	sum, term := 0.0, 1.0 // term = aᵏ/k!
	for k := 0; k < c; k++ {
		sum += term
		term *= a / float64(k+1)
	}
	top := term * float64(c) / (float64(c) - a)
	return top / (sum + top)
}

// TestQueueingTheory checks the serving path against closed-form mean sojourn times, with
// batching and GPU contention off, over ≥ 10⁶ requests at utilisation ≤ 0.8:
//
//	M/M/1:  W = 1 / (μ − λ)
//	M/D/1:  W = 1/μ + ρ / (2μ(1 − ρ))            (Pollaczek–Khinchine with Var S = 0)
//	M/M/c:  W = 1/μ + C(c, λ/μ) / (cμ − λ)       (Erlang C; c instances, one queue)
//
// With μ = 1/(1 ms) the relative standard error of the mean over 10⁶ M/M/1 customers at
// ρ = 0.7 is about 0.6 % (batch-means asymptotics), so 3 % is a > 5σ bound.
func TestQueueingTheory(t *testing.T) {
	const service = time.Millisecond
	mu := 1 / service.Seconds()
	tests := []struct {
		name      string
		jitter    string
		instances int
		rho       float64
		wantW     func(lambda float64) float64 // seconds
	}{
		{"M/M/1", JitterExponential, 1, 0.7, func(l float64) float64 { return 1 / (mu - l) }},
		{"M/D/1", JitterDeterministic, 1, 0.8, func(l float64) float64 {
			rho := l / mu
			return 1/mu + rho/(2*mu*(1-rho))
		}},
		{"M/M/3", JitterExponential, 3, 0.75, func(l float64) float64 {
			return 1/mu + erlangC(3, l/mu)/(3*mu-l)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lambda := tc.rho * mu * float64(tc.instances)
			const n = 1_000_000
			d := time.Duration(math.Ceil(float64(n)/lambda/60*1.02)) * time.Minute
			s := newEpisode(t, validationScenario(t, service, tc.jitter, tc.instances), 11, load.Constant{RPS: lambda}, 1)
			tot, h := run(t, s, d, time.Minute)
			if tot.Completions < n {
				t.Fatalf("only %d completions, want ≥ %d", tot.Completions, n)
			}
			want := tc.wantW(lambda) * 1000
			got := h.MeanMS()
			if rel := math.Abs(got/want - 1); rel > 0.03 {
				t.Errorf("mean sojourn %.4f ms, theory %.4f ms (%.2f %% off, want ≤ 3 %%)", got, want, 100*rel)
			}
			t.Logf("%s: λ=%.0f/s, %d requests, mean %.4f ms vs theory %.4f ms (%.2f %%)", tc.name, lambda, tot.Completions, got, want, 100*(got/want-1))

			// GPU busy fraction = offered load / capacity. With contention off the GPU is busy
			// while any instance runs, so for c instances it is P(N ≥ 1); for c = 1 that is ρ.
			busy := tot.GPUBusySeconds / d.Seconds()
			wantBusy := tc.rho
			if tc.instances > 1 {
				// P(N = 0) for M/M/c: 1 / (Σ_{k<c} aᵏ/k! + aᶜ/c! · c/(c−a)).
				a := lambda / mu
				sum, term := 0.0, 1.0
				for k := 0; k < tc.instances; k++ {
					sum += term
					term *= a / float64(k+1)
				}
				wantBusy = 1 - 1/(sum+term*float64(tc.instances)/(float64(tc.instances)-a))
			}
			if math.Abs(busy/wantBusy-1) > 0.02 {
				t.Errorf("GPU busy fraction %.4f, want %.4f", busy, wantBusy)
			}
			// Little's law: time-average number in system = arrival rate × mean sojourn.
			st := s.Stats()
			L := st.InflightSeconds / d.Seconds()
			lw := float64(tot.Arrivals) / d.Seconds() * got / 1000
			if math.Abs(L/lw-1) > 0.01 {
				t.Errorf("Little's law: L = %.4f, λW = %.4f", L, lw)
			}
			// Queue time = sojourn − service: mean queue time = W − 1/μ (E[S] = t_fixed here).
			wq := tot.QueueSeconds / float64(tot.Completions) * 1000
			if math.Abs(wq-(want-service.Seconds()*1000)) > 0.03*want {
				t.Errorf("mean queue time %.4f ms, theory %.4f ms", wq, want-service.Seconds()*1000)
			}
		})
	}
}

// TestCPUStageQueueing checks the pod's CPU stage (cpu_per_request w on a 1-core limit,
// GPU time negligible) against theory at ρ = λw = 0.7 over ≥ 10⁶ requests:
//
//	one HTTP thread:  M/D/1, W = w + ρw / (2(1 − ρ))
//	many threads:     M/G/1 processor sharing, W = w / (1 − ρ)
func TestCPUStageQueueing(t *testing.T) {
	const w = time.Millisecond
	for _, tc := range []struct {
		name    string
		threads int
		wantW   float64 // ms
	}{
		{"FCFS (1 thread)", 1, 1 + 0.7*1/(2*0.3)},
		{"processor sharing", 10000, 1 / 0.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := ScenarioFromMap(map[string]any{
				"base":        DefaultScenario,
				"workload":    map[string]any{"cpu_request": "1", "cpu_limit": "1"},
				"model":       map[string]any{"t_min": "0s", "t_fixed": "1ns", "t_per_image": "0s", "jitter": "deterministic", "cpu_per_request": w.String()},
				"serving":     map[string]any{"max_batch_size": 1, "max_queue_delay": "0s", "instance_count": 1, "http_threads": tc.threads},
				"gpu_sharing": map[string]any{"contention": false},
				"client":      map[string]any{"timeout": "0s"},
			})
			if err != nil {
				t.Fatal(err)
			}
			s := newEpisode(t, sc, 13, load.Constant{RPS: 700}, 1)
			tot, h := run(t, s, 25*time.Minute, time.Minute)
			if tot.Completions < 1_000_000 {
				t.Fatalf("%d completions", tot.Completions)
			}
			got := h.MeanMS() - 1e-6 // less the 1 ns of GPU time
			if rel := math.Abs(got/tc.wantW - 1); rel > 0.03 {
				t.Errorf("mean sojourn %.4f ms, theory %.4f ms (%.2f %% off)", got, tc.wantW, 100*rel)
			}
			t.Logf("%s: mean %.4f ms vs theory %.4f ms", tc.name, got, tc.wantW)
			// CPU used = arrivals × w (all served): ρ = 0.7 core on average.
			if cores := tot.CPUSeconds / (25 * 60); math.Abs(cores-0.7) > 0.01 {
				t.Errorf("CPU use %.4f cores, want 0.7", cores)
			}
		})
	}
}

// TestGPUTimeSlicing checks the contention model: two pods on one GPU, both saturated with
// batch-1 deterministic work t, share the GPU equally and lose (1 − efficiency): the GPU
// completes efficiency/t requests per second in all, half each.
func TestGPUTimeSlicing(t *testing.T) {
	sc, err := ScenarioFromMap(map[string]any{
		"base":        DefaultScenario,
		"model":       map[string]any{"t_min": "0s", "t_fixed": "1ms", "t_per_image": "0s", "jitter": "deterministic", "cpu_per_request": "0s"},
		"serving":     map[string]any{"max_batch_size": 1, "max_queue_delay": "0s", "instance_count": 1, "max_queue_size": 50},
		"gpu_sharing": map[string]any{"contention": true, "timeslice_efficiency": 0.8},
		"routing":     "round_robin",
		"client":      map[string]any{"timeout": "0s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Offer 2,000 req/s: capacity is 0.8 / 1 ms = 800 req/s, so both pods stay busy.
	s := newEpisode(t, sc, 3, load.Constant{RPS: 2000}, 2)
	tot, _ := run(t, s, 100*time.Second, 10*time.Second)
	thr := float64(tot.Completions) / 100
	if math.Abs(thr/800-1) > 0.01 {
		t.Errorf("throughput %.1f req/s, want 800 (efficiency 0.8 × 1/1 ms)", thr)
	}
	if busy := tot.GPUBusySeconds / 100; math.Abs(busy-1) > 1e-6 {
		t.Errorf("GPU busy %.6f, want 1", busy)
	}
	// One pod alone keeps full speed: 1,000 req/s.
	s = newEpisode(t, sc, 3, load.Constant{RPS: 2000}, 1)
	tot, _ = run(t, s, 100*time.Second, 10*time.Second)
	if thr := float64(tot.Completions) / 100; math.Abs(thr/1000-1) > 0.01 {
		t.Errorf("single pod throughput %.1f req/s, want 1000", thr)
	}
}

// TestBatchingThroughput checks dynamic batching under saturation: with a full queue every
// batch has max_batch_size b, so throughput = b / t(b) with t(b) = t_fixed + t_per_image·b.
func TestBatchingThroughput(t *testing.T) {
	sc, err := ScenarioFromMap(map[string]any{
		"base":    DefaultScenario,
		"model":   map[string]any{"t_min": "0s", "t_fixed": "1ms", "t_per_image": "250us", "jitter": "deterministic", "cpu_per_request": "0s"},
		"serving": map[string]any{"max_batch_size": 8, "max_queue_delay": "0s", "instance_count": 1, "max_queue_size": 100},
		"client":  map[string]any{"timeout": "0s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// t(8) = 1 + 0.25·8 = 3 ms → 8 / 3 ms = 2,666.7 req/s; offer 5,000.
	s := newEpisode(t, sc, 5, load.Constant{RPS: 5000}, 1)
	tot, _ := run(t, s, 60*time.Second, 10*time.Second)
	if thr := float64(tot.Completions) / 60; math.Abs(thr/(8/0.003)-1) > 0.01 {
		t.Errorf("throughput %.1f req/s, want %.1f", thr, 8/0.003)
	}
	if b := float64(tot.BatchedRequests) / float64(tot.Batches); math.Abs(b-8) > 0.01 {
		t.Errorf("mean batch %.3f, want 8", b)
	}
	if tot.Drops == 0 {
		t.Error("an overloaded bounded queue must reject requests")
	}
}

// TestDynamicBatcher checks Triton's batching rules with deterministic arrivals every 10 ms,
// no CPU stage and a GPU that takes 1 µs per batch (an instance is always free):
//
//	max batch 4, delay 25 ms:           the oldest waits 25 ms → batches of 3 (queued 25, 15,
//	                                    5 ms: mean 15 ms)
//	max batch 4, delay 100 ms:          the 4th arrival completes a batch → batches of 4
//	                                    (queued 30, 20, 10, 0 ms: mean 15 ms)
//	preferred [2], max 4, delay 100 ms: a preferred size is sent at once → batches of 2
//	                                    (queued 10, 0 ms: mean 5 ms)
//	delay 0:                            each request goes alone (mean queue 0)
func TestDynamicBatcher(t *testing.T) {
	for _, tc := range []struct {
		name      string
		serving   map[string]any
		wantBatch float64
		wantQueue float64 // ms
	}{
		{"delay", map[string]any{"max_batch_size": 4, "max_queue_delay": "25ms"}, 3, 15},
		{"max batch", map[string]any{"max_batch_size": 4, "max_queue_delay": "100ms"}, 4, 15},
		{"preferred", map[string]any{"max_batch_size": 4, "max_queue_delay": "100ms", "preferred_batch_sizes": []any{2}}, 2, 5},
		{"no delay", map[string]any{"max_batch_size": 4, "max_queue_delay": "0s"}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := ScenarioFromMap(map[string]any{
				"base":    DefaultScenario,
				"model":   map[string]any{"t_min": "0s", "t_fixed": "1us", "t_per_image": "0s", "jitter": "deterministic", "cpu_per_request": "0s"},
				"serving": tc.serving,
				"client":  map[string]any{"timeout": "0s"},
			})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(sc)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Reset(context.Background(), framework.Episode{Seed: 1, InitialReplicas: 1,
				Load: load.Load{Profile: load.Constant{RPS: 100}, Arrivals: load.Arrivals{Kind: load.Deterministic}}}); err != nil {
				t.Fatal(err)
			}
			// 1.2 s of arrivals (120, a multiple of 2, 3 and 4), then time to drain.
			if err := s.Advance(context.Background(), 1205*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			w := s.Cut()
			tt := w.Totals
			if b := float64(tt.BatchedRequests) / float64(tt.Batches); math.Abs(b-tc.wantBatch) > 0.05 {
				t.Errorf("mean batch %.3f, want %v", b, tc.wantBatch)
			}
			if q := tt.QueueSeconds / float64(tt.Completions) * 1000; math.Abs(q-tc.wantQueue) > 0.3 {
				t.Errorf("mean queue time %.3f ms, want %v", q, tc.wantQueue)
			}
		})
	}
}
