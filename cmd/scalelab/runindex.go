package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/experiments/sweep"
)

func newRunIndexCmd() *cobra.Command {
	var (
		sets      []string
		out       string
		index     int
		train     bool
		waitTrain time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run-index FILE",
		Short: "Run exactly one run (or one training) of a sweep: what an Indexed Job's pod runs",
		Long: `Run the sweep's run number --index alone, into the same folder and with the same outputs
as inside 'scalelab sweep FILE' (runs are numbered cell by cell in a fixed order; 'scalelab
sweep FILE --dry-run' lists them). A finished run is not run again. With --train, run the
sweep's training number --index instead.

Without --index the index comes from $JOB_COMPLETION_INDEX, which Kubernetes sets in the
pods of an Indexed Job ('scalelab sweep FILE --emit-job'). A run of a learning policy needs
its training: it waits up to --wait-train for another pod to finish it.`,
		Example: `  scalelab run-index configs/ablation-state.yaml --index 7
  JOB_COMPLETION_INDEX=7 scalelab run-index configs/ablation-state.yaml --out results/ablation-state
  scalelab run-index configs/ablation-reward.yaml --train --index 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if index < 0 {
				v, ok := os.LookupEnv(sweep.IndexEnv)
				if !ok {
					return fmt.Errorf("no index: give --index N or set %s", sweep.IndexEnv)
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return fmt.Errorf("%s=%q is not a run index", sweep.IndexEnv, v)
				}
				index = n
			}
			s, err := sweep.Open(args[0], sweep.Options{Registry: newRegistry(), Sets: sets, Root: out, Logger: slog.Default()})
			if err != nil {
				return err
			}
			defer s.Close()
			o := sweep.ExecOptions{Version: scalelabVersion(), WaitTrain: waitTrain}
			w := cmd.OutOrStdout()
			if train {
				reused, err := s.TrainIndex(cmd.Context(), index, o)
				if err != nil {
					return err
				}
				// TrainIndex checked the index.
				t := s.Trainings[index]
				fmt.Fprintf(w, "training %d (%s, cells %v): %s in %s\n", index, t.Policy, t.Cells, doneWord(reused), t.Dir)
				return nil
			}
			oc, err := s.RunIndex(cmd.Context(), index, o)
			if err != nil {
				if index < len(s.Runs) {
					return fmt.Errorf("run %d (%s): %w", index, s.Runs[index].Dir(), err)
				}
				return err
			}
			fmt.Fprintf(w, "run %d: %s in %s\n", index, doneWord(oc.Skipped), s.Runs[index].Dir())
			return nil
		},
	}
	cmd.Flags().IntVar(&index, "index", -1, "run (or training) number; default $JOB_COMPLETION_INDEX")
	cmd.Flags().BoolVar(&train, "train", false, "run training number --index instead of an evaluation run")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key in every cell, as given to scalelab sweep (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "results directory, as given to scalelab sweep")
	cmd.Flags().DurationVar(&waitTrain, "wait-train", 0, "wait this long for the run's training to finish elsewhere (0: fail at once)")
	return cmd
}

func doneWord(reused bool) string {
	if reused {
		return "already finished"
	}
	return "done"
}
