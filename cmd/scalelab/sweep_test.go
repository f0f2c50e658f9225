package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/experiments/sweep"
)

// TestAblationSweepsOpen loads every cell of the example studies strictly and checks the
// plan docs/experiments.md describes: the cells, and a PPO training per cell (but for the
// full-design cell when the seed's committed checkpoint is fresh: it is evaluated as is).
func TestAblationSweepsOpen(t *testing.T) {
	want := map[string][]string{
		"ablation-state":  {"state=full", "state=no-gpu", "state=no-queue", "state=no-gpu-no-queue"},
		"ablation-reward": {"reward=seed", "reward=latency-only", "reward=qos-only", "reward=cost-only", "reward=gpu-only", "reward=latency-heavy", "reward=cost-heavy"},
		"ablation-action": {"action=delta", "action=absolute", "action=hpa-target", "action=batching"},
	}
	files, _ := filepath.Glob("../../configs/ablation-*.yaml")
	if len(files) != len(want) {
		t.Fatalf("found %d ablation configs, want %d", len(files), len(want))
	}
	reg := newRegistry()
	for _, f := range files {
		s, err := sweep.Open(f, sweep.Options{Registry: reg, Env: []string{}, Root: t.TempDir()})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var ids []string
		for _, c := range s.Cells {
			ids = append(ids, c.ID)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if strings.Join(ids, " ") != strings.Join(want[name], " ") {
			t.Errorf("%s: cells %v, want %v", name, ids, want[name])
		}
		if len(s.Trainings) < len(s.Cells)-1 || len(s.Trainings) > len(s.Cells) || s.Trainings[0].Policy != "ppo" {
			t.Errorf("%s: %d trainings, want one PPO training per cell", name, len(s.Trainings))
		}
		s.Close()
	}
}

// TestSweepCommand runs a small sweep on the simulator through the CLI — two cells, the
// HPA and a PPO agent trained for one iteration per cell — then checks the report, the
// resume, run-index, the emitted Job and the report command.
func TestSweepCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two agents and runs a sweep on the simulator")
	}
	dir := t.TempDir()
	seed, err := filepath.Abs("../../configs/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "mini.yaml")
	body := "name: mini\nbase: " + seed + `
set:
  experiment.duration: 4m
  experiment.warmup: 1m
  experiment.repetitions: 1
  experiment.profiles: [high]
  policies.ppo: {type: ppo, total_timesteps: 480, num_envs: 4, num_steps: 120, update_epochs: 2}
axes:
  - key: reward.terms.replica_cost.weight
    name: cost
    values: [0.3, 1]
`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "out")
	out, err := runCLI(t, "sweep", file, "--out", root, "-q", "--report-no-svg")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// 2 cells × 5 policies (hpa, kpa, ppo, static-max, threshold) × 1 profile × 1 repetition.
	for _, want := range []string{"mini: 2 cells, 10 runs (10 executed, 0 reused, 0 failed), 2 trainings (0 reused)", "report: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	md, err := os.ReadFile(filepath.Join(root, "report.md"))
	if err != nil || !bytes.Contains(md, []byte("## Axis `cost`")) || !bytes.Contains(md, []byte("## Training")) {
		t.Errorf("sweep report lacks the axis or the training section (%v)", err)
	}
	k, err := os.ReadFile(filepath.Join(root, "cells/cost=1/runs/ppo/high/rep-0/kpis.json"))
	if err != nil || !bytes.Contains(k, []byte(`"fallback_steps": 0`)) {
		t.Errorf("the trained agent's run fell back (untrained?): %v\n%s", err, k)
	}
	// Rerun: everything reused.
	out, err = runCLI(t, "sweep", file, "--out", root, "-q", "--no-report")
	if err != nil || !strings.Contains(out, "(0 executed, 10 reused, 0 failed), 2 trainings (2 reused)") {
		t.Errorf("rerun did not reuse: %v\n%s", err, out)
	}
	// run-index of a finished run skips it; an index past the end fails.
	out, err = runCLI(t, "run-index", file, "--out", root, "--index", "3")
	if err != nil || !strings.Contains(out, "run 3: already finished") {
		t.Errorf("run-index: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "run-index", file, "--out", root, "--index", "10"); err == nil {
		t.Error("run-index 10 of 10 runs accepted")
	}
	// The Indexed Jobs, run from the folder that holds the sweep.
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	out, err = runCLI(t, "sweep", "mini.yaml", "--out", "out", "--emit-job", "-", "--image", "scalelab:test")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	docs := strings.Split(out, "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d manifests, want the training and the evaluation Job", len(docs))
	}
	var eval batchv1.Job
	if err := sigsyaml.UnmarshalStrict([]byte(docs[1]), &eval); err != nil || *eval.Spec.Completions != 10 {
		t.Errorf("evaluation Job: %v, completions %v", err, eval.Spec.Completions)
	}
	// The report command on the root.
	out, err = runCLI(t, "report", "out", "--no-html", "--no-svg")
	if err != nil || !strings.Contains(out, "report: ") {
		t.Errorf("report: %v\n%s", err, out)
	}
}
