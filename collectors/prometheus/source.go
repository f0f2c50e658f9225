package prometheus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/scalelab/scalelab/framework"
)

// parallelQueries bounds the queries a Collect runs at once.
const parallelQueries = 4

// Source computes catalogue features from a Prometheus server with PromQL (instant
// queries through client_golang's api/prometheus/v1). It is safe for concurrent use.
type Source struct {
	cfg    Config
	api    v1.API
	logger *slog.Logger
}

// New returns a source for the configured server. It does not contact the server.
func New(cfg Config) (*Source, error) {
	return NewWithLogger(cfg, nil)
}

// NewWithLogger is New with a logger for query problems that do not fail a Collect (nil:
// slog.Default()).
func NewWithLogger(cfg Config, logger *slog.Logger) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("collector prometheus: %w", errors.Join(errs...))
	}
	client, err := api.NewClient(api.Config{Address: cfg.Address, Client: &http.Client{Timeout: cfg.Timeout + time.Second}})
	if err != nil {
		return nil, fmt.Errorf("collector prometheus: address %q: %w", cfg.Address, err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{cfg: cfg, api: v1.NewAPI(client), logger: logger}, nil
}

// Config returns the source's configuration.
func (s *Source) Config() Config { return s.cfg }

// Check returns an error if a feature has no query (neither a default nor an override).
func (s *Source) Check(features []framework.FeatureSpec) error {
	var errs []error
	for _, f := range features {
		if _, err := s.cfg.QueriesFor(f.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Collect evaluates the features at time now. For each feature the queries are tried in
// order (the override, or the defaults from the load generator's metrics to
// kube-state-metrics'); the first that yields a number gives the value, and its freshness
// query the age: now minus the time of the newest sample the value rests on. A feature is
// missing (valid false, value NaN, never 0) when every query's result is empty or NaN, or
// its value is older than max_age; its age is then that of the stale value if there was
// one, else 0.
//
// err is non-nil when a query is malformed or returns several series (a configuration
// problem), or when no query could be run at all (the server is unreachable); a query
// that times out or fails otherwise only makes its feature missing, and is logged.
func (s *Source) Collect(ctx context.Context, now time.Time, features []framework.FeatureSpec) (values []float64, valid []bool, age []time.Duration, err error) {
	n := len(features)
	values, valid, age = make([]float64, n), make([]bool, n), make([]time.Duration, n)
	res := make([]featureResult, n)
	fc := &freshCache{m: map[string]*freshEntry{}}
	sem := make(chan struct{}, parallelQueries)
	var wg sync.WaitGroup
	for i, f := range features {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i] = s.feature(ctx, now, f.Name, fc)
		}()
	}
	wg.Wait()
	var hard, soft []error
	for i, r := range res {
		values[i], valid[i], age[i] = r.v, r.ok, r.age
		if !r.ok {
			values[i] = math.NaN()
		}
		switch {
		case r.hard != nil:
			hard = append(hard, r.hard)
		case r.soft != nil:
			soft = append(soft, r.soft)
		}
	}
	if len(hard) > 0 {
		return values, valid, age, fmt.Errorf("collector prometheus: %w", errors.Join(hard...))
	}
	if n > 0 && len(soft) == n {
		return values, valid, age, fmt.Errorf("collector prometheus: no feature could be queried: %w", soft[0])
	}
	for _, e := range soft {
		s.logger.Warn("prometheus query failed; feature missing", "error", e)
	}
	return values, valid, age, nil
}

type featureResult struct {
	v    float64
	ok   bool
	age  time.Duration
	hard error // configuration problem
	soft error // the last transient query error, when no query gave a value
}

func (s *Source) feature(ctx context.Context, now time.Time, name string, fc *freshCache) featureResult {
	qs, err := s.cfg.QueriesFor(name)
	if err != nil {
		return featureResult{hard: err}
	}
	out := featureResult{v: math.NaN()}
	stale := false
	for _, q := range qs {
		v, ok, err := s.scalar(ctx, now, q.Expr)
		if err != nil {
			if isConfigError(err) {
				return featureResult{hard: fmt.Errorf("feature %s: query %s: %w", name, q.Expr, err)}
			}
			out.soft = fmt.Errorf("feature %s: query %s: %w", name, q.Expr, err)
			continue
		}
		if !ok {
			continue
		}
		var a time.Duration
		if q.Freshness != "" {
			ts, ok, err := fc.get(q.Freshness, func() (float64, bool, error) { return s.scalar(ctx, now, q.Freshness) })
			if err != nil && isConfigError(err) {
				return featureResult{hard: fmt.Errorf("feature %s: freshness query %s: %w", name, q.Freshness, err)}
			}
			if ok {
				a = max(now.Sub(time.Unix(0, int64(ts*1e9))), 0)
			}
		}
		if s.cfg.MaxAge > 0 && a > s.cfg.MaxAge {
			if !stale {
				out.age, stale = a, true
			}
			continue
		}
		return featureResult{v: v, ok: true, age: a}
	}
	if stale {
		out.soft = nil
	}
	return out
}

// scalar runs an instant query and returns its single value; ok is false for an empty
// result or a NaN or infinite value.
func (s *Source) scalar(ctx context.Context, now time.Time, expr string) (float64, bool, error) {
	qctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	val, _, _, err := s.api.Query(qctx, expr, now, v1.WithTimeout(s.cfg.Timeout))
	if err != nil {
		return 0, false, err
	}
	var v float64
	switch r := val.(type) {
	case model.Vector:
		switch len(r) {
		case 0:
			return 0, false, nil
		case 1:
			v = float64(r[0].Value)
		default:
			return 0, false, &multiSeriesError{n: len(r)}
		}
	case *model.Scalar:
		v = float64(r.Value)
	default:
		return 0, false, &multiSeriesError{typ: val.Type().String()}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, nil
	}
	return v, true, nil
}

// multiSeriesError is a query whose result is not one number.
type multiSeriesError struct {
	n   int
	typ string
}

func (e *multiSeriesError) Error() string {
	if e.typ != "" {
		return fmt.Sprintf("the result is a %s, want an instant vector of one series or a scalar", e.typ)
	}
	return fmt.Sprintf("the result has %d series, want one: aggregate it (sum, avg, max)", e.n)
}

// isConfigError reports errors a retry cannot fix: a malformed query or a result that is
// not one number.
func isConfigError(err error) bool {
	var ms *multiSeriesError
	if errors.As(err, &ms) {
		return true
	}
	var ae *v1.Error
	return errors.As(err, &ae) && ae.Type == v1.ErrBadData
}

// freshCache evaluates each distinct freshness query once per Collect.
type freshCache struct {
	mu sync.Mutex
	m  map[string]*freshEntry
}

type freshEntry struct {
	once sync.Once
	v    float64
	ok   bool
	err  error
}

func (c *freshCache) get(q string, f func() (float64, bool, error)) (float64, bool, error) {
	c.mu.Lock()
	e, ok := c.m[q]
	if !ok {
		e = &freshEntry{}
		c.m[q] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.ok, e.err = f() })
	return e.v, e.ok, e.err
}

var _ framework.Collector = (*Collector)(nil)

// Collector is a framework.Collector over a Source for a fixed list of features on wall
// time. Its observations carry no cluster view: collectors/kube composes this source with
// the Kubernetes API's view of the workload.
type Collector struct {
	src      *Source
	features []framework.FeatureSpec
	now      func() time.Time
}

// NewCollector returns a collector of the features (each must have a query) using now as
// its clock (nil: time.Now).
func NewCollector(src *Source, features []framework.FeatureSpec, now func() time.Time) (*Collector, error) {
	if err := src.Check(features); err != nil {
		return nil, fmt.Errorf("collector prometheus: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Collector{src: src, features: append([]framework.FeatureSpec(nil), features...), now: now}, nil
}

// Features returns the collected features, in order.
func (c *Collector) Features() []framework.FeatureSpec { return c.features }

// Collect evaluates the features at the present time.
func (c *Collector) Collect(ctx context.Context) (framework.Observation, error) {
	now := c.now()
	v, ok, age, err := c.src.Collect(ctx, now, c.features)
	if err != nil {
		return framework.Observation{}, err
	}
	return framework.Observation{Time: now, Values: v, Valid: ok, Age: age, Cluster: framework.ClusterView{Now: now}}, nil
}
