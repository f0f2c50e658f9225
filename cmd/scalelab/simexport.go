package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/sim"
	"github.com/scalelab/scalelab/sim/promexport"
)

func newSimExportCmd() *cobra.Command {
	cfg := promexport.Defaults()
	var (
		sets     []string
		policy   string
		profile  string
		rep      int
		listen   string
		duration time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim-export FILE",
		Short: "Run one policy on the simulator paced at real time, exporting its state with the real metric names",
		Long: `Run one (policy, profile, repetition) of an experiment config (backend: sim) with the
simulation paced at real time, and serve /metrics with the simulated cluster's state under
the names and labels of the real exporters: Triton (nv_inference_*, nv_gpu_*), DCGM-Exporter
(DCGM_FI_DEV_*), cAdvisor (container_cpu_usage_seconds_total,
container_memory_working_set_bytes), kube-state-metrics (kube_deployment_*, kube_pod_*) and
scalelab's load generator (scalelab_loadgen_*, its latency histogram included), per pod.

A Prometheus scraping it sees the simulated cluster as it would see the real one: point
the kubernetes backend's Prometheus collector, Grafana dashboards or prometheus-adapter
rules at it to check them without a cluster. --speed 2 runs twice as fast as real time
(PromQL rates then read twice the simulated ones). Each decision is logged; the run's KPIs
are printed as JSON at the end. docs/simulator.md ("Exporting the simulation").`,
		Example: `  scalelab sim-export configs/seed.yaml --policy hpa --profile mixed --listen :9400
  scalelab sim-export configs/seed.yaml --policy ppo --duration 10m --speed 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := newRegistry()
			loaded, err := config.Load(args[0], sets, reg)
			if err != nil {
				return err
			}
			c := loaded.Config
			if c.Backend.Type != "sim" {
				return fmt.Errorf("sim-export runs the simulator: backend.type is %q, want sim", c.Backend.Type)
			}
			b := &experiments.Builder{Loaded: loaded, Registry: reg, Logger: slog.Default()}
			if policy == "" {
				policy = c.Experiment.Baseline
			}
			if profile == "" && len(c.Experiment.Profiles) > 0 {
				profile = c.Experiment.Profiles[0]
			}
			if duration == 0 {
				duration = c.Experiment.Duration
			}
			seed := experiments.EvalSeed(c.Experiment.Seed, rep)
			ld, err := b.Profile(profile)
			if err != nil {
				return fmt.Errorf("--profile: %w", err)
			}
			loop, err := b.Loop(policy, seed)
			if err != nil {
				return err
			}
			defer loop.Backend.Close()
			if cl, ok := loop.Policy.(interface{ Close() error }); ok {
				defer cl.Close()
			}
			s, ok := loop.Backend.(*sim.Sim)
			if !ok {
				return fmt.Errorf("sim-export: the sim backend built a %T, want *sim.Sim", loop.Backend)
			}
			rt, err := promexport.NewRealtime(s, cfg, nil, slog.Default())
			if err != nil {
				return err
			}
			loop.Backend = rt
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", rt.Exporter().Handler())
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			slog.Info("exporting the simulation", "metrics", "http://"+ln.Addr().String()+"/metrics", "policy", policy, "profile", profile,
				"repetition", rep, "seed", seed, "duration", duration, "speed", cfg.Speed, "scenario", s.Scenario().Name,
				"deployment", s.Scenario().Workload.Name, "namespace", cfg.Namespace)
			ep := b.Episode(ld, seed)
			ep.Duration = duration
			res, err := framework.RunEpisode(ctx, loop, ep, framework.RunOptions{
				Duration: duration,
				Warmup:   min(c.Experiment.Warmup, duration/2),
				OnDecision: func(d framework.Decision) {
					rc := d.Next.Cluster.Replicas
					slog.Info("decision", "t", d.Time.Sub(framework.SimEpoch), "replicas", d.Applied.Replicas, "ready", rc.Ready,
						"pending", rc.Pending+rc.Starting, "reward", d.Reward, "fallback", d.Fallback)
				},
			})
			if err != nil {
				if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
					return errors.New("interrupted")
				}
				return err
			}
			out, err := json.MarshalIndent(res.KPIs, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&sets, "set", nil, "override a config key: --set a.b.c=value (repeatable)")
	f.StringVar(&policy, "policy", "", "the config's policy to run (default: experiment.baseline)")
	f.StringVar(&profile, "profile", "", "the load profile (default: the first of experiment.profiles)")
	f.IntVar(&rep, "repetition", 0, "repetition index whose evaluation seed to use (0-based)")
	f.StringVar(&listen, "listen", ":9400", "address of /metrics")
	f.DurationVar(&duration, "duration", 0, "length of the run (default: experiment.duration)")
	bindConfigFlags(f, &cfg)
	return cmd
}
