package calibrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/loadgen"
)

// Config are the settings of a calibration sweep against a KServe v2 endpoint
// (`scalelab calibrate` flags of the same names, with dashes for underscores).
type Config struct {
	URL        string `mapstructure:"url" doc:"base URL of the KServe v2 endpoint (Triton's HTTP port); the sweep needs it to itself" default:"http://localhost:8000"`
	MetricsURL string `mapstructure:"metrics_url" doc:"Triton's metrics page (port 8002), read before and after every request" default:"http://localhost:8002/metrics"`
	Model      string `mapstructure:"model" doc:"model name" default:"mobilenetv4"`
	Version    string `mapstructure:"version" doc:"model version; empty lets the server choose" default:""`

	Payload  string  `mapstructure:"payload" doc:"request payload: fp32, uint8 or image (as loadgen)" default:"fp32"`
	Encoding string  `mapstructure:"encoding" doc:"json or binary (as loadgen)" default:"binary"`
	Shape    []int64 `mapstructure:"shape" doc:"shape of one image without the batch dimension (as loadgen)" default:"[3 224 224]"`

	BatchSizes []int         `mapstructure:"batch_sizes" doc:"batch sizes of the GPU sweep: requests of b images, one at a time" default:"[1 2 4 8 16 32]"`
	Samples    int           `mapstructure:"samples" doc:"measured requests per batch size (the jitter CV's relative standard error is about 1/√(2·samples·sizes))" default:"200"`
	Warmup     int           `mapstructure:"warmup" doc:"unmeasured requests before each batch size" default:"5"`
	Rates      []float64     `mapstructure:"rates" doc:"offered rates (req/s, one image each) of the CPU sweep; empty skips it" default:"[50 100 200]"`
	StepLength time.Duration `mapstructure:"step_length" doc:"length of each CPU sweep step" default:"20s"`
	Timeout    time.Duration `mapstructure:"timeout" doc:"timeout of each request" default:"10s"`
	Seed       uint64        `mapstructure:"seed" doc:"seed of the payload and of the sweep's arrivals" default:"1"`

	CPUMetricsURL  string            `mapstructure:"cpu_metrics_url" doc:"metrics page holding the pod's cumulative CPU seconds; empty = metrics_url" default:""`
	CPUMetric      string            `mapstructure:"cpu_metric" doc:"counter of CPU seconds on that page, summed over the series matching cpu_labels" default:"container_cpu_usage_seconds_total"`
	CPULabels      map[string]string `mapstructure:"cpu_labels" doc:"label values the CPU counter's series must have" default:"{}"`
	PrometheusURL  string            `mapstructure:"prometheus_url" doc:"read CPU seconds from this Prometheus instead, with cpu_query" default:""`
	CPUQuery       string            `mapstructure:"cpu_query" doc:"PromQL giving the pod's cumulative CPU seconds, e.g. sum(container_cpu_usage_seconds_total{pod=~\"triton-.*\",container!=\"\"})" default:""`
	PrometheusWait time.Duration     `mapstructure:"prometheus_wait" doc:"how long after a step to wait before reading Prometheus (two scrape intervals)" default:"35s"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{URL: "http://localhost:8000", MetricsURL: "http://localhost:8002/metrics", Model: "mobilenetv4",
		Payload: loadgen.PayloadFP32, Encoding: loadgen.EncodingBinary, Shape: []int64{3, 224, 224},
		BatchSizes: []int{1, 2, 4, 8, 16, 32}, Samples: 200, Warmup: 5, Rates: []float64{50, 100, 200},
		StepLength: 20 * time.Second, Timeout: 10 * time.Second, Seed: 1,
		CPUMetric: "container_cpu_usage_seconds_total", CPULabels: map[string]string{}, PrometheusWait: 35 * time.Second}
}

// Validate checks the configuration and returns one error per problem, each naming its key.
func (c Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	lc := c.loadgenConfig(1)
	for _, e := range lc.Validate() {
		errs = append(errs, e)
	}
	if !strings.HasPrefix(c.MetricsURL, "http://") && !strings.HasPrefix(c.MetricsURL, "https://") {
		add("metrics_url", "want an http(s) URL, got %q", c.MetricsURL)
	}
	if len(c.BatchSizes) < 2 {
		add("batch_sizes", "need at least two batch sizes to fit t(b), got %v", c.BatchSizes)
	}
	for i, b := range c.BatchSizes {
		if b < 1 || (i > 0 && b <= c.BatchSizes[i-1]) {
			add("batch_sizes", "must be increasing and ≥ 1, got %v", c.BatchSizes)
			break
		}
	}
	if c.Samples < 2 {
		add("samples", "must be ≥ 2, got %d", c.Samples)
	}
	if c.Warmup < 0 {
		add("warmup", "must be ≥ 0, got %d", c.Warmup)
	}
	for i, r := range c.Rates {
		if !(r > 0) {
			add(fmt.Sprintf("rates[%d]", i), "must be > 0, got %v", r)
		}
	}
	if len(c.Rates) > 0 && c.StepLength < time.Second {
		add("step_length", "must be ≥ 1s, got %s", c.StepLength)
	}
	if (c.PrometheusURL == "") != (c.CPUQuery == "") {
		add("cpu_query", "prometheus_url and cpu_query go together")
	}
	return errs
}

func (c Config) loadgenConfig(batch int) loadgen.Config {
	lc := loadgen.Defaults()
	lc.URL, lc.Model, lc.Version = c.URL, c.Model, c.Version
	lc.Payload, lc.Encoding, lc.Shape, lc.Batch, lc.Seed = c.Payload, c.Encoding, c.Shape, batch, c.Seed
	lc.Timeout, lc.MetricsAddr = c.Timeout, ""
	lc.Duration = max(c.StepLength, time.Second)
	return lc
}

// Result is a calibration: the fitted service model and CPU cost, with what was measured.
type Result struct {
	Endpoint string
	Model    string
	When     time.Time
	Service  ServiceFit
	// CPU is nil when no CPU counter was available.
	CPU *CPUFit
	// Steps are the CPU sweep's steps.
	Steps []CPUPoint
	// Source says where the data came from ("sweep" or "perf_analyzer").
	Source string
	Notes  []string
}

// Run measures the endpoint: a GPU sweep (for each batch size, requests of that many
// images sent one at a time, each one's compute time read from the change of Triton's
// nv_inference_compute_infer_duration_us across it) and a CPU sweep (open-loop load at
// each rate, the CPU counter's change against the images served), then fits both.
func Run(ctx context.Context, c Config, logger *slog.Logger) (Result, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return Result{}, fmt.Errorf("calibrate: %w", errors.Join(errs...))
	}
	if logger == nil {
		logger = slog.Default()
	}
	m := &meter{c: c, client: &http.Client{Timeout: c.Timeout}}
	if err := m.ready(ctx); err != nil {
		return Result{}, err
	}
	res := Result{Endpoint: c.URL, Model: c.Model, When: time.Now().UTC(), Source: "sweep"}
	var data []BatchSamples
	for _, b := range c.BatchSizes {
		bs, err := m.batchSweep(ctx, b)
		if err != nil {
			var tooBig *batchTooLargeError
			if errors.As(err, &tooBig) && len(data) >= 2 {
				res.Notes = append(res.Notes, fmt.Sprintf("batch sizes from %d on were refused by the server: %v", b, tooBig.msg))
				logger.Warn("batch size refused; sweep stops", "batch", b, "error", tooBig.msg)
				break
			}
			return Result{}, err
		}
		logger.Info("batch size measured", "batch", b, "samples", len(bs.Times), "mean", meanDur(bs.Times))
		data = append(data, bs)
	}
	fit, err := FitService(data)
	if err != nil {
		return Result{}, fmt.Errorf("calibrate: %w", err)
	}
	res.Service = fit
	if len(c.Rates) == 0 {
		return res, nil
	}
	for _, rate := range c.Rates {
		pt, err := m.cpuStep(ctx, rate, logger)
		if err != nil {
			if errors.Is(err, errNoCPU) {
				res.Notes = append(res.Notes, err.Error())
				logger.Warn("no CPU counter: cpu_per_request not calibrated", "error", err)
				return res, nil
			}
			return Result{}, err
		}
		res.Steps = append(res.Steps, pt)
	}
	cf, err := FitCPU(res.Steps)
	if err != nil {
		return Result{}, fmt.Errorf("calibrate: %w", err)
	}
	res.CPU = &cf
	return res, nil
}

func meanDur(ts []time.Duration) time.Duration {
	var s time.Duration
	for _, t := range ts {
		s += t
	}
	return s / time.Duration(max(len(ts), 1))
}

type meter struct {
	c      Config
	client *http.Client
}

var errNoCPU = errors.New("calibrate: no CPU counter")

type batchTooLargeError struct{ msg string }

func (e *batchTooLargeError) Error() string { return e.msg }

func (m *meter) ready(ctx context.Context) error {
	u := strings.TrimRight(m.c.URL, "/") + "/v2/models/" + m.c.Model + "/ready"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("calibrate: url %s: %w", m.c.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("calibrate: model %q is not ready at %s (GET %s: %s)", m.c.Model, m.c.URL, u, resp.Status)
	}
	return nil
}

// tritonCounters are the model's cumulative counters on the metrics page.
type tritonCounters struct {
	success, exec, count, inferUS float64
}

func (m *meter) triton(ctx context.Context) (tritonCounters, error) {
	fams, err := scrape(ctx, m.client, m.c.MetricsURL)
	if err != nil {
		return tritonCounters{}, err
	}
	sel := map[string]string{"model": m.c.Model}
	if m.c.Version != "" {
		sel["version"] = m.c.Version
	}
	var tc tritonCounters
	var ok [4]bool
	tc.success, ok[0] = sum(fams, "nv_inference_request_success", sel)
	tc.exec, ok[1] = sum(fams, "nv_inference_exec_count", sel)
	tc.count, ok[2] = sum(fams, "nv_inference_count", sel)
	tc.inferUS, ok[3] = sum(fams, "nv_inference_compute_infer_duration_us", sel)
	for i, o := range ok {
		if !o {
			name := []string{"nv_inference_request_success", "nv_inference_exec_count", "nv_inference_count", "nv_inference_compute_infer_duration_us"}[i]
			return tc, fmt.Errorf("calibrate: metrics_url %s has no %s{model=%q}", m.c.MetricsURL, name, m.c.Model)
		}
	}
	return tc, nil
}

// batchSweep measures Samples requests of b images after Warmup unmeasured ones.
func (m *meter) batchSweep(ctx context.Context, b int) (BatchSamples, error) {
	p, err := loadgen.BuildPayload(m.c.loadgenConfig(b))
	if err != nil {
		return BatchSamples{}, fmt.Errorf("calibrate: %w", err)
	}
	for i := 0; i < m.c.Warmup; i++ {
		if err := m.infer(ctx, p); err != nil {
			return BatchSamples{}, err
		}
	}
	bs := BatchSamples{Batch: b}
	before, err := m.triton(ctx)
	if err != nil {
		return BatchSamples{}, err
	}
	discarded := 0
	for len(bs.Times) < m.c.Samples {
		if err := m.infer(ctx, p); err != nil {
			return BatchSamples{}, err
		}
		after, err := m.triton(ctx)
		if err != nil {
			return BatchSamples{}, err
		}
		// Exactly one execution of this one request: otherwise something else used the
		// endpoint meanwhile, and the sample is dropped.
		if after.exec-before.exec == 1 && after.success-before.success == 1 && after.count-before.count == float64(b) {
			bs.Times = append(bs.Times, time.Duration((after.inferUS-before.inferUS)*1e3))
		} else if discarded++; discarded > m.c.Samples/5+5 {
			return BatchSamples{}, fmt.Errorf("calibrate: batch %d: %d samples saw other requests or merged executions; the endpoint must serve only the calibration", b, discarded)
		}
		before = after
	}
	return bs, nil
}

func (m *meter) infer(ctx context.Context, p loadgen.Payload) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.c.loadgenConfig(1).InferURL(), bytes.NewReader(p.Body))
	req.Header = p.Header.Clone()
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("calibrate: infer: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := strings.TrimSpace(string(body))
	var e struct {
		Error string `json:"error"`
	}
	if jsonErr := json.Unmarshal(body, &e); jsonErr == nil && e.Error != "" {
		msg = e.Error
	}
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(msg, "batch") && p.Images > 1 {
		return &batchTooLargeError{msg: msg}
	}
	return fmt.Errorf("calibrate: infer (%d images): %s: %s", p.Images, resp.Status, msg)
}

// cpuStep offers rate req/s of one image each for StepLength and reads the CPU counter
// and the images served before and after.
func (m *meter) cpuStep(ctx context.Context, rate float64, logger *slog.Logger) (CPUPoint, error) {
	lc := m.c.loadgenConfig(1)
	lc.Duration = m.c.StepLength
	g, err := loadgen.New(lc, load.Load{Name: "calibrate", Profile: load.Constant{RPS: rate}, Arrivals: load.Arrivals{Kind: load.Deterministic}}, logger)
	if err != nil {
		return CPUPoint{}, fmt.Errorf("calibrate: %w", err)
	}
	cpu0, t0, err := m.cpu(ctx, time.Now())
	if err != nil {
		return CPUPoint{}, err
	}
	tr0, err := m.triton(ctx)
	if err != nil {
		return CPUPoint{}, err
	}
	s, err := g.Run(ctx)
	if err != nil {
		return CPUPoint{}, fmt.Errorf("calibrate: CPU step at %v req/s: %w", rate, err)
	}
	tr1, err := m.triton(ctx)
	if err != nil {
		return CPUPoint{}, err
	}
	cpu1, t1, err := m.cpu(ctx, time.Now())
	if err != nil {
		return CPUPoint{}, err
	}
	pt := CPUPoint{Rate: rate, Seconds: t1.Sub(t0).Seconds(), CPUSeconds: cpu1 - cpu0, Images: int64(tr1.count - tr0.count)}
	logger.Info("CPU step measured", "rate", rate, "sent", s.Sent, "images", pt.Images, "cpu_seconds", pt.CPUSeconds,
		"p95_ms", s.KPIs.P95LatencyMS, "qos_violation_rate", s.KPIs.QoSViolationRate)
	return pt, nil
}

// cpu reads the cumulative CPU seconds at (about) time at, and the time it describes.
// The pod must be idle (no step's load) from at until the read returns.
func (m *meter) cpu(ctx context.Context, at time.Time) (float64, time.Time, error) {
	if m.c.PrometheusURL != "" {
		return m.promCPU(ctx, at)
	}
	u := m.c.CPUMetricsURL
	if u == "" {
		u = m.c.MetricsURL
	}
	fams, err := scrape(ctx, m.client, u)
	if err != nil {
		return 0, at, err
	}
	v, ok := sum(fams, m.c.CPUMetric, m.c.CPULabels)
	if !ok {
		return 0, at, fmt.Errorf("%w: %s has no %s series matching %v (set cpu_metrics_url, or prometheus_url and cpu_query)", errNoCPU, u, m.c.CPUMetric, m.c.CPULabels)
	}
	return v, at, nil
}

// promCPU reads cpu_query from Prometheus once it has scraped past at: it waits
// prometheus_wait (two scrape intervals) and evaluates the query at at +
// prometheus_wait/2. An instant query returns the newest sample at or before its
// evaluation time, up to a scrape interval old, so that sample was scraped after at, while
// the pod was idle (a step's load starts only after the read before it returns, and the
// read after it starts when its last request has been answered): it holds all the CPU
// used before at and none of the next step's. Evaluated at at itself, the sample could be
// a scrape interval older and miss the end of the previous step, or of the batch sweep.
func (m *meter) promCPU(ctx context.Context, at time.Time) (float64, time.Time, error) {
	client, err := api.NewClient(api.Config{Address: m.c.PrometheusURL})
	if err != nil {
		return 0, at, fmt.Errorf("calibrate: prometheus_url: %w", err)
	}
	if d := time.Until(at.Add(m.c.PrometheusWait)); d > 0 {
		select {
		case <-ctx.Done():
			return 0, at, ctx.Err()
		case <-time.After(d):
		}
	}
	eval := at.Add(m.c.PrometheusWait / 2)
	v, _, _, err := v1.NewAPI(client).Query(ctx, m.c.CPUQuery, eval)
	if err != nil {
		return 0, at, fmt.Errorf("calibrate: cpu_query: %w", err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return 0, at, fmt.Errorf("%w: cpu_query %s returned %v, want one series", errNoCPU, m.c.CPUQuery, v)
	}
	return float64(vec[0].Value), at, nil
}

// scrape reads a Prometheus text-format metrics page.
func scrape(ctx context.Context, client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calibrate: metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("calibrate: metrics %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("calibrate: metrics %s: %w", url, err)
	}
	return fams, nil
}

// sum adds the values of a metric's series whose labels include sel.
func sum(fams map[string]*dto.MetricFamily, name string, sel map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var total float64
	found := false
	for _, mt := range f.Metric {
		labels := map[string]string{}
		for _, lp := range mt.Label {
			labels[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range sel {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		found = true
		switch {
		case mt.Counter != nil:
			total += mt.Counter.GetValue()
		case mt.Gauge != nil:
			total += mt.Gauge.GetValue()
		case mt.Untyped != nil:
			total += mt.Untyped.GetValue()
		}
	}
	return total, found
}
