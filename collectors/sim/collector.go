package sim

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/sim"
)

var _ framework.Collector = (*Collector)(nil)

// Defaults of the state section when it leaves them zero.
const (
	DefaultWindow = 30 * time.Second
	DefaultMaxAge = 2 * time.Minute
)

// Collector reads observations from a simulator.
type Collector struct {
	sim                      *sim.Sim
	features                 []framework.FeatureSpec
	window, maxAge           time.Duration
	minReplicas, maxReplicas int
}

// New returns a collector of the given features (catalogue names, in order) over window W;
// values older than maxAge (0: no limit) are invalid; minReplicas and maxReplicas fill the
// cluster view's bounds.
func New(s *sim.Sim, features []framework.FeatureSpec, window, maxAge time.Duration, minReplicas, maxReplicas int) (*Collector, error) {
	if s == nil {
		return nil, fmt.Errorf("collector sim: nil simulator")
	}
	for _, f := range features {
		if _, err := framework.LookupFeature(f.Name); err != nil {
			return nil, fmt.Errorf("collector sim: state.features: %w", err)
		}
	}
	if err := s.CheckWindow(window); err != nil {
		return nil, fmt.Errorf("collector sim: state.%w", err)
	}
	if maxAge < 0 {
		return nil, fmt.Errorf("collector sim: state.max_age: must be ≥ 0, got %s", maxAge)
	}
	return &Collector{sim: s, features: append([]framework.FeatureSpec(nil), features...), window: window, maxAge: maxAge,
		minReplicas: minReplicas, maxReplicas: maxReplicas}, nil
}

// Features returns the specs of the collected features, in order.
func (c *Collector) Features() []framework.FeatureSpec { return c.features }

// Collect returns the observation at the simulator's present time: each feature's value,
// validity and age (now minus the time the value describes, lag included), and the
// cluster view.
func (c *Collector) Collect(ctx context.Context) (framework.Observation, error) {
	if err := ctx.Err(); err != nil {
		return framework.Observation{}, err
	}
	now := c.sim.Now()
	obs := framework.Observation{
		Time:   now,
		Values: make([]float64, len(c.features)),
		Valid:  make([]bool, len(c.features)),
		Age:    make([]time.Duration, len(c.features)),
	}
	for i, f := range c.features {
		fv, err := c.sim.Feature(f.Name, c.window)
		if err != nil {
			return framework.Observation{}, fmt.Errorf("collector sim: %w", err)
		}
		age := now.Sub(fv.At)
		obs.Age[i] = age
		if !fv.OK || (c.maxAge > 0 && age > c.maxAge) {
			obs.Values[i] = math.NaN()
			continue
		}
		obs.Values[i] = fv.Value
		obs.Valid[i] = true
	}
	obs.Cluster = c.sim.ClusterView(c.window, c.minReplicas, c.maxReplicas)
	return obs, nil
}

// Register adds the simulator's collector (type "sim") to r.
func Register(r *framework.Registry) {
	r.RegisterCollector(framework.Factory[framework.Collector]{
		Type: "sim",
		Doc:  "reads catalogue features and the cluster view from the embedded simulator, with its metrics pipeline's lag",
		New: func(bc framework.BuildContext, _ any) (framework.Collector, error) {
			s, ok := bc.Backend.(*sim.Sim)
			if !ok {
				return nil, fmt.Errorf("collector sim: needs the sim backend (*sim.Sim), got %T", bc.Backend)
			}
			w, maxAge := bc.State.Window, bc.State.MaxAge
			if w == 0 {
				w = DefaultWindow
			}
			if maxAge == 0 {
				maxAge = DefaultMaxAge
			}
			return New(s, bc.Features, w, maxAge, bc.Workload.MinReplicas, bc.Workload.MaxReplicas)
		},
	})
}
