package promexport

import (
	"context"
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	pn "github.com/scalelab/scalelab/serve/promnames"
	"github.com/scalelab/scalelab/sim"
)

// fakeClock is a wall clock whose Wait returns at once, having moved the clock to the
// time waited for: the pacer then runs as fast as it can, in the order it would in real
// time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Wait(ctx context.Context, until time.Time) error {
	c.mu.Lock()
	if until.After(c.t) {
		c.t = until
	}
	c.mu.Unlock()
	return ctx.Err()
}

// textbookScenario serves one request at a time with known times: the CPU stage does
// 1 ms of work at the pod's 0.5-core limit (2 ms), the GPU runs each batch of one for
// 2.5 ms, nothing jitters and nothing contends. At 100 deterministic arrivals per second
// requests never overlap: each takes 4.5 ms and never queues.
func textbookScenario(t testing.TB) sim.Scenario {
	t.Helper()
	sc, err := sim.ScenarioFromMap(map[string]any{
		"base": sim.DefaultScenario,
		"model": map[string]any{
			"t_min": "0s", "t_fixed": "2500us", "t_per_image": "0s", "jitter": "deterministic", "cpu_per_request": "1ms",
		},
		"serving":     map[string]any{"max_batch_size": 1, "max_queue_delay": "0s", "instance_count": 1},
		"gpu_sharing": map[string]any{"contention": false},
		"observation": map[string]any{"app_scrape_interval": "1s", "gpu_exporter_interval": "1s", "gpu_scrape_interval": "1s",
			"cpu_scrape_interval": "1s", "metrics_server_resolution": "1s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newRealtime(t testing.TB, sc sim.Scenario, cfg Config, clk Clock) *Realtime {
	t.Helper()
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRealtime(s, cfg, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func episode(rps float64, replicas int) framework.Episode {
	return framework.Episode{Seed: 7, InitialReplicas: replicas, SLO: 4 * time.Millisecond,
		Load: load.Load{Name: "c", Profile: load.Constant{RPS: rps}, Arrivals: load.Arrivals{Kind: load.Deterministic}}}
}

// gathered indexes the exporter's samples by name and label set.
type gathered map[string][]*dto.Metric

func gather(t *testing.T, e *Exporter) gathered {
	t.Helper()
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := gathered{}
	for _, f := range fams {
		g[f.GetName()] = f.GetMetric()
	}
	return g
}

// value returns the single sample of name whose labels include want ("k=v" pairs), and
// fails the test when there is not exactly one.
func (g gathered) value(t *testing.T, name string, want ...string) float64 {
	t.Helper()
	var found []*dto.Metric
	for _, m := range g[name] {
		if hasLabels(m, want) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, want, len(found))
	}
	m := found[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

func hasLabels(m *dto.Metric, want []string) bool {
	for _, w := range want {
		k, v, _ := strings.Cut(w, "=")
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// The exported series carry the values the textbook scenario implies, worked out by hand,
// under the real exporters' names and labels.
func TestExporterTextbookValues(t *testing.T) {
	sc := textbookScenario(t)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	cfg := Defaults()
	r := newRealtime(t, sc, cfg, clk)
	ctx := context.Background()
	if err := r.Reset(ctx, episode(100, 1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Advance(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	g := gather(t, r.Exporter())
	pods := r.Sim().PodStates()
	if len(pods) != 1 {
		t.Fatalf("%d pods, want 1", len(pods))
	}
	pod := "pod=" + pods[0].Name
	// Deterministic arrivals every 10 ms for 10 s: about 1000; the requests that arrived
	// more than 4.5 ms before the end have finished, so all but at most the last one.
	arrivals := g.value(t, pn.LoadgenRequests.Name, "model=mobilenetv4")
	done := g.value(t, pn.TritonRequestSuccess.Name, pod, "namespace=default", "model=mobilenetv4", "version=1", "container=triton")
	if arrivals < 999 || arrivals > 1001 || done < arrivals-1 || done > arrivals {
		t.Fatalf("arrivals %v, Triton successes %v: want ≈ 1000 arrivals in 10 s, all but at most one done", arrivals, done)
	}
	type want struct {
		name   string
		labels []string
		value  float64
		tol    float64
	}
	wants := []want{
		// Each request: batch of one, 4.5 ms from arrival to answer, 2.5 ms on the GPU, 0 queued.
		{pn.TritonInferenceCount.Name, []string{pod}, done, 0},
		{pn.TritonExecCount.Name, []string{pod}, done, 0},
		{pn.TritonRequestDuration.Name, []string{pod}, 4500 * done, 1},
		{pn.TritonComputeInfer.Name, []string{pod}, 2500 * done, 1},
		{pn.TritonQueueDuration.Name, []string{pod}, 0, 0},
		{pn.TritonRequestFailure.Name, []string{pod, "reason=REJECTED"}, 0, 0},
		{pn.TritonPendingRequests.Name, []string{pod}, 0, 0},
		// CPU: 1 ms of work per finished request, plus part of the one in flight, if any.
		{pn.CAdvisorCPUUsage.Name, []string{pod, "container=triton", "image=" + cfg.Image}, 0.001 * done, 0.001*(arrivals-done) + 1e-9},
		{pn.CAdvisorCPUUsage.Name, []string{pod, "container="}, 0.001 * done, 0.001*(arrivals-done) + 1e-9},
		// GPU: 100 batches of 2.5 ms per second = 25 % over the last 1 s interval.
		{pn.DCGMGPUUtil.Name, []string{pod, "Hostname=edge", "UUID=" + GPUUUID(0), "modelName=NVIDIA GeForce RTX 3080"}, 25, 0},
		{pn.TritonGPUUtilization.Name, []string{pod, "gpu_uuid=" + GPUUUID(0)}, 0.25, 1e-9},
		// Frame buffer: CUDA context 512 MiB + one 256 MiB engine of the 10 GiB card.
		{pn.DCGMFBUsed.Name, []string{pod}, 768, 0},
		{pn.DCGMFBFree.Name, []string{pod}, 10240 - 768, 0},
		{pn.TritonGPUMemoryUsed.Name, []string{pod}, 768 << 20, 0},
		// kube-state-metrics: one ready pod of the desired one.
		{pn.KSMDeploymentSpecReplicas.Name, []string{"deployment=mobilenetv4", "namespace=default"}, 1, 0},
		{pn.KSMDeploymentReplicasReady.Name, []string{"deployment=mobilenetv4"}, 1, 0},
		{pn.KSMDeploymentReplicasUnavailable.Name, []string{"deployment=mobilenetv4"}, 0, 0},
		{pn.KSMPodStatusPhase.Name, []string{pod, "phase=Running"}, 1, 0},
		{pn.KSMPodStatusPhase.Name, []string{pod, "phase=Pending"}, 0, 0},
		{pn.KSMPodStatusReady.Name, []string{pod, "condition=true"}, 1, 0},
		{pn.KSMContainerRequests.Name, []string{pod, "resource=cpu", "unit=core", "node=edge"}, 0.5, 0},
		{pn.KSMContainerRequests.Name, []string{pod, "resource=memory"}, 2 << 30, 0},
		{pn.KSMContainerLimits.Name, []string{pod, "resource=cpu"}, 0.5, 0},
		// The load generator: every finished request completed, each slower than the 4 ms SLO.
		{pn.LoadgenResponses.Name, []string{"outcome=completed"}, done, 0},
		{pn.LoadgenResponses.Name, []string{"outcome=dropped"}, 0, 0},
		{pn.LoadgenSLOViolations.Name, nil, done, 0},
		{pn.LoadgenInFlight.Name, nil, arrivals - done, 0},
		{pn.LoadgenSLO.Name, nil, 0.004, 1e-12},
		{pn.LoadgenOfferedRate.Name, nil, 100, 0},
	}
	for _, w := range wants {
		if got := g.value(t, w.name, w.labels...); math.Abs(got-w.value) > w.tol {
			t.Errorf("%s%v = %v, want %v ± %v", w.name, w.labels, got, w.value, w.tol)
		}
	}
	// The latency histogram: every completion took 4.5 ms, between the bounds
	// 0.0005·2^(25/8) ≈ 4.36 ms and 0.0005·2^(26/8) ≈ 4.76 ms.
	h := g[pn.LoadgenRequestDuration.Name][0].GetHistogram()
	if h.GetSampleCount() != uint64(done) || math.Abs(h.GetSampleSum()-0.0045*done) > 1e-6 {
		t.Errorf("histogram count %d sum %v, want %v and %v", h.GetSampleCount(), h.GetSampleSum(), done, 0.0045*done)
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() > 0.0045 {
			want = uint64(done)
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// The HTTP handler serves the same families in the exposition format.
	srv := httptest.NewServer(r.Exporter().Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{`nv_inference_request_success{container="triton",model="mobilenetv4",namespace="default",pod="` + pods[0].Name + `",version="1"}`,
		`kube_deployment_spec_replicas{deployment="mobilenetv4",namespace="default"} 1`, `scalelab_loadgen_request_duration_seconds_bucket{model="mobilenetv4",le="+Inf"}`} {
		if !strings.Contains(string(body), s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}

// Pending and starting pods show in kube-state-metrics' series, and only running
// containers in Triton's, cAdvisor's and DCGM-Exporter's; a GPU nobody uses exports one
// DCGM series without pod labels.
func TestExporterScaling(t *testing.T) {
	sc := textbookScenario(t)
	clk := &fakeClock{t: time.Unix(0, 0)}
	cfg := Defaults()
	cfg.DCGMHostnameLabel = "hostname"
	r := newRealtime(t, sc, cfg, clk)
	ctx := context.Background()
	if err := r.Reset(ctx, episode(50, 0)); err != nil {
		t.Fatal(err)
	}
	if err := r.Advance(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	g := gather(t, r.Exporter())
	if v := g.value(t, pn.DCGMGPUUtil.Name, "pod=", "hostname=edge"); v != 0 {
		t.Errorf("idle GPU utilisation %v, want 0", v)
	}
	if len(g[pn.TritonRequestSuccess.Name]) != 0 {
		t.Errorf("Triton series without a running pod: %d", len(g[pn.TritonRequestSuccess.Name]))
	}
	// Five pods on a GPU time-sliced four ways: one stays Pending.
	r.Sim().SetReplicas(5)
	if err := r.Advance(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	g = gather(t, r.Exporter())
	if v := g.value(t, pn.KSMDeploymentSpecReplicas.Name); v != 5 {
		t.Errorf("spec replicas %v, want 5", v)
	}
	if v := g.value(t, pn.KSMDeploymentReplicasUnavailable.Name); v != 5 {
		t.Errorf("unavailable %v right after scaling, want 5", v)
	}
	pending := 0
	for _, m := range g[pn.KSMPodStatusPhase.Name] {
		if hasLabels(m, []string{"phase=Pending"}) && m.GetGauge().GetValue() == 1 {
			pending++
		}
	}
	if pending < 1 {
		t.Errorf("%d pods in phase Pending, want at least the unschedulable one", pending)
	}
	// Model load takes 3–15 s, readiness 5 s more: after a minute four are ready.
	if err := r.Advance(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	g = gather(t, r.Exporter())
	if v := g.value(t, pn.KSMDeploymentReplicasReady.Name); v != 4 {
		t.Errorf("ready %v, want 4 (the GPU has 4 shares)", v)
	}
	if v := g.value(t, pn.KSMDeploymentReplicasUnavailable.Name); v != 1 {
		t.Errorf("unavailable %v, want 1", v)
	}
	if n := len(g[pn.TritonRequestSuccess.Name]); n != 4 {
		t.Errorf("%d pods export Triton series, want the 4 running", n)
	}
	if n := len(g[pn.DCGMGPUUtil.Name]); n != 4 {
		t.Errorf("%d DCGM series for the shared GPU, want one per pod using it (4)", n)
	}
	var sum float64
	for _, m := range g[pn.TritonRequestSuccess.Name] {
		sum += m.GetCounter().GetValue()
	}
	if lg := g.value(t, pn.LoadgenResponses.Name, "outcome=completed"); sum != lg {
		t.Errorf("Triton successes summed over pods %v, load generator completions %v (no timeouts here)", sum, lg)
	}
}

// The pacer keeps virtual time at Speed × wall time, and the loop's accounting is the
// simulator's: the same totals as an unpaced run of the same episode.
func TestRealtimePacingAndAccounting(t *testing.T) {
	sc := textbookScenario(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	cfg := Defaults()
	cfg.Speed = 4
	r := newRealtime(t, sc, cfg, clk)
	ctx := context.Background()
	ep := episode(300, 2)
	ep.Load.Arrivals = load.Arrivals{Kind: load.Poisson}
	if err := r.Reset(ctx, ep); err != nil {
		t.Fatal(err)
	}
	var paced framework.Totals
	lat := framework.NewHistogram()
	r.Cut()
	for _, d := range []time.Duration{15 * time.Second, 1234 * time.Millisecond, 15 * time.Second} {
		if err := r.Advance(ctx, d); err != nil {
			t.Fatal(err)
		}
		w := r.Cut()
		paced.Add(w.Totals)
		lat.Merge(w.Latency)
	}
	// 31.234 s simulated at 4× took 7.8085 s of wall time.
	if got := clk.Now().Sub(t0); got != 7808500*time.Microsecond {
		t.Errorf("wall time %v, want 7.8085s", got)
	}
	if got := r.WallTime(r.Now()); !got.Equal(clk.Now()) {
		t.Errorf("WallTime(now) = %v, want %v", got, clk.Now())
	}

	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, 31234*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	direct := s.Cut()
	d := direct.Totals
	if paced.Arrivals != d.Arrivals || paced.Completions != d.Completions || paced.Batches != d.Batches || paced.SLOViolations != d.SLOViolations {
		t.Errorf("paced counts %+v\ndirect %+v", paced, d)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{{"cpu_seconds", paced.CPUSeconds, d.CPUSeconds}, {"gpu_busy_seconds", paced.GPUBusySeconds, d.GPUBusySeconds},
		{"replica_seconds", paced.ReplicaSeconds, d.ReplicaSeconds}, {"offered", paced.OfferedRequests, d.OfferedRequests}} {
		if math.Abs(f.got-f.want) > 1e-9*math.Max(1, math.Abs(f.want)) {
			t.Errorf("%s: paced %v, direct %v", f.name, f.got, f.want)
		}
	}
	if lat.Count() != direct.Latency.Count() || lat.QuantileMS(0.99) != direct.Latency.QuantileMS(0.99) {
		t.Errorf("latency: paced %d p99 %v, direct %d p99 %v", lat.Count(), lat.QuantileMS(0.99), direct.Latency.Count(), direct.Latency.QuantileMS(0.99))
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"speed", func(c *Config) { c.Speed = 0 }, []string{"speed:"}},
		{"exporter", func(c *Config) { c.Exporters = []string{"triton", "statsd"} }, []string{`exporters[1]: unknown exporter "statsd"`}},
		{"gpu interval", func(c *Config) { c.GPUInterval = 150 * time.Millisecond }, []string{"gpu_interval: must be 0 or a positive multiple of step"}},
		{"labels", func(c *Config) { c.Namespace, c.DCGMHostnameLabel = "", "host" }, []string{"namespace: required", "dcgm_hostname_label:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			errs := c.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want %q", i, errs[i], w)
				}
			}
		})
	}
}
