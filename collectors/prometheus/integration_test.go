package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	promsrc "github.com/scalelab/scalelab/collectors/prometheus"
	"github.com/scalelab/scalelab/collectors/prometheus/promtest"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/loadgen"
	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

// TestFeaturesAgreeWithNativeValues runs the real-backend metrics path end to end on
// loopback: `scalelab serve` (the emulator, default scenario, exporting Triton's,
// DCGM-Exporter's, cAdvisor's and kube-state-metrics' series) under open-loop load from
// loadgen (Poisson, 400 req/s, small payload), both scraped every second by a real
// Prometheus, and the Source's default queries evaluated over a 20-second window. Each
// feature must agree with the value computed natively over the same window — from the
// emulator's model counters, and for the load generator's features from its requests
// between the window's first and last scrape, which are those rate() sees — within the
// stated tolerance; features without a source (replica counts: no kube-state-metrics
// Deployment series here) must be missing, never 0.
func TestFeaturesAgreeWithNativeValues(t *testing.T) {
	if testing.Short() {
		t.Skip("35-second integration test with a real Prometheus; run without -short")
	}
	realtimetest.Exclusive(t)
	promtest.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The emulator, with DCGM's newer "hostname" label (the source must match both).
	scfg := serve.Defaults()
	scfg.InputShape = []int64{3, 8, 8}
	scfg.MetricsAddr = ""
	scfg.Node = "edge-1"
	scfg.DCGMHostnameLabel = "hostname"
	scfg.GPUMetricsInterval = time.Second
	sc, _ := sim.BuiltinScenario(sim.DefaultScenario)
	srv, err := serve.NewWithScenario(scfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sl := promtest.Listen(t)
	go func() { _ = srv.Serve(ctx, sl, nil) }()

	// The load generator, SLO 4 ms so that a fair share of requests violate it.
	const rate, window = 400.0, 20 * time.Second
	lcfg := loadgen.Defaults()
	lcfg.URL = "http://" + sl.Addr().String()
	lcfg.Shape, lcfg.Payload, lcfg.Duration, lcfg.SLO, lcfg.Seed = []int64{3, 8, 8}, loadgen.PayloadUINT8, time.Minute, 4*time.Millisecond, 3
	gen, err := loadgen.New(lcfg, load.Load{Name: "constant", Profile: load.Constant{RPS: rate}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ll := promtest.Listen(t)
	go func() {
		_ = (&http.Server{Handler: gen.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second}).Serve(ll)
	}()

	prom := promtest.Start(t, time.Second,
		promtest.Job{Name: "triton", Target: sl.Addr().String(), HonorLabels: true,
			Labels: map[string]string{"namespace": "default", "pod": "mobilenetv4-emulator"}},
		promtest.Job{Name: "loadgen", Target: ll.Addr().String()})

	// Every request's send and end time and outcome, to compute the load generator's
	// native values over exactly the requests Prometheus's window holds.
	type finished struct {
		sent, end time.Time
		lat       time.Duration
		outcome   loadgen.Outcome
	}
	var (
		mu    sync.Mutex
		dones []finished
	)
	gen.OnResult = func(r *vegeta.Result) {
		o, _ := loadgen.Classify(r)
		mu.Lock()
		dones = append(dones, finished{r.Timestamp, r.End(), r.Latency, o})
		mu.Unlock()
	}
	runDone := make(chan struct{})
	go func() { defer close(runDone); _, _ = gen.Run(ctx) }()
	// Steady state, then the measured window (t0, t1].
	time.Sleep(8 * time.Second)
	srv.Cut()
	t0 := time.Now()
	time.Sleep(window)
	t1 := time.Now()
	sw := srv.Cut()
	emuMem := srv.Counters()
	prom.WaitScraped(ctx, t1, time.Second)

	pcfg := promsrc.Defaults()
	pcfg.Address, pcfg.Window, pcfg.GPUHostname = prom.URL, window, "edge-.*"
	src, err := promsrc.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	names := framework.FeatureNames()
	var feats []framework.FeatureSpec
	for _, n := range names {
		f, _ := framework.LookupFeature(n)
		feats = append(feats, f)
	}
	vals, valid, age, err := src.Collect(ctx, t1, feats)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for i, n := range names {
		got[n] = vals[i]
		if !valid[i] {
			got[n] = math.NaN()
		}
	}

	// The window's first and last scrapes of the latency histogram: rate() sees the
	// completions between them (and extrapolates, which leaves quantiles unchanged).
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	mv, _, _, err := promv1.NewAPI(client).Query(ctx, fmt.Sprintf("scalelab_loadgen_request_duration_seconds_count[%ds]", int(window.Seconds())), t1)
	if err != nil {
		t.Fatal(err)
	}
	mat, isMatrix := mv.(model.Matrix)
	if !isMatrix || len(mat) != 1 || len(mat[0].Values) < 2 {
		t.Fatalf("raw samples of the latency histogram: %v", mv)
	}
	ta, tb := mat[0].Values[0].Timestamp.Time(), mat[0].Values[len(mat[0].Values)-1].Timestamp.Time()
	in := func(t time.Time) bool { return t.After(ta) && !t.After(tb) }
	lat := framework.NewHistogram()
	var sent, bad int
	mu.Lock()
	for _, d := range dones {
		if in(d.sent) {
			sent++
		}
		if !in(d.end) {
			continue
		}
		if d.outcome == loadgen.Completed {
			lat.Record(d.lat)
		}
		if d.outcome != loadgen.Completed || d.lat > lcfg.SLO {
			bad++
		}
	}
	mu.Unlock()

	secs := t1.Sub(t0).Seconds()
	et := sw.Totals
	w := sc.Workload
	native := map[string]float64{
		"request_rate":       float64(sent) / tb.Sub(ta).Seconds(),
		"p50_latency_ms":     lat.QuantileMS(0.5),
		"p95_latency_ms":     lat.QuantileMS(0.95),
		"p99_latency_ms":     lat.QuantileMS(0.99),
		"qos_violation_rate": float64(bad) / float64(sent),
		"mean_queue_ms":      et.QueueSeconds * 1000 / float64(et.Completions),
		"avg_batch_size":     float64(et.BatchedRequests) / float64(et.Batches),
		"cpu_util":           et.CPUSeconds / secs / w.CPURequest.Cores(),
		"gpu_util":           et.GPUBusySeconds / secs,
		"gpu_mem_util":       768.0 / 10240, // (512 + 256) MiB of the RTX 3080's 10 GiB
		"mem_util":           (float64(w.MemoryWorkingSet) + float64(w.MemoryPerRequest)*float64(emuMem.Inflight)) / float64(w.MemoryRequest),
	}
	// Tolerances: relative for rates and ratios of counters (Prometheus extrapolates
	// rate() over 1-second scrapes), wider for quantiles (histogram_quantile interpolates
	// linearly inside buckets 9 % wide), absolute for shares and for gauges sampled at a
	// scrape rather than at t1.
	type tol struct{ rel, abs float64 }
	tols := map[string]tol{
		"request_rate": {0.01, 0}, "p50_latency_ms": {0.10, 0}, "p95_latency_ms": {0.10, 0}, "p99_latency_ms": {0.15, 0},
		"qos_violation_rate": {0, 0.01}, "mean_queue_ms": {0.05, 0.01}, "avg_batch_size": {0.03, 0},
		"cpu_util": {0.03, 0}, "gpu_util": {0, 0.03}, "gpu_mem_util": {0, 1e-9}, "mem_util": {0, 0.005},
	}
	for _, n := range names {
		want, ok := native[n]
		g := got[n]
		switch {
		case n == "queue_length":
			// A gauge read at a scrape instant: it must be there and plausible.
			if math.IsNaN(g) || g < 0 || g > 100 {
				t.Errorf("queue_length = %v, want a count in [0, 100]", g)
			}
			continue
		case n == "replicas_desired" || n == "replicas_ready" || n == "replicas_pending":
			if !math.IsNaN(g) {
				t.Errorf("%s = %v, want missing: nothing exports kube-state-metrics' Deployment series here", n, g)
			}
			continue
		case !ok:
			t.Fatalf("no native value for %s", n)
		}
		tl := tols[n]
		lim := math.Max(tl.rel*math.Abs(want), tl.abs)
		status := "ok"
		if math.IsNaN(g) || math.Abs(g-want) > lim {
			status = "MISMATCH"
			t.Errorf("%s: PromQL %.5g, native %.5g (allowed ± %.3g)", n, g, want, lim)
		}
		t.Logf("%-19s PromQL %10.5g  native %10.5g  age %-6v %s", n, g, want, age[indexOf(names, n)].Round(time.Millisecond), status)
	}

	// Without the load generator's series the source falls back to Triton's: the request
	// rate is then the server's success + failure rate.
	fb := pcfg
	fb.LoadgenSelector = `job="no-such-loadgen"`
	fsrc, _ := promsrc.New(fb)
	f, _ := framework.LookupFeature("request_rate")
	p95, _ := framework.LookupFeature("p95_latency_ms")
	v, ok, _, err := fsrc.Collect(ctx, t1, []framework.FeatureSpec{f, p95})
	if err != nil {
		t.Fatal(err)
	}
	served := float64(et.Completions+et.Drops) / secs
	if !ok[0] || math.Abs(v[0]-served) > 0.03*served {
		t.Errorf("Triton fallback request_rate = %v (valid %v), native served rate %v", v[0], ok[0], served)
	}
	if ok[1] {
		t.Errorf("p95 without the load generator = %v, want missing (the emulator exports no latency summary)", v[1])
	}
	cancel()
	<-runDone
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
