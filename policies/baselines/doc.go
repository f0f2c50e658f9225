// Package baselines holds scalelab's simple baselines beside the Kubernetes HPA
// (policies/hpa): "static" (a fixed replica count), "threshold" (a step rule on one
// state feature with up/down thresholds and cooldowns, after Nomad Autoscaler's threshold
// strategy) and "kpa" (Knative's KPA concurrency autoscaler: stable and panic windows over
// the pods' in-flight requests, panic mode, scale-up/down rate limits).
//
// Every baseline outputs absolute replica counts (it requires the "replicas" action
// design) and is a framework.Builtin: the runner applies only the scenario's min/max to it,
// not the learned-policy guardrails. threshold and kpa act on their own period
// (framework.Periodic: 15 s and 2 s by default). threshold reads its feature from the
// observation vector (it implements framework.Initializer to learn the state design and
// fails there when the feature is missing); kpa reads the per-pod "inflight" metric of the
// cluster view. docs/baselines.md states what each implements and leaves out.
package baselines
