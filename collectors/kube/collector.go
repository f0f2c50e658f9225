package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/scalelab/scalelab/framework"
	kb "github.com/scalelab/scalelab/kube"
)

// FeatureSource computes catalogue features the Kubernetes API does not know (latencies,
// rates, utilisations): collectors/prometheus's Source is one. Collect returns, for each
// feature in order, its value, whether it is valid and the age of its sample; missing
// values are invalid (never zero).
type FeatureSource interface {
	Collect(ctx context.Context, now time.Time, features []framework.FeatureSpec) (values []float64, valid []bool, age []time.Duration, err error)
}

// kubeFeatures are the features this collector computes itself from the API (exact, age 0).
var kubeFeatures = map[string]bool{"replicas_desired": true, "replicas_ready": true, "replicas_pending": true}

// Options configure a Collector.
type Options struct {
	// Features are the state design's features, in order.
	Features []framework.FeatureSpec
	// MaxAge makes older samples invalid (0: no limit).
	MaxAge time.Duration
	// MinReplicas and MaxReplicas fill the cluster view's bounds.
	MinReplicas, MaxReplicas int
	// Source computes every feature but the replica counts (nil: those features are
	// reported missing).
	Source FeatureSource
	// Metrics reads per-pod usage from metrics.k8s.io (nil: pods carry no samples).
	Metrics metricsclient.Interface
	// Container is the container whose request the view's CPURequestMilli reports (""
	// sums the pod template's containers).
	Container string
	// Triton, when its Model is set, is read for the view's batching settings from
	// TritonEndpoints, else from the first Ready pod at TritonPort.
	Triton          *kb.Triton
	TritonEndpoints []string
	TritonPort      int
	Logger          *slog.Logger
}

// Collector observes a Kubernetes workload: the replica counts and the structured cluster
// view (pods with phase, readiness and its transition time, start time, deletion, requests,
// metrics-server samples; the HPA target; Triton's batching) from the API through the
// backend's informer caches, and the other catalogue features from a FeatureSource.
type Collector struct {
	b   *kb.Backend
	o   Options
	log *slog.Logger

	mu          sync.Mutex
	metricsErr  string // the last metrics.k8s.io error, logged once per change
	batchingErr string
	sourceErr   string
}

var _ framework.Collector = (*Collector)(nil)

// New returns a collector of the backend's workload.
func New(b *kb.Backend, o Options) (*Collector, error) {
	if b == nil {
		return nil, errors.New("collector kubernetes: nil backend")
	}
	for _, f := range o.Features {
		if _, err := framework.LookupFeature(f.Name); err != nil {
			return nil, fmt.Errorf("collector kubernetes: state.features: %w", err)
		}
	}
	if o.MaxAge < 0 {
		return nil, fmt.Errorf("collector kubernetes: state.max_age: must be ≥ 0, got %s", o.MaxAge)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Features = append([]framework.FeatureSpec(nil), o.Features...)
	return &Collector{b: b, o: o, log: o.Logger}, nil
}

// Features returns the specs of the collected features, in order.
func (c *Collector) Features() []framework.FeatureSpec { return c.o.Features }

// Collect returns the observation at the backend's present time.
func (c *Collector) Collect(ctx context.Context) (framework.Observation, error) {
	if err := ctx.Err(); err != nil {
		return framework.Observation{}, err
	}
	now := c.b.Now()
	view, err := c.View(ctx)
	if err != nil {
		return framework.Observation{}, err
	}
	n := len(c.o.Features)
	obs := framework.Observation{Time: now, Values: make([]float64, n), Valid: make([]bool, n), Age: make([]time.Duration, n), Cluster: view}
	var (
		rest []framework.FeatureSpec
		idx  []int
	)
	_, haveWorkload := c.b.Watcher().Workload()
	for i, f := range c.o.Features {
		obs.Values[i] = math.NaN()
		switch f.Name {
		case "replicas_desired":
			obs.Values[i], obs.Valid[i] = float64(view.Replicas.Desired), haveWorkload
		case "replicas_ready":
			obs.Values[i], obs.Valid[i] = float64(view.Replicas.Ready), true
		case "replicas_pending":
			obs.Values[i], obs.Valid[i] = float64(view.Replicas.Pending+view.Replicas.Starting), true
		default:
			rest = append(rest, f)
			idx = append(idx, i)
		}
		if !obs.Valid[i] {
			obs.Values[i] = math.NaN()
		}
	}
	if len(rest) > 0 && c.o.Source != nil {
		vals, valid, age, err := c.o.Source.Collect(ctx, now, rest)
		if err == nil && (len(vals) != len(rest) || len(valid) != len(rest) || len(age) != len(rest)) {
			err = fmt.Errorf("feature source returned %d/%d/%d values for %d features", len(vals), len(valid), len(age), len(rest))
		}
		// A source that fails (Prometheus unreachable, a bad query) leaves its features
		// missing for this observation: the loop goes on with what the API shows, and
		// the problem is logged once per distinct error.
		c.noteErr(&c.sourceErr, "feature source", err)
		if err != nil {
			return obs, nil
		}
		for k, i := range idx {
			obs.Age[i] = age[k]
			if valid[k] && !math.IsNaN(vals[k]) && !math.IsInf(vals[k], 0) && (c.o.MaxAge == 0 || age[k] <= c.o.MaxAge) {
				obs.Values[i], obs.Valid[i] = vals[k], true
			}
		}
	}
	return obs, nil
}

// View builds the structured cluster view from the informer caches (and metrics.k8s.io,
// the HPA and Triton when configured).
func (c *Collector) View(ctx context.Context) (framework.ClusterView, error) {
	w := c.b.Watcher()
	ws, _ := w.Workload()
	pods := w.Pods()
	view := framework.ClusterView{
		Now:         c.b.Now(),
		Replicas:    kb.Counts(pods, ws.Desired),
		MinReplicas: c.o.MinReplicas,
		MaxReplicas: c.o.MaxReplicas,
		Pods:        make([]framework.PodView, 0, len(pods)),
	}
	if ws.Template != nil {
		view.CPURequestMilli = templateCPU(ws.Template, c.o.Container)
	}
	samples := c.podMetrics(ctx, w)
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		pv := kb.PodView(p)
		if s, ok := samples[p.Name]; ok {
			pv.Metrics = s
		}
		view.Pods = append(view.Pods, pv)
	}
	h, err := c.b.Target().ControllingHPA(ctx)
	if err != nil {
		return framework.ClusterView{}, fmt.Errorf("collector kubernetes: %w", err)
	}
	view.HPATarget = kb.CPUTarget(h)
	view.Batching = c.batching(ctx, pods)
	return view, nil
}

// templateCPU is the named container's CPU request, or the sum over the template's
// containers.
func templateCPU(t *corev1.PodTemplateSpec, container string) int64 {
	var sum int64
	for _, ct := range t.Spec.Containers {
		m := ct.Resources.Requests.Cpu().MilliValue()
		if container != "" && ct.Name == container {
			return m
		}
		sum += m
	}
	return sum
}

// podMetrics reads metrics.k8s.io for the workload's pods: "cpu" in millicores and
// "memory" in bytes, summed over containers, with the sample's timestamp and window — what
// the HPA controller's metrics client sees. Errors (no metrics-server) leave pods without
// samples, as the HPA would find them.
func (c *Collector) podMetrics(ctx context.Context, w *kb.Watcher) map[string]map[string]framework.MetricSample {
	if c.o.Metrics == nil {
		return nil
	}
	list, err := c.o.Metrics.MetricsV1beta1().PodMetricses(c.b.Target().Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.Selector().String()})
	c.noteErr(&c.metricsErr, "metrics.k8s.io", err)
	if err != nil {
		return nil
	}
	out := make(map[string]map[string]framework.MetricSample, len(list.Items))
	for _, pm := range list.Items {
		var cpu, mem int64
		for _, ct := range pm.Containers {
			cpu += ct.Usage.Cpu().MilliValue()
			mem += ct.Usage.Memory().Value()
		}
		out[pm.Name] = map[string]framework.MetricSample{
			"cpu":    {Value: float64(cpu), Timestamp: pm.Timestamp.Time, Window: pm.Window.Duration},
			"memory": {Value: float64(mem), Timestamp: pm.Timestamp.Time, Window: pm.Window.Duration},
		}
	}
	return out
}

// batching reads Triton's batching settings from the first endpoint that answers.
func (c *Collector) batching(ctx context.Context, pods []*corev1.Pod) framework.BatchingSettings {
	if c.o.Triton == nil || c.o.Triton.Model == "" {
		return framework.BatchingSettings{}
	}
	eps := c.o.TritonEndpoints
	if len(eps) == 0 {
		for _, p := range pods {
			if ok, _ := kb.PodReady(p); ok && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				eps = append(eps, fmt.Sprintf("http://%s:%d", p.Status.PodIP, c.o.TritonPort))
			}
		}
	}
	var errs []error
	for _, ep := range eps {
		cfg, err := c.o.Triton.ModelConfig(ctx, ep)
		if err == nil {
			c.noteErr(&c.batchingErr, "triton", nil)
			return kb.BatchingOf(cfg)
		}
		errs = append(errs, err)
	}
	c.noteErr(&c.batchingErr, "triton", errors.Join(errs...))
	return framework.BatchingSettings{}
}

// noteErr logs an error once per distinct message (and its recovery).
func (c *Collector) noteErr(last *string, what string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	changed := msg != *last
	*last = msg
	c.mu.Unlock()
	if !changed {
		return
	}
	if err != nil {
		level := slog.LevelWarn
		if apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err) {
			level = slog.LevelInfo // no metrics-server: pods simply have no samples
		}
		c.log.Log(context.Background(), level, "collector kubernetes: "+what+" unavailable", "err", err)
	} else {
		c.log.Info("collector kubernetes: " + what + " available again")
	}
}
