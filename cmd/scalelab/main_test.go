package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework/config"
)

// TestConfigurationReferenceUpToDate checks docs/configuration.md against the config structs
// of the framework and of every registered component: `make docs` regenerates it.
func TestConfigurationReferenceUpToDate(t *testing.T) {
	want := config.Document(newRegistry())
	got, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("docs/configuration.md is out of date with the config structs: run `make docs`")
	}
}

// TestShippedConfigsValidate loads every config in configs/ strictly.
func TestShippedConfigsValidate(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs found")
	}
	reg := newRegistry()
	for _, f := range files {
		if strings.Contains(f, "cartpole") || strings.Contains(f, "pendulum") || strings.Contains(f, "ppo-") {
			continue // training configs are checked by `scalelab train` tests
		}
		if strings.Contains(f, "ablation-") {
			continue // sweep files: TestAblationSweepsOpen loads every cell
		}
		if _, err := config.Load(f, nil, reg); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestValidateRejectsBadConfig: a misspelt key, a wrong type and a negative replica bound
// fail validate and run with messages naming file, key and expectation, and nothing is
// written to the results directory.
func TestValidateRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	seed, err := os.ReadFile("../../configs/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(seed)
	s = strings.Replace(s, "  repetitions: 5", "  repetitons: 5", 1)     // misspelt key
	s = strings.Replace(s, "  seed: 20260101", "  seed: many", 1)        // wrong type
	s = strings.Replace(s, "  min_replicas: 1", "  min_replicas: -1", 1) // negative bound
	if err := os.WriteFile(bad, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"validate", "run"} {
		out := filepath.Join(dir, "results-"+verb)
		args := []string{verb, bad}
		if verb == "run" {
			args = append(args, "--out", out, "-q")
		}
		_, err := runCLI(t, args...)
		if err == nil {
			t.Fatalf("%s accepted a bad config", verb)
		}
		msg := err.Error()
		for _, want := range []string{"bad.yaml", "experiment.repetitons", "repetitions", "experiment.seed", "workload.min_replicas"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s error does not mention %q:\n%s", verb, want, msg)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s wrote %s despite the invalid config", verb, out)
		}
	}
}

// TestSeedAgentCheckpointMatchesConfig: configs/ppo-seed.yaml trains exactly the agent that
// configs/seed.yaml evaluates (equal training hashes), and the committed checkpoint was
// trained from that config, so the README's first command evaluates it without retraining.
func TestSeedAgentCheckpointMatchesConfig(t *testing.T) {
	reg := newRegistry()
	hash := func(file string) string {
		l, err := config.Load(file, nil, reg)
		if err != nil {
			t.Fatal(err)
		}
		b := &experiments.Builder{Loaded: l, Registry: reg}
		h, err := b.TrainHash("ppo", "policies.ppo."+experiments.CheckpointKey)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	seed, train := hash("../../configs/seed.yaml"), hash("../../configs/ppo-seed.yaml")
	if seed != train {
		t.Fatalf("configs/seed.yaml and configs/ppo-seed.yaml define different agents (training hash %.12s vs %.12s): keep their state, action, reward, scenario and ppo keys identical", seed, train)
	}
	l, err := config.Load("../../configs/seed.yaml", nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := (&experiments.Builder{Loaded: l, Registry: reg}).StaleLearners()
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("the committed checkpoint is stale for %v: run `make seed-agent` and commit configs/checkpoints/ppo-seed.json", stale)
	}
}

// TestCPUProfileFlag: --cpuprofile writes a CPU profile pprof can read (gzip-compressed
// protobuf, magic 1f 8b) for any command, and a bad path is an error naming the flag.
func TestCPUProfileFlag(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if _, err := runCLI(t, "validate", "../../configs/seed.yaml", "--cpuprofile", prof); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("profile is not gzip data (%d bytes)", len(b))
	}
	_, err = runCLI(t, "validate", "../../configs/seed.yaml", "--cpuprofile", filepath.Join(t.TempDir(), "missing", "cpu.prof"))
	if err == nil || !strings.Contains(err.Error(), "--cpuprofile") {
		t.Errorf("unwritable profile path: err = %v, want an error naming --cpuprofile", err)
	}
}
