package promexport_test

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	actsim "github.com/scalelab/scalelab/actuators/sim"
	promsrc "github.com/scalelab/scalelab/collectors/prometheus"
	"github.com/scalelab/scalelab/collectors/prometheus/promtest"
	colsim "github.com/scalelab/scalelab/collectors/sim"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/sim"
	"github.com/scalelab/scalelab/sim/promexport"
)

// script is a policy that asks for a replica count per decision.
type script []int

func (s *script) Act(context.Context, framework.Observation) (framework.Action, error) {
	n := (*s)[0]
	if len(*s) > 1 {
		*s = (*s)[1:]
	}
	return framework.Action{Values: []float64{float64(n)}}, nil
}

// TestPromQLFeaturesAgreeWithNativeFeatures runs the simulator paced at real time (1×)
// behind the exporter, scraped every second by a real Prometheus, while a scripted policy
// scales the workload 2 → 5 (one pod beyond the GPU's four shares stays Pending) → 3
// through the loop. The Prometheus collector's default PromQL queries, evaluated at the
// wall-clock instant each native value describes, must agree with the simulator's native
// features (collectors/sim, its observation lags set to Prometheus's 1 s scrape) within
// the stated tolerances, and the replica counts (kube-state-metrics series) must show the
// native counts.
func TestPromQLFeaturesAgreeWithNativeFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("55-second integration test with a real Prometheus at real time; run without -short")
	}
	realtimetest.Exclusive(t)
	promtest.Require(t)
	ctx := context.Background()

	const (
		interval = 5 * time.Second
		window   = 10 * time.Second
		duration = 45 * time.Second
		rps      = 400.0
		slo      = 3 * time.Millisecond
	)
	// The default scenario with every observation lag at Prometheus's 1 s, and pods that
	// start within about 4 s (so the windows compared hold a settled workload).
	sc, err := sim.ScenarioFromMap(map[string]any{
		"base": sim.DefaultScenario,
		"workload": map[string]any{
			"image_pull":       map[string]any{"kind": "uniform", "min": "200ms", "max": "500ms"},
			"model_load":       map[string]any{"kind": "uniform", "min": "1s", "max": "2s"},
			"readiness_period": "1s",
		},
		"observation": map[string]any{"app_scrape_interval": "1s", "gpu_exporter_interval": "1s", "gpu_scrape_interval": "1s",
			"cpu_scrape_interval": "1s", "metrics_server_resolution": "1s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := promexport.NewRealtime(s, promexport.Defaults(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln := promtest.Listen(t)
	hs := &http.Server{Handler: rt.Exporter().Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	prom := promtest.Start(t, time.Second, promtest.Job{Name: "sim", Target: ln.Addr().String(), HonorLabels: true})

	feats := framework.Catalogue
	col, err := colsim.New(s, feats, window, 0, 1, 6)
	if err != nil {
		t.Fatal(err)
	}
	act, err := actsim.New(s, 1, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	design, err := actions.NewReplicas(actions.DefaultReplicasConfig(), 1, 6)
	if err != nil {
		t.Fatal(err)
	}
	pol := script{2, 2, 2, 5, 5, 5, 3, 3, 3}
	loop := &framework.Loop{Backend: rt, Collector: col, Design: design, Actuator: act, Policy: &pol, Interval: interval, SLO: slo}
	var decisions []framework.Decision
	ep := framework.Episode{Seed: 11, InitialReplicas: 2, SLO: slo, Duration: duration,
		Load: load.Load{Name: "constant", Profile: load.Constant{RPS: rps}, Arrivals: load.Arrivals{Kind: load.Poisson}}}
	res, err := framework.RunEpisode(ctx, loop, ep, framework.RunOptions{Duration: duration,
		OnDecision: func(d framework.Decision) { decisions = append(decisions, d) }})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	prom.WaitScraped(ctx, end, time.Second)
	if res.Totals.Arrivals < int64(0.9*rps*duration.Seconds()) {
		t.Fatalf("the episode saw %d arrivals, want about %v", res.Totals.Arrivals, rps*duration.Seconds())
	}

	pcfg := promsrc.Defaults()
	pcfg.Address, pcfg.Window, pcfg.Deployment, pcfg.MaxAge = prom.URL, window, sc.Workload.Name, 0
	src, err := promsrc.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	// promql evaluates one feature's default queries at a wall-clock instant.
	promql := func(f framework.FeatureSpec, at time.Time) (float64, bool) {
		v, ok, _, err := src.Collect(ctx, at, []framework.FeatureSpec{f})
		if err != nil {
			t.Fatalf("%s at %v: %v", f.Name, at, err)
		}
		return v[0], ok[0]
	}

	// Tolerances: relative for rates and ratios of counters (rate() extrapolates over
	// scrapes 1 s apart, whose instants differ from the simulator's whole seconds by up
	// to a second of the 10-second window); wider for quantiles (histogram_quantile
	// interpolates inside buckets 9 % wide; the simulator's bins are 3 % wide); absolute
	// for shares and for gauges read at a scrape instant rather than the exact second.
	type tol struct{ rel, abs float64 }
	tols := map[string]tol{
		"request_rate": {0.03, 0}, "p50_latency_ms": {0.10, 0}, "p95_latency_ms": {0.15, 0}, "p99_latency_ms": {0.20, 0},
		"mean_queue_ms": {0.10, 0.02}, "queue_length": {0, 3}, "qos_violation_rate": {0, 0.03},
		"cpu_util": {0.05, 0}, "mem_util": {0, 0.01}, "gpu_util": {0, 0.03}, "gpu_mem_util": {0, 1e-6},
		"avg_batch_size": {0.05, 0},
	}
	// The windowed features are compared where the workload held still over the window:
	// right before each scaling command (15 s, 30 s) and at the end (45 s); pods start
	// within about 4 s, so the 10-second windows before those instants hold a settled
	// workload.
	settled := map[time.Duration]bool{15 * time.Second: true, 30 * time.Second: true, 45 * time.Second: true}
	compared := 0
	for _, d := range decisions {
		obs := d.Next
		off := obs.Time.Sub(framework.SimEpoch)
		for i, f := range feats {
			native, nok := obs.Values[i], obs.Valid[i]
			at := rt.WallTime(obs.Time.Add(-obs.Age[i])) // the instant the native value describes
			if strings.HasPrefix(f.Name, "replicas_") {
				// The series is sampled every second: within the second after the native
				// instant it must show the native count.
				if !nok {
					t.Errorf("%s at %v: native value missing", f.Name, off)
					continue
				}
				var seen []float64
				match := false
				for dt := time.Duration(0); dt <= 2*time.Second; dt += 250 * time.Millisecond {
					v, ok := promql(f, at.Add(dt))
					seen = append(seen, v)
					if ok && v == native {
						match = true
						break
					}
				}
				if !match {
					t.Errorf("%s at %v: native %v, PromQL over the next 2 s %v", f.Name, off, native, seen)
				}
				continue
			}
			if !settled[off] {
				continue
			}
			got, gok := promql(f, at)
			tl := tols[f.Name]
			lim := math.Max(tl.rel*math.Abs(native), tl.abs)
			status := "ok"
			if !nok || !gok || math.Abs(got-native) > lim {
				status = "MISMATCH"
				t.Errorf("%s at %v: PromQL %.5g (valid %v), native %.5g (valid %v), allowed ± %.3g", f.Name, off, got, gok, native, nok, lim)
			}
			compared++
			t.Logf("t=%-4v %-19s PromQL %10.5g  native %10.5g  %s", off, f.Name, got, native, status)
		}
	}
	if want := 3 * (len(feats) - 3); compared != want {
		t.Errorf("compared %d feature values, want %d", compared, want)
	}
	// The scale to 5 left one pod beyond the GPU's 4 shares Pending, in both views.
	last5 := decisions[5].Next
	if v, _ := last5.Value(feats, "replicas_pending"); v != 1 {
		t.Errorf("native replicas_pending at 30 s = %v, want 1 (5 pods on 4 GPU shares)", v)
	}
}
