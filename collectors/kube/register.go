package kube

import (
	"fmt"
	"net/http"

	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/scalelab/scalelab/collectors/prometheus"
	"github.com/scalelab/scalelab/framework"
	kb "github.com/scalelab/scalelab/kube"
)

// Register adds the kubernetes backend's collector to r.
func Register(r *framework.Registry) {
	r.RegisterCollector(framework.Factory[framework.Collector]{
		Type: kb.Type,
		Doc:  "reads replica counts and the cluster view from the Kubernetes API (informers, metrics.k8s.io) and the other catalogue features from Prometheus",
		New: func(bc framework.BuildContext, _ any) (framework.Collector, error) {
			b, ok := bc.Backend.(*kb.Backend)
			if !ok {
				return nil, fmt.Errorf("collector kubernetes: needs the kubernetes backend (*kube.Backend), got %T", bc.Backend)
			}
			return FromBackend(b, bc)
		},
	})
}

// FromBackend builds the collector of a backend from its config: the Prometheus source
// (feature_source: prometheus) aimed at the backend's namespace and workload with the
// state section's window and max age, metrics.k8s.io when pod_metrics is on, and Triton's
// config for the batching view when triton.model is set.
func FromBackend(b *kb.Backend, bc framework.BuildContext) (*Collector, error) {
	cfg := b.Config()
	o := Options{
		Features:        bc.Features,
		MaxAge:          bc.State.MaxAge,
		MinReplicas:     bc.Workload.MinReplicas,
		MaxReplicas:     bc.Workload.MaxReplicas,
		Container:       cfg.Container,
		TritonEndpoints: cfg.Triton.Endpoints,
		TritonPort:      cfg.Triton.Port,
		Logger:          bc.Logger,
	}
	if cfg.Triton.Model != "" {
		o.Triton = &kb.Triton{Model: cfg.Triton.Model, HTTP: &http.Client{Timeout: cfg.Triton.Timeout}}
	}
	if cfg.FeatureSource == kb.FeatureSourcePrometheus {
		src, err := prometheus.NewWithLogger(cfg.PrometheusFor(bc.State.Window, bc.State.MaxAge), bc.Logger)
		if err != nil {
			return nil, err
		}
		var rest []framework.FeatureSpec
		for _, f := range bc.Features {
			if !kubeFeatures[f.Name] {
				rest = append(rest, f)
			}
		}
		if err := src.Check(rest); err != nil {
			return nil, fmt.Errorf("collector kubernetes: %w", err)
		}
		o.Source = src
	}
	if cfg.PodMetrics && b.RESTConfig() != nil {
		mc, err := metricsclient.NewForConfig(b.RESTConfig())
		if err != nil {
			return nil, fmt.Errorf("collector kubernetes: metrics.k8s.io client: %w", err)
		}
		o.Metrics = mc
	}
	return New(b, o)
}
