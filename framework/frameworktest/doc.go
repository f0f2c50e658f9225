// Package frameworktest holds deterministic fakes of the framework's contracts for unit
// tests: a Backend whose Accounting produces windows with totals and latencies that follow
// from its fields by hand arithmetic, a Collector that reports the backend's replicas, an
// absolute-replicas ActionDesign (Box [min, max]), an Actuator that sets the backend's
// replicas, a PolicyFunc adapter and a RewardTermFunc adapter.
//
// The fakes have no randomness unless asked for (Backend.Jitter, seeded from the episode
// seed with math/rand/v2's PCG), take no wall-clock time and never sleep, so tests of the
// step function, the runner, guardrails, fallback and KPI accounting are exact and fast.
// Other packages' tests may reuse them.
package frameworktest
