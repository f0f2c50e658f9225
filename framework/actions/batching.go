package actions

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// BatchingConfig configures the batching design.
type BatchingConfig struct {
	// MaxBatchSizes are the batcher's max batch sizes to choose from.
	MaxBatchSizes []int `mapstructure:"max_batch_sizes" doc:"max batch sizes to choose from, strictly increasing, each ≥ 1" default:"[1 2 4 8 16 32]"`
	// MaxQueueDelays are the batcher's max queue delays to choose from.
	MaxQueueDelays []time.Duration `mapstructure:"max_queue_delays" doc:"max queue delays to choose from, strictly increasing, each ≥ 0s" default:"[0s 1ms 2ms 5ms 10ms]"`
}

// DefaultBatchingConfig returns the defaults: sizes 1…32 in powers of two, delays 0–10 ms.
func DefaultBatchingConfig() BatchingConfig {
	return BatchingConfig{
		MaxBatchSizes:  []int{1, 2, 4, 8, 16, 32},
		MaxQueueDelays: []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond},
	}
}

// Validate reports every problem of both lists.
func (c BatchingConfig) Validate() []error {
	errs := checkIncreasing("max_batch_sizes", c.MaxBatchSizes,
		func(b int) bool { return b >= 1 }, "≥ 1", strconv.Itoa)
	return append(errs, checkIncreasing("max_queue_delays", c.MaxQueueDelays,
		func(d time.Duration) bool { return d >= 0 }, "≥ 0s", time.Duration.String)...)
}

// Batching is the batching design: a MultiDiscrete space [len(max_batch_sizes),
// len(max_queue_delays)]; action (i, j) sets Command.Batching to the current settings
// (view.Batching) with MaxBatchSize = max_batch_sizes[i] and MaxQueueDelay =
// max_queue_delays[j]. Preferred batch sizes above the new maximum are dropped, since
// Triton rejects a preferred_batch_size larger than max_batch_size.
type Batching struct {
	sizes  []int
	delays []time.Duration
}

var _ framework.ActionDesign = (*Batching)(nil)

// NewBatching builds the design from a validated config.
func NewBatching(c BatchingConfig) (*Batching, error) {
	if err := framework.ValidationError("action design "+TypeBatching, c.Validate()); err != nil {
		return nil, err
	}
	return &Batching{sizes: slices.Clone(c.MaxBatchSizes), delays: slices.Clone(c.MaxQueueDelays)}, nil
}

// Name returns "batching".
func (d *Batching) Name() string { return TypeBatching }

// Space is MultiDiscrete with Nvec = [len(max_batch_sizes), len(max_queue_delays)].
func (d *Batching) Space() framework.ActionSpace {
	return framework.ActionSpace{
		Kind:  framework.MultiDiscrete,
		Nvec:  []int{len(d.sizes), len(d.delays)},
		Names: []string{"max_batch_size", "max_queue_delay"},
	}
}

// Translate returns the current batching settings with the chosen size and delay.
func (d *Batching) Translate(a framework.Action, view framework.ClusterView) (framework.Command, error) {
	if err := d.Space().Contains(a); err != nil {
		return framework.Command{}, fmt.Errorf("%s: %w", TypeBatching, err)
	}
	b := view.Batching
	b.MaxBatchSize = d.sizes[int(a.Values[0])]
	b.MaxQueueDelay = d.delays[int(a.Values[1])]
	b.PreferredSizes = nil
	for _, p := range view.Batching.PreferredSizes {
		if p <= b.MaxBatchSize {
			b.PreferredSizes = append(b.PreferredSizes, p)
		}
	}
	return framework.Command{Batching: &b}, nil
}

// Hold returns the options nearest to the settings in force (ties go to the smaller option).
// ok is false when the view reports no batching settings (max batch size 0).
func (d *Batching) Hold(view framework.ClusterView) (framework.Action, bool) {
	cur := view.Batching
	if cur.MaxBatchSize <= 0 {
		return framework.Action{}, false
	}
	i := nearest(d.sizes, func(s int) float64 { return math.Abs(float64(s - cur.MaxBatchSize)) })
	j := nearest(d.delays, func(q time.Duration) float64 { return math.Abs(float64(q - cur.MaxQueueDelay)) })
	return framework.Action{Values: []float64{float64(i), float64(j)}}, true
}
