package calibrate

import (
	"bytes"
	"context"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/collectors/prometheus/promtest"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

// synthetic returns samples of t(b)·(1 ± dev), alternating, so that each size's mean is
// exactly t(b).
func synthetic(t func(b float64) float64, sizes []int, n int, dev float64) []BatchSamples {
	var out []BatchSamples
	for _, b := range sizes {
		bs := BatchSamples{Batch: b}
		for i := 0; i < n; i++ {
			f := 1 + dev
			if i%2 == 1 {
				f = 1 - dev
			}
			bs.Times = append(bs.Times, time.Duration(math.Round(t(float64(b))*f)))
		}
		out = append(out, bs)
	}
	return out
}

func TestFitServiceLine(t *testing.T) {
	// t(b) = 1 ms + 157 µs·b with ±5 % jitter: the line is recovered exactly; the jitter
	// factors are 1.05 and 0.95 in equal numbers (mean 1), so their sample standard
	// deviation over N = 60 is 0.05·√(60/59).
	line := func(b float64) float64 { return 1e6 + 157e3*b }
	fit, err := FitService(synthetic(line, []int{1, 2, 4, 8, 16, 32}, 10, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	if fit.Floor || fit.TMin != 0 || fit.TFixed != time.Millisecond || fit.TPerImage != 157*time.Microsecond {
		t.Errorf("fit %+v, want the line 1ms + 157µs·b", fit)
	}
	if want := 0.05 * math.Sqrt(60.0/59); math.Abs(fit.JitterCV-want) > 1e-6 {
		t.Errorf("jitter CV %v, want %v", fit.JitterCV, want)
	}
	for _, r := range fit.Residuals {
		if math.Abs(r.Measured-r.Fitted) > 0.01 {
			t.Errorf("residual at b=%v: %v µs", r.X, r.Measured-r.Fitted)
		}
	}
}

func TestFitServiceFloor(t *testing.T) {
	// Launch-bound: t(b) = max(3 ms, 1 ms + 0.2 ms·b) is flat up to b = 10, so sizes 1–8 sit
	// on the floor and 12–32 on the line; ±2 % jitter.
	floor := func(b float64) float64 { return math.Max(3e6, 1e6+0.2e6*b) }
	fit, err := FitService(synthetic(floor, []int{1, 2, 4, 8, 12, 16, 24, 32}, 20, 0.02))
	if err != nil {
		t.Fatal(err)
	}
	if !fit.Floor || fit.FStat < FloorFThreshold {
		t.Fatalf("floor not detected: %+v", fit)
	}
	if fit.TMin != 3*time.Millisecond || fit.TFixed != time.Millisecond || fit.TPerImage != 200*time.Microsecond {
		t.Errorf("fit t_min %v t_fixed %v t_per_image %v, want 3ms, 1ms, 200µs", fit.TMin, fit.TFixed, fit.TPerImage)
	}
}

func TestFitCPU(t *testing.T) {
	// 0.02 idle cores + 400 µs per image: at 100, 200 and 400 images/s over 10 s the pod
	// uses 0.06, 0.10 and 0.18 cores.
	pts := []CPUPoint{{Rate: 100, Seconds: 10, CPUSeconds: 0.6, Images: 1000}, {Rate: 200, Seconds: 10, CPUSeconds: 1.0, Images: 2000},
		{Rate: 400, Seconds: 10, CPUSeconds: 1.8, Images: 4000}}
	f, err := FitCPU(pts)
	if err != nil {
		t.Fatal(err)
	}
	if f.CPUPerImage != 400*time.Microsecond || math.Abs(f.IdleCores-0.02) > 1e-12 {
		t.Errorf("CPU fit %v per image, idle %v; want 400µs and 0.02", f.CPUPerImage, f.IdleCores)
	}
	// One step: CPU seconds per image, no idle term: 0.6 / 1000 = 600 µs.
	f, _ = FitCPU(pts[:1])
	if f.CPUPerImage != 600*time.Microsecond || f.IdleCores != 0 {
		t.Errorf("one-step CPU fit %v, idle %v", f.CPUPerImage, f.IdleCores)
	}
}

func TestFromPerfAnalyzer(t *testing.T) {
	// testdata/perf-b{1,4,16}.csv are perf_analyzer -f files (header and columns as
	// perf_analyzer writes them) made for t(b) = 1000 + 157·b µs: at concurrency 1 the
	// compute time is t(b) and p99 − p50 = 0.1·t(b), so σ = ln 1.1 / z₀.₉₉ and
	// CV = √(exp(σ²) − 1) = 0.040988. The concurrency-4 rows (batched by the server) are
	// ignored.
	var files []PerfFile
	for _, b := range []int{1, 4, 16} {
		name := filepath.Join("testdata", "perf-b"+map[int]string{1: "1", 4: "4", 16: "16"}[b]+".csv")
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, PerfFile{Batch: b, Name: name, R: f})
	}
	r, err := FromPerfAnalyzer(files)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Service
	if s.TFixed != time.Millisecond || s.TPerImage != 157*time.Microsecond || s.Floor {
		t.Errorf("fit %+v", s)
	}
	sigma := math.Log(1.1) / z99
	if want := math.Sqrt(math.Exp(sigma*sigma) - 1); math.Abs(s.JitterCV-want) > 1e-9 || math.Abs(want-0.040988) > 1e-6 {
		t.Errorf("jitter CV %v, want %v", s.JitterCV, want)
	}
	if _, err := FromPerfAnalyzer([]PerfFile{{Batch: 1, Name: "x.csv", R: strings.NewReader("a,b\n1,2\n")}}); err == nil ||
		!strings.Contains(err.Error(), "Server Compute Infer") {
		t.Errorf("a CSV without perf_analyzer's columns: error %v", err)
	}
}

// calibrateEmulator runs a calibration sweep against an in-process `scalelab serve`
// emulating scenario set (over edge-rtx3080) and returns the result and the scenario
// file it writes, loaded back.
func calibrateEmulator(t *testing.T, set map[string]any, sizes []int, samples int) (Result, sim.Scenario) {
	t.Helper()
	sc, err := sim.ScenarioFromMap(sim.MergeMaps(map[string]any{"base": sim.DefaultScenario}, set))
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.Defaults()
	cfg.InputShape, cfg.MetricsAddr, cfg.Seed = []int64{3, 8, 8}, "", 11
	srv, err := serve.NewWithScenario(cfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Close() }()
	c := Defaults()
	c.URL, c.MetricsURL = hs.URL, hs.URL+"/metrics"
	c.Payload, c.Shape = "uint8", []int64{3, 8, 8}
	c.BatchSizes, c.Samples = sizes, samples
	c.Rates, c.StepLength = []float64{100, 250}, 3*time.Second
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteScenario(&buf, sim.DefaultScenario, "calibrated"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "calibrated.yaml")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := sim.LoadScenario(file)
	if err != nil {
		t.Fatalf("the written scenario does not load: %v\n%s", err, buf.String())
	}
	t.Logf("scenario written:\n%s", buf.String())
	return res, loaded
}

func within(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Abs(want) {
		t.Errorf("%s: recovered %.6g, true %.6g (%+.2f %%, allowed ± %.0f %%)", name, got, want, 100*(got-want)/want, 100*rel)
	} else {
		t.Logf("%s: recovered %.6g, true %.6g (%+.2f %%)", name, got, want, 100*(got-want)/want)
	}
}

// TestRecoversEmulatorParameters calibrates against the emulator with known parameters —
// the default MobileNetV4 model (t(b) = 1 ms + 157 µs·b, lognormal jitter CV 0.05) with
// 200 µs of CPU per request under a 2-core limit — and requires every fitted parameter
// within 5 % of the truth, and no floor. 8 batch sizes × 250 requests give the jitter CV a
// relative standard error of about 1/√4000 ≈ 1.6 %.
func TestRecoversEmulatorParameters(t *testing.T) {
	if testing.Short() {
		t.Skip("calibration sweep of ~20 s; run without -short")
	}
	realtimetest.Exclusive(t)
	res, sc := calibrateEmulator(t, map[string]any{
		"model":    map[string]any{"cpu_per_request": "200us", "jitter_cv": 0.05},
		"workload": map[string]any{"cpu_limit": "2"},
	}, []int{1, 2, 4, 8, 12, 16, 24, 32}, 250)
	m := sc.Model
	if res.Service.Floor || m.TMin != 0 {
		t.Errorf("a floor was fitted (t_min %v, F = %.1f) where there is none", m.TMin, res.Service.FStat)
	}
	within(t, "t_fixed", float64(m.TFixed), float64(time.Millisecond), 0.05)
	within(t, "t_per_image", float64(m.TPerImage), float64(157*time.Microsecond), 0.05)
	within(t, "jitter_cv", m.JitterCV, 0.05, 0.05)
	within(t, "cpu_per_request", float64(m.CPUPerRequest), float64(200*time.Microsecond), 0.05)
	if res.CPU == nil || math.Abs(res.CPU.IdleCores) > 0.005 {
		t.Errorf("CPU fit %+v: the emulator uses no CPU when idle", res.CPU)
	}
}

// TestRecoversLaunchBoundFloor calibrates a launch-bound model, t(b) = max(3 ms, 1 ms +
// 0.2 ms·b) with jitter CV 0.08: the floor must be detected and t_min, t_fixed,
// t_per_image and the jitter CV recovered within 5 %. Six of the ten batch sizes lie on
// the line, which t_fixed is extrapolated from (to b = 0).
func TestRecoversLaunchBoundFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("calibration sweep of ~25 s; run without -short")
	}
	realtimetest.Exclusive(t)
	res, sc := calibrateEmulator(t, map[string]any{
		"model":    map[string]any{"t_min": "3ms", "t_fixed": "1ms", "t_per_image": "200us", "jitter_cv": 0.08, "cpu_per_request": "100us"},
		"workload": map[string]any{"cpu_limit": "2"},
	}, []int{1, 2, 4, 8, 12, 16, 20, 24, 28, 32}, 200)
	m := sc.Model
	if !res.Service.Floor {
		t.Fatalf("no floor fitted (F = %.1f): %+v", res.Service.FStat, res.Service)
	}
	within(t, "t_min", float64(m.TMin), float64(3*time.Millisecond), 0.05)
	within(t, "t_fixed", float64(m.TFixed), float64(time.Millisecond), 0.05)
	within(t, "t_per_image", float64(m.TPerImage), float64(200*time.Microsecond), 0.05)
	within(t, "jitter_cv", m.JitterCV, 0.08, 0.05)
	within(t, "cpu_per_request", float64(m.CPUPerRequest), float64(100*time.Microsecond), 0.05)
}

// TestRecoversCPUCostThroughPrometheus calibrates the CPU cost per request through
// Prometheus (prometheus_url and cpu_query over cAdvisor's container_cpu_usage_seconds_total,
// as on a cluster) rather than the metrics page: a real Prometheus scrapes the emulator
// every second while the CPU sweep runs, and the fitted cpu_per_request must be within
// 5 % of the emulator's 300 µs. The emulator's CPU counter is exact and idle between
// steps, so the only error left is what Prometheus's scrape timing adds — none when the
// reads bracket each step (the read after a step is evaluated a scrape interval after it).
func TestRecoversCPUCostThroughPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("calibration sweep with a real Prometheus, ~20 s; run without -short")
	}
	realtimetest.Exclusive(t)
	promtest.Require(t)
	sc, err := sim.ScenarioFromMap(map[string]any{"base": sim.DefaultScenario,
		"model": map[string]any{"cpu_per_request": "300us"}, "workload": map[string]any{"cpu_limit": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.Defaults()
	cfg.InputShape, cfg.MetricsAddr, cfg.Seed, cfg.Namespace, cfg.Pod = []int64{3, 8, 8}, "", 5, "inference", "triton-0"
	srv, err := serve.NewWithScenario(cfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Close() }()
	prom := promtest.Start(t, time.Second, promtest.Job{Name: "triton", Target: strings.TrimPrefix(hs.URL, "http://"), HonorLabels: true})

	c := Defaults()
	c.URL, c.MetricsURL = hs.URL, hs.URL+"/metrics"
	c.Payload, c.Shape = "uint8", []int64{3, 8, 8}
	c.BatchSizes, c.Samples = []int{1, 4, 16}, 20
	c.Rates, c.StepLength = []float64{100, 300}, 3*time.Second
	c.PrometheusURL = prom.URL
	c.CPUQuery = `sum(container_cpu_usage_seconds_total{namespace="inference",pod="triton-0",container!=""})`
	c.PrometheusWait = 2500 * time.Millisecond // 2.5 scrape intervals
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CPU == nil {
		t.Fatalf("no CPU fit; notes %v", res.Notes)
	}
	for _, s := range res.Steps {
		t.Logf("step %v req/s: %d images, %.4f CPU-seconds over %.1f s", s.Rate, s.Images, s.CPUSeconds, s.Seconds)
	}
	within(t, "cpu_per_request", float64(res.CPU.CPUPerImage), float64(300*time.Microsecond), 0.05)
	if math.Abs(res.CPU.IdleCores) > 0.005 {
		t.Errorf("idle cores %v: the emulator uses no CPU when idle", res.CPU.IdleCores)
	}
}
