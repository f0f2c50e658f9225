// Package envs holds exact Go ports of Gymnasium 0.29's classic-control validation tasks,
// CartPole-v1 and Pendulum-v1, as framework.Env implementations. They are the standard
// sanity checks of a PPO port: scalelab's PPO is validated on them against CleanRL's and
// rl-zoo's published results before it is trusted on the autoscaling environment.
//
// The ports keep Gymnasium's constants, integration order (explicit Euler for CartPole,
// semi-implicit Euler for Pendulum), termination and time-limit truncation, reset
// distributions and float32 observations (the state evolves in float64, as in Python, and
// is rounded to float32 when observed). What cannot be identical is the random stream:
// Reset(seed) seeds a PCG generator instead of NumPy's, so the same seed gives a
// different — equally distributed — initial state than Gymnasium's.
//
// The environments do not reset themselves: stepping after an episode ended behaves as
// Gymnasium's unwrapped environment does (CartPole returns reward 0, Pendulum keeps
// going, the step counter keeps counting); vectorised training resets them (policies/ppo
// does so in the same step, Gymnasium 0.29's autoreset semantics).
package envs
