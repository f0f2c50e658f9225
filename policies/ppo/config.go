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
}

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
// env_workers, eval_episodes) are left out, so moving a checkpoint or changing the worker
// count keeps the hash.
func (c Config) Hash() string {
	b, _ := json.Marshal(c.hashView())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	sum := sha256.Sum256(canonicalJSON(m))
	return hex.EncodeToString(sum[:])
}

func (c Config) hashView() map[string]any {
	return map[string]any{
		"env": c.Env, "total_timesteps": c.TotalTimesteps, "seed": c.Seed, "num_envs": c.NumEnvs,
		"num_steps": c.NumSteps, "num_minibatches": c.NumMinibatches, "update_epochs": c.UpdateEpochs,
		"learning_rate": c.LearningRate, "anneal_lr": c.AnnealLR, "adam_eps": c.AdamEps, "gamma": c.Gamma,
		"gae_lambda": c.GAELambda, "norm_adv": c.NormAdv, "clip_coef": c.ClipCoef, "clip_vloss": c.ClipVLoss,
		"ent_coef": c.EntCoef, "vf_coef": c.VFCoef, "max_grad_norm": c.MaxGradNorm, "target_kl": c.TargetKL,
		"norm_obs": c.NormObs, "norm_reward": c.NormReward, "obs_clip": c.ObsClip, "reward_clip": c.RewardClip,
		"hidden_sizes": c.HiddenSizes, "activation": c.Activation, "mask_input": c.MaskInput,
		"bootstrap_truncation": c.BootstrapTruncation,
	}
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
