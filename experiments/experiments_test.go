package experiments

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

type fixedCfg struct {
	Replicas int  `mapstructure:"replicas" doc:"replicas" default:"1"`
	Fail     bool `mapstructure:"fail" doc:"fail to build" default:"false"`
	Watch    int  `mapstructure:"watch" doc:"a monitoring-only key (MonitoringKeys)" default:"0"`
}

// MonitoringKeys marks watch as a key that does not change training.
func (c *fixedCfg) MonitoringKeys() []string { return []string{"watch"} }

// fakeRegistry registers fake components: backend/collector/actuator "fake", action design
// "replicas", reward term "cost" (−replicas), policy "fixed".
func fakeRegistry(built *int) *framework.Registry {
	r := framework.NewRegistry()
	r.RegisterBackend(framework.Factory[framework.Backend]{Type: "fake", New: func(framework.BuildContext, any) (framework.Backend, error) {
		return &frameworktest.Backend{ArrivalEvery: 100 * time.Millisecond, Latency: 20 * time.Millisecond, Jitter: 30 * time.Millisecond, CPUPerReplica: 0.5, CPURequestPerReplica: 1, GPUBusyPerReplica: 0.2}, nil
	}})
	r.RegisterCollector(framework.Factory[framework.Collector]{Type: "fake", New: func(bc framework.BuildContext, _ any) (framework.Collector, error) {
		return &frameworktest.Collector{Backend: bc.Backend.(*frameworktest.Backend), MinReplicas: bc.Workload.MinReplicas, MaxReplicas: bc.Workload.MaxReplicas}, nil
	}})
	r.RegisterActuator(framework.Factory[framework.Actuator]{Type: "fake", New: func(bc framework.BuildContext, _ any) (framework.Actuator, error) {
		return &frameworktest.Actuator{Backend: bc.Backend.(*frameworktest.Backend)}, nil
	}})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{Type: "replicas", New: func(bc framework.BuildContext, _ any) (framework.ActionDesign, error) {
		return frameworktest.ReplicasDesign{Min: bc.Workload.MinReplicas, Max: bc.Workload.MaxReplicas}, nil
	}})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{Type: "cost", New: func(framework.BuildContext, any) (framework.RewardTerm, error) {
		return frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 { return -float64(s.Applied.Replicas) }), nil
	}})
	r.RegisterPolicy(framework.Factory[framework.Policy]{Type: "fixed",
		Defaults: func() any { return &fixedCfg{Replicas: 1} },
		New: func(_ framework.BuildContext, cfg any) (framework.Policy, error) {
			c := cfg.(*fixedCfg)
			if c.Fail {
				return nil, errors.New("deliberate build failure")
			}
			if built != nil {
				*built++
			}
			return frameworktest.Replicas(float64(c.Replicas)), nil
		}})
	return r
}

func loadFake(t *testing.T, reg *framework.Registry, sets ...string) *Builder {
	t.Helper()
	l, err := config.LoadWithOptions("testdata/fake.yaml", reg, config.Options{Sets: sets, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return &Builder{Loaded: l, Registry: reg}
}

func TestSeeds(t *testing.T) {
	if a, b := EvalSeed(1, 0), EvalSeed(1, 0); a != b {
		t.Fatal("EvalSeed not a function")
	}
	eval := map[uint64]bool{}
	for i := 0; i < 10000; i++ {
		eval[EvalSeed(42, i)] = true
	}
	if len(eval) != 10000 {
		t.Fatalf("evaluation seeds collide: %d distinct of 10000", len(eval))
	}
	train := map[uint64]bool{}
	for i := 0; i < 10000; i++ {
		if eval[TrainSeed(42, i)] {
			t.Fatalf("training seed %d is also an evaluation seed", i)
		}
		train[TrainSeed(42, i)] = true
	}
	// The validation stream is the third, disjoint from both.
	val := map[uint64]bool{}
	for i := 0; i < 10000; i++ {
		s := ValidationSeed(42, i)
		if eval[s] || train[s] {
			t.Fatalf("validation seed %d is also an evaluation or a training seed", i)
		}
		val[s] = true
	}
	if len(val) != 10000 {
		t.Fatalf("validation seeds collide: %d distinct of 10000", len(val))
	}
	if ValidationSeed(1, 0) == ValidationSeed(2, 0) {
		t.Fatal("experiment seed does not change validation seeds")
	}
	if EvalSeed(1, 0) == EvalSeed(2, 0) {
		t.Fatal("experiment seed does not change evaluation seeds")
	}
}

func TestMatrixSharesSeedsAcrossPolicies(t *testing.T) {
	b := loadFake(t, fakeRegistry(nil))
	m := b.Matrix()
	if len(m) != 2*3 {
		t.Fatalf("matrix has %d runs, want 6 (2 policies × 1 profile × 3 repetitions)", len(m))
	}
	seeds := map[int]uint64{}
	for _, r := range m {
		if s, ok := seeds[r.Repetition]; ok && s != r.Seed {
			t.Errorf("repetition %d: policies got different seeds", r.Repetition)
		}
		seeds[r.Repetition] = r.Seed
	}
	if names := b.PolicyNames(); names[0] != "two" {
		t.Errorf("baseline not first: %v", names)
	}
}

func TestRunWritesResumesAndReusesSelectively(t *testing.T) {
	built := 0
	reg := fakeRegistry(&built)
	root := t.TempDir()
	b := loadFake(t, reg)
	res, err := b.RunExperiment(context.Background(), Options{Root: root, Workers: 2, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if built != 6 {
		t.Fatalf("built %d policies, want 6", built)
	}
	for _, f := range []string{"summary.md", "summary.csv", "kpis.csv", "config.resolved.yaml", "experiment.json",
		"runs/two/flat/rep-0/kpis.json", "runs/two/flat/rep-0/trajectory.csv", "runs/three/flat/rep-2/run.json", "runs/three/flat/rep-2/latency_cdf.csv"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// 10 min at 30 s with 1 min warm-up: 18 measured decisions; fixed replicas → mean 2 and 3.
	k := res.Outcomes[0].KPIs
	if k.Decisions != 18 {
		t.Errorf("decisions = %d, want 18", k.Decisions)
	}
	c := res.Summary.Cells[[3]string{"flat", "three", "mean_replicas"}]
	if c.Summary.N != 3 || math.Abs(c.Summary.Mean-3) > 1e-9 {
		t.Errorf("mean_replicas of three = %+v, want 3 over 3 runs", c.Summary)
	}
	// Rerun: everything reused.
	built = 0
	res, err = loadFake(t, reg).RunExperiment(context.Background(), Options{Root: root, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if built != 0 {
		t.Errorf("rerun built %d policies, want 0 (all reused)", built)
	}
	for _, o := range res.Outcomes {
		if !o.Skipped {
			t.Errorf("rerun: run %+v not marked reused", o)
		}
	}
	// Changing one policy reruns only its runs; adding a repetition adds only the new ones.
	built = 0
	_, err = loadFake(t, reg, "policies.three.replicas=4", "experiment.repetitions=4").RunExperiment(context.Background(), Options{Root: root, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if built != 3+1+1 {
		t.Errorf("built %d policies, want 5 (4 runs of the changed policy, 1 new repetition of the other)", built)
	}
}

func TestFailingRunRecordedOthersContinue(t *testing.T) {
	reg := fakeRegistry(nil)
	root := t.TempDir()
	b := loadFake(t, reg, "policies.three.fail=true")
	res, err := b.RunExperiment(context.Background(), Options{Root: root, Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "deliberate build failure") {
		t.Fatalf("want the failure reported, got %v", err)
	}
	ok := 0
	for _, o := range res.Outcomes {
		if o.Err == nil {
			ok++
		}
	}
	if ok != 3 || len(res.Summary.Failed) != 3 {
		t.Errorf("%d runs succeeded and %d failed, want 3 and 3", ok, len(res.Summary.Failed))
	}
	if !strings.Contains(res.Summary.Markdown(), "Failed runs") {
		t.Error("summary does not list failed runs")
	}
}

func TestCancelLeavesNoPartialRuns(t *testing.T) {
	reg := fakeRegistry(nil)
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	b := loadFake(t, reg)
	n := 0
	_, err := b.RunExperiment(ctx, Options{Root: root, Workers: 1, Version: "test", Progress: func(done, _ int, _ RunOutcome) {
		n = done
		if done == 2 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("cancelled experiment reported success")
	}
	var partial []string
	filepath.Walk(root, func(p string, info os.FileInfo, _ error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			partial = append(partial, p)
		}
		return nil
	})
	if len(partial) > 0 {
		t.Errorf("partial files left: %v", partial)
	}
	res, err := loadFake(t, reg).RunExperiment(context.Background(), Options{Root: root, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	reused := 0
	for _, o := range res.Outcomes {
		if o.Skipped {
			reused++
		}
	}
	if reused < 2 || n < 2 {
		t.Errorf("rerun reused %d runs, want ≥ 2", reused)
	}
}

// TestSummaryCI checks the table's mean ± CI against a hand computation: p95 values
// 10, 12, 14 → mean 12, s = 2, t₀.₉₇₅,₂ = 4.302653 → half-width 4.302653·2/√3 = 4.968275.
func TestSummaryCI(t *testing.T) {
	var outs []RunOutcome
	for i, v := range []float64{10, 12, 14} {
		outs = append(outs, RunOutcome{Spec: RunSpec{Policy: "p", Profile: "x", Repetition: i}, KPIs: framework.KPIs{P95LatencyMS: v}})
	}
	s := Summarize("t", []string{"x"}, []string{"p"}, outs, 0.95)
	c := s.Cells[[3]string{"x", "p", "p95_latency_ms"}]
	half := (c.Summary.CIHigh - c.Summary.CILow) / 2
	if math.Abs(c.Summary.Mean-12) > 1e-12 || math.Abs(half-4.968275) > 1e-5 {
		t.Fatalf("mean %v half-width %v, want 12 and 4.968275", c.Summary.Mean, half)
	}
	if got := c.cellText(); got != "12.00 ± 4.97" {
		t.Errorf("cell text %q", got)
	}
}
