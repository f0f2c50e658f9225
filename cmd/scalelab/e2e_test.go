package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quick shortens the seed experiment for tests.
var quick = []string{"--train=never", "--set", "experiment.duration=6m", "--set", "experiment.warmup=1m", "--set", "experiment.repetitions=2", "-q"}

func readRuns(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(filepath.Join(root, "runs"), func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Name() == "kpis.json" || info.Name() == "trajectory.csv" {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSeedExperimentDeterministic: the same config and seed give byte-identical KPI files
// and trajectories; another seed gives different ones; a rerun reuses finished runs.
func TestSeedExperimentDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the seed experiment three times")
	}
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	outA, err := runCLI(t, append([]string{"run", "../../configs/seed.yaml", "--out", a}, quick...)...)
	if err != nil {
		t.Fatalf("run a: %v\n%s", err, outA)
	}
	for _, want := range []string{"profile low", "profile high", "profile mixed", "hpa", "kpa", "threshold", "static-max", "ppo", "p95 ms"} {
		if !strings.Contains(outA, want) {
			t.Errorf("summary lacks %q:\n%s", want, outA)
		}
	}
	if _, err := runCLI(t, append([]string{"run", "../../configs/seed.yaml", "--out", b, "--workers", "1"}, quick...)...); err != nil {
		t.Fatalf("run b: %v", err)
	}
	ra, rb := readRuns(t, a), readRuns(t, b)
	if len(ra) == 0 || len(ra) != len(rb) {
		t.Fatalf("run a has %d files, run b %d", len(ra), len(rb))
	}
	for k, v := range ra {
		if !bytes.Equal(v, rb[k]) {
			t.Errorf("%s differs between two runs of the same config and seed", k)
		}
	}
	if _, err := runCLI(t, append([]string{"run", "../../configs/seed.yaml", "--out", c, "--set", "experiment.seed=7"}, quick...)...); err != nil {
		t.Fatalf("run c: %v", err)
	}
	rc := readRuns(t, c)
	same := 0
	for k, v := range ra {
		if strings.HasSuffix(k, "kpis.json") && bytes.Equal(v, rc[k]) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d KPI files identical under another seed", same)
	}
	// A rerun reuses every finished run.
	out, err := runCLI(t, append([]string{"run", "../../configs/seed.yaml", "--out", a}, quick...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "reused") || strings.Contains(out, "(0 reused") {
		t.Errorf("rerun did not reuse finished runs:\n%s", out)
	}
	for _, f := range []string{"summary.md", "summary.csv", "kpis.csv", "config.resolved.yaml", "experiment.json"} {
		if _, err := os.Stat(filepath.Join(a, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}
