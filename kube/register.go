package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Type is the backend's config type name.
const Type = "kubernetes"

// connectTimeout bounds connecting and syncing the watcher's caches when the backend is
// built from config.
const connectTimeout = time.Minute

// Register adds the kubernetes backend to r. Its collector and actuator register from
// collectors/kube and actuators/kube.
func Register(r *framework.Registry) {
	r.RegisterBackend(framework.Factory[framework.Backend]{
		Type:     Type,
		Doc:      "a real Kubernetes cluster on wall-clock time, through client-go (docs/real-cluster.md)",
		Defaults: func() any { return DefaultConfig() },
		New: func(bc framework.BuildContext, cfg any) (framework.Backend, error) {
			c, err := framework.ConfigAs(cfg, DefaultConfig)
			if err != nil {
				return nil, fmt.Errorf("kubernetes backend: %w", err)
			}
			return FromConfig(c, bc)
		},
	})
}

// FromConfig builds the backend of a config section: the load driver when
// load_generator is set, the connection, the watcher.
func FromConfig(c *Config, bc framework.BuildContext) (*Backend, error) {
	o := Options{Logger: bc.Logger}
	if c.LoadGenerator {
		d, err := NewLoadgenDriver(c.Load, bc.Logger)
		if err != nil {
			return nil, fmt.Errorf("kubernetes backend: %w", err)
		}
		o.Load = d
	}
	if c.FeatureSource == FeatureSourcePrometheus && c.Usage {
		u, err := NewPromUsage(c.PrometheusFor(bc.State.Window, bc.State.MaxAge))
		if err != nil {
			return nil, fmt.Errorf("kubernetes backend: %w", err)
		}
		o.Usage = u
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	return New(ctx, c, bc.Workload, o)
}
