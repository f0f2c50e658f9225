// Package rewards holds scalelab's reward terms. Each term implements framework.RewardTerm:
// it computes one unweighted value per step from the ground-truth accounting of the step's
// interval (StepInfo.Window: its Totals and latency histogram, never the lagged observation)
// and the applied action. Benefits are positive, penalties negative; the framework multiplies
// each term by its configured weight, records every weighted term and sums them
// (framework.WeightedReward).
//
// Terms (config type names; formulas in each type's doc comment and in docs/rewards.md):
//
//   - gpu_util: GPU busy fraction, GPUBusySeconds / (GPUCount · T), in [0, 1].
//   - cpu_util: resource efficiency, min(cap, CPUSeconds / CPURequestSeconds).
//   - replica_cost: −(mean replicas or GPU shares over the step) / max_replicas.
//   - latency: a penalty on a latency quantile (or the mean) relative to the SLO, with
//     linear, hinge and exponential shapes, bounded by cap.
//   - qos_violation: −(SLO violations + drops + failures) / arrivals.
//   - action_change: −|applied replicas − previous replicas| / max(1, max − min).
//
// T is the step's interval: the window's duration, or StepInfo.Interval when the window
// carries no times. Register adds every term to a framework.Registry.
package rewards
