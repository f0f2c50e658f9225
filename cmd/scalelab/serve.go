package main

import (
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/serve"
)

func newServeCmd() *cobra.Command {
	cfg := serve.Defaults()
	var sets []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Emulate a Triton / KServe v2 inference server with the simulator's latency model (no GPU needed)",
		Long: `Serve the KServe v2 inference protocol (Triton's HTTP API: health, readiness, model
metadata, infer with JSON or binary tensors) for one model, answering each request after the
delay the simulator's model of one pod gives it: a CPU stage of cpu_per_request per image
shared under the pod's CPU limit, Triton's dynamic batcher, and GPU execution
t(b) = max(t_min, t_fixed + t_per_image·b) × jitter. The model runs in real time: its virtual
clock is the wall clock.

This is an emulator, for running the real-cluster path (load generator, Prometheus, collector,
agent) end to end on a machine without a GPU; it computes nothing. /metrics exports Triton's
metric names and labels (nv_inference_*, nv_gpu_*) from the model's exact counters, and stands in
for the exporters of the pod's surroundings: DCGM-Exporter (DCGM_FI_DEV_*), cAdvisor
(container_cpu_usage_seconds_total, container_memory_working_set_bytes) and kube-state-metrics
(kube_pod_container_resource_requests), so every catalogue feature has a source.`,
		Example: `  scalelab serve                                   # edge-rtx3080's pod on :8000, /metrics on :8002
  scalelab serve --scenario my-scenario.yaml --scenario-set model.t_fixed=2ms
  scalelab serve --addr 127.0.0.1:8000 --metrics-addr "" --input-shape 3,8,8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := parseSets(sets)
			if err != nil {
				return err
			}
			cfg.ScenarioSet = set
			srv, err := serve.New(cfg, slog.Default())
			if err != nil {
				return err
			}
			defer srv.Close()
			api, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			var ml net.Listener
			if cfg.MetricsAddr != "" {
				if ml, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
					return fmt.Errorf("--metrics-addr: %w", err)
				}
			}
			sc := srv.Scenario()
			metricsAt := api.Addr().String()
			if ml != nil {
				metricsAt = ml.Addr().String()
			}
			slog.Info("serving the emulated model", "model", cfg.Model, "scenario", sc.Name, "api", api.Addr().String(), "metrics", metricsAt,
				"t_fixed", sc.Model.TFixed, "t_per_image", sc.Model.TPerImage, "cpu_per_request", sc.Model.CPUPerRequest,
				"max_batch_size", sc.Serving.MaxBatchSize)
			return srv.Serve(cmd.Context(), api, ml)
		},
	}
	bindConfigFlags(cmd.Flags(), &cfg, "scenario_set")
	cmd.Flags().StringArrayVar(&sets, "scenario-set", nil, "override a scenario key, as key.path=value (YAML value), e.g. model.t_fixed=2ms; repeatable")
	return cmd
}

// parseSets turns key.path=value overrides into a nested map; values are YAML scalars.
func parseSets(sets []string) (map[string]any, error) {
	out := map[string]any{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--scenario-set %q: want key.path=value", s)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return nil, fmt.Errorf("--scenario-set %q: %w", s, err)
		}
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = val
	}
	return out, nil
}

// bindConfigFlags adds a flag for every field of the struct cfg points to, named after its
// mapstructure key with dashes, described by its doc tag and defaulting to its current
// value. Fields named in skip (by key) and fields of unsupported types are left out.
func bindConfigFlags(fs *pflag.FlagSet, cfg any, skip ...string) {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if key == "" || key == "-" || contains(skip, key) {
			continue
		}
		name, usage := strings.ReplaceAll(key, "_", "-"), f.Tag.Get("doc")
		p := v.Field(i).Addr().Interface()
		switch x := p.(type) {
		case *time.Duration:
			fs.DurationVar(x, name, *x, usage)
		case *string:
			fs.StringVar(x, name, *x, usage)
		case *int:
			fs.IntVar(x, name, *x, usage)
		case *uint64:
			fs.Uint64Var(x, name, *x, usage)
		case *int64:
			fs.Int64Var(x, name, *x, usage)
		case *float64:
			fs.Float64Var(x, name, *x, usage)
		case *bool:
			fs.BoolVar(x, name, *x, usage)
		case *[]int64:
			fs.Int64SliceVar(x, name, *x, usage)
		case *[]int:
			fs.IntSliceVar(x, name, *x, usage)
		case *[]float64:
			fs.Float64SliceVar(x, name, *x, usage)
		case *[]string:
			fs.StringSliceVar(x, name, *x, usage)
		case *map[string]string:
			fs.StringToStringVar(x, name, *x, usage)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
