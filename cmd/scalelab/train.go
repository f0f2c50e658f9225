package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/experiments/report"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/policies/ppo"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

// validationEnv returns the train.env of a validation config (CartPole, Pendulum), or ""
// for an experiment config whose learner trains on the configured backend.
func validationEnv(path string) (env string, params map[string]any, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read config: %w", err)
	}
	var doc map[string]any
	if err := sigsyaml.Unmarshal(b, &doc); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	t, _ := doc["train"].(map[string]any)
	if t == nil {
		return "", nil, nil
	}
	e, _ := t["env"].(string)
	if e == "" {
		return "", nil, nil
	}
	for k := range doc {
		if k != "train" {
			return "", nil, fmt.Errorf("%s: a validation config (train.env: %s) has only a train section, found %q", path, e, k)
		}
	}
	return e, t, nil
}

func newTrainCmd() *cobra.Command {
	var (
		sets   []string
		out    string
		seed   int64
		policy string
		quiet  bool
		noPlot bool
		dpi    int
		noSVG  bool
	)
	cmd := &cobra.Command{
		Use:   "train FILE",
		Short: "Train a learning policy (PPO) and write its checkpoint and training curves",
		Long: `Train the learning policy of a config.

A validation config (a train section naming env: cartpole-v1 or pendulum-v1, like
configs/cartpole.yaml) trains PPO on that Gymnasium port. An experiment config trains its
learning policy (--policy, or the only policy that learns) on the configured backend — the
simulator — with episodes cycling through the experiment's load profiles and training seeds
disjoint from evaluation seeds, and writes the checkpoint named by the policy's checkpoint key,
stamped with the training hash (a later run retrains when the config no longer matches).

DIR receives episodes.csv, iterations.csv, convergence.csv (moving-average return and
plateau test, policy stability on fixed probe states, periodic validation), checkpoint.json
(the selected policy: validation.select), best.json (the best validated policy, with
validation.every), checkpoints/latest.json (resumable), summary.json (with the stop reason:
budget, plateau or stable) and the training curves plots/training.png and .svg.`,
		Example: `  scalelab train configs/cartpole.yaml --seed 1 --out results/cartpole-1
  scalelab train configs/ppo-seed.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			progress := func(p framework.TrainProgress) {
				if !quiet && p.Iteration%10 == 0 {
					slog.Info("training", "iteration", p.Iteration, "step", p.GlobalStep, "mean_return", p.MeanReturn)
				}
			}
			env, params, err := validationEnv(args[0])
			if err != nil {
				return err
			}
			if env != "" {
				if _, err := envs.New(env); err != nil {
					return fmt.Errorf("%s: train.env: %w", args[0], err)
				}
				delete(params, "type")
				cfg, err := ppo.DecodeConfig(params)
				if err != nil {
					return fmt.Errorf("%s: train: %w", args[0], err)
				}
				if cmd.Flags().Changed("seed") {
					cfg.Seed = uint64(seed)
				}
				if out == "" {
					out = filepath.Join("results", "train", fmt.Sprintf("%s-seed%d", env, cfg.Seed))
				}
				s, err := ppo.TrainValidation(ctx, cfg, env, out, ppo.ValidationOptions{}, progress)
				if err != nil {
					return err
				}
				mean := "n/a"
				if s.MeanReturn != nil {
					mean = fmt.Sprintf("%.2f", *s.MeanReturn)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s seed %d: mean return over the last %d episodes %s after %d steps (%.0f steps/s, stop: %s); results in %s\n",
					env, cfg.Seed, s.ReturnEpisodes, mean, s.GlobalStep, s.StepsPerSecond, s.StopReason, out)
				return writeTrainingCurves(cmd, out, noPlot, dpi, noSVG)
			}
			if cmd.Flags().Changed("seed") {
				sets = append(sets, fmt.Sprintf("experiment.seed=%d", seed))
			}
			reg := newRegistry()
			loaded, err := config.Load(args[0], sets, reg)
			if err != nil {
				return err
			}
			b := &experiments.Builder{Loaded: loaded, Registry: reg, Logger: slog.Default()}
			name, err := learnerName(b, policy)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join(loaded.Config.Experiment.Out, loaded.Config.Experiment.Name, "train", name)
			}
			hash, err := b.TrainHash(name, "policies."+name+".checkpoint")
			if err != nil {
				return err
			}
			start := time.Now()
			if err := b.TrainPolicy(ctx, name, out, hash, progress); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trained %s in %.1fs (training hash %.12s); results in %s\n", name, time.Since(start).Seconds(), hash, out)
			return writeTrainingCurves(cmd, out, noPlot, dpi, noSVG)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key: --set a.b.c=value (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "training output directory")
	cmd.Flags().Int64Var(&seed, "seed", 0, "training seed (validation configs: train.seed; experiment configs: experiment.seed)")
	cmd.Flags().StringVar(&policy, "policy", "", "the learning policy to train (default: the only one)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress log")
	cmd.Flags().BoolVar(&noPlot, "no-plots", false, "do not draw the training curves")
	cmd.Flags().IntVar(&dpi, "dpi", 110, "resolution of the PNG training curves")
	cmd.Flags().BoolVar(&noSVG, "no-svg", false, "draw the training curves as PNG only")
	return cmd
}

// writeTrainingCurves draws the training curves of a training folder (report's
// TrainingCurves) and says where they are.
func writeTrainingCurves(cmd *cobra.Command, dir string, skip bool, dpi int, noSVG bool) error {
	if skip {
		return nil
	}
	files, err := report.TrainingCurves(dir, dpi, !noSVG)
	if err != nil {
		return fmt.Errorf("training curves: %w", err)
	}
	if len(files) > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "training curves: %s\n", strings.Join(files, ", "))
	}
	return nil
}

// learnerName picks the learning policy to train.
func learnerName(b *experiments.Builder, policy string) (string, error) {
	if policy != "" {
		learns, _, err := b.Learner(policy)
		if err != nil {
			return "", err
		}
		if !learns {
			return "", fmt.Errorf("policy %s does not learn", policy)
		}
		return policy, nil
	}
	var learners []string
	for _, n := range b.PolicyNames() {
		learns, _, err := b.Learner(n)
		if err != nil {
			return "", err
		}
		if learns {
			learners = append(learners, n)
		}
	}
	switch len(learners) {
	case 0:
		return "", errors.New("the config has no learning policy (type ppo)")
	case 1:
		return learners[0], nil
	}
	return "", fmt.Errorf("the config has several learning policies (%s): choose one with --policy", strings.Join(learners, ", "))
}

func newEvalCmd() *cobra.Command {
	var (
		episodes int
		seed     int64
	)
	cmd := &cobra.Command{
		Use:   "eval CHECKPOINT",
		Short: "Evaluate a PPO checkpoint deterministically on its validation environment",
		Long: `Run a checkpoint deterministically (argmax or mean action) for N episodes on the validation
environment it was trained on (CartPole-v1, Pendulum-v1) and print the mean return. A
checkpoint trained on the simulator is evaluated with scalelab run: add it as a ppo policy
(checkpoint: PATH) to an experiment config.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := ppo.ReadCheckpoint(args[0])
			if err != nil {
				return err
			}
			if c.Env == "" {
				return fmt.Errorf("%s was trained on an experiment backend, not a validation environment: evaluate it with `scalelab run` (a ppo policy with checkpoint: %s)", args[0], args[0])
			}
			env, err := envs.New(c.Env)
			if err != nil {
				return err
			}
			defer env.Close()
			rets, err := ppo.Evaluate(cmd.Context(), c, env, episodes, uint64(seed))
			if err != nil {
				return err
			}
			var sum float64
			for _, r := range rets {
				sum += r
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s on %s: mean return %.2f over %d deterministic episodes\n", args[0], c.Env, sum/float64(len(rets)), len(rets))
			return nil
		},
	}
	cmd.Flags().IntVar(&episodes, "episodes", 20, "episodes to run")
	cmd.Flags().Int64Var(&seed, "seed", 1_000_003, "evaluation seed (keep it apart from training seeds)")
	return cmd
}
