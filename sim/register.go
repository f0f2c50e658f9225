package sim

import (
	"fmt"
	"path/filepath"

	"github.com/scalelab/scalelab/framework"
)

// BackendConfig are the keys of `backend: {type: sim, ...}`.
type BackendConfig struct {
	Scenario     string         `mapstructure:"scenario" doc:"built-in scenario name (edge-rtx3080, edge-2node-rtx3080); ignored when scenario_file is set" default:"edge-rtx3080"`
	ScenarioFile string         `mapstructure:"scenario_file" doc:"scenario YAML file (relative to the config file); may start from a built-in with base: <name>" default:""`
	Overrides    map[string]any `mapstructure:"overrides" doc:"scenario keys merged over the scenario (e.g. {serving: {max_batch_size: 8}})" default:"{}"`
}

// Resolve returns the scenario the config names, with overrides applied and validated.
func (c *BackendConfig) Resolve(baseDir string) (Scenario, error) {
	var m map[string]any
	switch {
	case c.ScenarioFile != "":
		sc, err := LoadScenario(c.path(baseDir))
		if err != nil {
			return Scenario{}, err
		}
		if len(c.Overrides) == 0 {
			return sc, nil
		}
		m, err = readYAMLMap(c.path(baseDir))
		if err != nil {
			return Scenario{}, err
		}
	default:
		name := c.Scenario
		if name == "" {
			name = DefaultScenario
		}
		if _, ok := BuiltinScenario(name); !ok {
			return Scenario{}, fmt.Errorf("scenario: unknown built-in %q (have %v)", name, BuiltinScenarioNames())
		}
		m = map[string]any{"base": name}
	}
	sc, err := ScenarioFromMap(MergeMaps(m, c.Overrides))
	if err != nil {
		return Scenario{}, fmt.Errorf("overrides: %w", err)
	}
	return sc, nil
}

func (c *BackendConfig) path(baseDir string) string {
	if filepath.IsAbs(c.ScenarioFile) || baseDir == "" {
		return c.ScenarioFile
	}
	return filepath.Join(baseDir, c.ScenarioFile)
}

// Register adds the simulator backend (type "sim") to r.
func Register(r *framework.Registry) {
	r.RegisterBackend(framework.Factory[framework.Backend]{
		Type:     "sim",
		Doc:      "embedded discrete-event simulator of a GPU inference cluster (docs/simulator.md)",
		Defaults: func() any { return &BackendConfig{Scenario: DefaultScenario} },
		New: func(bc framework.BuildContext, cfg any) (framework.Backend, error) {
			c, ok := cfg.(*BackendConfig)
			if !ok {
				return nil, fmt.Errorf("sim: config is %T, want *sim.BackendConfig", cfg)
			}
			sc, err := c.Resolve(bc.BaseDir)
			if err != nil {
				return nil, err
			}
			return New(sc)
		},
		Files: func(baseDir string, cfg any) []string {
			c, ok := cfg.(*BackendConfig)
			if !ok || c.ScenarioFile == "" {
				return nil
			}
			return []string{c.path(baseDir)}
		},
		Check: func(bc framework.BuildContext, cfg any) []error {
			c, ok := cfg.(*BackendConfig)
			if !ok {
				return []error{fmt.Errorf("sim: config is %T", cfg)}
			}
			sc, err := c.Resolve(bc.BaseDir)
			if err != nil {
				return []error{err}
			}
			var errs []error
			if bc.Workload.MaxReplicas > 0 && bc.Workload.MaxReplicas > sc.Shares() {
				errs = append(errs, fmt.Errorf("workload.max_replicas: %d exceeds the %d nvidia.com/gpu shares of scenario %s (extra pods would stay Pending)",
					bc.Workload.MaxReplicas, sc.Shares(), sc.Name))
			}
			return errs
		},
	})
}

// Shares returns the schedulable nvidia.com/gpu shares of the scenario's cluster.
func (sc Scenario) Shares() int {
	n := 0
	for _, ns := range sc.Nodes {
		for _, g := range ns.GPUs {
			n += ns.Count * g.Count * g.TimeSlicingReplicas
		}
	}
	return n
}
