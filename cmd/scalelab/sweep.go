package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/experiments/sweep"
	"github.com/scalelab/scalelab/framework"
)

type jobFlags struct {
	file, name, namespace, image, claim, mountPath, cpu, memory string
	parallelism, backoff                                        int
	waitTrain                                                   time.Duration
}

func newSweepCmd() *cobra.Command {
	var (
		sets    []string
		out     string
		workers int
		quiet   bool
		dryRun  bool
		noRep   bool
		rep     reportFlags
		job     jobFlags
	)
	cmd := &cobra.Command{
		Use:   "sweep FILE",
		Short: "Run an ablation study: a base config × axes of values or named variants",
		Long: `Run a sweep: every cell (a combination of the axes' values) is an experiment of its own,
the base config with the cell's overrides, run as 'scalelab run' runs it, into
<out>/<sweep>/cells/<cell-id>/. Cell IDs are readable and stable: "state=no-gpu,reward=latency".

Learning policies (those implementing framework.Trainer without a trained checkpoint) are
trained first, once per distinct training config (cached in <out>/<sweep>/train/), on
training seeds disjoint from the evaluation seeds; the cells then evaluate the checkpoints.
Evaluation runs go to a pool of workers; finished runs are skipped when the sweep is run
again, so an interrupted sweep (Ctrl-C, a killed machine) continues where it stopped. A
failing run is recorded and the others go on; the command then exits non-zero with a
summary. At the end the report is written (report.md, report.html).

--emit-job writes Kubernetes Indexed Jobs instead of running: one completion per run
('scalelab run-index'), results on a shared PersistentVolumeClaim that holds this project
folder (configs and results). Run it from the project folder; see docs/experiments.md.

The sweep file format is in docs/experiments.md.`,
		Example: `  scalelab sweep configs/ablation-state.yaml
  scalelab sweep configs/ablation-reward.yaml --set experiment.repetitions=10 --workers 8
  scalelab sweep configs/ablation-action.yaml --dry-run
  scalelab sweep configs/ablation-state.yaml --emit-job job.yaml --image scalelab:dev --claim scalelab`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			s, err := sweep.Open(args[0], sweep.Options{Registry: newRegistry(), Sets: sets, Root: out, Logger: slog.Default()})
			if err != nil {
				return err
			}
			defer s.Close()
			if dryRun {
				printPlan(w, s)
				return nil
			}
			if job.file != "" {
				return emitJob(cmd, w, s, args[0], sets, job)
			}
			if workers == 0 {
				workers = s.Cells[0].Config.Config.Experiment.Workers
			}
			o := sweep.ExecOptions{Workers: workers, Version: scalelabVersion()}
			if !quiet && isTerminal(os.Stderr) {
				bar := progressbar.NewOptions(len(s.Runs), progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(s.File.Name), progressbar.OptionShowCount(),
					progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())
				o.Progress = func(done, _ int, _ sweep.Run, _ experiments.RunOutcome) { _ = bar.Set(done) }
				o.TrainProgress = func(t *sweep.Training, p framework.TrainProgress) {
					bar.Describe(fmt.Sprintf("%s: training %s (iteration %d, step %d)", s.File.Name, t.Policy, p.Iteration, p.GlobalStep))
				}
			}
			slog.Info("running sweep", "name", s.File.Name, "cells", len(s.Cells), "trainings", len(s.Trainings), "runs", len(s.Runs), "results", s.Root)
			res, runErr := s.Execute(cmd.Context(), o)
			if res != nil {
				st := res.Status
				fmt.Fprintf(w, "%s: %d cells, %d runs (%d executed, %d reused, %d failed), %d trainings (%d reused) in %.1fs; results in %s\n",
					s.File.Name, len(s.Cells), st.Runs, st.Executed, st.Reused, st.Failed, st.Trained+st.TrainReused, st.TrainReused, st.WallS, s.Root)
				for _, f := range st.Failures {
					fmt.Fprintf(w, "  failed %s: %s\n", f.Dir, f.Error)
				}
			}
			if runErr != nil && cmd.Context().Err() != nil && errors.Is(runErr, cmd.Context().Err()) {
				return fmt.Errorf("interrupted: finished runs and trainings are kept in %s; rerun the same command to continue", s.Root)
			}
			if !noRep && res != nil {
				if err := writeReport(cmd, w, []string{s.Root}, rep.options("")); err != nil {
					runErr = errors.Join(runErr, err)
				}
			}
			if runErr != nil {
				return fmt.Errorf("sweep finished with failures: %w", runErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&sets, "set", nil, "override a config key in every cell: --set a.b.c=value (repeatable)")
	f.StringVar(&out, "out", "", "results directory (default <experiment.out>/<sweep name>)")
	f.IntVar(&workers, "workers", 0, "parallel runs (default: experiment.workers, else the number of CPUs)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	f.BoolVar(&dryRun, "dry-run", false, "list the cells, trainings and runs without running")
	f.BoolVar(&noRep, "no-report", false, "do not write the report at the end")
	f.BoolVar(&rep.cellReports, "cell-reports", false, "also write each cell's full report into its folder")
	rep.add(cmd, "report-")
	f.StringVar(&job.file, "emit-job", "", "write Kubernetes Indexed Jobs to this file ('-' for stdout) instead of running")
	f.StringVar(&job.image, "image", "", "with --emit-job: container image holding scalelab (required)")
	f.StringVar(&job.claim, "claim", "scalelab", "with --emit-job: PersistentVolumeClaim holding the project folder and results")
	f.StringVar(&job.mountPath, "mount-path", "/work", "with --emit-job: where the claim is mounted in the pods (their working directory)")
	f.StringVar(&job.name, "job-name", "", "with --emit-job: prefix of the Jobs' names (default scalelab-<sweep>)")
	f.StringVar(&job.namespace, "namespace", "", "with --emit-job: namespace of the Jobs")
	f.IntVar(&job.parallelism, "parallelism", 0, "with --emit-job: evaluation pods at once (default min(runs, 4))")
	f.StringVar(&job.cpu, "cpu", "1", "with --emit-job: CPU request per pod")
	f.StringVar(&job.memory, "memory", "1Gi", "with --emit-job: memory request and limit per pod")
	f.IntVar(&job.backoff, "backoff-limit-per-index", 1, "with --emit-job: retries of a failed run")
	f.DurationVar(&job.waitTrain, "wait-train", 24*time.Hour, "with --emit-job: how long evaluation pods wait for their training")
	return cmd
}

func printPlan(w io.Writer, s *sweep.Sweep) {
	fmt.Fprintf(w, "sweep %s (%s): %d cells, %d trainings, %d runs; results in %s\n", s.File.Name, s.File.Mode, len(s.Cells), len(s.Trainings), len(s.Runs), s.Root)
	counts := map[string]int{}
	for _, r := range s.Runs {
		counts[r.Cell.ID]++
	}
	if len(s.File.Set) > 0 {
		fmt.Fprintf(w, "  every cell: %s\n", strings.Join(s.Cells[0].Sets[:len(s.File.Set)], " "))
	}
	first := 0
	for _, c := range s.Cells {
		fmt.Fprintf(w, "  cell %-30s runs %d–%d  %s\n", c.ID, first, first+counts[c.ID]-1, strings.Join(c.Sets[len(s.File.Set):], " "))
		first += counts[c.ID]
	}
	for _, t := range s.Trainings {
		fmt.Fprintf(w, "  training %d: %s in %s for %s\n", t.Index, t.Policy, t.Dir, strings.Join(t.Cells, ", "))
	}
}

func emitJob(cmd *cobra.Command, w io.Writer, s *sweep.Sweep, file string, sets []string, jf jobFlags) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	rel := func(p string) (string, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		r, err := filepath.Rel(cwd, abs)
		if err != nil || strings.HasPrefix(r, "..") {
			return "", fmt.Errorf("--emit-job: %s lies outside the current folder %s; run from the project folder that the claim holds", p, cwd)
		}
		return filepath.ToSlash(r), nil
	}
	sweepFile, err := rel(file)
	if err != nil {
		return err
	}
	root, err := rel(s.Root)
	if err != nil {
		return err
	}
	jobs, err := s.Jobs(sweep.JobOptions{Name: jf.name, Namespace: jf.namespace, Image: jf.image, Claim: jf.claim, MountPath: jf.mountPath,
		SweepFile: sweepFile, Root: root, Sets: sets, Parallelism: jf.parallelism, CPU: jf.cpu, Memory: jf.memory,
		BackoffLimitPerIndex: jf.backoff, WaitTrain: jf.waitTrain})
	if err != nil {
		return err
	}
	header := fmt.Sprintf(`scalelab sweep %s: %d runs in %d cells`, sweepFile, len(s.Runs), len(s.Cells))
	if len(s.Trainings) > 0 {
		header += fmt.Sprintf(", %d trainings (the training Job; evaluation pods of learning policies wait for it)", len(s.Trainings))
	}
	header += fmt.Sprintf(`
The claim %q must hold this project folder at %s (configs, referenced files, results).
Apply with: kubectl apply -f <this file>; wait: kubectl wait --for=condition=complete job/%s-eval --timeout=24h
Then: scalelab report %s`, jf.claim, jf.mountPath, strings.TrimSuffix(jobs[len(jobs)-1].Name, "-eval"), root)
	manifest, err := sweep.JobManifest(jobs, header)
	if err != nil {
		return err
	}
	if jf.file == "-" {
		_, err = w.Write(manifest)
		return err
	}
	if err := framework.WriteFileAtomic(jf.file, manifest); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d Indexed Job(s) to %s: %d runs", len(jobs), jf.file, len(s.Runs))
	if len(s.Trainings) > 0 {
		fmt.Fprintf(w, ", %d trainings", len(s.Trainings))
	}
	fmt.Fprintf(w, "; apply with kubectl apply -f %s, then run scalelab report %s\n", jf.file, root)
	return nil
}
