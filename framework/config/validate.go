package config

import (
	"math"
	"regexp"
	"strconv"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// experimentNameRE: the experiment name is a results folder name.
var experimentNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validateFramework checks the ranges and cross-references of the framework sections.
// Component sections are checked by their own Validate and Check when resolved.
func (l *loader) validateFramework(c *framework.Config) {
	e := c.Experiment
	if !experimentNameRE.MatchString(e.Name) {
		l.ps.add("experiment.name", "must be a folder name (letters, digits, ., _ and -, not starting with . _ or -), got %q", e.Name)
	}
	if e.Repetitions < 1 {
		l.ps.add("experiment.repetitions", "must be ≥ 1, got %d", e.Repetitions)
	}
	if len(e.Profiles) == 0 {
		l.ps.add("experiment.profiles", "must name at least one load profile (built-in: low, high, mixed)")
	}
	seen := map[string]bool{}
	for i, p := range e.Profiles {
		if seen[p] {
			l.ps.add(indexKey("experiment.profiles", i), "profile %q is listed twice", p)
		}
		seen[p] = true
	}
	if e.Duration <= 0 {
		l.ps.add("experiment.duration", "must be > 0, got %s", formatDuration(e.Duration))
	}
	if e.Warmup < 0 {
		l.ps.add("experiment.warmup", "must be ≥ 0, got %s", formatDuration(e.Warmup))
	} else if e.Duration > 0 && e.Warmup >= e.Duration {
		l.ps.add("experiment.warmup", "must be shorter than experiment.duration (%s), got %s", formatDuration(e.Duration), formatDuration(e.Warmup))
	}
	if e.ControlInterval <= 0 {
		l.ps.add("experiment.control_interval", "must be > 0, got %s", formatDuration(e.ControlInterval))
	} else if e.Duration > 0 && e.ControlInterval > e.Duration {
		l.ps.add("experiment.control_interval", "must not exceed experiment.duration (%s), got %s", formatDuration(e.Duration), formatDuration(e.ControlInterval))
	}
	if len(c.Policies) > 0 {
		if _, ok := c.Policies[e.Baseline]; !ok {
			names := sortedKeys(c.Policies)
			l.ps.add("experiment.baseline", "%q is not one of the configured policies%s (policies: %s)", e.Baseline, suggest(e.Baseline, names), oneOf(names))
		}
	}
	if e.Out == "" {
		l.ps.add("experiment.out", "must not be empty (the results root directory)")
	}
	if e.Workers < 0 {
		l.ps.add("experiment.workers", "must be ≥ 0 (0 = number of CPUs), got %d", e.Workers)
	}
	switch load.ArrivalKind(e.Arrivals) {
	case load.Poisson, load.Deterministic, load.Gamma:
	default:
		kinds := []string{string(load.Poisson), string(load.Deterministic), string(load.Gamma)}
		l.ps.add("experiment.arrivals", "must be one of %s, got %q%s", oneOf(kinds), e.Arrivals, suggest(e.Arrivals, kinds))
	}
	if !(e.ArrivalCV > 0) || math.IsInf(e.ArrivalCV, 0) {
		l.ps.add("experiment.arrival_cv", "must be a finite number > 0, got %v", e.ArrivalCV)
	}

	w := c.Workload
	if w.MinReplicas < 1 {
		l.ps.add("workload.min_replicas", "must be ≥ 1, got %d", w.MinReplicas)
	}
	if w.MaxReplicas < w.MinReplicas {
		l.ps.add("workload.max_replicas", "must be ≥ workload.min_replicas (%d), got %d", w.MinReplicas, w.MaxReplicas)
	}
	if w.InitialReplicas < w.MinReplicas || w.InitialReplicas > w.MaxReplicas {
		l.ps.add("workload.initial_replicas", "must lie in [workload.min_replicas, workload.max_replicas] = [%d, %d], got %d", w.MinReplicas, w.MaxReplicas, w.InitialReplicas)
	}

	if c.SLO.Latency <= 0 {
		l.ps.add("slo.latency", "must be > 0, got %s", formatDuration(c.SLO.Latency))
	}
	if c.SLO.ClientTimeout <= 0 {
		l.ps.add("slo.client_timeout", "must be > 0, got %s", formatDuration(c.SLO.ClientTimeout))
	}

	if len(c.State.Features) == 0 {
		l.ps.add("state.features", "must name at least one feature (see docs/features.md)")
	}
	l.checkFeatures("state.features", c.State.Features)
	if c.State.Window <= 0 {
		l.ps.add("state.window", "must be > 0, got %s", formatDuration(c.State.Window))
	}
	if c.State.MaxAge <= 0 {
		l.ps.add("state.max_age", "must be > 0, got %s", formatDuration(c.State.MaxAge))
	}

	g := c.Guardrails
	if g.MaxStep < 0 {
		l.ps.add("guardrails.max_step", "must be ≥ 0 (0 = unlimited), got %d", g.MaxStep)
	}
	if g.UpCooldown < 0 {
		l.ps.add("guardrails.up_cooldown", "must be ≥ 0, got %s", formatDuration(g.UpCooldown))
	}
	if g.DownCooldown < 0 {
		l.ps.add("guardrails.down_cooldown", "must be ≥ 0, got %s", formatDuration(g.DownCooldown))
	}

	f := c.Fallback
	if _, isPolicy := l.reg.Policies[f.Type]; f.Type != "hold" && !isPolicy {
		// hold, or a policy type run as a shadow (hpa: a shadow HPA).
		choices := append([]string{"hold"}, framework.Types(l.reg.Policies)...)
		l.ps.add("fallback.type", "must be hold or a registered policy type such as hpa, got %q%s (choices: %s)", f.Type, suggest(f.Type, choices), oneOf(choices))
	}
	if f.Deadline <= 0 {
		l.ps.add("fallback.deadline", "must be > 0, got %s", formatDuration(f.Deadline))
	}
	if f.MaxConsecutiveFailures < 1 {
		l.ps.add("fallback.max_consecutive_failures", "must be ≥ 1, got %d", f.MaxConsecutiveFailures)
	}
}

// checkFeatures checks a state design: catalogue names, each once.
func (l *loader) checkFeatures(key string, features []string) {
	names := framework.FeatureNames()
	seen := map[string]bool{}
	for i, f := range features {
		k := indexKey(key, i)
		if _, err := framework.LookupFeature(f); err != nil {
			l.ps.add(k, "unknown feature %q%s (see docs/features.md; catalogue: %s)", f, suggest(f, names), oneOf(names))
			continue
		}
		if seen[f] {
			l.ps.add(k, "feature %q is listed twice", f)
		}
		seen[f] = true
	}
}

func indexKey(key string, i int) string {
	return key + "[" + strconv.Itoa(i) + "]"
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
