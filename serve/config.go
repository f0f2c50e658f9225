package serve

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/sim"
)

// Exporters whose metrics the emulator can stand in for, besides Triton's own.
const (
	ExporterTriton           = "triton"
	ExporterDCGM             = "dcgm"
	ExporterCAdvisor         = "cadvisor"
	ExporterKubeStateMetrics = "kube_state_metrics"
)

// Config are the emulator's settings (`scalelab serve` flags of the same names, with
// dashes for underscores).
type Config struct {
	Scenario    string         `mapstructure:"scenario" doc:"built-in scenario name or scenario YAML file whose pod is emulated (its model, serving and workload sections)" default:"edge-rtx3080"`
	ScenarioSet map[string]any `mapstructure:"scenario_set" doc:"scenario keys overriding the scenario's, as a nested map (model: {t_fixed: 2ms})" default:"{}"`
	Seed        uint64         `mapstructure:"seed" doc:"seed of the service-time jitter stream (the simulator's service stream for that seed)" default:"1"`

	Model          string  `mapstructure:"model" doc:"name of the served model" default:"mobilenetv4"`
	Version        string  `mapstructure:"version" doc:"version of the served model" default:"1"`
	InputName      string  `mapstructure:"input_name" doc:"name of the tensor input (FP32 or UINT8, shape [batch, input_shape...])" default:"input"`
	InputShape     []int64 `mapstructure:"input_shape" doc:"shape of one image of the tensor input, without the batch dimension" default:"[3 224 224]"`
	ImageInputName string  `mapstructure:"image_input_name" doc:"name of the encoded-image input (BYTES, shape [batch] or [batch, 1], JPEG or PNG)" default:"image"`
	OutputName     string  `mapstructure:"output_name" doc:"name of the output (FP32, shape [batch, classes])" default:"output"`
	Classes        int     `mapstructure:"classes" doc:"classes of the output" default:"1000"`

	Addr         string        `mapstructure:"addr" doc:"listen address of the inference API (Triton's HTTP port)" default:":8000"`
	MetricsAddr  string        `mapstructure:"metrics_addr" doc:"listen address of /metrics (Triton's metrics port); empty serves /metrics on addr" default:":8002"`
	ReadyAfter   time.Duration `mapstructure:"ready_after" doc:"the model becomes ready this long after start (model load)" default:"0s"`
	ReloadTime   time.Duration `mapstructure:"reload_time" doc:"how long a load through the model-repository API takes (POST /v2/repository/models/{model}/load); the old configuration serves meanwhile" default:"1s"`
	MaxBodyBytes int64         `mapstructure:"max_body_bytes" doc:"largest request body accepted" default:"67108864"`

	GPUMetricsInterval time.Duration `mapstructure:"gpu_metrics_interval" doc:"refresh interval of GPU utilisation (Triton's --metrics-interval-ms; DCGM-Exporter's collection interval here)" default:"2s"`
	Exporters          []string      `mapstructure:"exporters" doc:"metric families exported on /metrics: triton, dcgm, cadvisor, kube_state_metrics" default:"[triton dcgm cadvisor kube_state_metrics]"`
	Namespace          string        `mapstructure:"namespace" doc:"namespace label of the emulated pod's cAdvisor, kube-state-metrics and DCGM series" default:"default"`
	Pod                string        `mapstructure:"pod" doc:"pod label of those series; empty = <workload name>-emulator" default:""`
	Container          string        `mapstructure:"container" doc:"container label of those series" default:"triton"`
	Node               string        `mapstructure:"node" doc:"node name (DCGM hostname label, kube-state-metrics node label); empty = this machine's hostname" default:""`
	DCGMHostnameLabel  string        `mapstructure:"dcgm_hostname_label" doc:"label name DCGM-Exporter puts the node name in: Hostname (older builds) or hostname (newer)" default:"Hostname"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Scenario: sim.DefaultScenario, ScenarioSet: map[string]any{}, Seed: 1,
		Model: "mobilenetv4", Version: "1", InputName: "input", InputShape: []int64{3, 224, 224},
		ImageInputName: "image", OutputName: "output", Classes: 1000,
		Addr: ":8000", MetricsAddr: ":8002", MaxBodyBytes: 64 << 20, ReloadTime: time.Second,
		GPUMetricsInterval: 2 * time.Second,
		Exporters:          []string{ExporterTriton, ExporterDCGM, ExporterCAdvisor, ExporterKubeStateMetrics},
		Namespace:          "default", Container: "triton", DCGMHostnameLabel: "Hostname",
	}
}

// Validate checks the configuration and returns one error per problem, each naming its key.
func (c Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Scenario == "" {
		add("scenario", "required: a built-in scenario (%s) or a YAML file", strings.Join(sim.BuiltinScenarioNames(), ", "))
	}
	if c.Model == "" {
		add("model", "required")
	}
	if c.InputName == "" || c.ImageInputName == "" || c.OutputName == "" {
		add("input_name", "input_name, image_input_name and output_name are required")
	}
	if c.InputName == c.ImageInputName {
		add("image_input_name", "must differ from input_name (%q)", c.InputName)
	}
	for i, d := range c.InputShape {
		if d < 1 {
			add(fmt.Sprintf("input_shape[%d]", i), "must be ≥ 1, got %d", d)
		}
	}
	if c.Classes < 1 {
		add("classes", "must be ≥ 1, got %d", c.Classes)
	}
	if c.ReadyAfter < 0 {
		add("ready_after", "must be ≥ 0, got %s", c.ReadyAfter)
	}
	if c.ReloadTime < 0 {
		add("reload_time", "must be ≥ 0, got %s", c.ReloadTime)
	}
	if c.MaxBodyBytes < 1 {
		add("max_body_bytes", "must be ≥ 1, got %d", c.MaxBodyBytes)
	}
	if c.GPUMetricsInterval <= 0 {
		add("gpu_metrics_interval", "must be > 0, got %s", c.GPUMetricsInterval)
	}
	known := []string{ExporterTriton, ExporterDCGM, ExporterCAdvisor, ExporterKubeStateMetrics}
	for i, e := range c.Exporters {
		if !slices.Contains(known, e) {
			add(fmt.Sprintf("exporters[%d]", i), "unknown exporter %q (want %s)", e, strings.Join(known, ", "))
		}
	}
	if c.DCGMHostnameLabel != "Hostname" && c.DCGMHostnameLabel != "hostname" {
		add("dcgm_hostname_label", "must be Hostname or hostname, got %q", c.DCGMHostnameLabel)
	}
	return errs
}

// ResolveScenario returns the scenario the config names, with ScenarioSet merged over it
// (maps key by key, as sim.MergeMaps) and validated.
func (c Config) ResolveScenario() (sim.Scenario, error) {
	var base map[string]any
	if _, ok := sim.BuiltinScenario(c.Scenario); ok {
		base = map[string]any{"base": c.Scenario}
	} else {
		b, err := os.ReadFile(c.Scenario)
		if err != nil {
			return sim.Scenario{}, fmt.Errorf("scenario: %q is no built-in scenario (%s) and cannot be read: %w",
				c.Scenario, strings.Join(sim.BuiltinScenarioNames(), ", "), err)
		}
		if err := yaml.Unmarshal(b, &base); err != nil {
			return sim.Scenario{}, fmt.Errorf("scenario %s: %w", c.Scenario, err)
		}
		if base == nil {
			base = map[string]any{}
		}
	}
	sc, err := sim.ScenarioFromMap(sim.MergeMaps(base, c.ScenarioSet))
	if err != nil {
		return sim.Scenario{}, fmt.Errorf("scenario %s: %w", c.Scenario, err)
	}
	return sc, nil
}

func (c Config) exports(name string) bool { return slices.Contains(c.Exporters, name) }

// errNotReady is returned while the model is loading.
var errNotReady = errors.New("model is not ready")
