package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// loadCfg loads a config with an explicit (normally empty) environment, so the tests never
// see the caller's SCALELAB_ variables.
func loadCfg(t *testing.T, path string, sets []string, env ...string) (*Loaded, error) {
	t.Helper()
	if env == nil {
		env = []string{}
	}
	return LoadWithOptions(path, fakeRegistry(), Options{Sets: sets, Env: env})
}

func mustLoad(t *testing.T, path string, sets []string, env ...string) *Loaded {
	t.Helper()
	l, err := loadCfg(t, path, sets, env...)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return l
}

// problemsOf returns the problems of an *Error, failing the test for other errors.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %T: %v", err, err)
	}
	return ce.Problems
}

// findProblem returns the problem at key whose message contains every fragment.
func findProblem(ps []Problem, key string, fragments ...string) (Problem, bool) {
next:
	for _, p := range ps {
		if p.Key != key {
			continue
		}
		for _, f := range fragments {
			if !strings.Contains(p.Msg, f) {
				continue next
			}
		}
		return p, true
	}
	return Problem{}, false
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsFromTags(t *testing.T) {
	d := Defaults()
	// Each expectation restates the default tag in framework/config.go.
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"experiment.name", d.Experiment.Name, "experiment"},
		{"experiment.seed", d.Experiment.Seed, uint64(1)},
		{"experiment.repetitions", d.Experiment.Repetitions, 5},
		{"experiment.profiles", d.Experiment.Profiles, []string{"low", "high", "mixed"}},
		{"experiment.duration", d.Experiment.Duration, 30 * time.Minute},
		{"experiment.warmup", d.Experiment.Warmup, 2 * time.Minute},
		{"experiment.control_interval", d.Experiment.ControlInterval, 15 * time.Second},
		{"experiment.baseline", d.Experiment.Baseline, "hpa"},
		{"experiment.arrival_cv", d.Experiment.ArrivalCV, 1.0},
		{"workload.max_replicas", d.Workload.MaxReplicas, 4},
		{"slo.latency", d.SLO.Latency, 50 * time.Millisecond},
		{"slo.client_timeout", d.SLO.ClientTimeout, time.Second},
		{"state.features", d.State.Features, []string{"request_rate", "p95_latency_ms", "queue_length", "cpu_util", "gpu_util", "replicas_desired", "replicas_ready"}},
		{"state.window", d.State.Window, 30 * time.Second},
		{"guardrails.dry_run", d.Guardrails.DryRun, false},
		{"fallback.type", d.Fallback.Type, "hold"},
		{"fallback.deadline", d.Fallback.Deadline, time.Second},
		{"fallback.max_consecutive_failures", d.Fallback.MaxConsecutiveFailures, 5},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestLoadFillsDefaults(t *testing.T) {
	l := mustLoad(t, "testdata/minimal.yaml", nil)
	c := l.Config
	if c.Experiment.Repetitions != 5 || c.Experiment.Duration != 30*time.Minute || c.Workload.MaxReplicas != 4 {
		t.Errorf("framework defaults not filled: %+v %+v", c.Experiment, c.Workload)
	}
	// The fake backend's Defaults: scenario edge, 1 node, jitter 0.1, start-up 5s, mode eco.
	b, ok := l.Components["backend"].(*fakeBackendConfig)
	if !ok || *b != (fakeBackendConfig{Scenario: "edge", Nodes: 1, Jitter: 0.1, Startup: 5 * time.Second, Mode: "eco"}) {
		t.Errorf("backend component = %#v", l.Components["backend"])
	}
	h, ok := l.Components["policies.hpa"].(*hpaConfig)
	if !ok || h.SyncPeriod != 15*time.Second || h.Tolerance != 0.1 {
		t.Errorf("hpa component = %#v", l.Components["policies.hpa"])
	}
	// `gpu_util:` with no value is a term with every default: type = its name, weight 1.
	if len(l.RewardTerms) != 1 || l.RewardTerms[0] != (RewardTerm{Name: "gpu_util", Type: "gpu_util", Weight: 1}) {
		t.Errorf("reward terms = %#v", l.RewardTerms)
	}
	if _, ok := l.Components["action"]; ok {
		t.Error("a config without an action section has an action component")
	}
	// Resolved spells out the defaults, durations in their shortest form.
	want := map[string]any{
		"experiment.duration":          "30m",
		"experiment.control_interval":  "15s",
		"experiment.repetitions":       int64(5),
		"experiment.seed":              uint64(1),
		"experiment.profiles":          []any{"low", "high", "mixed"},
		"slo.latency":                  "50ms",
		"backend.type":                 "fakesim",
		"backend.startup":              "5s",
		"backend.jitter":               0.1,
		"policies.hpa.sync_period":     "15s",
		"policies.hpa.deadline":        "0s",
		"reward.terms.gpu_util.type":   "gpu_util",
		"reward.terms.gpu_util.weight": 1.0,
	}
	for path, w := range want {
		if got := lookup(l.Resolved, path); !reflect.DeepEqual(got, w) {
			t.Errorf("Resolved[%s] = %#v (%T), want %#v", path, got, got, w)
		}
	}
	// All built-in profiles named by the default experiment.profiles are available.
	for _, p := range []string{"low", "high", "mixed"} {
		if l.Profiles[p] == nil {
			t.Errorf("profile %s missing", p)
		}
	}
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, s := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[s]
	}
	return cur
}

func TestLoadValid(t *testing.T) {
	l := mustLoad(t, "testdata/valid.yaml", nil)
	c := l.Config
	if c.Experiment.Seed != 42 || c.Experiment.Repetitions != 3 || c.Experiment.Duration != 10*time.Minute {
		t.Errorf("experiment = %+v", c.Experiment)
	}
	if !reflect.DeepEqual(c.Experiment.Profiles, []string{"low", "burst"}) {
		t.Errorf("profiles = %v", c.Experiment.Profiles)
	}
	// spike with base 100, peak 900 from 2m for 30s: 100 req/s at 1m, 900 at 2m10s.
	burst := l.Profiles["burst"]
	if burst == nil || burst.Rate(time.Minute) != 100 || burst.Rate(2*time.Minute+10*time.Second) != 900 {
		t.Errorf("burst profile wrong: %#v", burst)
	}
	if got := l.Components["action"].(*deltaConfig).MaxStep; got != 2 {
		t.Errorf("action max_step = %d, want 2", got)
	}
	// Reward terms sorted by name; `slow` takes type latency with its quantile, defaults for the rest.
	wantTerms := []RewardTerm{
		{Name: "gpu_util", Type: "gpu_util", Weight: 1},
		{Name: "latency", Type: "latency", Weight: 2.5, Config: &latencyConfig{Quantile: 0.95, Shape: "linear", Cap: 10}},
		{Name: "slow", Type: "latency", Weight: 1, Config: &latencyConfig{Quantile: 0.99, Shape: "hinge", Cap: 10}},
	}
	if !reflect.DeepEqual(l.RewardTerms, wantTerms) {
		t.Errorf("reward terms = %#v", l.RewardTerms)
	}
	if w := c.Reward.Terms["latency"].Params["weight"]; w != 2.5 || l.Weights["latency"] != 2.5 || l.Weights["gpu_util"] != 1 {
		t.Errorf("Config.Reward.Terms[latency].Params[weight] = %v", w)
	}
	agent := c.Policies["agent"]
	if !reflect.DeepEqual(agent.Features, []string{"cpu_util", "request_rate"}) || agent.Action == nil || agent.Action.Type != "replicas" {
		t.Errorf("agent policy = %+v", agent)
	}
	if _, ok := l.Components["policies.agent.action"]; !ok {
		t.Error("policies.agent.action component missing")
	}
	if got := l.Components["policies.fixed"].(*staticConfig).Replicas; got != 2 {
		t.Errorf("fixed replicas = %d", got)
	}
	if th := l.Components["policies.agent"].(*thresholdConfig); !reflect.DeepEqual(th.Steps, []int{1, 2}) || th.Cooldown.Down != 5*time.Minute {
		t.Errorf("threshold defaults = %+v", th)
	}
	if len(l.Hash) != 64 {
		t.Errorf("hash %q is not hex SHA-256", l.Hash)
	}
}

func TestRawSubtreeKeepsCamelCase(t *testing.T) {
	l := mustLoad(t, "testdata/valid.yaml", nil)
	spec, ok := l.Raw["policies.hpa"]["spec"].(map[string]any)
	if !ok {
		t.Fatalf("Raw[policies.hpa][spec] = %#v", l.Raw["policies.hpa"])
	}
	if spec["minReplicas"] != 1.0 || spec["maxReplicas"] != 4.0 {
		t.Errorf("spec keys lost their case: %#v", spec)
	}
	target := spec["metrics"].([]any)[0].(map[string]any)["resource"].(map[string]any)["target"].(map[string]any)
	if target["averageUtilization"] != 80.0 {
		t.Errorf("nested camelCase lost: %#v", target)
	}
	if !reflect.DeepEqual(l.Config.Policies["hpa"].Raw, l.Raw["policies.hpa"]) {
		t.Error("PolicyConfig.Raw differs from Loaded.Raw")
	}
	if _, has := l.Config.Policies["hpa"].Params["spec"]; has {
		t.Error("the raw key leaked into Params")
	}
	if got := lookup(l.Resolved, "policies.hpa.spec.maxReplicas"); got != 4.0 {
		t.Errorf("Resolved keeps raw spec case-preserved: got %#v", got)
	}
	// Policies without raw keys have an empty Raw, never nil.
	if len(l.Config.Policies["fixed"].Raw) != 0 {
		t.Error("static policy got raw keys")
	}
}

func TestRawCheckErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", `
backend: {type: fakesim}
workload: {max_replicas: 3}
policies:
  hpa:
    type: hpa
    spec: {minReplicas: 0, maxReplicas: 5}
`)
	_, err := loadCfg(t, p, nil)
	ps := problemsOf(t, err)
	if _, ok := findProblem(ps, "policies.hpa.spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"); !ok {
		t.Errorf("missing minReplicas problem in %v", ps)
	}
	// The Check sees BuildContext.Workload: max 3 < spec max 5.
	if _, ok := findProblem(ps, "policies.hpa.spec.maxReplicas", "must not exceed workload.max_replicas (3)"); !ok {
		t.Errorf("missing maxReplicas problem in %v", ps)
	}
}

func TestOverridesCannotReachRawObjects(t *testing.T) {
	for _, set := range []string{
		"policies.hpa.spec.minReplicas=2",
		"policies.hpa.spec={maxReplicas: 2}",
		"policies.hpa={type: hpa, spec: {maxReplicas: 2}}",
	} {
		_, err := loadCfg(t, "testdata/valid.yaml", []string{set})
		ps := problemsOf(t, err)
		key, _, _ := strings.Cut(set, "=")
		key = strings.ToLower(key) // keys are case-insensitive and reported lowercased
		if _, ok := findProblem(ps, key, "embedded Kubernetes object", "edit the file", "from --set"); !ok {
			t.Errorf("--set %s: want a raw-override problem, got %v", set, ps)
		}
	}
}

func TestMisspeltKeySuggestsNearest(t *testing.T) {
	tests := []struct {
		name, yaml, key, hint string
	}{
		{"framework key", "experiment: {repetitons: 3}", "experiment.repetitons", `did you mean "repetitions"?`},
		{"transposition", "experiment: {wramup: 1m}", "experiment.wramup", `did you mean "warmup"?`},
		{"section", "experimnet: {seed: 1}", "experimnet", `did you mean "experiment"?`},
		{"wrong level", "repetitions: 3", "repetitions", "did you mean experiment.repetitions?"},
		{"policy key", "policies: {hpa: {type: hpa, sync_perod: 30s}}", "policies.hpa.sync_perod", `did you mean "sync_period"?`},
		{"policy framework key", "policies: {hpa: {type: hpa, deadlin: 1s}}", "policies.hpa.deadlin", `did you mean "deadline"?`},
		{"nested component key", "policies: {t: {type: threshold, cooldown: {upp: 1m}}}", "policies.t.cooldown.upp", `did you mean "up"?`},
		{"reward weight", "reward: {terms: {latency: {wieght: 2}}}", "reward.terms.latency.wieght", `did you mean "weight"?`},
		{"component without keys", "reward: {terms: {gpu_util: {weihgt: 2}}}", "reward.terms.gpu_util.weihgt", `did you mean "weight"?`},
		{"profile key", "profiles: {p: {type: constant, rat: 5}}", "profiles.p.rat", `did you mean "rate"?`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := "backend: {type: fakesim}\n"
			if !strings.Contains(tc.yaml, "policies:") {
				base += "policies: {hpa: {type: hpa}}\n"
			}
			p := writeFile(t, t.TempDir(), "c.yaml", base+tc.yaml+"\n")
			_, err := loadCfg(t, p, nil)
			ps := problemsOf(t, err)
			if _, ok := findProblem(ps, tc.key, "unknown key", tc.hint); !ok {
				t.Errorf("want %s: unknown key ... %s; got %v", tc.key, tc.hint, ps)
			}
		})
	}
}

func TestWrongTypeNamesExpectedType(t *testing.T) {
	tests := []struct {
		name, yaml, key, msg string
	}{
		{"int from word", "experiment: {repetitions: five}", "experiment.repetitions", `expected an integer, got string "five"`},
		{"int from fraction", "workload: {max_replicas: 2.5}", "workload.max_replicas", "expected an integer, got number 2.5"},
		{"duration without unit", "experiment: {control_interval: 15}", "experiment.control_interval", "expected a duration such as 15s or 1m30s, got integer 15 (write the unit, e.g. 15s)"},
		{"bad duration", "slo: {latency: fast}", "slo.latency", `expected a duration such as 15s or 1m30s, got string "fast"`},
		{"bool", "guardrails: {dry_run: maybe}", "guardrails.dry_run", `expected true or false, got string "maybe"`},
		{"list", "experiment: {profiles: low}", "experiment.profiles", `expected a list, got string "low"`},
		{"string from list", "experiment: {name: [a]}", "experiment.name", "expected a string, got a list"},
		{"negative seed", "experiment: {seed: -1}", "experiment.seed", "expected a non-negative integer, got integer -1"},
		{"section", "workload: 3", "workload", "expected a mapping, got integer 3"},
		{"component key", "backend: {type: fakesim, nodes: many}", "backend.nodes", `expected an integer, got string "many"`},
		{"text unmarshaler", "backend: {type: fakesim, mode: fast}", "backend.mode", `invalid value "fast": must be eco or turbo`},
		{"weight", "reward: {terms: {latency: {weight: high}}}", "reward.terms.latency.weight", `expected a number, got string "high"`},
		{"list element", "policies: {hpa: {type: hpa}, t: {type: threshold, steps: [1, x]}}", "policies.t.steps[1]", `expected an integer, got string "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := "backend: {type: fakesim}\npolicies: {hpa: {type: hpa}}\n" + tc.yaml + "\n"
			if strings.Contains(tc.yaml, "backend:") {
				body = "policies: {hpa: {type: hpa}}\n" + tc.yaml + "\n"
			}
			if strings.Contains(tc.yaml, "policies:") {
				body = "backend: {type: fakesim}\n" + tc.yaml + "\n"
			}
			p := writeFile(t, t.TempDir(), "c.yaml", body)
			_, err := loadCfg(t, p, nil)
			ps := problemsOf(t, err)
			if _, ok := findProblem(ps, tc.key, tc.msg); !ok {
				t.Errorf("want %s: %s; got %v", tc.key, tc.msg, ps)
			}
		})
	}
}

func TestRangeValidation(t *testing.T) {
	tests := []struct {
		name, yaml, key, msg string
	}{
		{"negative min replicas", "workload: {min_replicas: -1}", "workload.min_replicas", "must be ≥ 1, got -1"},
		{"zero min replicas", "workload: {min_replicas: 0}", "workload.min_replicas", "must be ≥ 1, got 0"},
		{"max below min", "workload: {min_replicas: 3, max_replicas: 2, initial_replicas: 3}", "workload.max_replicas", "must be ≥ workload.min_replicas (3), got 2"},
		{"initial above max", "workload: {initial_replicas: 5}", "workload.initial_replicas", "must lie in [workload.min_replicas, workload.max_replicas] = [1, 4], got 5"},
		{"repetitions", "experiment: {repetitions: 0}", "experiment.repetitions", "must be ≥ 1, got 0"},
		{"warmup vs duration", "experiment: {duration: 5m, warmup: 5m}", "experiment.warmup", "must be shorter than experiment.duration (5m), got 5m"},
		{"control interval", "experiment: {control_interval: 0s}", "experiment.control_interval", "must be > 0, got 0s"},
		{"negative cooldown", "guardrails: {up_cooldown: -1s}", "guardrails.up_cooldown", "must be ≥ 0, got -1s"},
		{"feature", "state: {features: [cpu_util, gpu_utl]}", "state.features[1]", `unknown feature "gpu_utl"; did you mean "gpu_util"?`},
		{"duplicate feature", "state: {features: [cpu_util, cpu_util]}", "state.features[1]", `feature "cpu_util" is listed twice`},
		{"policy feature", "policies: {hpa: {type: hpa, features: [qeue_length]}}", "policies.hpa.features[0]", `did you mean "queue_length"?`},
		{"unknown profile", "experiment: {profiles: [low, hihg]}", "experiment.profiles[1]", `unknown profile "hihg"; did you mean "high"?`},
		{"baseline", "experiment: {baseline: hap}", "experiment.baseline", `"hap" is not one of the configured policies; did you mean "hpa"?`},
		{"backend type", "backend: {type: fakesimm}", "backend.type", `unknown backend type "fakesimm"; did you mean "fakesim"? (registered: fakesim, nocollector)`},
		{"backend type missing", "backend: {nodes: 2}", "backend.type", "required: the backend type, one of: fakesim, nocollector"},
		{"no collector", "backend: {type: nocollector}", "backend.type", `no collector is registered for backend "nocollector"`},
		{"action type", "action: {type: replica_delt}", "action.type", `did you mean "replica_delta"?`},
		{"policy action type", "policies: {hpa: {type: hpa, action: {type: replica}}}", "policies.hpa.action.type", `did you mean "replicas"?`},
		{"policy type", "policies: {hpa: {type: hap}}", "policies.hpa.type", `unknown policy type "hap"; did you mean "hpa"?`},
		{"reward type from name", "reward: {terms: {latncy: {}}}", "reward.terms.latncy", `unknown reward term type "latncy"; did you mean "latency"?`},
		{"component Validate []error", "backend: {type: fakesim, nodes: 0}", "backend.nodes", "must be ≥ 1, got 0"},
		{"component Validate error", "action: {type: replica_delta, max_step: 0}", "action.max_step", "must be ≥ 1, got 0"},
		{"reward Validate", "reward: {terms: {latency: {quantile: 1.5}}}", "reward.terms.latency.quantile", "must be in (0, 1), got 1.5"},
		{"profile range", "profiles: {p: {type: constant, rate: -5}}", "profiles.p.rate", "must be a finite number ≥ 0, got -5"},
		{"profile type", "profiles: {p: {type: spiek}}", "profiles.p.type", `did you mean "spike"?`},
		{"policy name", "policies: {hpa: {type: hpa}, My_Policy: {type: static}}", "", ""},
		{"invalid policy name", "policies: {hpa: {type: hpa}, 'two words': {type: static}}", "policies.two words", `invalid name "two words"`},
		{"panicking check", "policies: {hpa: {type: hpa}, p: {type: panicky}}", "policies.p", `internal error: the policy "panicky" check panicked: boom`},
		{"fallback", "fallback: {type: hlod}", "fallback.type", `did you mean "hold"?`},
		{"arrivals", "experiment: {arrivals: gama}", "experiment.arrivals", `did you mean "gamma"?`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.yaml + "\n"
			if !strings.Contains(tc.yaml, "backend:") {
				body += "backend: {type: fakesim}\n"
			}
			if !strings.Contains(tc.yaml, "policies:") {
				body += "policies: {hpa: {type: hpa}}\n"
			}
			p := writeFile(t, t.TempDir(), "c.yaml", body)
			l, err := loadCfg(t, p, nil)
			if tc.key == "" {
				// Viper lowercases keys, so "My_Policy" is the valid name "my_policy".
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, ok := l.Config.Policies["my_policy"]; !ok {
					t.Errorf("policies = %v", l.Config.Policies)
				}
				return
			}
			ps := problemsOf(t, err)
			if _, ok := findProblem(ps, tc.key, tc.msg); !ok {
				t.Errorf("want %s: %s; got %v", tc.key, tc.msg, ps)
			}
		})
	}
}

func TestSeveralProblemsAtOnce(t *testing.T) {
	_, err := loadCfg(t, "testdata/many_problems.yaml", nil)
	ps := problemsOf(t, err)
	want := []struct{ key, msg string }{
		{"backend.type", `unknown backend type "fakesimm"`},
		{"experiment.duration", "expected a duration"},
		{"experiment.profiles[1]", `unknown profile "hihg"`},
		{"experiment.repetitons", `did you mean "repetitions"?`},
		{"policies.hpa.spec.minReplicas", "Invalid value: 0"},
		{"policies.hpa.sync_perod", `did you mean "sync_period"?`},
		{"state.features[1]", `unknown feature "gpu_utl"`},
		{"workload.max_replicas", `expected an integer, got string "two"`},
		{"workload.min_replicas", "must be ≥ 1, got -1"},
	}
	for _, w := range want {
		if _, ok := findProblem(ps, w.key, w.msg); !ok {
			t.Errorf("missing %s: %s", w.key, w.msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	// The message lists one "FILE: key: msg" line per problem, sorted by key.
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ps) {
		t.Fatalf("Error() has %d lines for %d problems", len(lines), len(ps))
	}
	for i, line := range lines {
		prefix := "testdata/many_problems.yaml: " + ps[i].Key + ": "
		if !strings.HasPrefix(line, prefix) {
			t.Errorf("line %d = %q, want prefix %q", i, line, prefix)
		}
		if i > 0 && ps[i-1].Key > ps[i].Key {
			t.Errorf("problems not sorted: %s before %s", ps[i-1].Key, ps[i].Key)
		}
	}
}

func TestEnvironmentAndSetOverrides(t *testing.T) {
	env := []string{
		"SCALELAB_EXPERIMENT__REPETITIONS=10",
		"SCALELAB_EXPERIMENT__WORKERS=2",
		"SCALELAB_GUARDRAILS__DRY_RUN=true",
		"SCALELAB_POLICIES__HPA__TOLERANCE=0.25",
		"SCALELAB_SLO__LATENCY=80ms",
		"HOME=/root",                      // not scalelab's
		"SCALELAB_PLUGIN_LOG_LEVEL=debug", // scalelab's, but not config: no "__", no section
	}
	sets := []string{
		"experiment.profiles=[low,high]",
		"experiment.workers=3", // --set wins over the environment
		"experiment.name=007",  // a string key keeps the text, not the integer 7
		"reward.terms.latency.weight=0.5",
		"policies.fixed.replicas=3",
		"policies.agent.steps=[2, 3, 4]",
		"policies.agent.cooldown.up=30s",
		"profiles.burst.peak=1200",
		"backend.mode=turbo", // through encoding.TextUnmarshaler
	}
	l := mustLoad(t, "testdata/valid.yaml", sets, env...)
	c := l.Config
	if m := l.Components["backend"].(*fakeBackendConfig).Mode; m != "turbo" {
		t.Errorf("backend mode = %q, want turbo", m)
	}
	if c.Experiment.Repetitions != 10 {
		t.Errorf("repetitions = %d, want 10 (env)", c.Experiment.Repetitions)
	}
	if c.Experiment.Workers != 3 {
		t.Errorf("workers = %d, want 3 (--set over env)", c.Experiment.Workers)
	}
	if !c.Guardrails.DryRun || c.SLO.Latency != 80*time.Millisecond {
		t.Errorf("dry_run/latency = %v/%v", c.Guardrails.DryRun, c.SLO.Latency)
	}
	if c.Experiment.Name != "007" {
		t.Errorf("name = %q, want 007", c.Experiment.Name)
	}
	if !reflect.DeepEqual(c.Experiment.Profiles, []string{"low", "high"}) {
		t.Errorf("profiles = %v, want [low high]", c.Experiment.Profiles)
	}
	if got := l.Components["policies.hpa"].(*hpaConfig).Tolerance; got != 0.25 {
		t.Errorf("hpa tolerance = %v, want 0.25 (env)", got)
	}
	if got := l.Components["policies.hpa"].(*hpaConfig).SyncPeriod; got != 30*time.Second {
		t.Errorf("hpa sync period = %v, want 30s from the file", got)
	}
	if got := l.Components["policies.fixed"].(*staticConfig).Replicas; got != 3 {
		t.Errorf("fixed replicas = %d, want 3", got)
	}
	th := l.Components["policies.agent"].(*thresholdConfig)
	if !reflect.DeepEqual(th.Steps, []int{2, 3, 4}) || th.Cooldown.Up != 30*time.Second || th.Cooldown.Down != 5*time.Minute {
		t.Errorf("threshold = %+v", th)
	}
	if l.RewardTerms[1].Name != "latency" || l.RewardTerms[1].Weight != 0.5 {
		t.Errorf("latency term = %+v", l.RewardTerms[1])
	}
	// burst: peak overridden to 1200 → 1200 req/s inside the spike at 2m10s.
	if r := l.Profiles["burst"].Rate(2*time.Minute + 10*time.Second); r != 1200 {
		t.Errorf("burst peak = %v, want 1200", r)
	}
	// A single value for a list key is a one-element list.
	l = mustLoad(t, "testdata/valid.yaml", []string{"experiment.profiles=high"})
	if !reflect.DeepEqual(l.Config.Experiment.Profiles, []string{"high"}) {
		t.Errorf("profiles = %v, want [high]", l.Config.Experiment.Profiles)
	}
}

func TestOverrideProblemsNameTheirSource(t *testing.T) {
	_, err := loadCfg(t, "testdata/valid.yaml",
		[]string{"experiment.repetitions=many", "experiment.seedd=3", "noequals", "experiment.name.x=1"},
		"SCALELAB_WORKLOAD__MIN_REPLICAS=-2", "SCALELAB_EXPERIMNET__SEED=3", "SCALELAB_SLO=fast")
	ps := problemsOf(t, err)
	checks := []struct{ key, msg string }{
		{"experiment.repetitions", `expected an integer, got "many" (from --set experiment.repetitions=many)`},
		{"experiment.seedd", `did you mean "seed"?`},
		{"experiment.seedd", "(from --set experiment.seedd=3)"},
		{"", `--set "noequals": expected key.path=value`},
		{"experiment.name.x", "cannot be set: experiment.name holds string \"seed\", not a mapping"},
		{"workload.min_replicas", "must be ≥ 1, got -2 (from environment SCALELAB_WORKLOAD__MIN_REPLICAS)"},
		{"experimnet", `did you mean "experiment"?`},
		{"experimnet", "(from environment SCALELAB_EXPERIMNET__SEED)"},
		{"slo", `expected a mapping, got "fast" (from environment SCALELAB_SLO)`},
	}
	for _, c := range checks {
		if _, ok := findProblem(ps, c.key, c.msg); !ok {
			t.Errorf("missing %q: %q in\n%v", c.key, c.msg, err)
		}
	}
}

func TestMalformedAndUnreadableFiles(t *testing.T) {
	_, err := loadCfg(t, "testdata/malformed.yaml", nil)
	ps := problemsOf(t, err)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "malformed YAML: line 3") {
		t.Errorf("malformed: %v", ps)
	}
	if !strings.HasPrefix(err.Error(), "testdata/malformed.yaml: malformed YAML: line 3") {
		t.Errorf("Error() = %q", err)
	}
	_, err = loadCfg(t, "testdata/does-not-exist.yaml", nil)
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Msg, "no such file") {
		t.Errorf("missing file: %v", ps)
	}
	p := writeFile(t, t.TempDir(), "list.yaml", "- a\n- b\n")
	_, err = loadCfg(t, p, nil)
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Msg, "must hold a mapping") {
		t.Errorf("list file: %v", ps)
	}
	p = writeFile(t, t.TempDir(), "dup.yaml", "backend: {type: fakesim}\npolicies: {hpa: {type: hpa}}\nExperiment: {seed: 1}\nexperiment: {seed: 2}\n")
	_, err = loadCfg(t, p, nil)
	if _, ok := findProblem(problemsOf(t, err), "experiment", "written twice"); !ok {
		t.Errorf("case duplicate not reported: %v", err)
	}
}

func TestHashStableAcrossKeyOrder(t *testing.T) {
	a := mustLoad(t, "testdata/valid.yaml", nil)
	b := mustLoad(t, "testdata/valid_reordered.yaml", nil)
	if a.Hash != b.Hash {
		ja, _ := a.CanonicalJSON()
		jb, _ := b.CanonicalJSON()
		t.Fatalf("hash differs across key order:\n%s\n%s", ja, jb)
	}
	// Spelling a default out does not change the resolved config or its hash.
	c := mustLoad(t, "testdata/valid.yaml", []string{"experiment.control_interval=15s", "policies.fixed.deadline=0s"})
	if c.Hash != a.Hash {
		t.Error("writing a default explicitly changed the hash")
	}
	// Changing a value does.
	d := mustLoad(t, "testdata/valid.yaml", []string{"experiment.seed=43"})
	if d.Hash == a.Hash {
		t.Error("changing the seed kept the hash")
	}
	e := mustLoad(t, "testdata/valid.yaml", []string{"reward.terms.latency.weight=2.4"})
	if e.Hash == a.Hash {
		t.Error("changing a weight kept the hash")
	}
}

func TestHashCoversReferencedFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "trace.csv", "time_seconds,rate\n0,100\n60,200\n")
	writeFile(t, dir, "policy.ckpt", "weights v1")
	cfg := writeFile(t, dir, "c.yaml", `
experiment: {profiles: [replay]}
backend: {type: fakesim}
profiles:
  replay: {type: trace, file: trace.csv}
policies:
  hpa: {type: hpa}
  agent: {type: ppo, checkpoint: policy.ckpt}
`)
	a := mustLoad(t, cfg, nil)
	if len(a.Files) != 2 || a.Files[0].Path != "policy.ckpt" || a.Files[1].Path != "trace.csv" {
		t.Fatalf("Files = %+v", a.Files)
	}
	// Linear interpolation between (0 s, 100) and (60 s, 200): 150 req/s at 30 s.
	if r := a.Profiles["replay"].Rate(30 * time.Second); r != 150 {
		t.Errorf("trace rate at 30s = %v, want 150", r)
	}
	// The hash is SHA-256(canonical JSON + "\n" + path + " " + digest per file); recompute it.
	if h, _ := hashOf(a.Resolved, a.Files); h != a.Hash {
		t.Errorf("hash %s does not follow its definition (%s)", a.Hash, h)
	}
	again := mustLoad(t, cfg, nil)
	if again.Hash != a.Hash {
		t.Error("same inputs, different hash")
	}
	writeFile(t, dir, "policy.ckpt", "weights v2")
	b := mustLoad(t, cfg, nil)
	if b.Hash == a.Hash {
		t.Error("changing the checkpoint kept the hash")
	}
	writeFile(t, dir, "trace.csv", "time_seconds,rate\n0,100\n60,300\n")
	c := mustLoad(t, cfg, nil)
	if c.Hash == b.Hash {
		t.Error("changing the trace kept the hash")
	}
	if err := os.Remove(filepath.Join(dir, "policy.ckpt")); err != nil {
		t.Fatal(err)
	}
	_, err := loadCfg(t, cfg, nil)
	if _, ok := findProblem(problemsOf(t, err), "policies.agent", "policy.ckpt", "cannot be read"); !ok {
		t.Errorf("missing file not reported: %v", err)
	}
}

func TestWriteResolvedRoundTrips(t *testing.T) {
	a := mustLoad(t, "testdata/valid.yaml", []string{"experiment.repetitions=7"})
	dir := t.TempDir()
	out := filepath.Join(dir, "resolved.yaml")
	if err := a.WriteResolved(out); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), "# hash: "+a.Hash) || !strings.Contains(string(data), "minReplicas: 1") {
		t.Errorf("resolved YAML lacks the hash or the camelCase spec:\n%s", data)
	}
	b := mustLoad(t, out, nil)
	if b.Hash != a.Hash || !reflect.DeepEqual(a.Resolved, b.Resolved) {
		ja, _ := a.CanonicalJSON()
		jb, _ := b.CanonicalJSON()
		t.Errorf("reloading the resolved config changed it:\n%s\n%s", ja, jb)
	}
}

func TestValidateWritesNothing(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "backend: {type: fakesim}\npolicies: {hpa: {type: hpa}}\nworkload: {min_replicas: -1}\n")
	if err := Validate(p, nil, fakeRegistry()); err == nil {
		t.Fatal("Validate accepted a negative replica bound")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("Validate wrote files: %v", entries)
	}
}

func TestOSAEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"warmup", "wramup", 1},          // one transposition
		{"repetitions", "repetitons", 1}, // one deletion
		{"ca", "abc", 3},                 // OSA (not full Damerau, which gives 2)
		{"kitten", "sitting", 3},         // classic Levenshtein example
	}
	for _, tc := range tests {
		if got := osaDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if _, ok := nearest("zzzzzz", []string{"seed", "name"}); ok {
		t.Error("nearest suggested a far-off key")
	}
}

func TestCheckDefaults(t *testing.T) {
	if errs := CheckDefaults(fakeRegistry()); len(errs) != 0 {
		t.Errorf("fake registry's tags disagree with Defaults: %v", errs)
	}
	r := framework.NewRegistry()
	type bad struct {
		A int           `mapstructure:"a" default:"2"`
		B time.Duration `mapstructure:"b"`
	}
	r.RegisterBackend(framework.Factory[framework.Backend]{
		Type:     "bad",
		Defaults: func() any { return &bad{A: 3, B: time.Second} },
		New:      func(framework.BuildContext, any) (framework.Backend, error) { return nil, errNotBuilt },
	})
	errs := CheckDefaults(r)
	if len(errs) != 2 {
		t.Fatalf("want 2 mismatches, got %v", errs)
	}
	if !strings.Contains(errs[0].Error(), `a: default tag "2" but Defaults() sets 3`) ||
		!strings.Contains(errs[1].Error(), "b: Defaults() sets 1s but the field has no default tag") {
		t.Errorf("messages: %v", errs)
	}
}

func TestDocument(t *testing.T) {
	a := Document(fakeRegistry())
	if b := Document(fakeRegistry()); a != b {
		t.Fatal("Document is not deterministic")
	}
	for _, want := range []string{
		"| `experiment.repetitions` | integer | `5` | repetitions per policy and profile (N) |",
		"| `experiment.profiles` | list of strings | `[low, high, mixed]` |",
		"| `experiment.duration` | duration | `30m` |",
		"| `backend.type` | string | *required* | the backend type, one of: `fakesim`, `nocollector` |",
		"| `reward.terms.<name>.weight` | number | `1` |",
		"| `policies.<name>.deadline` | duration | `0s` |",
		"### `hpa`",
		"| `policies.<name>.sync_period` | duration | `15s` | HPA sync period |",
		"| `policies.<name>.spec` | *Kubernetes object* (camelCase) |",
		"| `policies.<name>.cooldown.down` | duration | `5m` | after a scale-down |",
		"| `policies.<name>.steps` | list of integers | `[1, 2]` |",
		"| `reward.terms.<name>.quantile` | number | `0.95` |",
		"### `spike`",
		"| `profiles.<name>.duration` | duration | `1m` |",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("Document lacks %q", want)
		}
	}
	// Framework sections come before the component sections.
	if strings.Index(a, "## Framework sections") > strings.Index(a, "## Backends") {
		t.Error("framework sections are not first")
	}
}

func TestDecodeConversions(t *testing.T) {
	type target struct {
		I8 int8          `mapstructure:"i8"`
		U  uint16        `mapstructure:"u"`
		F  float64       `mapstructure:"f"`
		D  time.Duration `mapstructure:"d"`
		L  []string      `mapstructure:"l"`
		B  bool          `mapstructure:"b"`
		A  any           `mapstructure:"a"`
	}
	tests := []struct {
		name string
		in   map[string]any
		want target
		err  string // expected problem "key: msg", empty for success
	}{
		{"integral float into int", map[string]any{"i8": 2.0}, target{I8: 2}, ""},
		{"int into float", map[string]any{"f": 3}, target{F: 3}, ""},
		{"int8 overflow", map[string]any{"i8": 300}, target{}, "i8: expected an integer, got integer 300 (out of range)"},
		{"uint16 overflow", map[string]any{"u": 70000}, target{}, "u: expected a non-negative integer, got integer 70000 (out of range)"},
		{"negative uint", map[string]any{"u": -1}, target{}, "u: expected a non-negative integer, got integer -1"},
		{"zero duration", map[string]any{"d": 0}, target{}, ""},
		{"duration string", map[string]any{"d": "1m30s"}, target{D: 90 * time.Second}, ""},
		{"override int", map[string]any{"i8": overrideString("12")}, target{I8: 12}, ""},
		{"override bool", map[string]any{"b": overrideString("TRUE")}, target{B: true}, ""},
		{"override scalar into list", map[string]any{"l": overrideString("a")}, target{L: []string{"a"}}, ""},
		{"override list", map[string]any{"l": []any{overrideString("a"), overrideString("1")}}, target{L: []string{"a", "1"}}, ""},
		{"override into any is YAML-typed", map[string]any{"a": overrideString("2.5")}, target{A: 2.5}, ""},
		{"override bad float", map[string]any{"f": overrideString("x")}, target{}, `f: expected a number, got "x"`},
		{"override bad duration", map[string]any{"d": overrideString("10")}, target{}, `d: expected a duration such as 15s or 1m30s, got "10"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &loader{ps: problems{origins: map[string]string{}}}
			var got target
			ok := l.decode("", tc.in, &got)
			if tc.err == "" {
				if !ok || len(l.ps.list) > 0 {
					t.Fatalf("unexpected problems %v", l.ps.list)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if ok || len(l.ps.list) != 1 || l.ps.list[0].String() != tc.err {
				t.Errorf("problems %v, want [%s]", l.ps.list, tc.err)
			}
		})
	}
}

func TestTrainSectionIsKeptAsWritten(t *testing.T) {
	p := writeFile(t, t.TempDir(), "c.yaml", "backend: {type: fakesim}\npolicies: {hpa: {type: hpa}}\ntrain: {type: ppo, steps: 1000, env: {workers: 2}}\n")
	l := mustLoad(t, p, []string{"train.lr=0.001", "train.env.fast=true"})
	want := map[string]any{"steps": 1000, "lr": 0.001, "env": map[string]any{"workers": 2, "fast": true}}
	if l.Config.Train.Type != "ppo" || !reflect.DeepEqual(l.Config.Train.Params, want) {
		t.Errorf("train = %+v, want params %v", l.Config.Train, want)
	}
	if got := lookup(l.Resolved, "train.env.fast"); got != true {
		t.Errorf("Resolved train.env.fast = %#v", got)
	}
}
