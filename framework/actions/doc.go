// Package actions holds scalelab's backend-neutral action designs: the ways a policy's
// Action becomes a framework.Command. Each design owns its action space and semantics, so
// the same design runs unchanged on the simulator and on a real cluster (the backend's
// Actuator carries the Command out):
//
//   - replica_delta: Discrete, 2·max_step+1 actions; index i asks for desired replicas + (i − max_step).
//   - replicas: absolute replica count in [min_replicas, max_replicas], a one-dimensional Box
//     (value rounded half away from zero) or, with discrete: true, Discrete with index = replicas − min.
//   - hpa_target: Discrete over target CPU utilisations (percent) of an HPA that turns the
//     target into replicas.
//   - batching: MultiDiscrete over (max batch size, max queue delay) of the serving batcher.
//   - cpu_request: Discrete over pod CPU requests in millicores.
//
// Translate rejects actions outside the design's space with an error (the runner then applies
// its fallback). Replica counts are not clamped here: the runner's guardrails clamp them to
// the workload's bounds and record that they did. Hold returns the action that keeps the
// current state, choosing the nearest option when the current value is not one of them.
//
// Register adds every design to a framework.Registry under its config type name.
package actions
