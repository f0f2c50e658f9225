package kube

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/collectors/prometheus"
	"github.com/scalelab/scalelab/collectors/prometheus/promtest"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/loadgen"
	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

func TestUsageQueriesSelectTheWorkload(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Namespace, cfg.Workload.Name = "inference", "triton-mobilenetv4"
	u, err := NewPromUsage(cfg.PrometheusFor(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	qs := u.Queries(14500 * time.Millisecond)
	// A 14.5 s window is queried over 15 s, every selector names the workload.
	for field, q := range qs {
		if strings.Contains(q, "$") {
			t.Errorf("%s: placeholder left in %s", field, q)
		}
		if strings.Contains(q, "container_") || strings.Contains(q, "nv_inference") {
			if !strings.Contains(q, `namespace="inference"`) || !strings.Contains(q, `pod=~"triton-mobilenetv4-.+"`) {
				t.Errorf("%s does not select the workload's pods: %s", field, q)
			}
		}
		if !strings.Contains(q, "[15s]") {
			t.Errorf("%s: range is not 15s: %s", field, q)
		}
	}
	if !strings.Contains(qs["batches"], `model="mobilenetv4"`) {
		t.Errorf("batches query ignores the model: %s", qs["batches"])
	}
}

// Against a real Prometheus scraping scalelab serve (Triton's, DCGM-Exporter's and
// cAdvisor's metric names) while the load generator sends it requests, the usage
// integrals of a window are those the emulator counted.
func TestPromUsageAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load and a Prometheus server for about 10 s")
	}
	promtest.Require(t)
	realtimetest.Exclusive(t)
	scfg := serve.Defaults()
	scfg.InputShape, scfg.MetricsAddr, scfg.Node = []int64{3, 8, 8}, "", "test"
	scfg.Namespace, scfg.Pod = "inference", "triton-mobilenetv4-0"
	scfg.GPUMetricsInterval = 500 * time.Millisecond
	sc, err := sim.ScenarioFromMap(map[string]any{"base": sim.DefaultScenario})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.NewWithScenario(scfg, sc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(srv.Handler())
	defer func() { api.Close(); srv.Close() }()
	ln := promtest.Listen(t)
	ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ms.Serve(ln) }()
	defer ms.Close()
	prom := promtest.Start(t, time.Second, promtest.Job{Name: "triton", Target: ln.Addr().String(),
		Labels: map[string]string{"namespace": "inference", "pod": "triton-mobilenetv4-0"}, HonorLabels: true})

	lc := loadgen.Defaults()
	lc.URL, lc.Shape, lc.Payload, lc.MetricsAddr, lc.Duration = api.URL, []int64{3, 8, 8}, loadgen.PayloadUINT8, "", 4*time.Second
	g, err := loadgen.New(lc, load.Load{Name: "c", Profile: load.Constant{RPS: 100}, Arrivals: load.Arrivals{Kind: load.Deterministic}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Counters()
	start := time.Now()
	if _, err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := srv.Counters()
	time.Sleep(3 * time.Second) // two more scrapes
	end := time.Now()

	pc := prometheus.Defaults()
	pc.Address, pc.Namespace, pc.Deployment = prom.URL, "inference", "triton-mobilenetv4"
	u, err := NewPromUsage(pc)
	if err != nil {
		t.Fatal(err)
	}
	tot, err := u.Usage(context.Background(), start.Add(-2*time.Second), end)
	if err != nil {
		t.Fatal(err)
	}
	served := float64(after.Images - before.Images)
	batches := float64(after.Batches - before.Batches)
	t.Logf("emulator: %v images in %v batches; Prometheus: %+v", served, batches, tot)
	// increase() extrapolates to the range's edges from 1 s samples: allow 25 %.
	near := func(name string, got, want float64) {
		if want <= 0 || got < 0.75*want || got > 1.25*want {
			t.Errorf("%s = %v, want %v ± 25 %%", name, got, want)
		}
	}
	near("batched requests", float64(tot.BatchedRequests), served)
	near("batches", float64(tot.Batches), batches)
	if tot.GPUCount != 1 || tot.GPUMemTotalBytes < 9e9 || tot.CPUSeconds <= 0 || tot.GPUBusySeconds <= 0 || tot.QueueSeconds < 0 {
		t.Errorf("usage = %+v, want one 10 GB GPU, CPU and GPU time used", tot)
	}
}
