package framework

import (
	"math"
	"time"
)

// KPIs is the record of one run, computed from the backend's ground-truth accounting after
// the warm-up. Percentiles come from the run's merged histogram, never from averaging
// per-window percentiles. Field names are the KPI names used in tables and reports.
type KPIs struct {
	MeanLatencyMS     float64 `json:"mean_latency_ms"`
	P50LatencyMS      float64 `json:"p50_latency_ms"`
	P95LatencyMS      float64 `json:"p95_latency_ms"`
	P99LatencyMS      float64 `json:"p99_latency_ms"`
	ThroughputRPS     float64 `json:"throughput_rps"`
	QoSViolationRate  float64 `json:"qos_violation_rate"`
	DropRate          float64 `json:"drop_rate"`
	MeanReplicas      float64 `json:"mean_replicas"`
	MeanReadyReplicas float64 `json:"mean_ready_replicas"`
	ReplicaSeconds    float64 `json:"replica_seconds"`
	GPUSeconds        float64 `json:"gpu_seconds"`
	GPUUtil           float64 `json:"gpu_util"`
	CPUUtil           float64 `json:"cpu_util"`
	MemUtil           float64 `json:"mem_util"`
	GPUMemUtil        float64 `json:"gpu_mem_util"`
	AvgBatchSize      float64 `json:"avg_batch_size"`
	MeanQueueMS       float64 `json:"mean_queue_ms"`
	OfferedRPS        float64 `json:"offered_rps"`

	Arrivals      int64 `json:"arrivals"`
	Completions   int64 `json:"completions"`
	Drops         int64 `json:"drops"`
	Failures      int64 `json:"failures"`
	SLOViolations int64 `json:"slo_violations"`

	MeasuredSeconds   float64            `json:"measured_seconds"`
	Decisions         int                `json:"decisions"`
	FallbackSteps     int                `json:"fallback_steps"`
	DeadlineFallbacks int                `json:"deadline_fallbacks"`
	ClampedSteps      int                `json:"clamped_steps"`
	LimitedSteps      int                `json:"limited_steps"`
	ScaleEvents       int                `json:"scale_events"`
	PolicyDisabled    bool               `json:"policy_disabled"`
	DisabledAtS       float64            `json:"disabled_at_s"`
	RewardTotal       float64            `json:"reward_total"`
	RewardTerms       map[string]float64 `json:"reward_terms"`
}

// KPINames lists the numeric KPIs shown in summary tables, in display order, with units.
var KPINames = []struct {
	Key, Label, Unit string
	LowerIsBetter    bool
}{
	{"p95_latency_ms", "p95 latency", "ms", true},
	{"p99_latency_ms", "p99 latency", "ms", true},
	{"mean_latency_ms", "mean latency", "ms", true},
	{"qos_violation_rate", "QoS violations", "fraction", true},
	{"mean_replicas", "mean replicas", "pods", true},
	{"gpu_util", "GPU util", "fraction", false},
	{"cpu_util", "CPU util", "fraction", false},
	{"throughput_rps", "throughput", "req/s", false},
	{"scale_events", "scale events", "count", true},
	{"reward_total", "reward", "sum", false},
}

// Get returns a KPI by its JSON name (NaN if unknown).
func (k KPIs) Get(name string) float64 {
	switch name {
	case "mean_latency_ms":
		return k.MeanLatencyMS
	case "p50_latency_ms":
		return k.P50LatencyMS
	case "p95_latency_ms":
		return k.P95LatencyMS
	case "p99_latency_ms":
		return k.P99LatencyMS
	case "throughput_rps":
		return k.ThroughputRPS
	case "qos_violation_rate":
		return k.QoSViolationRate
	case "drop_rate":
		return k.DropRate
	case "mean_replicas":
		return k.MeanReplicas
	case "mean_ready_replicas":
		return k.MeanReadyReplicas
	case "replica_seconds":
		return k.ReplicaSeconds
	case "gpu_seconds":
		return k.GPUSeconds
	case "gpu_util":
		return k.GPUUtil
	case "cpu_util":
		return k.CPUUtil
	case "mem_util":
		return k.MemUtil
	case "gpu_mem_util":
		return k.GPUMemUtil
	case "avg_batch_size":
		return k.AvgBatchSize
	case "mean_queue_ms":
		return k.MeanQueueMS
	case "offered_rps":
		return k.OfferedRPS
	case "scale_events":
		return float64(k.ScaleEvents)
	case "reward_total":
		return k.RewardTotal
	case "fallback_steps":
		return float64(k.FallbackSteps)
	}
	return math.NaN()
}

// KPIAccumulator gathers a run's windows after the warm-up and its decisions.
type KPIAccumulator struct {
	Warmup   time.Time // windows ending at or before this instant are excluded
	totals   Totals
	measured float64
	hist     *Histogram
	k        KPIs
	terms    []string
}

// NewKPIAccumulator starts a run's KPI accumulation; windows that end at or before warmupEnd
// are excluded (the Loop's Split makes the warm-up boundary a window boundary).
func NewKPIAccumulator(warmupEnd time.Time, termNames []string) *KPIAccumulator {
	return &KPIAccumulator{Warmup: warmupEnd, hist: NewHistogram(), terms: termNames,
		k: KPIs{RewardTerms: map[string]float64{}, DisabledAtS: -1}}
}

// Add folds one decision into the run.
func (a *KPIAccumulator) Add(d Decision) {
	measured := false
	for _, w := range d.Windows {
		if !w.End.After(a.Warmup) {
			continue
		}
		measured = true
		a.totals.Add(w.Totals)
		a.measured += w.Duration().Seconds()
		a.hist.Merge(w.Latency)
	}
	if !measured {
		return
	}
	a.k.Decisions++
	if d.Fallback {
		a.k.FallbackSteps++
		if d.Deadline {
			a.k.DeadlineFallbacks++
		}
	}
	if d.Guard.Clamped {
		a.k.ClampedSteps++
	}
	if d.Guard.Limited {
		a.k.LimitedSteps++
	}
	if d.Applied.Replicas != d.PrevReplicas && !d.Applied.DryRun {
		a.k.ScaleEvents++
	}
	a.k.RewardTotal += d.Reward
	for i, v := range d.Terms {
		if i < len(a.terms) {
			a.k.RewardTerms[a.terms[i]] += v
		}
	}
}

// Histogram returns the run's merged latency histogram.
func (a *KPIAccumulator) Histogram() *Histogram { return a.hist }

// Totals returns the run's summed totals.
func (a *KPIAccumulator) Totals() Totals { return a.totals }

// Finish computes the KPIs. disabledAt < 0 means the policy was never disabled.
func (a *KPIAccumulator) Finish(disabledAt time.Duration) KPIs {
	k := a.k
	t := a.totals
	dur := a.measured
	k.MeasuredSeconds = dur
	k.Arrivals, k.Completions, k.Drops, k.Failures, k.SLOViolations = t.Arrivals, t.Completions, t.Drops, t.Failures, t.SLOViolations
	k.MeanLatencyMS = a.hist.MeanMS()
	k.P50LatencyMS = a.hist.QuantileMS(0.50)
	k.P95LatencyMS = a.hist.QuantileMS(0.95)
	k.P99LatencyMS = a.hist.QuantileMS(0.99)
	k.ThroughputRPS = ratio(float64(t.Completions), dur)
	k.OfferedRPS = ratio(t.OfferedRequests, dur)
	k.QoSViolationRate = ratio(float64(t.SLOViolations+t.Drops+t.Failures), float64(t.Arrivals))
	k.DropRate = ratio(float64(t.Drops+t.Failures), float64(t.Arrivals))
	k.MeanReplicas = ratio(t.ReplicaSeconds, dur)
	k.MeanReadyReplicas = ratio(t.ReadyReplicaSeconds, dur)
	k.ReplicaSeconds = t.ReplicaSeconds
	k.GPUSeconds = t.GPUSeconds
	k.GPUUtil = ratio(t.GPUBusySeconds, float64(t.GPUCount)*dur)
	k.CPUUtil = ratio(t.CPUSeconds, t.CPURequestSeconds)
	k.MemUtil = ratio(t.MemByteSeconds, t.MemRequestByteSeconds)
	k.GPUMemUtil = ratio(t.GPUMemByteSeconds, t.GPUMemTotalBytes*dur)
	k.AvgBatchSize = ratio(float64(t.BatchedRequests), float64(t.Batches))
	k.MeanQueueMS = ratio(t.QueueSeconds*1000, float64(t.Completions))
	if disabledAt >= 0 {
		k.PolicyDisabled = true
		k.DisabledAtS = disabledAt.Seconds()
	}
	return k
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
