package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// Generator sends open-loop KServe v2 inference load following a load profile, with
// vegeta doing the HTTP work, and records client-side latency and QoS.
type Generator struct {
	cfg     Config
	load    load.Load
	payload Payload
	logger  *slog.Logger
	reg     *prometheus.Registry

	// OnResult, when set before Run, is called with every result (from one goroutine).
	OnResult func(*vegeta.Result)

	metrics *Metrics

	mu    sync.Mutex
	rec   *Recorder
	pacer *Pacer
	start time.Time
}

// Summary is what a run did: its KPIs in the framework's format, how many requests it
// sent against the profile's expected number, and how closely sending followed the
// arrival times.
type Summary struct {
	KPIs framework.KPIs `json:"kpis"`
	// Sent is the number of requests sent; Expected the profile's integral over the run.
	Sent     int64   `json:"sent"`
	Expected float64 `json:"expected"`
	// Scheduled is the number of arrivals the arrival process drew (what Sent should be).
	Scheduled int64         `json:"scheduled"`
	Duration  time.Duration `json:"duration"`
	// LagP50, LagP99 and LagMax describe how late requests left against their arrival
	// times.
	LagP50 time.Duration `json:"lag_p50"`
	LagP99 time.Duration `json:"lag_p99"`
	LagMax time.Duration `json:"lag_max"`
}

// New returns a generator for the configured endpoint and payload under load l.
func New(cfg Config, l load.Load, logger *slog.Logger) (*Generator, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("loadgen: %w", errors.Join(errs...))
	}
	if err := ValidateLoad(l); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	p, err := BuildPayload(cfg)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	g := &Generator{cfg: cfg, load: l, payload: p, logger: logger, reg: prometheus.NewRegistry(), start: time.Now()}
	g.metrics = NewMetrics(g.reg, cfg.Model, cfg.SLO, func() float64 { return l.Profile.Rate(time.Since(g.Start())) })
	g.rec = NewRecorder(g.metrics, cfg.SLO, l.Profile, g.start)
	return g, nil
}

// Payload returns the request every hit sends.
func (g *Generator) Payload() Payload { return g.payload }

// Registry returns the registry of the generator's metrics.
func (g *Generator) Registry() *prometheus.Registry { return g.reg }

// MetricsHandler serves the generator's metrics.
func (g *Generator) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{})
}

// Cut closes the current accounting window now (see Recorder.Cut). The first window starts
// when Run starts. Safe to call while Run runs.
func (g *Generator) Cut() framework.Window {
	g.mu.Lock()
	rec := g.rec
	g.mu.Unlock()
	return rec.Cut(time.Now())
}

// Start returns when the current run started (its offset 0 for the profile).
func (g *Generator) Start() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.start
}

// Run sends the load for the configured duration, or until ctx is done, then waits for
// the requests in flight (at most the client timeout) and returns the run's summary. The
// accounting restarts at the beginning of Run. Run is not reentrant.
func (g *Generator) Run(ctx context.Context) (Summary, error) {
	cfg := g.cfg
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(cfg.Timeout), vegeta.MaxWorkers(cfg.MaxWorkers), vegeta.Workers(min(cfg.MaxWorkers, 64)),
		vegeta.Connections(cfg.Connections), vegeta.KeepAlive(true), vegeta.Redirects(vegeta.NoFollow),
	}
	if !cfg.ValidateResponses {
		opts = append(opts, vegeta.MaxBody(0))
	}
	atk := vegeta.NewAttacker(opts...)
	target := vegeta.Target{Method: http.MethodPost, URL: cfg.InferURL(), Body: g.payload.Body, Header: g.payload.Header}
	start := time.Now()
	pacer := NewPacer(g.load, cfg.Seed, cfg.Duration)
	g.mu.Lock()
	g.start, g.pacer = start, pacer
	g.rec = NewRecorder(g.metrics, cfg.SLO, g.load.Profile, start)
	rec := g.rec
	g.mu.Unlock()

	targeter := func(t *vegeta.Target) error {
		*t = target
		rec.Sent()
		return nil
	}
	kind := g.load.Arrivals.Kind
	if kind == "" {
		kind = load.Poisson
	}
	g.logger.Info("load generation started", "url", target.URL, "profile", g.load.Name, "arrivals", kind,
		"duration", cfg.Duration, "payload", cfg.Payload, "encoding", cfg.Encoding, "body_bytes", len(g.payload.Body))
	results := atk.Attack(targeter, pacer, cfg.Duration, "scalelab")
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for res := range results {
		rec.RecordResult(res, cfg.ValidateResponses)
		if g.OnResult != nil {
			g.OnResult(res)
		}
	}
	end := time.Now()
	rec.Cut(end)
	ran := cfg.Duration
	if ctx.Err() != nil {
		ran = min(end.Sub(start), ran)
	}
	s := Summary{KPIs: rec.KPIs(), Duration: ran, Expected: load.Integral(g.load.Profile, 0, ran),
		Scheduled: scheduled(g.load, cfg.Seed, ran)}
	s.Sent = s.KPIs.Arrivals
	s.LagP50, s.LagP99, s.LagMax = pacer.Lag()
	g.logger.Info("load generation finished", "sent", s.Sent, "expected", int64(s.Expected+0.5),
		"p95_ms", s.KPIs.P95LatencyMS, "qos_violation_rate", s.KPIs.QoSViolationRate, "lag_p99", s.LagP99)
	if err := ctx.Err(); err != nil {
		return s, err
	}
	return s, nil
}

// scheduled counts the arrivals the pacer draws before offset d.
func scheduled(l load.Load, seed uint64, d time.Duration) int64 {
	p := NewPacer(l, seed, d)
	var n int64
	for !p.done {
		n++
		p.next, p.done = p.draw()
	}
	return n
}

// MarshalJSON writes the summary with undefined KPIs (NaN, e.g. latency quantiles of a run
// without completions, cluster-side KPIs) as null, which JSON can carry.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	k := map[string]any{}
	v := reflect.ValueOf(s.KPIs)
	for i := 0; i < v.NumField(); i++ {
		name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
		f := v.Field(i).Interface()
		if x, ok := f.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			f = nil
		}
		k[name] = f
	}
	return json.Marshal(struct {
		plain
		KPIs map[string]any `json:"kpis"`
	}{plain(s), k})
}
