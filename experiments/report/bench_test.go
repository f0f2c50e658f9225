package report

import (
	"context"
	"log/slog"
	"testing"
)

// BenchmarkRenderExperiment renders the report of an experiment shaped like the seed
// experiment — 4 policies × 3 profiles × 5 repetitions = 60 runs, each with its latency
// CDF (about 5,000 points) and trajectory — with PNG and SVG figures and the HTML page.
// The bar: under 5 s for the seed experiment.
func BenchmarkRenderExperiment(b *testing.B) {
	root := b.TempDir()
	runFake(b, root, "policies.three={type: fixed, replicas: 3}", "policies.one={type: fixed, replicas: 1}",
		"policies.four={type: fixed, replicas: 4}", "profiles.third={type: constant, rate: 15}",
		"experiment.profiles=[flat, busy, third]", "experiment.repetitions=5")
	st, err := Load(root)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(st.Experiments[0].Runs); n != 60 {
		b.Fatalf("%d runs, want 60", n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := RenderDirs(context.Background(), []string{root}, Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
			b.Fatal(err)
		}
	}
}
