package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/agent"
)

func newAgentCmd() *cobra.Command {
	o := agent.Options{}
	cmd := &cobra.Command{
		Use:   "agent FILE",
		Short: "Drive a real Kubernetes workload with a policy on the wall clock (in-cluster or from a workstation)",
		Long: `Run one policy of an experiment config (backend: kubernetes) against the live workload:
every control interval the agent observes (Kubernetes API and Prometheus), asks the policy,
applies guardrails and the fallback, and acts through the Kubernetes API (scale
subresource, HPA patches) — the same loop as scalelab run, on the wall clock. It attaches
to the workload as it is (no initial scaling).

With --dry-run every command is sent with server-side dry run: the API server validates
and admits it, nothing changes, and each decision is logged as what the agent would do.

/metrics serves decisions, fallbacks, rewards and their terms, and the latency of each
phase; /healthz fails when the leader has not decided for three intervals. With
--leader-elect several replicas share a Lease and only its holder decides. SIGTERM stops
the agent gracefully (the Lease is released). docs/real-cluster.md walks through it.`,
		Example: `  scalelab agent deploy/agent/agent.yaml --policy ppo --dry-run
  scalelab agent /etc/scalelab/agent.yaml --policy ppo --leader-elect --listen :8080`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Config = args[0]
			o.Registry = newRegistry()
			o.Logger = slog.Default()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return agent.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Sets, "set", nil, "override a config key: --set a.b.c=value (repeatable)")
	f.StringVar(&o.Policy, "policy", "", "the config's policy to run (default: its only policy)")
	f.BoolVar(&o.DryRun, "dry-run", false, "validate every command with server-side dry run and log what would be done; change nothing")
	f.StringVar(&o.Listen, "listen", ":8080", "address of /metrics and /healthz (empty: none)")
	f.BoolVar(&o.LeaderElect, "leader-elect", false, "decide only while holding the Lease (run several replicas for failover)")
	f.StringVar(&o.LeaseName, "lease-name", "scalelab-agent", "name of the Lease")
	f.StringVar(&o.LeaseNamespace, "lease-namespace", "", "namespace of the Lease (default: the workload's)")
	f.StringVar(&o.Identity, "identity", "", "this agent's identity in the Lease (default: hostname_pid)")
	f.IntVar(&o.Decisions, "decisions", 0, "stop after this many decisions (0: run until stopped)")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: run until stopped)")
	f.IntVar(&o.MaxStepErrors, "max-step-errors", 5, "exit after this many failed steps in a row")
	return cmd
}
