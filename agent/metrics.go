package agent

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scalelab/scalelab/framework"
)

// Metrics are the agent's Prometheus metrics (served on /metrics).
type Metrics struct {
	reg *prometheus.Registry

	decisions     prometheus.Counter
	fallbacks     prometheus.Counter
	overruns      prometheus.Counter
	errors        *prometheus.CounterVec
	reward        prometheus.Gauge
	rewardTotal   prometheus.Gauge
	rewardTerms   *prometheus.GaugeVec
	phase         *prometheus.HistogramVec
	replicas      *prometheus.GaugeVec
	commanded     prometheus.Gauge
	disabled      prometheus.Gauge
	leader        prometheus.Gauge
	dryRun        prometheus.Gauge
	lastDecision  prometheus.Gauge
	featureValues *prometheus.GaugeVec
	featureValid  *prometheus.GaugeVec

	mu       sync.Mutex
	total    float64
	progress time.Time // the last decision, or the start of leading
	isLeader bool
}

// NewMetrics registers the agent's metrics, labelled with the policy's name, in a new
// registry (with the Go runtime and process collectors).
func NewMetrics(policy string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	constLabels := prometheus.Labels{"policy": policy}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "scalelab", Subsystem: "agent", Name: name, Help: help, ConstLabels: constLabels}
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts(f(name, help)))
		reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts(f(name, help)))
		reg.MustRegister(g)
		return g
	}
	m := &Metrics{reg: reg}
	m.decisions = counter("decisions_total", "Decisions taken (steps completed).")
	m.fallbacks = counter("fallbacks_total", "Decisions where the fallback replaced the policy's action (error, deadline, invalid action, disabled policy).")
	m.overruns = counter("deadline_overruns_total", "Decisions where the policy missed its wall-clock deadline.")
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts(f("step_errors_total", "Steps that failed (collecting, actuating, waiting), by phase.")), []string{"phase"})
	reg.MustRegister(m.errors)
	m.reward = gauge("reward", "Reward of the last step (sum of the weighted terms).")
	m.rewardTotal = gauge("reward_sum", "Sum of the rewards since the agent started leading.")
	m.rewardTerms = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("reward_term", "Weighted reward term of the last step.")), []string{"term"})
	reg.MustRegister(m.rewardTerms)
	m.phase = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "scalelab", Subsystem: "agent", Name: "phase_duration_seconds", ConstLabels: constLabels,
		Help:    "Latency of each phase of a decision: observe (collect), act (the policy), actuate (the Kubernetes API), step (all three).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"phase"})
	reg.MustRegister(m.phase)
	m.replicas = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("replicas", "Replicas of the workload at the last observation, by state.")), []string{"state"})
	reg.MustRegister(m.replicas)
	m.commanded = gauge("commanded_replicas", "Replica target of the last command (after fallback and guardrails); NaN when the command set none.")
	m.disabled = gauge("policy_disabled", "1 when the policy has been disabled after repeated failures.")
	m.leader = gauge("leader", "1 while this agent holds the leader lease and decides.")
	m.dryRun = gauge("dry_run", "1 when commands are only validated by the API server (server-side dry run).")
	m.lastDecision = gauge("last_decision_timestamp_seconds", "Unix time of the last decision.")
	m.featureValues = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("feature", "Observed state features at the last decision (NaN when missing).")), []string{"feature"})
	reg.MustRegister(m.featureValues)
	m.featureValid = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("feature_valid", "1 when the feature was valid at the last decision.")), []string{"feature"})
	reg.MustRegister(m.featureValid)
	return m
}

// Registry returns the metrics registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetLeader records whether the agent leads (and restarts the progress clock).
func (m *Metrics) SetLeader(on bool, now time.Time) {
	m.mu.Lock()
	m.isLeader, m.progress = on, now
	m.mu.Unlock()
	m.leader.Set(b2f(on))
}

// SetDryRun records the dry-run mode.
func (m *Metrics) SetDryRun(on bool) { m.dryRun.Set(b2f(on)) }

// ObservePhase records the latency of one phase.
func (m *Metrics) ObservePhase(phase string, d time.Duration) {
	m.phase.WithLabelValues(phase).Observe(d.Seconds())
}

// StepError counts a failed step.
func (m *Metrics) StepError(phase string) { m.errors.WithLabelValues(phase).Inc() }

// Decision records a completed step.
func (m *Metrics) Decision(d framework.Decision, specs []framework.FeatureSpec, terms []string, now time.Time) {
	m.decisions.Inc()
	if d.Fallback {
		m.fallbacks.Inc()
	}
	if d.Deadline {
		m.overruns.Inc()
	}
	m.disabled.Set(b2f(d.Disabled))
	m.reward.Set(d.Reward)
	for i, name := range terms {
		if i < len(d.Terms) {
			m.rewardTerms.WithLabelValues(name).Set(d.Terms[i])
		}
	}
	if d.Command.Replicas != nil {
		m.commanded.Set(float64(*d.Command.Replicas))
	} else {
		m.commanded.Set(math.NaN())
	}
	rc := d.Next.Cluster.Replicas
	for state, v := range map[string]int{"desired": rc.Desired, "ready": rc.Ready, "pending": rc.Pending, "starting": rc.Starting, "terminating": rc.Terminating} {
		m.replicas.WithLabelValues(state).Set(float64(v))
	}
	for i, f := range specs {
		if i < len(d.Next.Values) {
			m.featureValues.WithLabelValues(f.Name).Set(d.Next.Values[i])
			m.featureValid.WithLabelValues(f.Name).Set(b2f(d.Next.Valid[i]))
		}
	}
	m.lastDecision.Set(float64(now.UnixNano()) / 1e9)
	m.mu.Lock()
	m.total += d.Reward
	m.progress = now
	total := m.total
	m.mu.Unlock()
	m.rewardTotal.Set(total)
}

// Healthy reports whether the agent makes progress: a standby (not leading) agent is
// healthy; a leader is healthy while its last decision (or the start of leading) is no
// older than stale.
func (m *Metrics) Healthy(now time.Time, stale time.Duration) (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.isLeader {
		return true, 0
	}
	age := now.Sub(m.progress)
	return age <= stale, age
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler(now func() time.Time, stale time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		ok, age := m.Healthy(now(), stale)
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("no decision for " + age.Round(time.Second).String() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// timed wrappers measure the phases of a step without changing what the loop sees.

type timedCollector struct {
	framework.Collector
	m *Metrics
}

func (c timedCollector) Collect(ctx context.Context) (framework.Observation, error) {
	t := time.Now()
	o, err := c.Collector.Collect(ctx)
	c.m.ObservePhase("observe", time.Since(t))
	if err != nil {
		c.m.StepError("observe")
	}
	return o, err
}

type timedActuator struct {
	framework.Actuator
	m *Metrics
}

func (a timedActuator) Apply(ctx context.Context, c framework.Command) (framework.Applied, error) {
	t := time.Now()
	ap, err := a.Actuator.Apply(ctx, c)
	a.m.ObservePhase("actuate", time.Since(t))
	if err != nil {
		a.m.StepError("actuate")
	}
	return ap, err
}

// timedPolicy forwards the optional interfaces the loop uses after building (Resetter,
// Observer).
type timedPolicy struct {
	framework.Policy
	m *Metrics
}

func (p timedPolicy) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	t := time.Now()
	a, err := p.Policy.Act(ctx, obs)
	p.m.ObservePhase("act", time.Since(t))
	return a, err
}

func (p timedPolicy) Reset() {
	if r, ok := p.Policy.(framework.Resetter); ok {
		r.Reset()
	}
}

func (p timedPolicy) Observe(reward float64, done bool) {
	if o, ok := p.Policy.(framework.Observer); ok {
		o.Observe(reward, done)
	}
}
