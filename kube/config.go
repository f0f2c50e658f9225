package kube

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/scalelab/scalelab/collectors/prometheus"
	"github.com/scalelab/scalelab/loadgen"
)

// Workload kinds the backend scales through the scale subresource.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
)

// CPU resize modes (Config.CPUResize).
const (
	// CPUResizeNone makes CPU-request actions an error: they are simulation-only.
	CPUResizeNone = "none"
	// CPUResizeInPlace resizes the running pods through the pods/resize subresource
	// (in-place pod vertical scaling, Kubernetes ≥ 1.33); pods created later keep the
	// template's request.
	CPUResizeInPlace = "in_place"
	// CPUResizeRolling patches the workload's pod template: a rolling update replaces
	// every pod.
	CPUResizeRolling = "rolling"
)

// Feature sources (Config.FeatureSource).
const (
	FeatureSourcePrometheus = "prometheus"
	FeatureSourceNone       = "none"
)

// ManagedByLabel marks objects scalelab created (HPAs it applied); Reset removes them.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "scalelab"
	// WorkloadAnnotation names the workload ("Kind/name") a scalelab-created object serves.
	WorkloadAnnotation = "scalelab.io/workload"
)

// WorkloadRef names the scaled workload.
type WorkloadRef struct {
	Kind string `mapstructure:"kind" doc:"kind of the scaled workload: Deployment or StatefulSet" default:"Deployment"`
	Name string `mapstructure:"name" doc:"name of the scaled workload" default:"triton-mobilenetv4"`
}

// String is "Kind/name".
func (w WorkloadRef) String() string { return w.Kind + "/" + w.Name }

// TritonConfig says how to reach Triton's model-control API for batching actions.
type TritonConfig struct {
	Model     string        `mapstructure:"model" doc:"model name in Triton's repository whose dynamic batching actions change; empty makes batching actions an error (simulation-only). Triton must run with --model-control-mode=explicit" default:""`
	Port      int           `mapstructure:"port" doc:"Triton's HTTP port on each pod" default:"8000"`
	Endpoints []string      `mapstructure:"endpoints" doc:"base URLs of the Triton servers (e.g. http://127.0.0.1:8000 through a port-forward); empty: every Ready pod's IP at port (in-cluster agent)" default:"[]"`
	Timeout   time.Duration `mapstructure:"timeout" doc:"timeout of one model-control request (a model reload can take seconds)" default:"30s"`
}

// Config is the kubernetes backend's config section (backend: {type: kubernetes, ...}).
// The collector and the actuator of the backend read it too: the config loader has one
// section per backend.
type Config struct {
	Kubeconfig    string            `mapstructure:"kubeconfig" doc:"kubeconfig file; empty: in-cluster service account, else $KUBECONFIG or ~/.kube/config" default:""`
	Context       string            `mapstructure:"context" doc:"kubeconfig context; empty: the current context" default:""`
	Namespace     string            `mapstructure:"namespace" doc:"namespace of the workload" default:"default"`
	Workload      WorkloadRef       `mapstructure:"workload" doc:"the scaled workload"`
	Container     string            `mapstructure:"container" doc:"container whose CPU request cpu_request actions change; empty: the first container" default:""`
	HPAName       string            `mapstructure:"hpa_name" doc:"the HorizontalPodAutoscaler scalelab applies or manages; empty: the HPA targeting the workload if one exists, else the workload's name" default:""`
	ManageHPA     bool              `mapstructure:"manage_hpa" doc:"let scalelab patch an HPA that targets the workload (hpa_target actions; replica actions pin its min = max); false: replica actions on an HPA-controlled workload are refused" default:"false"`
	DryRun        bool              `mapstructure:"dry_run" doc:"send every write with server-side dry run (dryRun=All): validated and admitted by the API server, never persisted" default:"false"`
	CPUResize     string            `mapstructure:"cpu_resize" doc:"how cpu_request actions change CPU: none (simulation-only), in_place (pods/resize subresource, Kubernetes ≥ 1.33) or rolling (patch the pod template)" default:"none"`
	Triton        TritonConfig      `mapstructure:"triton" doc:"Triton's model-control API for batching actions"`
	PodMetrics    bool              `mapstructure:"pod_metrics" doc:"read per-pod CPU and memory usage from metrics.k8s.io (metrics-server) into the cluster view, as the HPA needs" default:"true"`
	FieldManager  string            `mapstructure:"field_manager" doc:"field manager name of scalelab's writes" default:"scalelab"`
	SteadyTimeout time.Duration     `mapstructure:"steady_timeout" doc:"how long Reset waits for the workload to settle at its initial replicas (every pod Ready or unschedulable, none starting or terminating)" default:"10m"`
	LoadGenerator bool              `mapstructure:"load_generator" doc:"run scalelab's open-loop load generator against the workload in every episode (the experiment's load profiles, seeds, SLO and client timeout; its duration and seed keys are overridden); false: load comes from elsewhere and arrivals, latency and QoS are not measured" default:"false"`
	Load          loadgen.Config    `mapstructure:"load" doc:"the load generator (used when load_generator is true): endpoint, model, payload, metrics address"`
	FeatureSource string            `mapstructure:"feature_source" doc:"where the catalogue features other than the replica counts come from: prometheus (PromQL over the prometheus section) or none (reported missing)" default:"prometheus"`
	Prometheus    prometheus.Config `mapstructure:"prometheus" doc:"the Prometheus feature source (its namespace and deployment are set from the backend's namespace and workload, its window and max_age from the state section)"`
	Usage         bool              `mapstructure:"usage" doc:"with feature_source prometheus, also measure each window's CPU-seconds, memory, GPU-busy-seconds, frame buffer, batches and queue time with Prometheus (cAdvisor, DCGM-Exporter, Triton) for the KPIs; false leaves them 0" default:"true"`
	QPS           float32           `mapstructure:"qps" doc:"client-side rate limit of API requests per second" default:"20"`
	Burst         int               `mapstructure:"burst" doc:"client-side burst of API requests" default:"40"`
}

// DefaultConfig returns the defaults the `default` tags describe.
func DefaultConfig() *Config {
	return &Config{
		Namespace:     "default",
		Workload:      WorkloadRef{Kind: KindDeployment, Name: "triton-mobilenetv4"},
		CPUResize:     CPUResizeNone,
		Triton:        TritonConfig{Port: 8000, Timeout: 30 * time.Second},
		PodMetrics:    true,
		FieldManager:  "scalelab",
		SteadyTimeout: 10 * time.Minute,
		Load:          loadgen.Defaults(),
		FeatureSource: FeatureSourcePrometheus,
		Prometheus:    prometheus.Defaults(),
		Usage:         true,
		QPS:           20,
		Burst:         40,
	}
}

// Validate reports every invalid key.
func (c *Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	for _, msg := range validation.IsDNS1123Label(c.Namespace) {
		add("namespace", "%q is not a valid namespace: %s", c.Namespace, msg)
	}
	switch c.Workload.Kind {
	case KindDeployment, KindStatefulSet:
	default:
		add("workload.kind", "must be Deployment or StatefulSet, got %q", c.Workload.Kind)
	}
	for _, msg := range validation.IsDNS1123Subdomain(c.Workload.Name) {
		add("workload.name", "%q is not a valid name: %s", c.Workload.Name, msg)
	}
	if c.HPAName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(c.HPAName) {
			add("hpa_name", "%q is not a valid name: %s", c.HPAName, msg)
		}
	}
	switch c.CPUResize {
	case CPUResizeNone, CPUResizeInPlace, CPUResizeRolling:
	default:
		add("cpu_resize", "must be none, in_place or rolling, got %q", c.CPUResize)
	}
	if c.Triton.Port < 1 || c.Triton.Port > 65535 {
		add("triton.port", "must be in [1, 65535], got %d", c.Triton.Port)
	}
	for i, e := range c.Triton.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fmt.Sprintf("triton.endpoints[%d]", i), "must be an http(s) base URL such as http://127.0.0.1:8000, got %q", e)
		}
	}
	if c.Triton.Timeout <= 0 {
		add("triton.timeout", "must be > 0, got %s", c.Triton.Timeout)
	}
	if c.FieldManager == "" {
		add("field_manager", "must not be empty")
	}
	if c.SteadyTimeout <= 0 {
		add("steady_timeout", "must be > 0, got %s", c.SteadyTimeout)
	}
	if c.LoadGenerator {
		for _, e := range c.Load.Validate() {
			errs = append(errs, fmt.Errorf("load.%w", e))
		}
	}
	switch c.FeatureSource {
	case FeatureSourcePrometheus:
		for _, e := range c.Prometheus.Validate() {
			errs = append(errs, fmt.Errorf("prometheus.%w", e))
		}
	case FeatureSourceNone:
	default:
		add("feature_source", "must be prometheus or none, got %q", c.FeatureSource)
	}
	if c.QPS <= 0 {
		add("qps", "must be > 0, got %g", c.QPS)
	}
	if c.Burst < 1 {
		add("burst", "must be ≥ 1, got %d", c.Burst)
	}
	return errs
}

// RESTConfig resolves the connection: the kubeconfig file (and context) when set, else
// the in-cluster service account when running in a pod, else client-go's default loading
// rules ($KUBECONFIG, ~/.kube/config).
func (c *Config) RESTConfig() (*rest.Config, error) {
	var (
		rc  *rest.Config
		err error
	)
	switch {
	case c.Kubeconfig != "":
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
		}
	default:
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				clientcmd.NewDefaultClientConfigLoadingRules(),
				&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
		}
		if err != nil {
			return nil, fmt.Errorf("no cluster connection (not in a pod, and no usable $KUBECONFIG or ~/.kube/config; set backend.kubeconfig): %w", err)
		}
	}
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = c.QPS, c.Burst
	if !strings.Contains(rc.UserAgent, "scalelab") {
		rc.UserAgent = "scalelab/" + rest.DefaultKubernetesUserAgent()
	}
	return rc, nil
}

// Clientset builds a clientset from RESTConfig.
func (c *Config) Clientset() (kubernetes.Interface, *rest.Config, error) {
	rc, err := c.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, rc, nil
}

// PrometheusFor returns the Prometheus config aimed at the backend's workload: its
// namespace and deployment are the backend's, its window and max age the state section's
// (when set).
func (c *Config) PrometheusFor(window, maxAge time.Duration) prometheus.Config {
	pc := c.Prometheus
	pc.Namespace, pc.Deployment = c.Namespace, c.Workload.Name
	if window > 0 {
		pc.Window = window
	}
	if maxAge > 0 {
		pc.MaxAge = maxAge
	}
	return pc
}
