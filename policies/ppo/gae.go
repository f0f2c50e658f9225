package ppo

// gaeInput is a rollout of T steps × N environments laid out step-major: index t·N + e
// (CleanRL's storage order, which its reshape(-1) flattens the same way).
type gaeInput struct {
	T, N       int
	rewards    []float64 // rₜ: reward of step t (after reward normalisation, if any)
	values     []float64 // V(sₜ) at collection time
	ended      []bool    // step t ended its episode (terminated or truncated)
	terminated []bool    // step t ended by termination
	// finalValues[t·N+e] is V(final observation) of a truncated step, used when bootstrap.
	finalValues []float64
	nextValues  []float64 // V(s_T) per environment: the observation after the last step
	bootstrap   bool      // bootstrap truncations with finalValues
}

// gae computes GAE(γ, λ) advantages and returns (advantage + value) into adv and ret:
//
//	δₜ = rₜ + γ·V(sₜ₊₁)·(1 − endedₜ) − V(sₜ)        Aₜ = δₜ + γλ·(1 − endedₜ)·Aₜ₊₁
//
// which is CleanRL's recursion (its dones[t+1] is our endedₜ; the last step uses the
// value of the observation after the rollout). A truncated step is terminal there. With
// bootstrap, a step that was truncated and not terminated has δₜ = rₜ + γ·V(final obsₜ) −
// V(sₜ) instead — the value of the state the time limit cut off — and still does not
// carry Aₜ₊₁ (which belongs to the next episode).
func gae(in gaeInput, gamma, lambda float64, adv, ret []float64) {
	T, N := in.T, in.N
	for e := 0; e < N; e++ {
		last := 0.0
		for t := T - 1; t >= 0; t-- {
			i := t*N + e
			var delta float64
			if in.ended[i] {
				boot := 0.0
				if in.bootstrap && !in.terminated[i] {
					boot = in.finalValues[i]
				}
				delta = in.rewards[i] + gamma*boot - in.values[i]
				last = delta
			} else {
				next := in.nextValues[e]
				if t < T-1 {
					next = in.values[i+N]
				}
				delta = in.rewards[i] + gamma*next - in.values[i]
				last = delta + gamma*lambda*last
			}
			adv[i] = last
			ret[i] = last + in.values[i]
		}
	}
}
