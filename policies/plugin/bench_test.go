//go:build unix

package plugin

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/sdk/examples/plugin-target/target"
)

// benchSpecs is the seed experiment's state design (8 features) with replica_delta.
func benchSpecs(b *testing.B) framework.Specs {
	var feats []framework.FeatureSpec
	for _, n := range []string{"request_rate", "p95_latency_ms", "queue_length", "qos_violation_rate", "cpu_util",
		"gpu_util", "replicas_desired", "replicas_ready"} {
		f, err := framework.LookupFeature(n)
		if err != nil {
			b.Fatal(err)
		}
		feats = append(feats, f)
	}
	return framework.Specs{Features: feats, ActionDesign: "replica_delta", Interval: 15 * time.Second,
		Action: framework.ActionSpace{Kind: framework.Discrete, N: 3, Names: []string{"replica_delta"}}}
}

func benchObs() framework.Observation {
	return framework.Observation{
		Time:   framework.SimEpoch,
		Values: []float64{120, 38, 4, 0.02, 0.83, 0.61, 2, 2},
		Valid:  []bool{true, true, true, true, true, true, true, true},
		Age:    make([]time.Duration, 8),
	}
}

// reportLatency reports the median and 99th percentile of per-call durations.
func reportLatency(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/1e3, "median-µs")
	b.ReportMetric(float64(d[len(d)*99/100])/1e3, "p99-µs")
}

// BenchmarkActRoundTrip is one decision through the plugin host: an Act over gRPC on a Unix
// socket to the plugin-target example and back, with the runner's per-decision deadline
// context, as the step function calls it.
func BenchmarkActRoundTrip(b *testing.B) {
	c := defaultCfg()
	c.Command = targetBin
	p, err := New(testBuildContext("bench"), c)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.Init(benchSpecs(b)); err != nil {
		b.Fatal(err)
	}
	obs := benchObs()
	for range 200 { // warm up connections and caches
		if _, err := p.Act(context.Background(), obs); err != nil {
			b.Fatal(err)
		}
	}
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := p.Act(ctx, obs)
		cancel()
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportLatency(b, d)
}

// BenchmarkActNative is the same policy called in-process (the native anchor).
func BenchmarkActNative(b *testing.B) {
	specs := benchSpecs(b)
	p := target.New(target.DefaultConfig())
	if err := p.Init(sdkSpec(specs, 7, "bench")); err != nil {
		b.Fatal(err)
	}
	obs := benchObs()
	a := make([]float64, 1)
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		err := p.Act(obs.Values, obs.Valid, a)
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportLatency(b, d)
}
