package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/loadgen"
)

// LoadgenDriver is the LoadDriver of scalelab's own open-loop load generator (loadgen):
// each episode it sends the episode's load profile, arrival process and seed to the
// workload's KServe v2 endpoint, records client-side latency and QoS, and serves the
// generator's Prometheus metrics (the p95 feature's default source) on MetricsAddr.
type LoadgenDriver struct {
	cfg loadgen.Config
	log *slog.Logger

	mu      sync.Mutex
	gen     *loadgen.Generator
	cancel  context.CancelFunc
	done    chan struct{}
	srv     *http.Server
	handler http.Handler
}

var _ LoadDriver = (*LoadgenDriver)(nil)

// tail is how long the generator keeps sending after the episode's planned end, so the
// last decision's window is still measured when the loop cuts it; Stop ends it sooner.
const tail = time.Minute

// NewLoadgenDriver returns a driver for cfg. The episode overrides cfg's duration, seed,
// SLO and client timeout.
func NewLoadgenDriver(cfg loadgen.Config, logger *slog.Logger) (*LoadgenDriver, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("load: %w", errors.Join(errs...))
	}
	return &LoadgenDriver{cfg: cfg, log: logger}, nil
}

// Start begins sending the episode's load.
func (d *LoadgenDriver) Start(ctx context.Context, ep framework.Episode) error {
	if err := d.Stop(); err != nil {
		return err
	}
	cfg := d.cfg
	cfg.Seed = ep.Seed
	if ep.Duration > 0 {
		cfg.Duration = ep.Duration + tail
	}
	if ep.SLO > 0 {
		cfg.SLO = ep.SLO
	}
	if ep.ClientTimeout > 0 {
		cfg.Timeout = ep.ClientTimeout
	}
	gen, err := loadgen.New(cfg, ep.Load, d.log)
	if err != nil {
		return err
	}
	before := gen.Start()
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.mu.Lock()
	d.gen, d.cancel, d.done, d.handler = gen, cancel, done, gen.MetricsHandler()
	d.mu.Unlock()
	if err := d.serveMetrics(); err != nil {
		cancel()
		return err
	}
	go func() {
		defer close(done)
		if _, err := gen.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Warn("load generator stopped", "err", err)
		}
	}()
	// Run restarts the accounting when it begins: wait for that, so the loop's first cut
	// after Reset starts the first window with the load.
	for i := 0; i < 200 && gen.Start().Equal(before); i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// serveMetrics starts the /metrics server once (it serves the current generator's
// registry).
func (d *LoadgenDriver) serveMetrics() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.MetricsAddr == "" || d.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("load.metrics_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		h := d.handler
		d.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()
	return nil
}

// Cut returns the client-side window since the previous cut.
func (d *LoadgenDriver) Cut() framework.Window {
	d.mu.Lock()
	gen := d.gen
	d.mu.Unlock()
	if gen == nil {
		now := time.Now()
		return framework.Window{Start: now, End: now, Latency: framework.NewHistogram()}
	}
	return gen.Cut()
}

// Stop ends the current load and waits for the requests in flight (at most the client
// timeout). The metrics server keeps serving the last generator's metrics.
func (d *LoadgenDriver) Stop() error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.cancel, d.done = nil, nil
	d.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// Close stops the load and the metrics server.
func (d *LoadgenDriver) Close() error {
	err := d.Stop()
	d.mu.Lock()
	srv := d.srv
	d.srv = nil
	d.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, srv.Shutdown(ctx))
	}
	return err
}
