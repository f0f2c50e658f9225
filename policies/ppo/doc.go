// Package ppo is scalelab's native Proximal Policy Optimization: a faithful Go port of
// CleanRL's single-file ppo.py (discrete actions) and ppo_continuous_action.py (diagonal
// Gaussian), the agent the autoscaling study is about. It provides the `ppo` policy
// (Register), which acts deterministically with a trained checkpoint, implements
// framework.Trainer, and TrainValidation for training on the validation environments of
// policies/ppo/envs (CartPole-v1, Pendulum-v1).
//
// # Algorithm (what is CleanRL's, exactly)
//
//   - Actor and critic are separate MLPs (hidden_sizes, tanh or relu), orthogonally
//     initialised as torch.nn.init.orthogonal_ (QR of a Gaussian matrix with the sign
//     correction) with gain √2 on hidden layers, 0.01 on the actor head and 1 on the critic
//     head, zero biases; Gaussian heads have a state-independent log-std initialised to 0.
//   - Heads: categorical (Discrete), one categorical per dimension (MultiDiscrete), diagonal
//     Gaussian (Box). Gaussian samples are clipped to the bounds only when sent to the
//     environment; the unclipped sample is stored and its log-probability used.
//   - Rollouts of num_steps × num_envs with Gymnasium 0.29 same-step autoreset; GAE(γ, λ)
//     where truncation counts as termination (CleanRL) unless bootstrap_truncation, which
//     bootstraps a truncated step with V(final observation).
//   - Loss = clipped surrogate − ent_coef·entropy + vf_coef·½·(clipped) squared error, the
//     value clip reusing clip_coef; advantages normalised per minibatch with the unbiased
//     std + 1e-8; gradients by hand-written backpropagation, global-norm clipped
//     (max_grad_norm), Adam with PyTorch's update (ε = 1e-5 after the square root of the
//     bias-corrected second moment); learning rate lr·(1 − (i−1)/N) at the start of
//     iteration i; optional target-KL early stop checked after each epoch on the last
//     minibatch's approx_kl.
//   - Diagnostics as CleanRL logs them: the last minibatch's pg_loss, v_loss, entropy,
//     old_approx_kl = mean(−log r), approx_kl = mean((r − 1) − log r); clipfrac averaged
//     over every minibatch of the iteration; explained variance of the rollout's values.
//   - Optional per-environment running observation normalisation (clip ±obs_clip) and
//     reward scaling by the running std of the discounted return (reset on termination,
//     clip ±reward_clip), as ppo_continuous_action.py gets from Gymnasium 0.29's wrappers.
//     The policy acts with the per-environment statistics merged into one.
//
// Steps whose StepResult.Fallback is set (the runner replaced the action) are masked out
// of every loss term and statistic (weight 0); they still enter GAE, since their rewards
// and values are part of the trajectory.
//
// # Missing observation values
//
// A value whose Valid flag is false (or that is NaN or ±Inf) is fed to the network as 0 —
// after normalisation, i.e. at the running mean, when norm_obs is on — and is left out of
// the running statistics. With mask_input the validity flags follow the values as extra
// 0/1 inputs, so the network can tell a missing value from a true zero.
//
// # Numerics: flat slices, gonum's dot product
//
// Parameters, gradients and Adam moments are flat []float64 vectors (one global norm, one
// Adam loop, one finite-difference check over all parameters), and every dense product is
// written as C = A·Bᵀ over contiguous rows (kernel.go). The dot products of long
// contractions (hidden layers, weight gradients over a minibatch) are gonum's assembly
// floats.Dot; the first layer's short ones (k = number of features) are a plain Go loop
// with four accumulators. Measured on this 2-core machine under load (BenchmarkGemmNT,
// BenchmarkTrainCartPole, interleaved runs): the floats.Dot kernel gave about 20% more
// training throughput than the plain loop alone and is on par with gonum's blas64.Gemm,
// which we do not call directly because it would start goroutines for large layers and
// needs the bias added separately; the mat.Dense API would allocate per product. gonum is
// also where the orthogonal initialisation's QR decomposition comes from.
//
// # Determinism
//
// One seed fixes everything: initialisation, action sampling and minibatch shuffling draw
// from separate PCG streams of the seed, environment e's first episode is reset with
// seed + e (CleanRL's envs.reset(seed=seed)) and later episodes with seeds derived from
// (seed, e, episode number). Environments may be stepped by several goroutines
// (env_workers); each writes only its own slots and everything else runs in index order,
// so results are bit-identical whatever the worker count or the scheduling. Bit-identity
// holds per platform: gonum's dot product and Go's math functions are implemented per
// architecture, so amd64 and arm64 runs of one seed differ in the last bits (and then
// diverge, as any two seeds do).
//
// # Output of a training run
//
//   - episodes.csv: global_step, env_index, raw_return, length — one row per finished
//     training episode, the undiscounted return before any reward normalisation.
//   - iterations.csv: iteration, global_step, lr, pg_loss, v_loss, entropy, old_approx_kl,
//     approx_kl, clipfrac, explained_variance, sps.
//   - convergence.csv: per iteration the moving average of the return and its plateau
//     test, the policy's stability on a fixed probe set (exact KL between successive
//     policies, entropy, greedy agreement), explained variance, periodic validation returns,
//     the best flag and, on the last row, the stop reason (monitor.go; docs/ppo.md).
//   - checkpoint.json: the selected policy (validation.select: the final one, or the best
//     validated one); best.json: the best validated policy (validation.every > 0);
//     checkpoints/latest.json: the resumable checkpoint (optimiser, normalisers, generator
//     and monitor state as well; its policy is the last iteration's), written every
//     checkpoint_every iterations and at the end. With resume: true a run continues from
//     latest.json; episodes in progress are not restored (environments start new
//     episodes), so a resumed run is deterministic but differs from an uninterrupted one.
//   - summary.json: mean raw return of the last 100 training episodes, steps, wall time,
//     steps per second, the stop reason (budget, plateau, stable), the convergence settings
//     and end state, the best validation and the selected policy (and, for validation
//     environments, a deterministic evaluation of the selected policy).
//
// # Convergence monitoring and early stopping
//
// total_timesteps is the hard cap. The convergence section's stop_on_plateau and
// stop_on_stable end training earlier (never before min_iterations); the validation
// section evaluates the deterministic policy every `every` iterations on held-out
// episodes — from the caller's factory (TrainOptions.ValidationEnv,
// framework.ValidationSetter) — and keeps the best. Monitoring alone changes nothing in
// the run, so its keys stay out of the training hash (Config.MonitoringKeys).
package ppo
