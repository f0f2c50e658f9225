package ppo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Config holds every knob of PPO: CleanRL's ppo.py arguments (same names, same defaults),
// the network, normalisation, time-limit handling and the checkpoint. It is both the `ppo`
// policy's config and the `train:` section of a training config.
type Config struct {
	// Env names a validation environment (cartpole-v1, pendulum-v1) for `scalelab train`;
	// empty trains on the experiment's own (simulator) environment.
	Env string `mapstructure:"env" doc:"validation environment for scalelab train (cartpole-v1, pendulum-v1); empty trains on the experiment's simulator environment" default:""`

	TotalTimesteps int64  `mapstructure:"total_timesteps" doc:"training budget in environment steps; runs total_timesteps / (num_envs·num_steps) iterations, rounded down" default:"500000"`
	Seed           uint64 `mapstructure:"seed" doc:"training seed: initialisation, action sampling, minibatch shuffling and environment seeds derive from it" default:"1"`
	NumEnvs        int    `mapstructure:"num_envs" doc:"parallel environments" default:"4"`
	NumSteps       int    `mapstructure:"num_steps" doc:"steps per environment per rollout" default:"128"`
	NumMinibatches int    `mapstructure:"num_minibatches" doc:"minibatches per epoch; minibatch size is num_envs·num_steps / num_minibatches" default:"4"`
	UpdateEpochs   int    `mapstructure:"update_epochs" doc:"epochs over each rollout" default:"4"`

	LearningRate float64 `mapstructure:"learning_rate" doc:"Adam learning rate" default:"0.00025"`
	AnnealLR     bool    `mapstructure:"anneal_lr" doc:"anneal the learning rate linearly: lr·(1 − (i−1)/iterations) at the start of iteration i" default:"true"`
	AdamEps      float64 `mapstructure:"adam_eps" doc:"Adam epsilon, added after the square root of the bias-corrected second moment" default:"1e-05"`

	Gamma     float64 `mapstructure:"gamma" doc:"discount factor" default:"0.99"`
	GAELambda float64 `mapstructure:"gae_lambda" doc:"GAE lambda" default:"0.95"`

	NormAdv     bool    `mapstructure:"norm_adv" doc:"normalise advantages per minibatch (unbiased std + 1e-8)" default:"true"`
	ClipCoef    float64 `mapstructure:"clip_coef" doc:"surrogate clipping coefficient (also clips the value change when clip_vloss)" default:"0.2"`
	ClipVLoss   bool    `mapstructure:"clip_vloss" doc:"clip the value loss around the rollout's values with clip_coef" default:"true"`
	EntCoef     float64 `mapstructure:"ent_coef" doc:"entropy bonus coefficient" default:"0.01"`
	VFCoef      float64 `mapstructure:"vf_coef" doc:"value loss coefficient (the value loss already carries a factor 0.5)" default:"0.5"`
	MaxGradNorm float64 `mapstructure:"max_grad_norm" doc:"global gradient-norm clip; 0 disables clipping" default:"0.5"`
	TargetKL    float64 `mapstructure:"target_kl" doc:"stop the update epochs early when the last minibatch's approx_kl exceeds this; 0 disables (CleanRL's None)" default:"0"`

	NormObs    bool    `mapstructure:"norm_obs" doc:"normalise observations with per-environment running mean and variance, then clip to ±obs_clip" default:"false"`
	NormReward bool    `mapstructure:"norm_reward" doc:"scale rewards by the running std of the discounted return per environment, then clip to ±reward_clip" default:"false"`
	ObsClip    float64 `mapstructure:"obs_clip" doc:"clip of normalised observations (norm_obs)" default:"10"`
	RewardClip float64 `mapstructure:"reward_clip" doc:"clip of normalised rewards (norm_reward)" default:"10"`

	HiddenSizes []int  `mapstructure:"hidden_sizes" doc:"hidden layer widths of the actor and of the critic (two separate networks)" default:"[64 64]"`
	Activation  string `mapstructure:"activation" doc:"hidden activation: tanh or relu" default:"tanh"`
	MaskInput   bool   `mapstructure:"mask_input" doc:"append each feature's validity (1 valid, 0 missing) to the network input; missing values are always fed as 0" default:"false"`

	BootstrapTruncation bool `mapstructure:"bootstrap_truncation" doc:"bootstrap time-limit truncations with V(final observation); false treats truncation as termination, as CleanRL does" default:"false"`

	EnvWorkers      int    `mapstructure:"env_workers" doc:"goroutines stepping the environments; 0 = min(num_envs, GOMAXPROCS), 1 = step in the training goroutine" default:"0"`
	Checkpoint      string `mapstructure:"checkpoint" doc:"checkpoint file the policy loads (relative to the config file); training also writes its final checkpoint here when set" default:""`
	CheckpointEvery int    `mapstructure:"checkpoint_every" doc:"write a resumable checkpoint every this many iterations (and at the end); 0 only at the end" default:"50"`
	Resume          bool   `mapstructure:"resume" doc:"continue training from <out>/checkpoints/latest.json when it exists" default:"false"`
	EvalEpisodes    int    `mapstructure:"eval_episodes" doc:"deterministic evaluation episodes on held-out seeds after validation-environment training; 0 skips" default:"20"`

	// Convergence configures the convergence signals written to convergence.csv and the
	// optional early-stopping criteria (total_timesteps stays the hard cap).
	Convergence ConvergenceConfig `mapstructure:"convergence"`
	// Validation configures periodic deterministic evaluation on held-out episodes and
	// which checkpoint (final or best) the trainer writes.
	Validation ValidationConfig `mapstructure:"validation"`
}

// ConvergenceConfig configures convergence monitoring (see monitor.go and docs/ppo.md):
// the moving average of the training return and its plateau test, and policy stability
// on a fixed probe set of observations. The signals are always written; training stops
// early only when stop_on_plateau or stop_on_stable is set.
type ConvergenceConfig struct {
	Window           int             `mapstructure:"window" doc:"iterations W of the moving average of the training return (mean raw return of the episodes that ended in the last W iterations); the plateau test compares it with its best value W or more iterations earlier" default:"20"`
	MinImprovement   float64         `mapstructure:"min_improvement" doc:"plateau threshold ε: iteration i is on a plateau when (MA_i − max_{j ≤ i−W} MA_j) / max(|max_{j ≤ i−W} MA_j|, improvement_floor) < ε" default:"0.01"`
	ImprovementFloor float64         `mapstructure:"improvement_floor" doc:"absolute floor of the plateau test's denominator, so returns near zero do not inflate the relative improvement" default:"1e-06"`
	PlateauPatience  int             `mapstructure:"plateau_patience" doc:"consecutive plateau iterations after which stop_on_plateau stops training" default:"20"`
	StopOnPlateau    bool            `mapstructure:"stop_on_plateau" doc:"stop training after plateau_patience consecutive plateau iterations" default:"false"`
	Probes           int             `mapstructure:"probes" doc:"size of the fixed probe set (observations drawn from the first rollout) on which policy KL, entropy and greedy agreement are measured; 0 disables those signals" default:"256"`
	Stability        StabilityConfig `mapstructure:"stability"`
	StopOnStable     bool            `mapstructure:"stop_on_stable" doc:"stop training after stability.patience consecutive stable iterations" default:"false"`
	MinIterations    int             `mapstructure:"min_iterations" doc:"never stop early before this many iterations" default:"0"`
}

// StabilityConfig defines a stable iteration: the policy barely moved on the probes.
type StabilityConfig struct {
	MaxKL           float64 `mapstructure:"max_kl" doc:"stability threshold: an iteration is stable when the mean exact KL(π_old‖π_new) over the probes is at most max_kl and the greedy agreement at least min_agreement" default:"0.0001"`
	MinAgreement    float64 `mapstructure:"min_agreement" doc:"stability threshold: the fraction of probes whose greedy action is unchanged since the previous iteration must be at least this" default:"0.99"`
	Patience        int     `mapstructure:"patience" doc:"consecutive stable iterations after which stop_on_stable stops training" default:"20"`
	ActionTolerance float64 `mapstructure:"action_tolerance" doc:"Gaussian heads: a probe's greedy (mean, clipped) action counts as unchanged when every dimension moved by at most this fraction of its bound range (this absolute amount for unbounded dimensions)" default:"0.01"`
}

// ValidationConfig configures periodic validation: every `every` iterations (and at the
// last) the deterministic policy runs `episodes` held-out episodes, and the best policy by
// mean validation return is kept as best.json.
type ValidationConfig struct {
	Every    int      `mapstructure:"every" doc:"evaluate the deterministic policy on held-out validation episodes every this many iterations and at the last one (also an early stop); 0 disables" default:"0"`
	Episodes int      `mapstructure:"episodes" doc:"deterministic validation episodes per evaluation, the same held-out seeds each time; episode k runs profile k mod len(profiles)" default:"6"`
	Profiles []string `mapstructure:"profiles" doc:"load profiles of the validation episodes; empty uses experiment.profiles (ignored for cartpole-v1 and pendulum-v1)" default:"[]"`
	Select   string   `mapstructure:"select" doc:"the policy the trainer writes as its checkpoint: final (the last iteration's) or best (highest mean validation return; needs every > 0)" default:"final"`
}

// Checkpoint selections (validation.select).
const (
	SelectFinal = "final"
	SelectBest  = "best"
)

// DefaultConfig returns CleanRL ppo.py's defaults (CartPole-v1, 500,000 steps).
func DefaultConfig() Config {
	return Config{
		TotalTimesteps:  500000,
		Seed:            1,
		NumEnvs:         4,
		NumSteps:        128,
		NumMinibatches:  4,
		UpdateEpochs:    4,
		LearningRate:    2.5e-4,
		AnnealLR:        true,
		AdamEps:         1e-5,
		Gamma:           0.99,
		GAELambda:       0.95,
		NormAdv:         true,
		ClipCoef:        0.2,
		ClipVLoss:       true,
		EntCoef:         0.01,
		VFCoef:          0.5,
		MaxGradNorm:     0.5,
		ObsClip:         10,
		RewardClip:      10,
		HiddenSizes:     []int{64, 64},
		Activation:      "tanh",
		CheckpointEvery: 50,
		EvalEpisodes:    20,
		Convergence: ConvergenceConfig{
			Window: 20, MinImprovement: 0.01, ImprovementFloor: 1e-6, PlateauPatience: 20, Probes: 256,
			Stability: StabilityConfig{MaxKL: 1e-4, MinAgreement: 0.99, Patience: 20, ActionTolerance: 0.01},
		},
		Validation: ValidationConfig{Episodes: 6, Select: SelectFinal},
	}
}

// BatchSize is num_envs · num_steps.
func (c Config) BatchSize() int { return c.NumEnvs * c.NumSteps }

// MinibatchSize is batch_size / num_minibatches (rounded down, as CleanRL).
func (c Config) MinibatchSize() int { return c.BatchSize() / c.NumMinibatches }

// Iterations is total_timesteps / batch_size (rounded down, as CleanRL): 976 with the
// defaults, i.e. 499,712 steps.
func (c Config) Iterations() int { return int(c.TotalTimesteps / int64(c.BatchSize())) }

// Validate reports every out-of-range key.
func (c Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.NumEnvs < 1 {
		bad("num_envs", "must be ≥ 1, got %d", c.NumEnvs)
	}
	if c.NumSteps < 1 {
		bad("num_steps", "must be ≥ 1, got %d", c.NumSteps)
	}
	if c.NumMinibatches < 1 {
		bad("num_minibatches", "must be ≥ 1, got %d", c.NumMinibatches)
	} else if c.NumEnvs >= 1 && c.NumSteps >= 1 && c.MinibatchSize() < 2 {
		bad("num_minibatches", "leaves fewer than 2 samples per minibatch (batch %d / %d minibatches)", c.BatchSize(), c.NumMinibatches)
	}
	if c.UpdateEpochs < 1 {
		bad("update_epochs", "must be ≥ 1, got %d", c.UpdateEpochs)
	}
	if c.NumEnvs >= 1 && c.NumSteps >= 1 && c.TotalTimesteps < int64(c.BatchSize()) {
		bad("total_timesteps", "must be ≥ num_envs·num_steps = %d, got %d", c.BatchSize(), c.TotalTimesteps)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		bad("learning_rate", "must be > 0, got %v", c.LearningRate)
	}
	if !(c.AdamEps > 0) {
		bad("adam_eps", "must be > 0, got %v", c.AdamEps)
	}
	if !(c.Gamma >= 0 && c.Gamma <= 1) {
		bad("gamma", "must be in [0, 1], got %v", c.Gamma)
	}
	if !(c.GAELambda >= 0 && c.GAELambda <= 1) {
		bad("gae_lambda", "must be in [0, 1], got %v", c.GAELambda)
	}
	if !(c.ClipCoef > 0) {
		bad("clip_coef", "must be > 0, got %v", c.ClipCoef)
	}
	if !(c.EntCoef >= 0) {
		bad("ent_coef", "must be ≥ 0, got %v", c.EntCoef)
	}
	if !(c.VFCoef >= 0) {
		bad("vf_coef", "must be ≥ 0, got %v", c.VFCoef)
	}
	if !(c.MaxGradNorm >= 0) {
		bad("max_grad_norm", "must be ≥ 0 (0 disables), got %v", c.MaxGradNorm)
	}
	if !(c.TargetKL >= 0) {
		bad("target_kl", "must be ≥ 0 (0 disables), got %v", c.TargetKL)
	}
	if !(c.ObsClip > 0) {
		bad("obs_clip", "must be > 0, got %v", c.ObsClip)
	}
	if !(c.RewardClip > 0) {
		bad("reward_clip", "must be > 0, got %v", c.RewardClip)
	}
	if len(c.HiddenSizes) == 0 {
		bad("hidden_sizes", "needs at least one hidden layer")
	}
	for i, h := range c.HiddenSizes {
		if h < 1 {
			bad("hidden_sizes", "layer %d must have ≥ 1 unit, got %d", i, h)
		}
	}
	if _, err := parseActivation(c.Activation); err != nil {
		bad("activation", "%v", err)
	}
	if c.EnvWorkers < 0 {
		bad("env_workers", "must be ≥ 0, got %d", c.EnvWorkers)
	}
	if c.CheckpointEvery < 0 {
		bad("checkpoint_every", "must be ≥ 0, got %d", c.CheckpointEvery)
	}
	if c.EvalEpisodes < 0 {
		bad("eval_episodes", "must be ≥ 0, got %d", c.EvalEpisodes)
	}
	cv, st, va := c.Convergence, c.Convergence.Stability, c.Validation
	if cv.Window < 1 {
		bad("convergence.window", "must be ≥ 1, got %d", cv.Window)
	}
	if !(cv.MinImprovement >= 0) || math.IsInf(cv.MinImprovement, 0) {
		bad("convergence.min_improvement", "must be ≥ 0, got %v", cv.MinImprovement)
	}
	if !(cv.ImprovementFloor > 0) || math.IsInf(cv.ImprovementFloor, 0) {
		bad("convergence.improvement_floor", "must be > 0, got %v", cv.ImprovementFloor)
	}
	if cv.PlateauPatience < 1 {
		bad("convergence.plateau_patience", "must be ≥ 1, got %d", cv.PlateauPatience)
	}
	if cv.Probes < 0 {
		bad("convergence.probes", "must be ≥ 0 (0 disables the probe signals), got %d", cv.Probes)
	} else if cv.Probes == 0 && cv.StopOnStable {
		bad("convergence.probes", "must be ≥ 1 with stop_on_stable: stability is measured on the probes")
	}
	if cv.MinIterations < 0 {
		bad("convergence.min_iterations", "must be ≥ 0, got %d", cv.MinIterations)
	}
	if !(st.MaxKL >= 0) {
		bad("convergence.stability.max_kl", "must be ≥ 0, got %v", st.MaxKL)
	}
	if !(st.MinAgreement >= 0 && st.MinAgreement <= 1) {
		bad("convergence.stability.min_agreement", "must be in [0, 1], got %v", st.MinAgreement)
	}
	if st.Patience < 1 {
		bad("convergence.stability.patience", "must be ≥ 1, got %d", st.Patience)
	}
	if !(st.ActionTolerance >= 0) || math.IsInf(st.ActionTolerance, 0) {
		bad("convergence.stability.action_tolerance", "must be ≥ 0, got %v", st.ActionTolerance)
	}
	if va.Every < 0 {
		bad("validation.every", "must be ≥ 0 (0 disables), got %d", va.Every)
	}
	if va.Episodes < 1 {
		bad("validation.episodes", "must be ≥ 1, got %d", va.Episodes)
	}
	for i, p := range va.Profiles {
		if p == "" {
			bad("validation.profiles", "entry %d is empty", i)
		}
	}
	switch va.Select {
	case SelectFinal:
	case SelectBest:
		if va.Every == 0 {
			bad("validation.select", "best needs validation.every > 0 (no validation, no best policy)")
		}
	default:
		bad("validation.select", "must be final or best, got %q", va.Select)
	}
	return errs
}

// DecodeConfig decodes a training section's keys (the `train:` section without `type`)
// strictly over DefaultConfig and validates the result. Unknown keys are errors.
func DecodeConfig(params map[string]any) (Config, error) {
	cfg := DefaultConfig()
	p := make(map[string]any, len(params))
	for k, v := range params {
		if k != "type" {
			p[k] = v
		}
	}
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &cfg,
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		Metadata:         &md,
		TagName:          "mapstructure",
	})
	if err != nil {
		return cfg, fmt.Errorf("ppo config: %w", err)
	}
	if err := dec.Decode(p); err != nil {
		return cfg, fmt.Errorf("ppo config: %w", err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return cfg, fmt.Errorf("ppo config: %s", strings.Join(msgs, "; "))
	}
	return cfg, nil
}

// Hash returns the SHA-256 (hex) of the canonical JSON (sorted keys) of the keys that
// change what training produces. Keys that do not (checkpoint, checkpoint_every, resume,
// env_workers, eval_episodes, and the convergence and validation keys that only monitor,
// see MonitoringKeys) are left out, so moving a checkpoint, changing the worker count or
// watching training more closely keeps the hash.
func (c Config) Hash() string {
	b, _ := json.Marshal(c.hashView())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	sum := sha256.Sum256(canonicalJSON(m))
	return hex.EncodeToString(sum[:])
}

func (c Config) hashView() map[string]any {
	m := map[string]any{
		"env": c.Env, "total_timesteps": c.TotalTimesteps, "seed": c.Seed, "num_envs": c.NumEnvs,
		"num_steps": c.NumSteps, "num_minibatches": c.NumMinibatches, "update_epochs": c.UpdateEpochs,
		"learning_rate": c.LearningRate, "anneal_lr": c.AnnealLR, "adam_eps": c.AdamEps, "gamma": c.Gamma,
		"gae_lambda": c.GAELambda, "norm_adv": c.NormAdv, "clip_coef": c.ClipCoef, "clip_vloss": c.ClipVLoss,
		"ent_coef": c.EntCoef, "vf_coef": c.VFCoef, "max_grad_norm": c.MaxGradNorm, "target_kl": c.TargetKL,
		"norm_obs": c.NormObs, "norm_reward": c.NormReward, "obs_clip": c.ObsClip, "reward_clip": c.RewardClip,
		"hidden_sizes": c.HiddenSizes, "activation": c.Activation, "mask_input": c.MaskInput,
		"bootstrap_truncation": c.BootstrapTruncation,
	}
	// Convergence and validation keys enter only when they change the result (a stop
	// criterion, the best-checkpoint selection), so the hashes of configs that leave them
	// at their defaults are those of the keys above alone.
	cv := c.Convergence
	if cv.StopOnPlateau || cv.StopOnStable {
		conv := map[string]any{"min_iterations": cv.MinIterations}
		if cv.StopOnPlateau {
			conv["stop_on_plateau"], conv["window"], conv["min_improvement"] = true, cv.Window, cv.MinImprovement
			conv["improvement_floor"], conv["plateau_patience"] = cv.ImprovementFloor, cv.PlateauPatience
		}
		if cv.StopOnStable {
			st := cv.Stability
			conv["stop_on_stable"], conv["probes"] = true, cv.Probes
			conv["stability"] = map[string]any{"max_kl": st.MaxKL, "min_agreement": st.MinAgreement, "patience": st.Patience,
				"action_tolerance": st.ActionTolerance}
		}
		m["convergence"] = conv
	}
	if c.selectsBest() {
		profiles := c.Validation.Profiles
		if profiles == nil {
			profiles = []string{}
		}
		m["validation"] = map[string]any{"every": c.Validation.Every, "episodes": c.Validation.Episodes,
			"profiles": profiles, "select": SelectBest}
	}
	return m
}

// selectsBest reports whether the trainer writes the best validated policy as its
// checkpoint.
func (c Config) selectsBest() bool {
	return c.Validation.Select == SelectBest && c.Validation.Every > 0
}

// MonitoringKeys returns the key paths, relative to the policy's section, of the
// convergence and validation keys that only monitor training as configured: signals and
// evaluations that do not change the checkpoint training produces. Stop criteria that
// are on, and validation when it selects the best checkpoint, change the result and are
// not listed. Experiment training hashes (experiments.Builder.TrainHash) leave these keys
// out, as Hash does.
func (c Config) MonitoringKeys() []string {
	var out []string
	cv := c.Convergence
	switch {
	case !cv.StopOnPlateau && !cv.StopOnStable:
		out = append(out, "convergence")
	default:
		if !cv.StopOnPlateau {
			out = append(out, "convergence.window", "convergence.min_improvement", "convergence.improvement_floor",
				"convergence.plateau_patience", "convergence.stop_on_plateau")
		}
		if !cv.StopOnStable {
			out = append(out, "convergence.probes", "convergence.stability", "convergence.stop_on_stable")
		}
	}
	if !c.selectsBest() {
		out = append(out, "validation")
	}
	return out
}

// canonicalJSON encodes plain JSON values with object keys sorted (encoding/json sorts map
// keys already; this walks nested values explicitly so the rule does not depend on it).
func canonicalJSON(v any) []byte {
	var sb strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			sb.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					sb.WriteByte(',')
				}
				kb, _ := json.Marshal(k)
				sb.Write(kb)
				sb.WriteByte(':')
				walk(x[k])
			}
			sb.WriteByte('}')
		case []any:
			sb.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					sb.WriteByte(',')
				}
				walk(e)
			}
			sb.WriteByte(']')
		default:
			b, _ := json.Marshal(x)
			sb.Write(b)
		}
	}
	walk(v)
	return []byte(sb.String())
}
