package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// fixedStartup is the default scenario with deterministic start-up: image pull 1 s, model
// load 4 s, readiness probe every 5 s from container start.
func fixedStartup(t *testing.T, extra map[string]any) Scenario {
	t.Helper()
	m := map[string]any{
		"base": DefaultScenario,
		"workload": map[string]any{
			"image_pull":              map[string]any{"kind": "constant", "mean": "1s"},
			"model_load":              map[string]any{"kind": "constant", "mean": "4s"},
			"readiness_initial_delay": "0s",
			"readiness_period":        "5s",
		},
	}
	sc, err := ScenarioFromMap(MergeMaps(m, extra))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func advance(t *testing.T, s *Sim, d time.Duration) {
	t.Helper()
	if err := s.Advance(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func podByName(v framework.ClusterView, name string) (framework.PodView, bool) {
	for _, p := range v.Pods {
		if p.Name == name {
			return p, true
		}
	}
	return framework.PodView{}, false
}

func TestPodLifecycle(t *testing.T) {
	s := newEpisode(t, fixedStartup(t, nil), 1, load.Constant{RPS: 100}, 1)
	advance(t, s, 10*time.Second)
	s.SetReplicas(2)
	v := s.ClusterView(30*time.Second, 1, 4)
	if len(v.Pods) != 2 {
		t.Fatalf("%d pods, want 2", len(v.Pods))
	}
	newName := v.Pods[1].Name
	// Created and bound at 10 s; container starts at 11 s; model loaded at 15 s; probes at
	// 11 s, 16 s, ... so Ready at 16 s.
	steps := []struct {
		at    time.Duration
		phase framework.PodPhase
		ready bool
	}{
		{10*time.Second + 500*time.Millisecond, framework.PodPending, false},
		{12 * time.Second, framework.PodRunning, false},
		{15*time.Second + 900*time.Millisecond, framework.PodRunning, false},
		{16 * time.Second, framework.PodRunning, true},
	}
	for _, st := range steps {
		advance(t, s, st.at-time.Duration(s.now))
		p, ok := podByName(s.ClusterView(30*time.Second, 1, 4), newName)
		if !ok {
			t.Fatalf("pod %s vanished", newName)
		}
		if p.Phase != st.phase || p.Ready != st.ready {
			t.Fatalf("at %s: phase %s ready %v, want %s %v", st.at, p.Phase, p.Ready, st.phase, st.ready)
		}
		if !p.StartTime.Equal(framework.SimEpoch.Add(10 * time.Second)) {
			t.Fatalf("StartTime %s, want epoch+10s", p.StartTime)
		}
	}
	p, _ := podByName(s.ClusterView(30*time.Second, 1, 4), newName)
	if want := framework.SimEpoch.Add(16 * time.Second); !p.ReadyTransition.Equal(want) {
		t.Fatalf("ReadyTransition %s, want %s", p.ReadyTransition, want)
	}
	if rc := s.Replicas(); rc.Ready != 2 || rc.Desired != 2 {
		t.Fatalf("replicas %+v", rc)
	}
}

func TestSchedulerPendingAndVictims(t *testing.T) {
	// Four nvidia.com/gpu shares: six replicas leave two Pending; scaling to three deletes the
	// unscheduled pods first (ReplicaSet victim order), then the newest scheduled one.
	s := newEpisode(t, fixedStartup(t, nil), 1, load.Constant{RPS: 100}, 2)
	advance(t, s, time.Second)
	s.SetReplicas(6)
	rc := s.Replicas()
	if rc.Pending != 2 || rc.Starting != 2 || rc.Ready != 2 {
		t.Fatalf("after scale-up to 6: %+v, want 2 pending, 2 starting, 2 ready", rc)
	}
	advance(t, s, 30*time.Second)
	if rc := s.Replicas(); rc.Pending != 2 || rc.Ready != 4 {
		t.Fatalf("after start-up: %+v, want 2 pending and 4 ready", rc)
	}
	s.SetReplicas(3)
	rc = s.Replicas()
	// The two Pending pods go at once; of the four ready ones the newest terminates (with
	// no request in flight it is gone at once, or it finishes its requests first).
	if rc.Pending != 0 || rc.Ready != 3 {
		t.Fatalf("after scale-down to 3: %+v, want 0 pending, 3 ready", rc)
	}
	v := s.ClusterView(30*time.Second, 1, 4)
	for _, p := range v.Pods {
		if !p.Deleting && (p.Name == "mobilenetv4-r1-00006" || p.Name == "mobilenetv4-r1-00005" || p.Name == "mobilenetv4-r1-00004") {
			t.Errorf("pod %s survives; the unscheduled 5, 6 and the newest scheduled 4 go first", p.Name)
		}
	}
}

func TestGPUMemoryFailure(t *testing.T) {
	// A 2 GiB card holds two pods of 512 MiB context + 256 MiB engine (1.5 GiB); the third
	// pod's model load runs out of GPU memory and the pod fails, again and again.
	sc := fixedStartup(t, map[string]any{"nodes": []any{map[string]any{
		"name": "small", "cpu": "8", "memory": "32Gi",
		"gpus": []any{map[string]any{"model": "test", "memory": "2Gi", "time_slicing_replicas": 4}},
	}}})
	s := newEpisode(t, sc, 1, load.Constant{RPS: 100}, 2)
	s.SetReplicas(3)
	advance(t, s, 30*time.Second)
	st := s.Stats()
	if st.PodsFailed < 2 {
		t.Fatalf("%d pods failed, want the third pod to keep failing", st.PodsFailed)
	}
	if rc := s.Replicas(); rc.Ready != 2 {
		t.Fatalf("ready %d, want 2", rc.Ready)
	}
	failed := 0
	for _, p := range s.ClusterView(30*time.Second, 1, 4).Pods {
		if p.Phase == framework.PodFailed {
			failed++
		}
	}
	if failed == 0 || failed > sc.Workload.FailedPodHistory {
		t.Fatalf("%d Failed pods in the view, want 1..%d", failed, sc.Workload.FailedPodHistory)
	}
}

func TestTerminationGrace(t *testing.T) {
	for _, tc := range []struct {
		grace        string
		wantFailures bool
	}{{"30s", false}, {"0s", true}} {
		sc := fixedStartup(t, map[string]any{"workload": map[string]any{"termination_grace": tc.grace}})
		// 2,000 req/s on two pods keeps requests in flight in both at any instant.
		s := newEpisode(t, sc, 4, load.Constant{RPS: 2000}, 2)
		advance(t, s, 10*time.Second)
		s.Cut()
		s.SetReplicas(1)
		advance(t, s, 10*time.Second)
		w := s.Cut()
		if got := w.Totals.Failures > 0; got != tc.wantFailures {
			t.Errorf("grace %s: %d failures, want failures: %v", tc.grace, w.Totals.Failures, tc.wantFailures)
		}
		if rc := s.Replicas(); rc.Ready != 1 || rc.Terminating != 0 {
			t.Errorf("grace %s: %+v, want one ready pod and none terminating", tc.grace, rc)
		}
	}
}

func TestRollingUpdateOnCPURequest(t *testing.T) {
	s := newEpisode(t, fixedStartup(t, nil), 2, load.Constant{RPS: 300}, 2)
	advance(t, s, 5*time.Second)
	if err := s.SetCPURequest(1000); err != nil {
		t.Fatal(err)
	}
	// desired 2: maxSurge ⌈0.5⌉ = 1, maxUnavailable ⌊0.5⌋ = 0: ready pods never drop below 2.
	for i := 0; i < 120; i++ {
		advance(t, s, time.Second)
		if rc := s.Replicas(); rc.Ready < 2 {
			t.Fatalf("at %s only %d ready during the rollout", time.Duration(s.now), rc.Ready)
		}
		if n := len(s.pods); n > 3 {
			t.Fatalf("%d pods exist, above desired + maxSurge = 3", n)
		}
	}
	v := s.ClusterView(30*time.Second, 1, 4)
	if len(v.Pods) != 2 {
		t.Fatalf("%d pods after the rollout, want 2", len(v.Pods))
	}
	for _, p := range v.Pods {
		if p.CPURequestMilli != 1000 || !p.Ready {
			t.Fatalf("pod %s: request %dm ready %v, want 1000m and ready", p.Name, p.CPURequestMilli, p.Ready)
		}
	}
	if v.CPURequestMilli != 1000 {
		t.Fatalf("template request %dm", v.CPURequestMilli)
	}
	if err := s.SetCPURequest(100_000); err == nil {
		t.Fatal("a request that fits no node must be an error")
	}
}

func TestBatchingReload(t *testing.T) {
	// Two pods at 1,000 req/s each (80 % of their CPU) share the GPU and batch.
	s := newEpisode(t, fixedStartup(t, nil), 3, load.Constant{RPS: 2000}, 2)
	advance(t, s, 10*time.Second)
	s.Cut()
	b := s.Batching()
	b.MaxBatchSize = 1
	b.MaxQueueSize = 10
	if err := s.SetBatching(b); err != nil {
		t.Fatal(err)
	}
	// The reload takes model_load = 4 s: until then the pod batches as before.
	advance(t, s, 3*time.Second)
	w := s.Cut()
	if avg := float64(w.Totals.BatchedRequests) / float64(w.Totals.Batches); avg <= 1.2 {
		t.Fatalf("mean batch %.2f before the reload completed, want the old batching (> 1.2)", avg)
	}
	advance(t, s, 2*time.Second)
	s.Cut()
	advance(t, s, 5*time.Second)
	w = s.Cut()
	if avg := float64(w.Totals.BatchedRequests) / float64(w.Totals.Batches); avg != 1 {
		t.Fatalf("mean batch %.2f after the reload, want 1", avg)
	}
	if st := s.Stats(); st.Reloads != 2 {
		t.Fatalf("%d reloads, want one per pod (2)", st.Reloads)
	}
	if err := s.SetBatching(framework.BatchingSettings{MaxBatchSize: 0, InstanceCount: 1}); err == nil {
		t.Fatal("max_batch_size 0 must be rejected")
	}
}

func TestClientTimeout(t *testing.T) {
	// One pod's CPU limit serves at most 1,250 req/s; 2,000 req/s overload it and the client
	// gives up after 1 s: requests are dropped, no completion is slower than the timeout,
	// the pod's CPU runs at its 500 m limit, and every arrival is accounted for.
	s := newEpisode(t, fixedStartup(t, nil), 5, load.Constant{RPS: 2000}, 1)
	tot, h := run(t, s, time.Minute, 10*time.Second)
	if tot.Drops == 0 {
		t.Fatal("no drops under overload")
	}
	if max := h.QuantileMS(1); max > 1000*1.001 {
		t.Fatalf("slowest completion %.1f ms, above the 1 s client timeout", max)
	}
	if thr := float64(tot.Completions) / 60; thr > 1250 {
		t.Fatalf("throughput %.0f req/s above the CPU capacity of 1250", thr)
	}
	if cores := tot.CPUSeconds / 60; math.Abs(cores-0.5) > 0.01 {
		t.Fatalf("CPU use %.3f cores, want the 0.5-core limit", cores)
	}
	if tot.Arrivals != tot.Completions+tot.Drops+tot.Failures+int64(s.inflight) {
		t.Fatalf("arrivals %d ≠ completions %d + drops %d + failures %d + in flight %d",
			tot.Arrivals, tot.Completions, tot.Drops, tot.Failures, s.inflight)
	}
}

func TestNoReadyPodDrops(t *testing.T) {
	s := newEpisode(t, fixedStartup(t, nil), 6, load.Constant{RPS: 100}, 0)
	tot, _ := run(t, s, 10*time.Second, 10*time.Second)
	if tot.Arrivals == 0 || tot.Drops != tot.Arrivals {
		t.Fatalf("with no pod every arrival must drop: %+v", tot)
	}
}

func TestDeterminism(t *testing.T) {
	runOnce := func() []framework.Window {
		s := newEpisode(t, mustBuiltin(t), 42, mustProfile(t, "mixed"), 1)
		var out []framework.Window
		for i := 0; i < 40; i++ {
			switch i {
			case 4:
				s.SetReplicas(3)
			case 20:
				s.SetReplicas(2)
			}
			advance(t, s, 15*time.Second)
			out = append(out, s.Cut())
		}
		return out
	}
	a, b := runOnce(), runOnce()
	for i := range a {
		if a[i].Totals != b[i].Totals {
			t.Fatalf("window %d differs:\n%+v\n%+v", i, a[i].Totals, b[i].Totals)
		}
		ha, hb := a[i].Latency, b[i].Latency
		if ha.Count() != hb.Count() || ha.Count() > 0 && (ha.MeanMS() != hb.MeanMS() || ha.QuantileMS(0.99) != hb.QuantileMS(0.99)) {
			t.Fatalf("window %d latency differs", i)
		}
	}
}

func TestCommonRandomNumbers(t *testing.T) {
	// Two replica trajectories under one seed: the arrivals are identical second by second,
	// while what the cluster does with them differs.
	trajectory := func(replicas func(sec int) int) ([]int64, float64) {
		s := newEpisode(t, mustBuiltin(t), 7, mustProfile(t, "mixed"), 1)
		var arr []int64
		var lat float64
		for sec := 0; sec < 600; sec++ {
			s.SetReplicas(replicas(sec))
			advance(t, s, time.Second)
			w := s.Cut()
			arr = append(arr, w.Totals.Arrivals)
			lat += w.Latency.MeanMS()
		}
		return arr, lat
	}
	a, la := trajectory(func(int) int { return 1 })
	b, lb := trajectory(func(sec int) int { return 1 + (sec/60)%4 })
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("second %d: %d vs %d arrivals", i, a[i], b[i])
		}
	}
	if la == lb {
		t.Fatal("different trajectories produced identical latencies: the test is not discriminating")
	}
}

func TestAccountingIntegrals(t *testing.T) {
	// Three pods for 60 s: replica-seconds 180, ready 180, GPU shares 180, CPU requested
	// 3 × 0.5 core × 60 s = 90 core·s, memory requested 3 × 2 GiB × 60 s; CPU used ≈ offered
	// requests × 0.4 ms; GPU frame buffer 3 × 768 MiB × 60 s.
	s := newEpisode(t, fixedStartup(t, nil), 8, load.Constant{RPS: 600}, 3)
	advance(t, s, time.Minute)
	w := s.Cut()
	tt := w.Totals
	approx := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*math.Abs(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	approx("ReplicaSeconds", tt.ReplicaSeconds, 180, 1e-9)
	approx("ReadyReplicaSeconds", tt.ReadyReplicaSeconds, 180, 1e-9)
	approx("GPUSeconds", tt.GPUSeconds, 180, 1e-9)
	approx("CPURequestSeconds", tt.CPURequestSeconds, 90, 1e-9)
	approx("MemRequestByteSeconds", tt.MemRequestByteSeconds, 3*2*(1<<30)*60, 1e-9)
	approx("GPUMemByteSeconds", tt.GPUMemByteSeconds, 3*768*(1<<20)*60, 1e-9)
	approx("CPUSeconds", tt.CPUSeconds, float64(tt.Arrivals)*0.0004, 0.01)
	approx("OfferedRequests", tt.OfferedRequests, 36000, 1e-9)
	approx("Arrivals", float64(tt.Arrivals), 36000, 0.02)
	if tt.GPUCount != 1 || tt.GPUMemTotalBytes != 10*(1<<30) {
		t.Errorf("GPUCount %d, GPUMemTotalBytes %v", tt.GPUCount, tt.GPUMemTotalBytes)
	}
	if w.End.Sub(w.Start) != time.Minute {
		t.Errorf("window spans %s", w.End.Sub(w.Start))
	}
}

func mustBuiltin(t *testing.T) Scenario {
	t.Helper()
	sc, ok := BuiltinScenario(DefaultScenario)
	if !ok {
		t.Fatal("default scenario missing")
	}
	return sc
}

func mustProfile(t *testing.T, name string) load.Profile {
	t.Helper()
	p, ok := load.Builtin(name)
	if !ok {
		t.Fatalf("profile %s missing", name)
	}
	return p
}

func TestEvery(t *testing.T) {
	s := newEpisode(t, fixedStartup(t, nil), 1, load.Constant{RPS: 10}, 1)
	var fired []time.Duration
	cancel := s.Every(15*time.Second, func(now time.Time) { fired = append(fired, now.Sub(framework.SimEpoch)) })
	advance(t, s, 50*time.Second)
	want := []time.Duration{15 * time.Second, 30 * time.Second, 45 * time.Second}
	if len(fired) != len(want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
	for i := range want {
		if fired[i] != want[i] {
			t.Fatalf("fired at %v, want %v", fired, want)
		}
	}
	// Registrations survive Reset and restart their phase.
	if err := s.Reset(context.Background(), framework.Episode{Seed: 2, Load: load.Load{Profile: load.Constant{RPS: 10}}, InitialReplicas: 1}); err != nil {
		t.Fatal(err)
	}
	fired = nil
	advance(t, s, 20*time.Second)
	if len(fired) != 1 || fired[0] != 15*time.Second {
		t.Fatalf("after Reset fired at %v, want [15s]", fired)
	}
	cancel()
	advance(t, s, time.Minute)
	if len(fired) != 1 {
		t.Fatalf("fired after cancel: %v", fired)
	}
}

func TestRouting(t *testing.T) {
	// 4,000 requests over four ready pods: round robin gives each exactly a quarter; random
	// gives each a binomial(4000, 1/4) share (std ≈ 27); least outstanding keeps them even.
	for _, tc := range []struct {
		routing string
		tol     int
	}{{RoutingRoundRobin, 1}, {RoutingRandom, 150}, {RoutingLeastOutstanding, 150}} {
		sc := fixedStartup(t, map[string]any{"routing": tc.routing})
		s := newEpisode(t, sc, 9, load.Constant{RPS: 400}, 4)
		counts := map[*pod]int{}
		for i := 0; i < 10; i++ {
			before := map[*pod]int64{}
			for _, p := range s.pods {
				before[p] = p.execCum + int64(p.inflight)
			}
			advance(t, s, time.Second)
			for _, p := range s.pods {
				counts[p] += int(p.execCum + int64(p.inflight) - before[p])
			}
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		for p, n := range counts {
			if d := n - total/4; d > tc.tol || d < -tc.tol {
				t.Errorf("%s: pod %s got %d of %d requests", tc.routing, p.name, n, total)
			}
		}
	}
}

func TestFeatureUnknown(t *testing.T) {
	s := newEpisode(t, fixedStartup(t, nil), 1, load.Constant{RPS: 10}, 1)
	if _, err := s.Feature("cpu_utilisation", 30*time.Second); err == nil {
		t.Fatal("unknown feature accepted")
	}
	if err := s.CheckWindow(1500 * time.Millisecond); err == nil {
		t.Fatal("a window that is not a multiple of the resolution must be rejected")
	}
	if err := s.CheckWindow(5 * time.Minute); err == nil {
		t.Fatal("a window that does not fit in the history with the lag must be rejected")
	}
}

func TestParallelSimsShareProfile(t *testing.T) {
	// Vectorised training runs simulators in parallel goroutines with one profile value:
	// profiles are immutable, so each simulator's results equal a solo run's.
	p := mustProfile(t, "mixed")
	runTotals := func(s *Sim) (framework.Totals, error) {
		var tot framework.Totals
		for i := 0; i < 8; i++ {
			if err := s.Advance(context.Background(), 15*time.Second); err != nil {
				return tot, err
			}
			tot.Add(s.Cut().Totals)
		}
		return tot, nil
	}
	want, err := runTotals(newEpisode(t, mustBuiltin(t), 5, p, 2))
	if err != nil {
		t.Fatal(err)
	}
	sims := make([]*Sim, 4)
	for i := range sims {
		sims[i] = newEpisode(t, mustBuiltin(t), 5, p, 2)
	}
	got := make([]framework.Totals, len(sims))
	errs := make([]error, len(sims))
	done := make(chan struct{})
	for i := range sims {
		go func() {
			got[i], errs[i] = runTotals(sims[i])
			done <- struct{}{}
		}()
	}
	for range sims {
		<-done
	}
	for i := range got {
		if errs[i] != nil || got[i] != want {
			t.Fatalf("parallel run %d differs from the solo run (err %v)", i, errs[i])
		}
	}
}
