package baselines

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// KPAConfig configures the Knative-KPA-style concurrency autoscaler. Keys follow Knative's
// config-autoscaler names.
type KPAConfig struct {
	TargetConcurrency        float64       `mapstructure:"target_concurrency" doc:"in-flight requests per pod to aim for (Knative's container-concurrency target × target utilisation)" default:"10"`
	StableWindow             time.Duration `mapstructure:"stable_window" doc:"window of the stable concurrency average" default:"60s"`
	PanicWindowPercentage    float64       `mapstructure:"panic_window_percentage" doc:"panic window as a percentage of the stable window" default:"10"`
	PanicThresholdPercentage float64       `mapstructure:"panic_threshold_percentage" doc:"enter panic when the panic-window pod count reaches this percentage of the ready pods" default:"200"`
	MaxScaleUpRate           float64       `mapstructure:"max_scale_up_rate" doc:"at most this many times the ready pods per decision" default:"1000"`
	MaxScaleDownRate         float64       `mapstructure:"max_scale_down_rate" doc:"at least the ready pods divided by this per decision" default:"2"`
	ScaleDownDelay           time.Duration `mapstructure:"scale_down_delay" doc:"hold the highest decision of this past window before scaling down (0 = off)" default:"0s"`
	Tick                     time.Duration `mapstructure:"tick" doc:"decision interval; also the bucket width of the windowed averages" default:"2s"`
	Metric                   string        `mapstructure:"metric" doc:"per-pod metric of the cluster view holding the in-flight requests" default:"inflight"`
}

// DefaultKPAConfig returns Knative's defaults (target 10 chosen for a small inference pod).
func DefaultKPAConfig() *KPAConfig {
	return &KPAConfig{
		TargetConcurrency: 10, StableWindow: 60 * time.Second, PanicWindowPercentage: 10, PanicThresholdPercentage: 200,
		MaxScaleUpRate: 1000, MaxScaleDownRate: 2, Tick: 2 * time.Second, Metric: "inflight",
	}
}

// Validate reports every out-of-range key (Knative's own ranges where it has them).
func (c *KPAConfig) Validate() []error {
	var errs []error
	if !(c.TargetConcurrency > 0) {
		errs = append(errs, fmt.Errorf("target_concurrency: must be > 0, got %g", c.TargetConcurrency))
	}
	if c.StableWindow < 6*time.Second || c.StableWindow > time.Hour {
		errs = append(errs, fmt.Errorf("stable_window: must be within [6s, 1h], got %s", c.StableWindow))
	}
	if c.PanicWindowPercentage < 1 || c.PanicWindowPercentage > 100 {
		errs = append(errs, fmt.Errorf("panic_window_percentage: must be within [1, 100], got %g", c.PanicWindowPercentage))
	}
	if c.PanicThresholdPercentage < 110 || c.PanicThresholdPercentage > 1000 {
		errs = append(errs, fmt.Errorf("panic_threshold_percentage: must be within [110, 1000], got %g", c.PanicThresholdPercentage))
	}
	if !(c.MaxScaleUpRate > 1) {
		errs = append(errs, fmt.Errorf("max_scale_up_rate: must be > 1, got %g", c.MaxScaleUpRate))
	}
	if !(c.MaxScaleDownRate > 1) {
		errs = append(errs, fmt.Errorf("max_scale_down_rate: must be > 1, got %g", c.MaxScaleDownRate))
	}
	if c.ScaleDownDelay < 0 || c.ScaleDownDelay > time.Hour {
		errs = append(errs, fmt.Errorf("scale_down_delay: must be within [0s, 1h], got %s", c.ScaleDownDelay))
	}
	if c.Tick <= 0 {
		errs = append(errs, fmt.Errorf("tick: must be > 0, got %s", c.Tick))
	} else if c.PanicWindowPercentage >= 1 && c.panicWindow() < c.Tick {
		errs = append(errs, fmt.Errorf("tick: must not exceed the panic window (%s), got %s", c.panicWindow(), c.Tick))
	}
	if c.Metric == "" {
		errs = append(errs, fmt.Errorf("metric: must name a per-pod metric"))
	}
	return errs
}

func (c *KPAConfig) panicWindow() time.Duration {
	return time.Duration(float64(c.StableWindow) * c.PanicWindowPercentage / 100)
}

// KPA is Knative's KPA decider (pkg/autoscaler/scaling/autoscaler.go) over the cluster
// view: every tick it samples the in-flight requests of the ready pods (the sample mean
// times the ready count, as Knative's scraper infers the total), keeps stable (60 s) and
// panic (6 s) windowed averages in time buckets, and decides
//
//	desired stable = ceil(stable average / target), desired panic = ceil(panic average / target),
//	each kept within [floor(ready / max_scale_down_rate), ceil(max_scale_up_rate × ready)].
//
// Panic mode (state machine):
//
//	stable ──(desired panic / ready ≥ threshold)──► panic: desired = max(stable, panic),
//	   ▲                                             never below the highest count of
//	   │                                             this panic (no scale-down)
//	   └──(below threshold and no panic for a whole stable window)──┘
//
// Over the threshold again while panicking restarts the stable-window timer. Like a new
// Knative autoscaler, the first decision after a reset starts in panic at the ready count
// when more than one pod is ready. Without data in the stable window it holds the current
// count.
type KPA struct {
	cfg          KPAConfig
	stable       *timedBuckets
	panicB       *timedBuckets
	delay        *maxWindow
	started      bool
	panicTime    time.Time
	maxPanicPods int32
}

var (
	_ framework.Policy               = (*KPA)(nil)
	_ framework.Periodic             = (*KPA)(nil)
	_ framework.ActionDesignRequirer = (*KPA)(nil)
	_ framework.Builtin              = (*KPA)(nil)
	_ framework.Resetter             = (*KPA)(nil)
)

// NewKPA returns the KPA-style baseline.
func NewKPA(cfg *KPAConfig) (*KPA, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("kpa: %w", errs[0])
	}
	k := &KPA{cfg: *cfg}
	k.Reset()
	return k, nil
}

// Reset forgets the windows and the panic state (a new episode).
func (k *KPA) Reset() {
	k.stable = newTimedBuckets(k.cfg.StableWindow, k.cfg.Tick)
	k.panicB = newTimedBuckets(k.cfg.panicWindow(), k.cfg.Tick)
	k.delay = nil
	if k.cfg.ScaleDownDelay > 0 {
		k.delay = &maxWindow{window: k.cfg.ScaleDownDelay}
	}
	k.started = false
	k.panicTime = time.Time{}
	k.maxPanicPods = 0
}

// Panicking reports whether the autoscaler is in panic mode.
func (k *KPA) Panicking() bool { return !k.panicTime.IsZero() }

// Act records this tick's concurrency and returns the desired pod count.
func (k *KPA) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	if err := ctx.Err(); err != nil {
		return framework.Action{}, fmt.Errorf("kpa: %w", err)
	}
	now := obs.Cluster.Now
	if now.IsZero() {
		now = obs.Time
	}
	ready, total, samples := k.scrape(obs.Cluster)
	if !k.started {
		// A new autoscaler starts in panic mode when more than one pod is ready, keeping
		// at least the current scale until it has enough data.
		k.started = true
		if ready > 1 {
			k.panicTime = now
			k.maxPanicPods = int32(ready)
		}
	}
	if samples > 0 {
		stat := total / float64(samples) * float64(ready)
		k.stable.record(now, stat)
		k.panicB.record(now, stat)
	}
	hold := framework.Action{Values: []float64{float64(obs.Cluster.Replicas.Desired)}}
	if k.stable.isEmpty(now) {
		return hold, nil // no data to scale on yet
	}
	want := int(k.decide(now, ready))
	// Knative clamps the decider's result to the revision's min-scale/max-scale
	// annotations; here those are the workload's bounds.
	if lo := obs.Cluster.MinReplicas; lo > 0 && want < lo {
		want = lo
	}
	if hi := obs.Cluster.MaxReplicas; hi > 0 && want > hi {
		want = hi
	}
	return framework.Action{Values: []float64{float64(want)}}, nil
}

// scrape returns the ready pod count and the sum and number of samples of the metric
// over the ready pods.
func (k *KPA) scrape(v framework.ClusterView) (ready int, total float64, samples int) {
	for _, p := range v.Pods {
		if !p.Ready || p.Deleting || p.Phase != framework.PodRunning {
			continue
		}
		ready++
		if m, ok := p.Metrics[k.cfg.Metric]; ok && !math.IsNaN(m.Value) {
			total += m.Value
			samples++
		}
	}
	return ready, total, samples
}

// decide ports autoscaler.Scale from the observed averages on.
func (k *KPA) decide(now time.Time, originalReady int) int32 {
	observedStable := k.stable.windowAverage(now)
	observedPanic := k.panicB.windowAverage(now)
	readyPodsCount := math.Max(1, float64(originalReady))

	// Keep at least one more pod reachable on a conservative scale-up rate.
	maxScaleUp := math.Ceil(k.cfg.MaxScaleUpRate * readyPodsCount)
	maxScaleDown := math.Floor(readyPodsCount / k.cfg.MaxScaleDownRate)

	dspc := math.Ceil(observedStable / k.cfg.TargetConcurrency)
	dppc := math.Ceil(observedPanic / k.cfg.TargetConcurrency)
	desiredStablePodCount := int32(math.Min(math.Max(dspc, maxScaleDown), maxScaleUp))
	desiredPanicPodCount := int32(math.Min(math.Max(dppc, maxScaleDown), maxScaleUp))

	isOverPanicThreshold := dppc/readyPodsCount >= k.cfg.PanicThresholdPercentage/100
	switch {
	case k.panicTime.IsZero() && isOverPanicThreshold:
		k.panicTime = now // begin panicking
	case isOverPanicThreshold:
		k.panicTime = now // still over the threshold: extend the panic
	case !k.panicTime.IsZero() && k.panicTime.Add(k.cfg.StableWindow).Before(now):
		// The surge has made its way into the stable average: stop panicking.
		k.panicTime = time.Time{}
		k.maxPanicPods = 0
	}

	desired := desiredStablePodCount
	if !k.panicTime.IsZero() {
		// Provision for the larger of the two, and never scale down while panicking.
		desired = max(desired, desiredPanicPodCount)
		if desired > k.maxPanicPods {
			k.maxPanicPods = desired
		}
		desired = k.maxPanicPods
	}
	if k.delay != nil {
		k.delay.record(now, desired)
		desired = k.delay.current()
	}
	return desired
}

// Period is the tick.
func (k *KPA) Period() time.Duration { return k.cfg.Tick }

// RequiredActionDesign is "replicas".
func (k *KPA) RequiredActionDesign() string { return "replicas" }

// BuiltinBaseline marks the policy as a baseline with its own rate limits.
func (k *KPA) BuiltinBaseline() {}

// timedBuckets ports Knative's aggregation.TimedFloat64Buckets: values are summed into
// buckets of one granularity over a window; the average divides by the number of buckets
// since the first write (a partial window at the start) and drops buckets not written
// since the last write.
type timedBuckets struct {
	buckets     []float64
	granularity time.Duration
	window      time.Duration
	firstWrite  time.Time
	lastWrite   time.Time
	windowTotal float64
}

func newTimedBuckets(window, granularity time.Duration) *timedBuckets {
	nb := int(math.Ceil(float64(window) / float64(granularity)))
	return &timedBuckets{buckets: make([]float64, nb), granularity: granularity, window: window}
}

func (t *timedBuckets) timeToIndex(tm time.Time) int {
	return int(tm.UnixNano() / int64(t.granularity))
}

func (t *timedBuckets) record(now time.Time, value float64) {
	bucketTime := now.Truncate(t.granularity)
	writeIdx := t.timeToIndex(now)
	if !t.lastWrite.IsZero() && bucketTime.Add(t.window).Before(t.lastWrite) {
		return // older than a window
	}
	if t.firstWrite.IsZero() || t.firstWrite.After(bucketTime) {
		t.firstWrite = bucketTime
	}
	if t.lastWrite.IsZero() || bucketTime.After(t.lastWrite) {
		if t.lastWrite.IsZero() || bucketTime.Sub(t.lastWrite) >= t.window {
			// Nothing written for a whole window: start afresh.
			t.firstWrite = bucketTime
			clear(t.buckets)
			t.windowTotal = 0
		} else {
			// Clear the buckets between the last write and now.
			for i := t.timeToIndex(t.lastWrite) + 1; i <= writeIdx; i++ {
				idx := i % len(t.buckets)
				t.windowTotal -= t.buckets[idx]
				t.buckets[idx] = 0
			}
		}
		t.lastWrite = bucketTime
	}
	t.buckets[writeIdx%len(t.buckets)] += value
	t.windowTotal += value
}

func (t *timedBuckets) isEmpty(now time.Time) bool {
	now = now.Truncate(t.granularity)
	return t.lastWrite.IsZero() || now.Sub(t.lastWrite) > t.window
}

func (t *timedBuckets) windowAverage(now time.Time) float64 {
	now = now.Truncate(t.granularity)
	if t.isEmpty(now) {
		return 0
	}
	switch d := now.Sub(t.lastWrite); {
	case d <= 0:
		numBuckets := min(int(t.lastWrite.Sub(t.firstWrite)/t.granularity)+1, len(t.buckets))
		return t.windowTotal / float64(numBuckets)
	case d < t.window:
		// No data for part of the window: drop the outdated buckets.
		startIdx, endIdx := t.timeToIndex(t.lastWrite), t.timeToIndex(now)
		total := t.windowTotal
		for i := startIdx + 1; i <= endIdx; i++ {
			total -= t.buckets[i%len(t.buckets)]
		}
		numBuckets := min(int(t.lastWrite.Sub(t.firstWrite)/t.granularity)+1, len(t.buckets)-(endIdx-startIdx))
		return total / float64(numBuckets)
	default:
		return 0
	}
}

// maxWindow is Knative's max.TimeWindow for the scale-down delay: the highest value
// recorded within the past window.
type maxWindow struct {
	window  time.Duration
	entries []maxEntry
}

type maxEntry struct {
	at    time.Time
	value int32
}

func (w *maxWindow) record(now time.Time, v int32) {
	cutoff := now.Add(-w.window)
	kept := w.entries[:0]
	for _, e := range w.entries {
		if e.at.After(cutoff) {
			kept = append(kept, e)
		}
	}
	w.entries = append(kept, maxEntry{at: now, value: v})
}

func (w *maxWindow) current() int32 {
	var m int32 = math.MinInt32
	for _, e := range w.entries {
		m = max(m, e.value)
	}
	return m
}
