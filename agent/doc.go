// Package agent is `scalelab agent`: a policy driving a real Kubernetes workload on the
// wall clock. It builds the same loop `scalelab run` builds for a policy — the kubernetes
// backend attached to the live workload, its collector (API + Prometheus) and actuator
// (client-go), the action design, reward, guardrails and fallback — and steps it every
// control interval, logging each decision (under --dry-run: what it would do, each command
// validated by the API server with server-side dry run).
//
// It serves Prometheus metrics on /metrics (decisions, fallbacks, deadline overruns,
// rewards and their terms, the latency of each phase — observe, act, actuate — replica
// counts and observed features) and /healthz (failing when the leader has not decided for
// three intervals). With leader election, several replicas share a coordination.k8s.io
// Lease and only the holder decides. SIGINT/SIGTERM end it gracefully: the step in flight
// is abandoned, the Lease released and the HTTP server drained.
//
// When the policy is the HPA baseline, the actuator applies its spec to the cluster and
// stands back: the cluster's own HPA controller scales, and the agent records what the
// policy would have recommended.
package agent
