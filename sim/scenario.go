package sim

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/framework/load"
)

// Scenario describes a simulated cluster and its inference workload. It is decoded strictly
// from YAML with snake_case keys (see docs/simulator.md for every key, its default and its
// source). A scenario file may start from a built-in one with `base: <name>`; maps merge
// key by key, lists replace.
type Scenario struct {
	Name        string          `mapstructure:"name" doc:"scenario name" default:""`
	Description string          `mapstructure:"description" doc:"one-paragraph description" default:""`
	Nodes       []NodeSpec      `mapstructure:"nodes" doc:"the cluster's nodes" default:"[]"`
	Workload    WorkloadSpec    `mapstructure:"workload" doc:"the scaled Deployment's pod template and lifecycle"`
	Model       ModelSpec       `mapstructure:"model" doc:"the served model's GPU and CPU costs"`
	Serving     ServingSpec     `mapstructure:"serving" doc:"Triton-like serving settings per pod"`
	GPUSharing  GPUSharingSpec  `mapstructure:"gpu_sharing" doc:"how pods share a time-sliced GPU"`
	Routing     string          `mapstructure:"routing" doc:"how requests reach ready pods: random (kube-proxy), round_robin or least_outstanding" default:"random"`
	Client      ClientSpec      `mapstructure:"client" doc:"the load generator's client"`
	Observation ObservationSpec `mapstructure:"observation" doc:"metrics pipeline: resolution, history and lags"`
}

// NodeSpec is one node (or Count identical nodes).
type NodeSpec struct {
	Name           string     `mapstructure:"name" doc:"node name (suffixed -i when count > 1)" default:""`
	Count          int        `mapstructure:"count" doc:"identical nodes of this kind" default:"1"`
	CPU            Millicores `mapstructure:"cpu" doc:"allocatable CPU" default:""`
	Memory         Bytes      `mapstructure:"memory" doc:"allocatable memory" default:""`
	ReservedCPU    Millicores `mapstructure:"reserved_cpu" doc:"CPU already requested by other pods (system, monitoring)" default:"0"`
	ReservedMemory Bytes      `mapstructure:"reserved_memory" doc:"memory already requested by other pods" default:"0"`
	GPUs           []GPUSpec  `mapstructure:"gpus" doc:"physical GPUs on the node" default:"[]"`
}

// GPUSpec is a kind of physical GPU on a node.
type GPUSpec struct {
	Model               string `mapstructure:"model" doc:"GPU model, for documentation" default:""`
	Count               int    `mapstructure:"count" doc:"GPUs of this kind on the node" default:"1"`
	Memory              Bytes  `mapstructure:"memory" doc:"frame buffer" default:""`
	TimeSlicingReplicas int    `mapstructure:"time_slicing_replicas" doc:"nvidia.com/gpu replicas advertised per GPU (device-plugin time-slicing; 1 = not shared)" default:"1"`
}

// Dist is a distribution of durations.
type Dist struct {
	Kind string        `mapstructure:"kind" doc:"constant, uniform, lognormal or exponential" default:"constant"`
	Mean time.Duration `mapstructure:"mean" doc:"mean (constant value, lognormal and exponential mean)" default:"0s"`
	Min  time.Duration `mapstructure:"min" doc:"lower bound (uniform; lognormal and exponential are clamped to it)" default:"0s"`
	Max  time.Duration `mapstructure:"max" doc:"upper bound (uniform; lognormal and exponential are clamped to it when > 0)" default:"0s"`
	CV   float64       `mapstructure:"cv" doc:"coefficient of variation (lognormal)" default:"0"`
}

// WorkloadSpec is the scaled Deployment: its pod template, lifecycle and rollout.
type WorkloadSpec struct {
	Name                  string        `mapstructure:"name" doc:"Deployment name (pod name prefix)" default:"inference"`
	CPURequest            Millicores    `mapstructure:"cpu_request" doc:"container CPU request" default:""`
	CPULimit              Millicores    `mapstructure:"cpu_limit" doc:"container CPU limit; 0 = none (bounded by the node)" default:"0"`
	MemoryRequest         Bytes         `mapstructure:"memory_request" doc:"container memory request" default:""`
	GPURequest            int           `mapstructure:"gpu_request" doc:"nvidia.com/gpu request (1)" default:"1"`
	MemoryWorkingSet      Bytes         `mapstructure:"memory_working_set" doc:"container working set with the model loaded and no request in flight" default:""`
	MemoryPerRequest      Bytes         `mapstructure:"memory_per_request" doc:"extra working set per request in the pod (input tensor buffers)" default:"0"`
	ImagePull             Dist          `mapstructure:"image_pull" doc:"from binding to container start (image pull or cache hit, container creation)"`
	ModelLoad             Dist          `mapstructure:"model_load" doc:"from container start to the model being ready (server start, CUDA context, engine load); also the delay of a model reload"`
	ReadinessInitialDelay time.Duration `mapstructure:"readiness_initial_delay" doc:"readiness probe initialDelaySeconds" default:"0s"`
	ReadinessPeriod       time.Duration `mapstructure:"readiness_period" doc:"readiness probe periodSeconds" default:"5s"`
	TerminationGrace      time.Duration `mapstructure:"termination_grace" doc:"terminationGracePeriodSeconds: in-flight requests still running then fail" default:"30s"`
	MaxSurge              float64       `mapstructure:"max_surge" doc:"rolling update maxSurge as a fraction of replicas (rounded up)" default:"0.25"`
	MaxUnavailable        float64       `mapstructure:"max_unavailable" doc:"rolling update maxUnavailable as a fraction of replicas (rounded down)" default:"0.25"`
	FailedPodHistory      int           `mapstructure:"failed_pod_history" doc:"failed pods kept visible in the cluster view (older ones are garbage-collected)" default:"5"`
}

// ModelSpec is the served model's cost: GPU execution of a batch and CPU work per request.
type ModelSpec struct {
	Name                 string        `mapstructure:"name" doc:"model name, for documentation" default:""`
	TMin                 time.Duration `mapstructure:"t_min" doc:"floor of a batch's GPU time: t(b) = max(t_min, t_fixed + t_per_image·b)" default:"0s"`
	TFixed               time.Duration `mapstructure:"t_fixed" doc:"fixed GPU time per batch" default:""`
	TPerImage            time.Duration `mapstructure:"t_per_image" doc:"GPU time per image of a batch" default:""`
	Jitter               string        `mapstructure:"jitter" doc:"factor on t(b): lognormal (mean 1, CV jitter_cv), deterministic (1) or exponential (mean 1, for validation)" default:"lognormal"`
	JitterCV             float64       `mapstructure:"jitter_cv" doc:"coefficient of variation of the lognormal jitter" default:"0.05"`
	CPUPerRequest        time.Duration `mapstructure:"cpu_per_request" doc:"CPU time per request in the pod (receive, decode, copy); consumes the pod's CPU up to its limit" default:""`
	GPUMemoryPerPod      Bytes         `mapstructure:"gpu_memory_per_pod" doc:"frame buffer per pod: CUDA context and server memory pools" default:""`
	GPUMemoryPerInstance Bytes         `mapstructure:"gpu_memory_per_instance" doc:"frame buffer per model instance: engine weights and activations at max batch" default:""`
}

// ServingSpec are the Triton-like serving settings every pod starts with.
type ServingSpec struct {
	MaxBatchSize        int           `mapstructure:"max_batch_size" doc:"largest batch (1 = batching off)" default:"1"`
	PreferredBatchSizes []int         `mapstructure:"preferred_batch_sizes" doc:"dynamic batcher's preferred sizes" default:"[]"`
	MaxQueueDelay       time.Duration `mapstructure:"max_queue_delay" doc:"how long the oldest request may wait for a batch to fill" default:"0s"`
	InstanceCount       int           `mapstructure:"instance_count" doc:"model instances per pod (each runs one batch at a time) sharing the pod's queue" default:"1"`
	MaxQueueSize        int           `mapstructure:"max_queue_size" doc:"requests queued per pod beyond which new ones are rejected; 0 = unbounded" default:"0"`
	HTTPThreads         int           `mapstructure:"http_threads" doc:"requests whose CPU work proceeds at once in a pod (Triton --http-thread-count); others wait for a thread" default:"8"`
}

// GPUSharingSpec says how pods share a physical GPU.
type GPUSharingSpec struct {
	Contention          bool    `mapstructure:"contention" doc:"share GPU time among busy contexts (false: every batch runs at full speed, for validation)" default:"true"`
	TimesliceEfficiency float64 `mapstructure:"timeslice_efficiency" doc:"fraction of GPU throughput left when two or more contexts are busy (context-switch loss)" default:"0.9"`
}

// ClientSpec is the load generator's client.
type ClientSpec struct {
	Timeout time.Duration `mapstructure:"timeout" doc:"the client gives up after this long (a drop); 0 = never; the episode's client timeout overrides it" default:"1s"`
}

// ObservationSpec is the metrics pipeline a controller sees.
type ObservationSpec struct {
	Resolution              time.Duration `mapstructure:"resolution" doc:"granularity of recorded metrics; every interval below is a multiple of it" default:"1s"`
	History                 time.Duration `mapstructure:"history" doc:"how far back metrics are kept (feature window + lag must fit)" default:"5m"`
	AppScrapeInterval       time.Duration `mapstructure:"app_scrape_interval" doc:"Prometheus scrape interval of Triton and load-generator metrics (request, latency, queue, batch features)" default:"15s"`
	GPUExporterInterval     time.Duration `mapstructure:"gpu_exporter_interval" doc:"DCGM-Exporter collection interval (GPU features)" default:"30s"`
	GPUScrapeInterval       time.Duration `mapstructure:"gpu_scrape_interval" doc:"Prometheus scrape interval of DCGM-Exporter" default:"15s"`
	CPUScrapeInterval       time.Duration `mapstructure:"cpu_scrape_interval" doc:"Prometheus scrape interval of cAdvisor (cpu_util, mem_util features)" default:"30s"`
	MetricsServerResolution time.Duration `mapstructure:"metrics_server_resolution" doc:"metrics-server --metric-resolution (per-pod cpu and memory samples the HPA reads)" default:"15s"`
}

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// BuiltinScenarioNames returns the names of the built-in scenarios.
func BuiltinScenarioNames() []string {
	entries, _ := builtinFS.ReadDir("scenarios")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// DefaultScenario is the name of the default scenario.
const DefaultScenario = "edge-rtx3080"

// BuiltinScenario returns a built-in scenario: "edge-rtx3080" (the default: one workstation
// node, one RTX 3080 time-sliced ×4, MobileNetV4-Conv-Medium behind Triton) or
// "edge-2node-rtx3080" (two such nodes). ok is false for an unknown name.
func BuiltinScenario(name string) (Scenario, bool) {
	sc, err := ScenarioFromMap(map[string]any{"base": name})
	if err != nil {
		return Scenario{}, false
	}
	return sc, true
}

func builtinMap(name string) (map[string]any, error) {
	b, err := builtinFS.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("base: unknown built-in scenario %q (have %s)", name, strings.Join(BuiltinScenarioNames(), ", "))
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("built-in scenario %s: %w", name, err)
	}
	return m, nil
}

// LoadScenario reads a scenario YAML file (strict: unknown keys are errors naming them).
func LoadScenario(file string) (Scenario, error) {
	m, err := readYAMLMap(file)
	if err != nil {
		return Scenario{}, err
	}
	sc, err := ScenarioFromMap(m)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", file, err)
	}
	return sc, nil
}

func readYAMLMap(file string) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", file, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// ScenarioFromMap decodes a scenario from a generic map (YAML or config subtree). A `base`
// key names a built-in scenario the map is merged over (maps merge key by key, lists
// replace). The result is validated.
func ScenarioFromMap(m map[string]any) (Scenario, error) {
	merged, err := resolveBase(m, 0)
	if err != nil {
		return Scenario{}, err
	}
	sc := defaultScenarioValues()
	if err := decodeStrict(merged, &sc); err != nil {
		return Scenario{}, err
	}
	// List elements get no struct defaults from decoding: an absent count means 1.
	for i := range sc.Nodes {
		n := &sc.Nodes[i]
		if _, ok := nodeKey(merged, i, "count"); !ok {
			n.Count = 1
		}
		for j := range n.GPUs {
			if _, ok := gpuKey(merged, i, j, "count"); !ok {
				n.GPUs[j].Count = 1
			}
			if _, ok := gpuKey(merged, i, j, "time_slicing_replicas"); !ok {
				n.GPUs[j].TimeSlicingReplicas = 1
			}
		}
	}
	if errs := sc.Validate(); len(errs) > 0 {
		return Scenario{}, errors.Join(errs...)
	}
	return sc, nil
}

func nodeKey(m map[string]any, i int, key string) (any, bool) {
	nodes, _ := m["nodes"].([]any)
	if i >= len(nodes) {
		return nil, false
	}
	n, _ := nodes[i].(map[string]any)
	v, ok := n[key]
	return v, ok
}

func gpuKey(m map[string]any, i, j int, key string) (any, bool) {
	gs, _ := nodeKey(m, i, "gpus")
	list, _ := gs.([]any)
	if j >= len(list) {
		return nil, false
	}
	g, _ := list[j].(map[string]any)
	v, ok := g[key]
	return v, ok
}

func resolveBase(m map[string]any, depth int) (map[string]any, error) {
	baseName, hasBase := m["base"]
	if !hasBase {
		return m, nil
	}
	name, ok := baseName.(string)
	if !ok {
		return nil, fmt.Errorf("base: want a built-in scenario name, got %v", baseName)
	}
	if depth > 4 {
		return nil, fmt.Errorf("base: %q nests too deeply", name)
	}
	bm, err := builtinMap(name)
	if err != nil {
		return nil, err
	}
	bm, err = resolveBase(bm, depth+1)
	if err != nil {
		return nil, err
	}
	rest := make(map[string]any, len(m))
	for k, v := range m {
		if k != "base" {
			rest[k] = v
		}
	}
	return MergeMaps(bm, rest), nil
}

// MergeMaps returns over merged onto base: nested maps merge key by key, any other value
// (lists included) replaces. Neither input is modified.
func MergeMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = MergeMaps(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// defaultScenarioValues holds the defaults of keys that scenarios usually leave out.
func defaultScenarioValues() Scenario {
	return Scenario{
		Routing: RoutingRandom,
		Workload: WorkloadSpec{
			Name:             "inference",
			GPURequest:       1,
			ReadinessPeriod:  5 * time.Second,
			TerminationGrace: 30 * time.Second,
			MaxSurge:         0.25,
			MaxUnavailable:   0.25,
			FailedPodHistory: 5,
			ImagePull:        Dist{Kind: DistConstant},
			ModelLoad:        Dist{Kind: DistConstant},
		},
		Model:      ModelSpec{Jitter: JitterLognormal, JitterCV: 0.05},
		Serving:    ServingSpec{MaxBatchSize: 1, InstanceCount: 1, HTTPThreads: 8},
		GPUSharing: GPUSharingSpec{Contention: true, TimesliceEfficiency: 0.9},
		Client:     ClientSpec{Timeout: time.Second},
		Observation: ObservationSpec{
			Resolution:              time.Second,
			History:                 5 * time.Minute,
			AppScrapeInterval:       15 * time.Second,
			GPUExporterInterval:     30 * time.Second,
			GPUScrapeInterval:       15 * time.Second,
			CPUScrapeInterval:       30 * time.Second,
			MetricsServerResolution: 15 * time.Second,
		},
	}
}

// Routing policies.
const (
	RoutingRandom           = "random"
	RoutingRoundRobin       = "round_robin"
	RoutingLeastOutstanding = "least_outstanding"
)

// Jitter kinds.
const (
	JitterLognormal     = "lognormal"
	JitterDeterministic = "deterministic"
	JitterExponential   = "exponential"
)

// Distribution kinds.
const (
	DistConstant    = "constant"
	DistUniform     = "uniform"
	DistLognormal   = "lognormal"
	DistExponential = "exponential"
)

func decodeStrict(in map[string]any, out any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		ErrorUnused: true,
		Result:      out,
		DecodeHook:  mapstructure.ComposeDecodeHookFunc(durationHook, quantityHook),
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(in); err != nil {
		return rewriteDecodeError(err)
	}
	return nil
}

var durationType = reflect.TypeOf(time.Duration(0))

// durationHook decodes durations as framework/load does: strings such as "15s"; a bare
// number other than 0 is rejected, since it would silently mean nanoseconds.
func durationHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	return load.DurationValue(data)
}

// rewriteDecodeError turns mapstructure's "'a.b' has invalid keys: x" into "a.b.x: unknown
// key" and "'a.b' message" into "a.b: message", one problem per line, sorted.
func rewriteDecodeError(err error) error {
	var lines []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed due to the following error") {
			continue
		}
		if i := strings.Index(line, " has invalid keys: "); i >= 0 {
			prefix := strings.Trim(line[:i], "'")
			for _, k := range strings.Split(line[i+len(" has invalid keys: "):], ", ") {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				lines = append(lines, key+": unknown key")
			}
			continue
		}
		// "'a.b' message" → "a.b: message".
		if strings.HasPrefix(line, "'") {
			if j := strings.Index(line[1:], "' "); j >= 0 {
				line = line[1:j+1] + ": " + strings.TrimPrefix(line[j+3:], "error decoding: ")
			}
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return err
	}
	sort.Strings(lines)
	return errors.New(strings.Join(lines, "; "))
}

// Validate checks every key's range and returns one error per problem, each naming its key.
func (sc Scenario) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if len(sc.Nodes) == 0 {
		add("nodes", "need at least one node")
	}
	gpus := 0
	maxNodeCPU, maxNodeMem := Millicores(0), Bytes(0)
	for i, n := range sc.Nodes {
		k := fmt.Sprintf("nodes[%d]", i)
		if n.Count < 1 {
			add(k+".count", "must be ≥ 1, got %d", n.Count)
		}
		if n.CPU <= 0 {
			add(k+".cpu", "must be > 0, got %dm", n.CPU)
		}
		if n.Memory <= 0 {
			add(k+".memory", "must be > 0, got %d", n.Memory)
		}
		if n.ReservedCPU < 0 || n.ReservedCPU > n.CPU {
			add(k+".reserved_cpu", "must be in [0, cpu], got %dm", n.ReservedCPU)
		}
		if n.ReservedMemory < 0 || n.ReservedMemory > n.Memory {
			add(k+".reserved_memory", "must be in [0, memory], got %d", n.ReservedMemory)
		}
		maxNodeCPU = max(maxNodeCPU, n.CPU-n.ReservedCPU)
		maxNodeMem = max(maxNodeMem, n.Memory-n.ReservedMemory)
		for j, g := range n.GPUs {
			gk := fmt.Sprintf("%s.gpus[%d]", k, j)
			if g.Count < 1 {
				add(gk+".count", "must be ≥ 1, got %d", g.Count)
			}
			if g.Memory <= 0 {
				add(gk+".memory", "must be > 0, got %d", g.Memory)
			}
			if g.TimeSlicingReplicas < 1 {
				add(gk+".time_slicing_replicas", "must be ≥ 1, got %d", g.TimeSlicingReplicas)
			}
			gpus += g.Count * max(n.Count, 1)
		}
	}
	if len(sc.Nodes) > 0 && gpus == 0 {
		add("nodes", "need at least one GPU (the workload requests nvidia.com/gpu)")
	}
	w := sc.Workload
	if w.Name == "" {
		add("workload.name", "required")
	}
	if w.CPURequest <= 0 {
		add("workload.cpu_request", "must be > 0, got %dm", w.CPURequest)
	}
	if w.CPULimit != 0 && w.CPULimit < w.CPURequest {
		add("workload.cpu_limit", "must be 0 (none) or ≥ cpu_request (%dm), got %dm", w.CPURequest, w.CPULimit)
	}
	if w.MemoryRequest <= 0 {
		add("workload.memory_request", "must be > 0, got %d", w.MemoryRequest)
	}
	if len(sc.Nodes) > 0 && (w.CPURequest > maxNodeCPU || w.MemoryRequest > maxNodeMem) {
		add("workload", "a pod's requests (%dm CPU, %d bytes) fit on no node", w.CPURequest, w.MemoryRequest)
	}
	if w.GPURequest != 1 {
		add("workload.gpu_request", "must be 1 (a time-sliced replica gives no more compute for 2), got %d", w.GPURequest)
	}
	if w.MemoryWorkingSet < 0 {
		add("workload.memory_working_set", "must be ≥ 0, got %d", w.MemoryWorkingSet)
	}
	if w.MemoryPerRequest < 0 {
		add("workload.memory_per_request", "must be ≥ 0, got %d", w.MemoryPerRequest)
	}
	errs = append(errs, w.ImagePull.validate("workload.image_pull")...)
	errs = append(errs, w.ModelLoad.validate("workload.model_load")...)
	if w.ReadinessInitialDelay < 0 {
		add("workload.readiness_initial_delay", "must be ≥ 0, got %s", w.ReadinessInitialDelay)
	}
	if w.ReadinessPeriod <= 0 {
		add("workload.readiness_period", "must be > 0, got %s", w.ReadinessPeriod)
	}
	if w.TerminationGrace < 0 {
		add("workload.termination_grace", "must be ≥ 0, got %s", w.TerminationGrace)
	}
	if !(w.MaxSurge >= 0 && w.MaxSurge <= 1) {
		add("workload.max_surge", "must be in [0, 1], got %v", w.MaxSurge)
	}
	if !(w.MaxUnavailable >= 0 && w.MaxUnavailable <= 1) {
		add("workload.max_unavailable", "must be in [0, 1], got %v", w.MaxUnavailable)
	}
	if w.FailedPodHistory < 0 {
		add("workload.failed_pod_history", "must be ≥ 0, got %d", w.FailedPodHistory)
	}
	m := sc.Model
	if m.TMin < 0 || m.TFixed < 0 || m.TPerImage < 0 {
		add("model", "t_min, t_fixed and t_per_image must be ≥ 0, got %s, %s, %s", m.TMin, m.TFixed, m.TPerImage)
	}
	if m.TMin <= 0 && m.TFixed <= 0 && m.TPerImage <= 0 {
		add("model", "a batch must take GPU time: set t_fixed, t_per_image or t_min")
	}
	switch m.Jitter {
	case JitterLognormal:
		if !(m.JitterCV >= 0) || math.IsInf(m.JitterCV, 0) {
			add("model.jitter_cv", "must be a finite number ≥ 0, got %v", m.JitterCV)
		}
	case JitterDeterministic, JitterExponential:
	default:
		add("model.jitter", "must be lognormal, deterministic or exponential, got %q", m.Jitter)
	}
	if m.CPUPerRequest < 0 {
		add("model.cpu_per_request", "must be ≥ 0, got %s", m.CPUPerRequest)
	}
	if m.GPUMemoryPerPod < 0 || m.GPUMemoryPerInstance < 0 {
		add("model", "gpu_memory_per_pod and gpu_memory_per_instance must be ≥ 0")
	}
	errs = append(errs, validateBatching("serving", sc.Serving.settings())...)
	if sc.Serving.HTTPThreads < 1 {
		add("serving.http_threads", "must be ≥ 1, got %d", sc.Serving.HTTPThreads)
	}
	if !(sc.GPUSharing.TimesliceEfficiency > 0 && sc.GPUSharing.TimesliceEfficiency <= 1) {
		add("gpu_sharing.timeslice_efficiency", "must be in (0, 1], got %v", sc.GPUSharing.TimesliceEfficiency)
	}
	switch sc.Routing {
	case RoutingRandom, RoutingRoundRobin, RoutingLeastOutstanding:
	default:
		add("routing", "must be random, round_robin or least_outstanding, got %q", sc.Routing)
	}
	if sc.Client.Timeout < 0 {
		add("client.timeout", "must be ≥ 0, got %s", sc.Client.Timeout)
	}
	o := sc.Observation
	if o.Resolution <= 0 {
		add("observation.resolution", "must be > 0, got %s", o.Resolution)
	} else {
		for _, iv := range []struct {
			key string
			d   time.Duration
		}{
			{"observation.history", o.History},
			{"observation.app_scrape_interval", o.AppScrapeInterval},
			{"observation.gpu_exporter_interval", o.GPUExporterInterval},
			{"observation.gpu_scrape_interval", o.GPUScrapeInterval},
			{"observation.cpu_scrape_interval", o.CPUScrapeInterval},
			{"observation.metrics_server_resolution", o.MetricsServerResolution},
		} {
			if iv.d <= 0 || iv.d%o.Resolution != 0 {
				add(iv.key, "must be a positive multiple of observation.resolution (%s), got %s", o.Resolution, iv.d)
			}
		}
		if o.History > 0 && o.History/o.Resolution > 100_000 {
			add("observation.history", "at most 100000 × resolution, got %s", o.History)
		}
	}
	return errs
}

func (d Dist) validate(key string) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	switch d.Kind {
	case DistConstant, DistExponential:
		if d.Mean < 0 {
			add("mean must be ≥ 0, got %s", d.Mean)
		}
	case DistUniform:
		if d.Min < 0 || d.Max < d.Min {
			add("uniform needs 0 ≤ min ≤ max, got [%s, %s]", d.Min, d.Max)
		}
	case DistLognormal:
		if d.Mean <= 0 || !(d.CV >= 0) || math.IsInf(d.CV, 0) {
			add("lognormal needs mean > 0 and finite cv ≥ 0, got mean %s cv %v", d.Mean, d.CV)
		}
	default:
		add("kind must be constant, uniform, lognormal or exponential, got %q", d.Kind)
	}
	if d.Max > 0 && d.Min > d.Max {
		add("min %s above max %s", d.Min, d.Max)
	}
	return errs
}

// settings converts the serving spec to the framework's batching settings.
func (s ServingSpec) settings() batching {
	return batching{
		MaxBatchSize:   s.MaxBatchSize,
		PreferredSizes: append([]int(nil), s.PreferredBatchSizes...),
		MaxQueueDelay:  s.MaxQueueDelay,
		InstanceCount:  s.InstanceCount,
		MaxQueueSize:   s.MaxQueueSize,
	}
}

func validateBatching(key string, b batching) []error {
	var errs []error
	if b.MaxBatchSize < 1 {
		errs = append(errs, fmt.Errorf("%s.max_batch_size: must be ≥ 1, got %d", key, b.MaxBatchSize))
	}
	for i, p := range b.PreferredSizes {
		if p < 1 || p > b.MaxBatchSize {
			errs = append(errs, fmt.Errorf("%s.preferred_batch_sizes[%d]: must be in [1, max_batch_size], got %d", key, i, p))
		}
	}
	if b.MaxQueueDelay < 0 {
		errs = append(errs, fmt.Errorf("%s.max_queue_delay: must be ≥ 0, got %s", key, b.MaxQueueDelay))
	}
	if b.InstanceCount < 1 {
		errs = append(errs, fmt.Errorf("%s.instance_count: must be ≥ 1, got %d", key, b.InstanceCount))
	}
	if b.MaxQueueSize < 0 {
		errs = append(errs, fmt.Errorf("%s.max_queue_size: must be ≥ 0, got %d", key, b.MaxQueueSize))
	}
	return errs
}
