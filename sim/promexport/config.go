package promexport

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Exporters whose series the exporter emits (the first four as `scalelab serve` names them).
const (
	ExporterTriton           = "triton"
	ExporterDCGM             = "dcgm"
	ExporterCAdvisor         = "cadvisor"
	ExporterKubeStateMetrics = "kube_state_metrics"
	ExporterLoadgen          = "loadgen"
)

// AllExporters are the exporters in the order the exporter emits them.
var AllExporters = []string{ExporterTriton, ExporterDCGM, ExporterCAdvisor, ExporterKubeStateMetrics, ExporterLoadgen}

// Config are the exporter's labels and the pacing (`scalelab sim-export` flags of the same
// names, with dashes for underscores).
type Config struct {
	Namespace         string        `mapstructure:"namespace" doc:"namespace label of every per-pod series and of the Deployment" default:"default"`
	Model             string        `mapstructure:"model" doc:"model label of Triton's and the load generator's series" default:"mobilenetv4"`
	Version           string        `mapstructure:"version" doc:"version label of Triton's series" default:"1"`
	Container         string        `mapstructure:"container" doc:"container label of the inference server's per-container series" default:"triton"`
	Image             string        `mapstructure:"image" doc:"image label of cAdvisor's container series" default:"nvcr.io/nvidia/tritonserver:25.01-py3"`
	DCGMHostnameLabel string        `mapstructure:"dcgm_hostname_label" doc:"label name DCGM-Exporter puts the node name in: Hostname (older builds) or hostname (newer)" default:"Hostname"`
	Exporters         []string      `mapstructure:"exporters" doc:"families exported: triton, dcgm, cadvisor, kube_state_metrics, loadgen" default:"[triton dcgm cadvisor kube_state_metrics loadgen]"`
	Speed             float64       `mapstructure:"speed" doc:"simulated seconds per wall-clock second (1: real time; other values scale every per-second rate PromQL computes)" default:"1"`
	Step              time.Duration `mapstructure:"step" doc:"simulated time between published snapshots (the exporter's resolution)" default:"100ms"`
	GPUInterval       time.Duration `mapstructure:"gpu_interval" doc:"simulated interval over which GPU utilisation is measured (DCGM-Exporter's collection interval, Triton's metrics interval); 0: the scenario's observation.gpu_exporter_interval" default:"0s"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Namespace: "default", Model: "mobilenetv4", Version: "1", Container: "triton",
		Image: "nvcr.io/nvidia/tritonserver:25.01-py3", DCGMHostnameLabel: "Hostname",
		Exporters: append([]string(nil), AllExporters...), Speed: 1, Step: 100 * time.Millisecond,
	}
}

// Validate checks the configuration and returns one error per problem, each naming its key.
func (c Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	for _, kv := range []struct{ k, v string }{{"namespace", c.Namespace}, {"model", c.Model}, {"container", c.Container}} {
		if kv.v == "" {
			add(kv.k, "required")
		}
	}
	if c.DCGMHostnameLabel != "Hostname" && c.DCGMHostnameLabel != "hostname" {
		add("dcgm_hostname_label", "must be Hostname or hostname, got %q", c.DCGMHostnameLabel)
	}
	for i, e := range c.Exporters {
		if !slices.Contains(AllExporters, e) {
			add(fmt.Sprintf("exporters[%d]", i), "unknown exporter %q (want %s)", e, strings.Join(AllExporters, ", "))
		}
	}
	if !(c.Speed > 0) || c.Speed > 1000 {
		add("speed", "must be in (0, 1000], got %g", c.Speed)
	}
	if c.Step <= 0 {
		add("step", "must be > 0, got %s", c.Step)
	}
	if c.GPUInterval < 0 || (c.Step > 0 && c.GPUInterval%c.Step != 0) {
		add("gpu_interval", "must be 0 or a positive multiple of step (%s), got %s", c.Step, c.GPUInterval)
	}
	return errs
}

func (c Config) exports(name string) bool { return slices.Contains(c.Exporters, name) }
