package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
)

func newRunCmd() *cobra.Command {
	var (
		sets      []string
		out       string
		workers   int
		quiet     bool
		noRep     bool
		rep       reportFlags
		trainMode string
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run an experiment: policies × load profiles × repetitions",
		Long: `Run every policy of the config under every load profile, N repetitions each, and print
the KPI table (mean ± 95 % confidence interval, Student t).

Each run is written atomically to <out>/<experiment>/runs/<policy>/<profile>/rep-<k>/
(trajectory.csv, kpis.json, run.json, latency_cdf.csv); the summary goes to summary.md,
summary.csv and kpis.csv beside the resolved config, and the report (tests against the
baseline, figures) to report.md and report.html: see 'scalelab report --help'. Rerunning the same config skips
finished runs, so an interrupted experiment (Ctrl-C) continues where it stopped.

Evaluation seeds are derived from experiment.seed per repetition and shared by all
policies: each repetition compares policies on the identical arrival sequence.`,
		Example: `  scalelab run configs/seed.yaml
  scalelab run configs/seed.yaml --set experiment.repetitions=10 --out /tmp/seed10
  SCALELAB_EXPERIMENT__SEED=7 scalelab run configs/seed.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := newRegistry()
			loaded, err := config.Load(args[0], sets, reg)
			if err != nil {
				return err
			}
			b := &experiments.Builder{Loaded: loaded, Registry: reg, Logger: slog.Default()}
			root := b.Root(out)
			// Learners without a checkpoint trained from this config train first.
			switch trainMode {
			case "auto":
				trained, err := b.TrainStale(cmd.Context(), root, func(name string, p framework.TrainProgress) {
					if p.Iteration%10 == 0 {
						slog.Info("training before the runs", "policy", name, "iteration", p.Iteration, "step", p.GlobalStep, "mean_return", p.MeanReturn)
					}
				})
				if err != nil {
					return err
				}
				if len(trained) > 0 {
					// The new checkpoints are referenced files: reload so the config hash covers them.
					if loaded, err = config.Load(args[0], sets, reg); err != nil {
						return err
					}
					b = &experiments.Builder{Loaded: loaded, Registry: reg, Logger: slog.Default()}
				}
			case "never":
				stale, err := b.StaleLearners()
				if err != nil {
					return err
				}
				for n := range stale {
					slog.Warn("evaluating a checkpoint not trained from this config (--train=never)", "policy", n)
				}
			default:
				return fmt.Errorf("--train: %q is not auto or never", trainMode)
			}
			total := len(b.Matrix())
			if workers == 0 {
				workers = loaded.Config.Experiment.Workers
			}
			opts := experiments.Options{Root: root, Workers: workers, Version: scalelabVersion()}
			if !quiet && isTerminal(os.Stderr) {
				bar := progressbar.NewOptions(total,
					progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(loaded.Config.Experiment.Name),
					progressbar.OptionShowCount(),
					progressbar.OptionSetElapsedTime(true),
					progressbar.OptionClearOnFinish())
				opts.Progress = func(done, _ int, _ experiments.RunOutcome) { _ = bar.Set(done) }
			}
			slog.Info("running experiment", "name", loaded.Config.Experiment.Name, "runs", total, "results", root, "config_hash", loaded.Hash[:12])
			start := time.Now()
			res, err := b.RunExperiment(cmd.Context(), opts)
			if res != nil {
				fmt.Fprint(cmd.OutOrStdout(), res.Summary.Text())
				reused := 0
				for _, o := range res.Outcomes {
					if o.Skipped {
						reused++
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\n%d runs (%d reused from an earlier invocation) in %.1fs; results in %s (summary.md)\n",
					len(res.Outcomes), reused, time.Since(start).Seconds(), root)
			}
			if err != nil && errors.Is(err, cmd.Context().Err()) && cmd.Context().Err() != nil {
				return fmt.Errorf("interrupted: finished runs are kept in %s; rerun the same command to continue", root)
			}
			if res != nil && !noRep {
				if rerr := writeReport(cmd, cmd.OutOrStdout(), []string{root}, rep.options("")); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
			if err != nil {
				return fmt.Errorf("experiment finished with failures: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key: --set a.b.c=value (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "results directory (default <experiment.out>/<experiment.name>)")
	cmd.Flags().IntVar(&workers, "workers", 0, "parallel runs (default: experiment.workers, else the number of CPUs)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	cmd.Flags().BoolVar(&noRep, "no-report", false, "do not write the report (report.md, report.html, plots/) at the end")
	cmd.Flags().StringVar(&trainMode, "train", "auto", "learners whose checkpoint was not trained from this config: auto (train them first) or never (evaluate the checkpoint as it is)")
	rep.add(cmd, "report-")
	return cmd
}

func newValidateCmd() *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config without running it",
		Long: `Load and validate a config strictly: unknown keys (with the nearest valid key), wrong
types, out-of-range values, unknown component types, invalid embedded Kubernetes objects
(an HPA spec is checked with the API server's rules). Every problem is reported at once,
naming the file and the key. Nothing is written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loaded, err := config.Load(args[0], sets, newRegistry())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (config hash %s)\n", args[0], loaded.Hash)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key: --set a.b.c=value (repeatable)")
	return cmd
}

func newDocsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "docs-config",
		Short:  "Print the configuration reference (docs/configuration.md) generated from the code",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), config.Document(newRegistry()))
			return err
		},
	}
}
