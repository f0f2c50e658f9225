package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

type globalFlags struct {
	logLevel   string
	logFormat  string
	cpuProfile string
	stopProf   func()
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "scalelab",
		Short: "Reinforcement-learning autoscaling experiments for GPU inference on Kubernetes",
		Long: `scalelab compares autoscaling policies for GPU inference services — the Kubernetes HPA,
simple and stronger baselines, PPO, WASM and out-of-process agents — under low, high and
mixed load, N repetitions each, with KPIs reported as mean ± 95 % CI.

Experiments are YAML configs. They run on the embedded discrete-event simulator of an edge
cluster (the default: one node, one RTX 3080 time-sliced four ways, Triton serving
MobileNetV4) or on a real Kubernetes cluster with the same config and backend: kubernetes.

Start with the seed experiment:

  scalelab run configs/seed.yaml

Every run's trajectory, KPIs and the resolved config land under results/<experiment>/.
Change designs without code: --set reward.terms.latency.weight=2, --set experiment.repetitions=10,
or SCALELAB_EXPERIMENT__REPETITIONS=10 in the environment. docs/configuration.md lists every key.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := setupLogging(cmd.ErrOrStderr(), g); err != nil {
				return err
			}
			return g.startProfile()
		},
		PersistentPostRun: func(*cobra.Command, []string) { g.stopProfile() },
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) of the command to this file")
	root.AddCommand(newRunCmd(), newValidateCmd(), newVersionCmd(), newDocsCmd(), newSweepCmd(), newRunIndexCmd(), newReportCmd(), newTrainCmd(), newEvalCmd())
	root.AddCommand(newServeCmd(), newLoadgenCmd(), newCalibrateCmd())
	root.AddCommand(newAgentCmd(), newSimExportCmd())
	root.AddCommand(newExportCmd())
	return root
}

func setupLogging(w io.Writer, g *globalFlags) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(g.logFormat) {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return fmt.Errorf("--log-format: %q is not text or json", g.logFormat)
	}
	slog.SetDefault(slog.New(h))
	return nil
}

// startProfile starts the CPU profile named by --cpuprofile.
func (g *globalFlags) startProfile() error {
	if g.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(g.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile %s: %w", g.cpuProfile, err)
	}
	g.stopProf = func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			slog.Error("--cpuprofile: close", "file", g.cpuProfile, "err", err)
		}
	}
	return nil
}

// stopProfile stops the CPU profile, if one runs (after a command that succeeded).
func (g *globalFlags) stopProfile() {
	if g.stopProf != nil {
		g.stopProf()
		g.stopProf = nil
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
