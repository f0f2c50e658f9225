package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Every problem of a config is reported at once, each naming its key and what was
// expected; the nearest valid key is suggested for a typo.
func ExampleError() {
	dir, _ := os.MkdirTemp("", "scalelab-config-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(path, []byte(`
experiment:
  repetitons: 3
  seed: many
backend: {type: fakesim}
workload: {min_replicas: -1}
policies:
  hpa: {type: hpa}
`), 0o644)
	_, err := LoadWithOptions(path, fakeRegistry(), Options{Env: []string{}})
	var ce *Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// experiment.repetitons: unknown key; did you mean "repetitions"? (valid keys of experiment: name, seed, repetitions, profiles, duration, warmup, control_interval, baseline, out, workers, arrivals, arrival_cv)
	// experiment.seed: expected a non-negative integer, got string "many"
	// workload.min_replicas: must be ≥ 1, got -1
}

// Overrides from --set take the type of the key they set.
func ExampleLoadWithOptions() {
	l, err := LoadWithOptions("testdata/valid.yaml", fakeRegistry(), Options{
		Sets: []string{"experiment.profiles=[low,high]", "experiment.repetitions=10", "policies.hpa.sync_period=1m"},
		Env:  []string{"SCALELAB_SLO__LATENCY=80ms"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Config.Experiment.Profiles, l.Config.Experiment.Repetitions, l.Config.SLO.Latency)
	fmt.Println(l.Components["policies.hpa"].(*hpaConfig).SyncPeriod)
	fmt.Println(l.Resolved["slo"].(map[string]any)["latency"])
	// Output:
	// [low high] 10 80ms
	// 1m0s
	// 80ms
}

func BenchmarkLoad(b *testing.B) {
	reg := fakeRegistry()
	for b.Loop() {
		if _, err := LoadWithOptions("testdata/valid.yaml", reg, Options{Env: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}
