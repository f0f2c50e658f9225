package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

func execCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestParseSets(t *testing.T) {
	got, err := parseSets([]string{"model.t_fixed=2ms", "model.jitter_cv=0.1", "serving.max_batch_size=8", "name=x"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"model": map[string]any{"t_fixed": "2ms", "jitter_cv": 0.1}, "serving": map[string]any{"max_batch_size": 8}, "name": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseSets([]string{"model.t_fixed"}); err == nil {
		t.Error("a set without = was accepted")
	}
}

// TestLoadgenCommandAgainstEmulator runs `scalelab loadgen` against an in-process emulator
// and reads its JSON summary: every request of the 2-second, 50 req/s deterministic
// profile (testdata profile file) completes.
func TestLoadgenCommandAgainstEmulator(t *testing.T) {
	cfg := serve.Defaults()
	cfg.InputShape, cfg.MetricsAddr = []int64{3, 8, 8}, ""
	sc, _ := sim.BuiltinScenario(sim.DefaultScenario)
	srv, err := serve.NewWithScenario(cfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Close() }()
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(prof, []byte("type: constant\nrate: 50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := filepath.Join(dir, "summary.json")
	out, err := execCLI(t, "loadgen", "--url", hs.URL, "--profile-file", prof, "--arrivals", "deterministic", "--duration", "2s",
		"--payload", "uint8", "--shape", "3,8,8", "--metrics-addr", "", "--validate-responses", "--out", sum)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var s struct {
		Sent int64 `json:"sent"`
		KPIs struct {
			Completions int64    `json:"completions"`
			CPUUtil     *float64 `json:"cpu_util"`
		} `json:"kpis"`
	}
	b, _ := os.ReadFile(sum)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, b)
	}
	// 50 req/s deterministic for 2 s: arrivals at 20 ms, 40 ms, … 1980 ms = 99.
	if s.Sent != 99 || s.KPIs.Completions != 99 || s.KPIs.CPUUtil != nil {
		t.Errorf("sent %d, completed %d, cpu_util %v (want 99, 99, null)\n%s", s.Sent, s.KPIs.Completions, s.KPIs.CPUUtil, out)
	}
	if _, err := execCLI(t, "loadgen", "--url", hs.URL, "--profile", "nope"); err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("unknown profile: error %v", err)
	}
	if _, err := execCLI(t, "loadgen", "--url", hs.URL, "--rate", "5", "--profile", "low"); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("two profiles: error %v", err)
	}
}

func TestCalibrateCommandPerfAnalyzer(t *testing.T) {
	td := filepath.Join("..", "..", "calibrate", "testdata")
	out := filepath.Join(t.TempDir(), "cal.yaml")
	stdout, err := execCLI(t, "calibrate", "--perf-csv", "1="+filepath.Join(td, "perf-b1.csv"), "--perf-csv", "4="+filepath.Join(td, "perf-b4.csv"),
		"--perf-csv", "16="+filepath.Join(td, "perf-b16.csv"), "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	sc, err := sim.LoadScenario(out)
	if err != nil {
		t.Fatal(err)
	}
	// The files describe t(b) = 1000 µs + 157 µs·b; cpu_per_request stays the base's 400 µs.
	if sc.Model.TFixed.Microseconds() != 1000 || sc.Model.TPerImage.Microseconds() != 157 || sc.Model.CPUPerRequest.Microseconds() != 400 {
		t.Errorf("calibrated model %+v", sc.Model)
	}
	if _, err := execCLI(t, "calibrate", "--perf-csv", "x.csv"); err == nil || !strings.Contains(err.Error(), "BATCH=FILE") {
		t.Errorf("malformed --perf-csv: error %v", err)
	}
}
