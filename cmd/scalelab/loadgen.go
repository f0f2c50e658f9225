package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/loadgen"
)

func newLoadgenCmd() *cobra.Command {
	cfg := loadgen.Defaults()
	var (
		profile, profileFile, configFile, arrivals, out string
		rate, arrivalCV                                 float64
		sets                                            []string
		linger                                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Send open-loop KServe v2 inference load following a load profile, recording latency and QoS",
		Long: `Send inference requests to a KServe v2 endpoint (Triton, or scalelab serve) at the arrival
times of a load profile — the same definitions the simulator draws from (built-in low, high,
mixed; constant, step, ramp, sine, spike, sequence, trace), with Poisson, deterministic or gamma
arrivals; with the same --seed the arrival times are those the simulator draws for that seed.
Arrivals never wait for responses (open loop).

Client-side latency and QoS go to /metrics (scalelab_loadgen_*: requests, outcomes, SLO
violations and a latency histogram, the source of the p95_latency_ms and qos_violation_rate
features) and, at the end, into a summary in the KPI format of simulated runs.

The profile is a built-in name (--profile), a constant rate (--rate), a YAML file holding one
profile entry ({type: ..., keys}; --profile-file), or a profile of an experiment config
(--config with --profile), whose arrival process and SLO then apply too.`,
		Example: `  scalelab loadgen --url http://localhost:8000 --profile low --duration 10m
  scalelab loadgen --rate 200 --payload uint8 --encoding json --duration 1m
  scalelab loadgen --config configs/seed.yaml --profile mixed --out mixed-summary.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := resolveLoad(cmd, &cfg, profile, profileFile, configFile, sets, rate, arrivals, arrivalCV)
			if err != nil {
				return err
			}
			g, err := loadgen.New(cfg, l, slog.Default())
			if err != nil {
				return err
			}
			var srv *http.Server
			if cfg.MetricsAddr != "" {
				ln, err := net.Listen("tcp", cfg.MetricsAddr)
				if err != nil {
					return fmt.Errorf("--metrics-addr: %w", err)
				}
				mux := http.NewServeMux()
				mux.Handle("GET /metrics", g.MetricsHandler())
				srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				slog.Info("metrics", "addr", ln.Addr().String())
				defer srv.Close()
			}
			s, runErr := g.Run(cmd.Context())
			if runErr != nil && !errors.Is(runErr, cmd.Context().Err()) {
				return runErr
			}
			k := s.KPIs
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d requests in %s (profile: %.0f expected; arrivals drawn: %d)\n", s.Sent, s.Duration.Round(time.Millisecond), s.Expected, s.Scheduled)
			fmt.Fprintf(cmd.OutOrStdout(), "completed %d, dropped %d, failed %d; QoS violation rate %.4f (SLO %s)\n", k.Completions, k.Drops, k.Failures, k.QoSViolationRate, cfg.SLO)
			fmt.Fprintf(cmd.OutOrStdout(), "latency ms: mean %.2f  p50 %.2f  p95 %.2f  p99 %.2f; throughput %.1f req/s\n", k.MeanLatencyMS, k.P50LatencyMS, k.P95LatencyMS, k.P99LatencyMS, k.ThroughputRPS)
			fmt.Fprintf(cmd.OutOrStdout(), "send lag behind the arrival times: p50 %s  p99 %s  max %s\n", s.LagP50, s.LagP99, s.LagMax)
			if out != "" {
				b, err := json.MarshalIndent(s, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			if srv != nil && linger > 0 && cmd.Context().Err() == nil {
				slog.Info("keeping /metrics up", "for", linger)
				select {
				case <-time.After(linger):
				case <-cmd.Context().Done():
				}
			}
			return runErr
		},
	}
	bindConfigFlags(cmd.Flags(), &cfg)
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "built-in profile (low, high, mixed) or, with --config, a profile of the experiment")
	f.StringVar(&profileFile, "profile-file", "", "YAML file with one profile entry: {type: constant|step|ramp|sine|spike|sequence|trace, ...keys}")
	f.StringVar(&configFile, "config", "", "experiment config whose profiles, arrival process and SLO to use")
	f.StringArrayVar(&sets, "set", nil, "override a key of --config (a.b.c=value); repeatable")
	f.Float64Var(&rate, "rate", 0, "constant rate in req/s (instead of a profile)")
	f.StringVar(&arrivals, "arrivals", "", "arrival process: poisson (default), deterministic or gamma")
	f.Float64Var(&arrivalCV, "arrival-cv", 1, "coefficient of variation of inter-arrival times for gamma arrivals")
	f.StringVar(&out, "out", "", "write the run's summary (KPIs, counts, send lag) as JSON to this file")
	f.DurationVar(&linger, "linger", 0, "keep /metrics up this long after the run, for a last scrape")
	return cmd
}

// resolveLoad builds the load from the flags (see the command's help).
func resolveLoad(cmd *cobra.Command, cfg *loadgen.Config, profile, profileFile, configFile string, sets []string,
	rate float64, arrivals string, arrivalCV float64) (load.Load, error) {
	l := load.Load{Arrivals: load.Arrivals{Kind: load.ArrivalKind(arrivals), CV: arrivalCV}}
	n := 0
	for _, set := range []bool{profile != "" && configFile == "", profileFile != "", configFile != "", rate > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return l, errors.New("give exactly one of --profile (built-in), --rate, --profile-file or --config with --profile")
	}
	switch {
	case rate > 0:
		l.Name, l.Profile = fmt.Sprintf("constant-%g", rate), load.Constant{RPS: rate}
	case profileFile != "":
		b, err := os.ReadFile(profileFile)
		if err != nil {
			return l, fmt.Errorf("--profile-file: %w", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return l, fmt.Errorf("--profile-file %s: %w", profileFile, err)
		}
		typ, _ := m["type"].(string)
		delete(m, "type")
		p, err := load.FromConfig(typ, m, filepath.Dir(profileFile))
		if err != nil {
			return l, fmt.Errorf("--profile-file %s: %w", profileFile, err)
		}
		l.Name, l.Profile = filepath.Base(profileFile), p
	case configFile != "":
		if profile == "" {
			return l, errors.New("--config needs --profile: which of the experiment's profiles to play")
		}
		loaded, err := config.Load(configFile, sets, newRegistry())
		if err != nil {
			return l, err
		}
		p, ok := loaded.Profiles[profile]
		if !ok {
			if p, ok = load.Builtin(profile); !ok {
				return l, fmt.Errorf("--profile %q: neither a profile of %s nor built-in (%v)", profile, configFile, load.BuiltinNames())
			}
		}
		l.Name, l.Profile = profile, p
		ex := loaded.Config.Experiment
		if !cmd.Flags().Changed("arrivals") {
			l.Arrivals = load.Arrivals{Kind: load.ArrivalKind(ex.Arrivals), CV: ex.ArrivalCV}
		}
		if !cmd.Flags().Changed("slo") {
			cfg.SLO = loaded.Config.SLO.Latency
		}
		if !cmd.Flags().Changed("timeout") {
			cfg.Timeout = loaded.Config.SLO.ClientTimeout
		}
		if !cmd.Flags().Changed("duration") {
			cfg.Duration = ex.Duration
		}
	default:
		p, ok := load.Builtin(profile)
		if !ok {
			return l, fmt.Errorf("--profile %q: not a built-in profile (%v); use --profile-file or --config for others", profile, load.BuiltinNames())
		}
		l.Name, l.Profile = profile, p
	}
	if l.Arrivals.Kind == "" {
		l.Arrivals.Kind = load.Poisson
	}
	if err := l.Arrivals.Validate(); err != nil {
		return l, fmt.Errorf("--arrivals: %w", err)
	}
	return l, nil
}
