// Package load defines offered load for scalelab: profiles of absolute request rate over time
// (constant, step, ramp, sine, spike, sequence, trace file) and arrival processes (Poisson,
// deterministic, gamma). The simulator draws arrivals from a Load; loadgen paces real
// requests by the same definitions, so "the same load profile" holds across backends.
//
// Profiles are immutable values, safe to share between parallel simulators. FromConfig
// builds one from a config entry (`profiles: {name: {type: ..., ...}}`), decoding its keys
// strictly; Builtin returns the profiles `low` (300 req/s), `high` (2,600 req/s) and `mixed`
// (a 12-minute cycle 300 → 2,100 req/s with 45-second bursts of +1,500 req/s), sized for the
// simulator's default scenario, whose pods serve at most 1,250 req/s each (see Builtin and
// docs/simulator.md). A Source samples arrival offsets: Poisson by thinning, deterministic
// and gamma as renewal processes in operational time; it allocates nothing per arrival.
package load
