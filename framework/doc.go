// Package framework holds scalelab's contracts and the machinery shared by every mode:
// the Backend, Collector, Actuator, ActionDesign, Reward and Policy interfaces, the registry
// that maps config `type:` names to component factories, the step function shared by the
// Runner (evaluation, agents) and the gym-style Env (training), guardrails and fallback,
// configuration loading and validation, recording of trajectories, and KPI accounting types.
//
// The framework imports no concrete component: cmd/scalelab registers them. Components
// (sim, collectors, actuators, rewards, policies) import the framework, never each other,
// except that a backend's collector and actuator import that backend and any component may
// use a leaf algorithm package such as policies/hpa/algorithm.
//
// Time. Every backend exposes its clock as time.Time. The simulator's clock starts at
// SimEpoch and advances in integer nanoseconds; a real cluster's clock is the wall clock.
// Policies and the HPA algorithm therefore see the same kind of timestamps on both.
package framework
