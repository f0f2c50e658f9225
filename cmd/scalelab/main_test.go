package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	s = strings.Replace(s, "  repetitions: 5", "  repetitons: 5", 1)   // misspelt key
	s = strings.Replace(s, "  seed: 20260101", "  seed: many", 1)       // wrong type
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
