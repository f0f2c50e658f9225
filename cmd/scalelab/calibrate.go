package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/calibrate"
	"github.com/scalelab/scalelab/sim"
)

func newCalibrateCmd() *cobra.Command {
	cfg := calibrate.Defaults()
	var (
		perfCSV          []string
		out, base, named string
	)
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Fit the simulator's service model to your inference server and write a scenario file",
		Long: `Measure a KServe v2 inference endpoint (Triton or scalelab serve) and fit the simulator's
model of it, so that the simulated cluster is yours rather than the estimated defaults:

  GPU   t(b) = max(t_min, t_fixed + t_per_image·b) × lognormal jitter (CV jitter_cv)
  CPU   cpu_per_request of CPU work per image in the serving pod

The GPU sweep sends requests of b images one at a time for each batch size and reads each
one's compute time from Triton's nv_inference_compute_infer_duration_us (--metrics-url, read
before and after every request); the endpoint must serve nothing else meanwhile. The CPU sweep
offers each --rates step for --step-length and divides the pod's CPU seconds (a cAdvisor-style
counter on --cpu-metrics-url, or --cpu-query on --prometheus-url) by the images served.
Alternatively --perf-csv fits t(b) to Triton perf_analyzer -f files, one per batch size.

The result is a scenario YAML over --base (default edge-rtx3080) holding the fitted model keys,
with the fit's residuals as comments; use it with backend.scenario or scalelab serve --scenario.`,
		Example: `  scalelab calibrate --url http://localhost:8000 --metrics-url http://localhost:8002/metrics --out my-gpu.yaml
  scalelab calibrate --perf-csv 1=pa-b1.csv --perf-csv 8=pa-b8.csv --perf-csv 32=pa-b32.csv --out my-gpu.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, ok := sim.BuiltinScenario(base); !ok {
				return fmt.Errorf("--base %q: not a built-in scenario (%s)", base, strings.Join(sim.BuiltinScenarioNames(), ", "))
			}
			var res calibrate.Result
			var err error
			if len(perfCSV) > 0 {
				var files []calibrate.PerfFile
				for _, spec := range perfCSV {
					b, path, ok := strings.Cut(spec, "=")
					n, convErr := strconv.Atoi(b)
					if !ok || convErr != nil || n < 1 {
						return fmt.Errorf("--perf-csv %q: want BATCH=FILE, e.g. 8=perf-b8.csv", spec)
					}
					f, err := os.Open(path)
					if err != nil {
						return fmt.Errorf("--perf-csv: %w", err)
					}
					defer f.Close()
					files = append(files, calibrate.PerfFile{Batch: n, Name: path, R: f})
				}
				res, err = calibrate.FromPerfAnalyzer(files)
			} else {
				res, err = calibrate.Run(cmd.Context(), cfg, slog.Default())
			}
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := res.WriteScenario(&buf, base, named); err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := sim.LoadScenario(out); err != nil {
				return fmt.Errorf("the written scenario %s does not load: %w", out, err)
			}
			s := res.Service
			fmt.Fprintf(cmd.OutOrStdout(), "t_min %v  t_fixed %v  t_per_image %v  jitter_cv %.4f", s.TMin, s.TFixed, s.TPerImage, s.JitterCV)
			if res.CPU != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "  cpu_per_request %v", res.CPU.CPUPerImage)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nwrote %s\n", out)
			return nil
		},
	}
	bindConfigFlags(cmd.Flags(), &cfg)
	f := cmd.Flags()
	f.StringArrayVar(&perfCSV, "perf-csv", nil, "fit to perf_analyzer CSV output instead of measuring: BATCH=FILE, one per batch size; repeatable")
	f.StringVar(&out, "out", "", "scenario file to write (default: print it)")
	f.StringVar(&base, "base", sim.DefaultScenario, "built-in scenario the calibrated one starts from")
	f.StringVar(&named, "name", "calibrated", "name of the calibrated scenario")
	return cmd
}
