package loadgen

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/kserve"
	pn "github.com/scalelab/scalelab/serve/promnames"
)

// Outcome classifies a response the way the simulator's accounting does.
type Outcome int

// Outcomes.
const (
	// Completed is a successful answer (it counts as an SLO violation when slower than the
	// SLO).
	Completed Outcome = iota
	// Dropped is a request the system did not serve: the client timed out, or the server
	// refused it (429, 503: queue full, not ready) or could not be reached (connection
	// refused or reset: no ready endpoint).
	Dropped
	// Failed is any other error: a 4xx or 5xx answer, a malformed response, a transport
	// error.
	Failed
)

// String returns the outcome's label value.
func (o Outcome) String() string {
	switch o {
	case Completed:
		return "completed"
	case Dropped:
		return "dropped"
	}
	return "failed"
}

// Classify returns a result's outcome and a short reason (the HTTP status code, or
// "timeout", "refused", "reset", "invalid_response", "error").
func Classify(r *vegeta.Result) (Outcome, string) {
	if r.Code >= 200 && r.Code < 300 && r.Error == "" {
		return Completed, strconv.Itoa(int(r.Code))
	}
	if r.Code != 0 {
		switch r.Code {
		case 429, 503:
			return Dropped, strconv.Itoa(int(r.Code))
		}
		if r.Code >= 200 && r.Code < 300 {
			return Failed, "invalid_response"
		}
		return Failed, strconv.Itoa(int(r.Code))
	}
	e := r.Error
	switch {
	case strings.Contains(e, "Client.Timeout") || strings.Contains(e, "deadline exceeded") || strings.Contains(e, "timeout"):
		return Dropped, "timeout"
	case strings.Contains(e, "connection refused"):
		return Dropped, "refused"
	case strings.Contains(e, "connection reset"):
		return Dropped, "reset"
	}
	return Failed, "error"
}

// LatencyBuckets are the upper bounds (seconds) of the exported latency histogram:
// from 0.5 ms up by factors of 2^(1/8) (≈ 9 %) to about 60 s, so histogram_quantile's
// linear interpolation inside a bucket is off by at most ≈ 4.5 % of the value. They are
// promnames.LatencyBuckets, shared with the simulator's exporter.
var LatencyBuckets = pn.LatencyBuckets

// Metrics are the load generator's Prometheus metrics, all with the constant label model
// (names from serve/promnames, shared with the simulator's exporter):
//
//	scalelab_loadgen_requests_total                       requests sent (arrivals)
//	scalelab_loadgen_responses_total{outcome}             finished requests: completed, dropped, failed
//	scalelab_loadgen_responses_by_reason_total{outcome,reason}  the same by HTTP status or error
//	scalelab_loadgen_slo_violations_total                 completions slower than the SLO
//	scalelab_loadgen_request_duration_seconds             histogram of completions' latency (LatencyBuckets)
//	scalelab_loadgen_in_flight_requests                   sent and not finished
//	scalelab_loadgen_slo_seconds                          the SLO
//	scalelab_loadgen_offered_rate                         the profile's rate now (req/s)
type Metrics struct {
	requests  prometheus.Counter
	responses *prometheus.CounterVec
	reasons   *prometheus.CounterVec
	slow      prometheus.Counter
	latency   prometheus.Histogram
	inflight  prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
// offered, when not nil, gives the offered rate now.
func NewMetrics(reg prometheus.Registerer, model string, slo time.Duration, offered func() float64) *Metrics {
	cl := prometheus.Labels{pn.LabelModel: model}
	m := &Metrics{
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: pn.LoadgenRequests.Name,
			Help: pn.LoadgenRequests.Help, ConstLabels: cl}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: pn.LoadgenResponses.Name,
			Help: pn.LoadgenResponses.Help, ConstLabels: cl}, []string{pn.LoadgenOutcomeLabel}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{Name: pn.LoadgenResponsesReason.Name,
			Help: pn.LoadgenResponsesReason.Help, ConstLabels: cl}, []string{pn.LoadgenOutcomeLabel, pn.LabelReason}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{Name: pn.LoadgenSLOViolations.Name,
			Help: pn.LoadgenSLOViolations.Help, ConstLabels: cl}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: pn.LoadgenRequestDuration.Name,
			Help: pn.LoadgenRequestDuration.Help, ConstLabels: cl, Buckets: LatencyBuckets}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: pn.LoadgenInFlight.Name,
			Help: pn.LoadgenInFlight.Help, ConstLabels: cl}),
	}
	// Every outcome's series exists from the start, so that sums over outcomes are 0
	// rather than absent before the first drop or failure.
	for _, o := range []Outcome{Completed, Dropped, Failed} {
		m.responses.WithLabelValues(o.String())
	}
	cs := []prometheus.Collector{m.requests, m.responses, m.reasons, m.slow, m.latency, m.inflight,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: pn.LoadgenSLO.Name, Help: pn.LoadgenSLO.Help, ConstLabels: cl},
			func() float64 { return slo.Seconds() })}
	if offered != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: pn.LoadgenOfferedRate.Name,
			Help: pn.LoadgenOfferedRate.Help, ConstLabels: cl}, offered))
	}
	if reg != nil {
		reg.MustRegister(cs...)
	}
	return m
}

// Recorder turns responses into the framework's KPI format — windows of Totals and a
// latency histogram of completions, cut like a backend's Accounting — and into Prometheus
// metrics. It is safe for concurrent use.
type Recorder struct {
	slo     time.Duration
	profile load.Profile
	start   time.Time
	m       *Metrics

	mu      sync.Mutex
	win     framework.Totals
	hist    *framework.Histogram
	winFrom time.Time
	run     framework.Totals
	runHist *framework.Histogram
}

// NewRecorder returns a recorder whose windows start at start (the profile's offset 0),
// counting into m (nil: metrics are not kept). profile (may be nil) gives the offered load
// of each window.
func NewRecorder(m *Metrics, slo time.Duration, profile load.Profile, start time.Time) *Recorder {
	if m == nil {
		m = NewMetrics(nil, "", slo, nil)
	}
	return &Recorder{slo: slo, profile: profile, start: start, winFrom: start, m: m,
		hist: framework.NewHistogram(), runHist: framework.NewHistogram()}
}

// Sent counts a request as sent (an arrival).
func (r *Recorder) Sent() {
	r.m.requests.Inc()
	r.m.inflight.Inc()
	r.mu.Lock()
	r.win.Arrivals++
	r.mu.Unlock()
}

// Record accounts a finished request with the given outcome and latency.
func (r *Recorder) Record(o Outcome, reason string, latency time.Duration) {
	r.m.inflight.Dec()
	r.m.responses.WithLabelValues(o.String()).Inc()
	r.m.reasons.WithLabelValues(o.String(), reason).Inc()
	slow := o == Completed && latency > r.slo
	if o == Completed {
		r.m.latency.Observe(latency.Seconds())
		if slow {
			r.m.slow.Inc()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o {
	case Completed:
		r.win.Completions++
		r.hist.Record(latency)
		if slow {
			r.win.SLOViolations++
		}
	case Dropped:
		r.win.Drops++
	default:
		r.win.Failures++
	}
}

// RecordResult classifies and accounts a vegeta result; with validate, a 2xx answer whose
// body is not a valid inference response counts as failed.
func (r *Recorder) RecordResult(res *vegeta.Result, validate bool) {
	o, reason := Classify(res)
	if o == Completed && validate {
		hl, _ := strconv.Atoi(res.Headers.Get(kserve.HeaderContentLength))
		if resp, err := kserve.DecodeResponse(res.Body, hl); err != nil || len(resp.Outputs) == 0 {
			o, reason = Failed, "invalid_response"
		}
	}
	r.Record(o, reason, res.Latency)
}

// Cut closes the current window at now and returns it: the requests sent in it
// (Arrivals), those that finished in it by outcome, the latencies of its completions, and
// the profile's expected arrivals over it (OfferedRequests). The next window starts at
// now. Cluster-side quantities (replicas, CPU, GPU) are left zero: they come from the
// cluster.
func (r *Recorder) Cut(now time.Time) framework.Window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := framework.Window{Start: r.winFrom, End: now, Totals: r.win, Latency: r.hist}
	if r.profile != nil {
		w.Totals.OfferedRequests = load.Integral(r.profile, r.winFrom.Sub(r.start), now.Sub(r.start))
	}
	r.run.Add(w.Totals)
	r.runHist.Merge(r.hist)
	r.win = framework.Totals{}
	r.hist = framework.NewHistogram()
	r.winFrom = now
	return w
}

// KPIs returns the KPIs of every window cut so far, computed as the framework computes a
// run's (framework.KPIAccumulator, no warm-up): latency quantiles from the merged
// histogram, throughput, offered rate, QoS violation and drop rates. Cluster-side KPIs
// (replicas, utilisations, batching, queueing) are NaN here: they come from the cluster.
func (r *Recorder) KPIs() framework.KPIs {
	r.mu.Lock()
	end := r.winFrom
	w := framework.Window{Start: r.start, End: end, Totals: r.run, Latency: framework.NewHistogram()}
	w.Latency.Merge(r.runHist)
	r.mu.Unlock()
	acc := framework.NewKPIAccumulator(time.Time{}, nil)
	acc.Add(framework.Decision{Windows: []framework.Window{w}})
	k := acc.Finish(-1)
	k.Decisions = 0
	nan := math.NaN()
	k.MeanReplicas, k.MeanReadyReplicas, k.ReplicaSeconds, k.GPUSeconds = nan, nan, nan, nan
	k.GPUUtil, k.CPUUtil, k.MemUtil, k.GPUMemUtil, k.AvgBatchSize, k.MeanQueueMS = nan, nan, nan, nan, nan, nan
	return k
}
