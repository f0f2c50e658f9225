package framework

import "time"

// Config is a whole scalelab experiment or training config as resolved from YAML, viper
// overrides (--set, SCALELAB_* environment) and defaults. Keys are snake_case. Component
// sections (backend, action, reward terms, policies) carry a `type` plus keys the named
// component defines; the loader decodes those strictly into the component's own struct.
type Config struct {
	Experiment ExperimentConfig           `mapstructure:"experiment" doc:"what to run: name, seeds, repetitions, profiles, run length"`
	Backend    ComponentConfig            `mapstructure:"backend" doc:"the cluster: type sim (embedded simulator) or kubernetes, with the backend's keys"`
	Workload   WorkloadConfig             `mapstructure:"workload" doc:"the scaled workload's replica bounds and start"`
	SLO        SLOConfig                  `mapstructure:"slo" doc:"service-level objective used by KPIs, rewards and the simulator's client"`
	State      StateConfig                `mapstructure:"state" doc:"the state design: which catalogue features policies observe"`
	Action     ComponentConfig            `mapstructure:"action" doc:"the action design: type replica_delta, replicas, hpa_target, batching or cpu_request, with its keys"`
	Reward     RewardConfig               `mapstructure:"reward" doc:"the reward design: weighted terms"`
	Guardrails GuardrailConfig            `mapstructure:"guardrails" doc:"limits around learned and third-party policies"`
	Fallback   FallbackConfig             `mapstructure:"fallback" doc:"what runs when a policy fails"`
	Profiles   map[string]ComponentConfig `mapstructure:"profiles" doc:"extra named load profiles (type constant, step, ramp, sine, spike, sequence or trace, with their keys, decoded by framework/load); built-ins low, high and mixed need no entry"`
	Policies   map[string]PolicyConfig    `mapstructure:"policies" doc:"the policies to compare, by name; each has a type and that policy's keys"`
	Train      ComponentConfig            `mapstructure:"train" doc:"training settings for train configs (env, algorithm keys); unused by run"`
}

// ExperimentConfig says what to run.
type ExperimentConfig struct {
	Name            string        `mapstructure:"name" doc:"experiment name; results go to <out>/<name>" default:"experiment"`
	Seed            uint64        `mapstructure:"seed" doc:"experiment seed; evaluation seeds per repetition derive from it" default:"1"`
	Repetitions     int           `mapstructure:"repetitions" doc:"repetitions per policy and profile (N)" default:"5"`
	Profiles        []string      `mapstructure:"profiles" doc:"load profiles to run: built-in low, high, mixed or names under profiles" default:"[low high mixed]"`
	Duration        time.Duration `mapstructure:"duration" doc:"length of each run (simulated or wall time)" default:"30m"`
	Warmup          time.Duration `mapstructure:"warmup" doc:"initial period excluded from KPIs" default:"2m"`
	ControlInterval time.Duration `mapstructure:"control_interval" doc:"decision interval of policies without their own period" default:"15s"`
	Baseline        string        `mapstructure:"baseline" doc:"the policy others are compared with" default:"hpa"`
	Out             string        `mapstructure:"out" doc:"results root directory" default:"results"`
	Workers         int           `mapstructure:"workers" doc:"parallel runs; 0 = number of CPUs" default:"0"`
	Arrivals        string        `mapstructure:"arrivals" doc:"arrival process: poisson, deterministic or gamma" default:"poisson"`
	ArrivalCV       float64       `mapstructure:"arrival_cv" doc:"coefficient of variation of inter-arrival times for gamma arrivals" default:"1"`
}

// ComponentConfig is a component section: its type and the component's own keys.
type ComponentConfig struct {
	Type   string         `mapstructure:"type" doc:"component type name"`
	Params map[string]any `mapstructure:",remain"`
}

// PolicyConfig is one policy entry.
type PolicyConfig struct {
	Type string `mapstructure:"type" doc:"policy type: hpa, static, threshold, kpa, ppo, wasm, plugin, ..."`
	// Deadline is the per-decision wall-clock deadline (0 = the fallback section's default).
	Deadline time.Duration `mapstructure:"deadline" doc:"per-decision wall-clock deadline; 0 uses fallback.deadline" default:"0s"`
	// Features overrides the state design for this policy.
	Features []string `mapstructure:"features" doc:"state design for this policy only; empty uses state.features"`
	// Action overrides the action design for this policy.
	Action *ComponentConfig `mapstructure:"action" doc:"action design for this policy only; empty uses the action section"`
	Params map[string]any   `mapstructure:",remain"`
	// Raw is the policy's subtree as written in the file, keys case-preserved (for embedded
	// Kubernetes objects). Filled by the loader; not a config key.
	Raw map[string]any `mapstructure:"-" json:"-"`
}

// WorkloadConfig bounds the scaled workload.
type WorkloadConfig struct {
	MinReplicas     int `mapstructure:"min_replicas" doc:"lowest replica count any policy may set" default:"1"`
	MaxReplicas     int `mapstructure:"max_replicas" doc:"highest replica count any policy may set" default:"4"`
	InitialReplicas int `mapstructure:"initial_replicas" doc:"replicas at the start of each run" default:"1"`
}

// SLOConfig is the service-level objective.
type SLOConfig struct {
	Latency       time.Duration `mapstructure:"latency" doc:"end-to-end latency objective per request" default:"50ms"`
	ClientTimeout time.Duration `mapstructure:"client_timeout" doc:"the client gives up after this long (counted as a drop)" default:"1s"`
}

// StateConfig is the state design.
type StateConfig struct {
	Features []string      `mapstructure:"features" doc:"catalogue feature names in order (docs/features.md)" default:"[request_rate p95_latency_ms queue_length cpu_util gpu_util replicas_desired replicas_ready]"`
	Window   time.Duration `mapstructure:"window" doc:"window W over which rate and quantile features are computed" default:"30s"`
	MaxAge   time.Duration `mapstructure:"max_age" doc:"a sample older than this is reported missing" default:"2m"`
}

// RewardConfig is the reward design: terms by type name, each with a weight and its keys.
type RewardConfig struct {
	Terms map[string]ComponentConfig `mapstructure:"terms" doc:"reward terms by name; each has weight and the term's keys (type defaults to the name)"`
}

// GuardrailConfig wraps learned and third-party policies.
type GuardrailConfig struct {
	MaxStep      int           `mapstructure:"max_step" doc:"largest replica change per decision; 0 = unlimited" default:"0"`
	UpCooldown   time.Duration `mapstructure:"up_cooldown" doc:"minimum time between two scale-ups" default:"0s"`
	DownCooldown time.Duration `mapstructure:"down_cooldown" doc:"minimum time between two scale-downs" default:"0s"`
	DryRun       bool          `mapstructure:"dry_run" doc:"decide and record, but do not actuate" default:"false"`
}

// FallbackConfig says what replaces a failing policy's action.
type FallbackConfig struct {
	Type                   string        `mapstructure:"type" doc:"hold (keep replicas) or hpa (a shadow HPA run every step)" default:"hold"`
	Deadline               time.Duration `mapstructure:"deadline" doc:"default per-decision wall-clock deadline of policies" default:"1s"`
	MaxConsecutiveFailures int           `mapstructure:"max_consecutive_failures" doc:"disable the policy for the run after this many failures in a row" default:"5"`
}
