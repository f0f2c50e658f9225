package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/experiments/internal/fakes"
)

func TestCellsProductAndZip(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		body    string
		wantIDs []string
		// wantSets are the overrides of the last cell.
		wantSets []string
	}{
		{
			name: "product of variants and values, first axis slowest",
			body: `set: {experiment.repetitions: 3}
axes:
  - name: State
    variants:
      Full: {state.features: [replicas_desired, replicas_ready]}
      "no ready!": {state.features: [replicas_desired]}
  - key: reward.terms.cost.weight
    values: [0.5, 1, 2]
`,
			wantIDs: []string{"state=full,weight=0.5", "state=full,weight=1", "state=full,weight=2",
				"state=no-ready,weight=0.5", "state=no-ready,weight=1", "state=no-ready,weight=2"},
			wantSets: []string{"experiment.repetitions=3", `state.features=["replicas_desired"]`, "reward.terms.cost.weight=2"},
		},
		{
			name: "zip pairs the i-th values; labels name values",
			body: `mode: zip
axes:
  - key: policies.two.replicas
    name: size
    values: [1, 3]
    labels: [small, large]
  - key: experiment.profiles
    values: [[flat], [flat, busy]]
`,
			wantIDs:  []string{"size=small,profiles=flat", "size=large,profiles=flat+busy"},
			wantSets: []string{"policies.two.replicas=3", `experiment.profiles=["flat","busy"]`},
		},
		{
			name:     "no axes: one cell",
			body:     "set: {experiment.seed: 5}\n",
			wantIDs:  []string{"base"},
			wantSets: []string{"experiment.seed=5"},
		},
		{
			name: "variants as a list keep their order",
			body: `axes:
  - name: reward
    variants:
      - {name: zeta, set: {reward.terms.cost.weight: 1}}
      - {name: alpha, set: {reward.terms: {cost: {weight: 2}}}}
`,
			wantIDs:  []string{"reward=zeta", "reward=alpha"},
			wantSets: []string{`reward.terms={"cost":{"weight":2}}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ReadFile(writeSweep(t, dir, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			cells, err := f.Cells()
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, c := range cells {
				ids = append(ids, c.ID)
				if c.Index != i {
					t.Errorf("cell %s has index %d, want %d", c.ID, c.Index, i)
				}
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("IDs %q, want %q", ids, tt.wantIDs)
			}
			if got := cells[len(cells)-1].Sets; !reflect.DeepEqual(got, tt.wantSets) {
				t.Errorf("last cell's sets %q, want %q", got, tt.wantSets)
			}
		})
	}
}

// TestCellIDsStable: adding a value to an axis keeps every other cell's ID.
func TestCellIDsStable(t *testing.T) {
	dir := t.TempDir()
	ids := func(values string) map[string]bool {
		f, err := ReadFile(writeSweep(t, dir, "axes:\n  - {key: policies.two.replicas, values: "+values+"}\n  - {key: experiment.seed, values: [1, 2]}\n"))
		if err != nil {
			t.Fatal(err)
		}
		cells, err := f.Cells()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, c := range cells {
			out[c.ID] = true
		}
		return out
	}
	before, after := ids("[1, 2]"), ids("[1, 4, 2]")
	for id := range before {
		if !after[id] {
			t.Errorf("cell %s lost its ID when a value was added", id)
		}
	}
	if len(after) != 6 {
		t.Errorf("%d cells after adding a value, want 6", len(after))
	}
}

func TestReadFileRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"unknown key", "axis: []\n", "field axis not found"},
		{"labels collide", "axes:\n  - {key: experiment.seed, values: [1, 2], labels: [A, a]}\n", `both have the label "a"`},
		{"zip lengths", "mode: zip\naxes:\n  - {key: experiment.seed, values: [1, 2]}\n  - {key: experiment.repetitions, values: [1]}\n", "equal length"},
		{"values and variants", "axes:\n  - {name: x, key: experiment.seed, values: [1], variants: {a: {experiment.seed: 2}}}\n", "not both"},
		{"null value", "axes:\n  - {key: experiment.seed, values: [~]}\n", "null"},
		{"bad mode", "mode: cross\n", "product or zip"},
		{"empty values", "axes:\n  - {key: experiment.seed, values: []}\n", "list at least one value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFile(writeSweep(t, dir, tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "sweep.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// TestOpenReportsEveryBadCell: a cell whose overrides do not validate is reported with its
// ID and the key, before anything runs.
func TestOpenReportsEveryBadCell(t *testing.T) {
	dir := t.TempDir()
	p := writeSweep(t, dir, "axes:\n  - {key: workload.max_replicas, values: [4, 0, -1]}\n")
	_, err := Open(p, Options{Registry: fakeRegistry(&fakes.Record{}), Root: filepath.Join(dir, "out"), Env: []string{}})
	if err == nil {
		t.Fatal("invalid cells accepted")
	}
	for _, want := range []string{"cell max_replicas=0:", "cell max_replicas=-1:", "workload.max_replicas"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("Open wrote results")
	}
}

const twoCells = `axes:
  - key: policies.two.replicas
    values: [1, 3]
`

// TestExecuteResumesAfterInterrupt: a sweep cancelled halfway keeps its finished runs and
// leaves no partial folders; the rerun executes only the rest and reuses the others.
func TestExecuteResumesAfterInterrupt(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "out")
	p := writeSweep(t, dir, twoCells)
	f := &fakes.Record{}
	s := open(t, p, f, root, "experiment.repetitions=3")
	if len(s.Runs) != 2*3 {
		t.Fatalf("%d runs, want 6 (2 cells × 1 policy × 1 profile × 3 repetitions)", len(s.Runs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	res, err := s.Execute(ctx, ExecOptions{Workers: 1, Version: "test", Progress: func(done, _ int, _ Run, _ experiments.RunOutcome) {
		if done == 3 {
			cancel()
		}
	}})
	if err == nil || !res.Status.Interrupted {
		t.Fatalf("interrupted sweep: err %v, status %+v", err, res.Status)
	}
	if res.Status.Failed != 0 {
		t.Errorf("interruption counted as %d failures", res.Status.Failed)
	}
	finished := res.Status.Executed
	if finished < 3 || finished == 6 {
		t.Fatalf("%d runs finished before the interrupt, want 3..5", finished)
	}
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("partial output left: %s", p)
		}
		return nil
	})
	f2 := &fakes.Record{}
	s2 := open(t, p, f2, root, "experiment.repetitions=3")
	res, err = s2.Execute(context.Background(), ExecOptions{Workers: 2, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status.Reused != finished || res.Status.Executed != 6-finished {
		t.Errorf("rerun reused %d and executed %d, want %d and %d", res.Status.Reused, res.Status.Executed, finished, 6-finished)
	}
	for _, r := range s2.Runs {
		if _, err := os.Stat(filepath.Join(root, r.Dir(), "kpis.json")); err != nil {
			t.Errorf("run %s missing after the rerun", r.Dir())
		}
	}
	for _, f := range []string{InfoFile, StatusFile, "cells/replicas=1/cell.json", "cells/replicas=3/summary.md", "cells/replicas=3/config.resolved.yaml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// The cells really differ: replicas 1 vs 3.
	k, err := readKPIs(filepath.Join(root, "cells/replicas=3/runs/two/flat/rep-0/kpis.json"))
	if err != nil || k["mean_replicas"] != 3.0 {
		t.Errorf("cell replicas=3 ran with mean_replicas %v (%v)", k["mean_replicas"], err)
	}
}

func readKPIs(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// TestFailingRunsRecorded: a cell whose baseline cannot be built fails its runs; the other
// cell's runs finish; the error and status.json name the failed runs.
func TestFailingRunsRecorded(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "out")
	p := writeSweep(t, dir, "axes:\n  - {key: policies.two.fail, values: [false, true]}\n")
	s := open(t, p, &fakes.Record{}, root)
	res, err := s.Execute(context.Background(), ExecOptions{Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "deliberate build failure") {
		t.Fatalf("want the failure reported, got %v", err)
	}
	if res.Status.Failed != 2 || res.Status.Executed != 2 {
		t.Errorf("status %+v, want 2 failed and 2 executed", res.Status)
	}
	st, err := ReadStatus(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failures) != 2 || !strings.HasPrefix(st.Failures[0].Dir, filepath.Join("cells", "fail=true")) {
		t.Errorf("status.json failures %+v", st.Failures)
	}
}

const learnerSweep = `axes:
  - name: variant
    variants:
      a: {experiment.warmup: 1m}
      b: {experiment.warmup: 2m}
      c: {reward.terms.cost.weight: 2}
`

// TestTrainingCachedPerTrainHash: cells that differ only in evaluation keys share one
// training; a reward change trains again; a rerun trains nothing; the learner's runs act
// with the trained checkpoint; training episodes never use an evaluation seed.
func TestTrainingCachedPerTrainHash(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "out")
	p := writeSweep(t, dir, learnerSweep)
	f := &fakes.Record{}
	sets := []string{"policies.learn={type: learner, target: 4}"}
	s := open(t, p, f, root, sets...)
	if len(s.Trainings) != 2 {
		t.Fatalf("%d trainings planned, want 2 (a and b share one, c has its own)", len(s.Trainings))
	}
	if got := s.Trainings[0].Cells; !reflect.DeepEqual(got, []string{"variant=a", "variant=b"}) {
		t.Errorf("first training serves %v, want cells a and b", got)
	}
	res, err := s.Execute(context.Background(), ExecOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Trainings != 2 || res.Status.Trained != 2 {
		t.Errorf("trained %d times (status %d), want 2", f.Trainings, res.Status.Trained)
	}
	k, err := readKPIs(filepath.Join(root, "cells/variant=b/runs/learn/flat/rep-1/kpis.json"))
	if err != nil || k["mean_replicas"] != 4.0 || k["fallback_steps"] != 0.0 {
		t.Errorf("learner run: mean_replicas %v, fallback steps %v (%v); want 4 and 0", k["mean_replicas"], k["fallback_steps"], err)
	}
	eval := map[uint64]bool{}
	for _, s := range f.EvalSeeds {
		eval[s] = true
	}
	if len(f.TrainSeeds) != 2*2 {
		t.Errorf("%d training episodes, want 4", len(f.TrainSeeds))
	}
	for _, s := range f.TrainSeeds {
		if eval[s] || s == 1 || s == 2 {
			t.Errorf("training episode seed %d is an evaluation seed or the trainer's raw seed", s)
		}
	}
	// Rerun: trainings and runs reused.
	f2 := &fakes.Record{}
	s2 := open(t, p, f2, root, sets...)
	res, err = s2.Execute(context.Background(), ExecOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if f2.Trainings != 0 || res.Status.TrainReused != 2 || res.Status.Executed != 0 {
		t.Errorf("rerun: trained %d, reused %d trainings, executed %d runs; want 0, 2, 0", f2.Trainings, res.Status.TrainReused, res.Status.Executed)
	}
}

// TestTrainingFailureFailsOnlyItsRuns: a failed training fails the learner's runs with
// the training's error, while the baseline's runs finish.
func TestTrainingFailureFailsOnlyItsRuns(t *testing.T) {
	dir := t.TempDir()
	p := writeSweep(t, dir, "")
	s := open(t, p, &fakes.Record{}, filepath.Join(dir, "out"), "policies.learn={type: learner, fail_train: true}")
	res, err := s.Execute(context.Background(), ExecOptions{Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "deliberate training failure") {
		t.Fatalf("got %v", err)
	}
	if res.Status.Failed != 2 || res.Status.Executed != 2 {
		t.Errorf("status %+v, want the learner's 2 runs failed and the baseline's 2 executed", res.Status)
	}
}

// TestRunIndexMatchesFullSweep: running single indexes into a fresh root produces exactly
// the files of the same runs in a full sweep at the same path (run.json differs only in its
// wall time). Results are compared at one path because the config, and so the run hash,
// names the trained checkpoint by its path, as the pods of an Indexed Job all see it.
func TestRunIndexMatchesFullSweep(t *testing.T) {
	dir := t.TempDir()
	p := writeSweep(t, dir, learnerSweep)
	sets := []string{"policies.learn={type: learner, target: 2}"}
	root := filepath.Join(dir, "out")
	if _, err := open(t, p, &fakes.Record{}, root, sets...).Execute(context.Background(), ExecOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full")
	if err := os.Rename(root, full); err != nil {
		t.Fatal(err)
	}
	s := open(t, p, &fakes.Record{}, root, sets...)
	// Without its training, a learner's run fails clearly.
	var learnerRun Run
	for _, r := range s.Runs {
		if r.Spec.Policy == "learn" {
			learnerRun = r
			break
		}
	}
	if _, err := s.RunIndex(context.Background(), learnerRun.Index, ExecOptions{Version: "test"}); err == nil || !strings.Contains(err.Error(), "training not finished") {
		t.Fatalf("learner run without training: %v", err)
	}
	for i := range s.Trainings {
		if _, err := s.TrainIndex(context.Background(), i, ExecOptions{Version: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, learnerRun.Index, len(s.Runs) - 1} {
		oc, err := s.RunIndex(context.Background(), i, ExecOptions{Version: "test"})
		if err != nil || oc.Skipped {
			t.Fatalf("run-index %d: %v (skipped %v)", i, err, oc.Skipped)
		}
		dirRel := s.Runs[i].Dir()
		for _, name := range []string{"kpis.json", "trajectory.csv", "latency_cdf.csv", "run.json"} {
			a, err1 := os.ReadFile(filepath.Join(full, dirRel, name))
			b, err2 := os.ReadFile(filepath.Join(root, dirRel, name))
			if err1 != nil || err2 != nil {
				t.Fatalf("%s/%s: %v %v", dirRel, name, err1, err2)
			}
			if name == "run.json" {
				a, b = dropWall(t, a), dropWall(t, b)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("run-index %d: %s/%s differs from the full sweep's:\n%s\n%s", i, dirRel, name, a, b)
			}
		}
	}
	// Only the indexed runs were written.
	var written []string
	filepath.Walk(filepath.Join(root, "cells"), func(p string, _ os.FileInfo, _ error) error {
		if filepath.Base(p) == "kpis.json" {
			written = append(written, p)
		}
		return nil
	})
	if len(written) != 3 {
		t.Errorf("run-index wrote %d runs, want 3", len(written))
	}
	if _, err := s.RunIndex(context.Background(), len(s.Runs), ExecOptions{}); err == nil {
		t.Error("an index past the end was accepted")
	}
}

func dropWall(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "wall_s")
	out, _ := json.Marshal(m)
	return out
}

// TestInlineBaseConfig: an inline config works like a base file; its temporary copy is
// removed by Close.
func TestInlineBaseConfig(t *testing.T) {
	dir := t.TempDir()
	base, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	body.WriteString("name: inline\nconfig:\n")
	for _, l := range strings.Split(strings.TrimSpace(string(base)), "\n") {
		body.WriteString("  " + l + "\n")
	}
	body.WriteString("axes:\n  - {key: experiment.seed, values: [1, 2]}\n")
	p := filepath.Join(dir, "inline.yaml")
	if err := os.WriteFile(p, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p, Options{Registry: fakeRegistry(&fakes.Record{}), Root: filepath.Join(dir, "out"), Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 2*2 || s.Cells[1].Config.Config.Experiment.Seed != 2 {
		t.Errorf("%d runs, cell 1 seed %d", len(s.Runs), s.Cells[1].Config.Config.Experiment.Seed)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".sweep-*"))
	if len(left) > 0 {
		t.Errorf("temporary base configs left: %v", left)
	}
}

// TestStaleCheckpointRetrained: a configured checkpoint trained from this very config is
// evaluated as it is; one stamped with another training hash is trained again.
func TestStaleCheckpointRetrained(t *testing.T) {
	dir := t.TempDir()
	p := writeSweep(t, dir, "")
	ckpt := filepath.Join(dir, "learn.json")
	plan := func() *Sweep {
		return open(t, p, &fakes.Record{}, filepath.Join(dir, "out"), "policies.learn={type: learner, target: 2, checkpoint: "+ckpt+"}")
	}
	// The hash the sweep would train under.
	want := plan().Trainings[0].Hash
	for _, tc := range []struct {
		hash      string
		trainings int
	}{{want, 0}, {"0123456789abcdef", 1}} {
		if err := os.WriteFile(ckpt, []byte(`{"replicas": 2, "hash": "`+tc.hash+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if n := len(plan().Trainings); n != tc.trainings {
			t.Errorf("checkpoint stamped %.8s: %d trainings planned, want %d", tc.hash, n, tc.trainings)
		}
	}
}
