package wasm

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// native16 is linear16's computation as a native framework.Policy (the same weights,
// loops and allocation of the returned action as the host's Act).
type native16 struct{ w [3][16]float64 }

func newNative16() *native16 {
	n := &native16{}
	for k := range n.w {
		for j := range n.w[k] {
			w := float64((k+1)*(j+1)) / 100
			if (j+k)%2 == 1 {
				w = -w
			}
			n.w[k][j] = w
		}
	}
	return n
}

func (n *native16) Act(_ context.Context, obs framework.Observation) (framework.Action, error) {
	best, bestScore := 0, 0.0
	for k := range n.w {
		s := 0.0
		for j, x := range obs.Values {
			if obs.Valid[j] {
				s += n.w[k][j] * x
			}
		}
		if k == 0 || s > bestScore {
			best, bestScore = k, s
		}
	}
	return framework.Action{Values: []float64{float64(best)}}, nil
}

// obs16 is a 16-feature observation with one missing value.
func obs16() framework.Observation {
	o := obsOf(make([]float64, 16)...)
	for i := range o.Values {
		o.Values[i] = float64(i%5) * 0.3
	}
	o.Valid[3] = false
	return o
}

// benchAct times each Act call and reports the median and 99th percentile besides the
// mean (ns/op), since the target is stated for the median.
func benchAct(b *testing.B, ctx context.Context, p framework.Policy, want float64) {
	o := obs16()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		a, err := p.Act(ctx, o)
		lat = append(lat, time.Since(t0))
		if err != nil || a.Values[0] != want {
			b.Fatalf("act: %v %v, want [%v]", a.Values, err, want)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "median-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkAct16 measures one decision of a simple 16-feature policy: natively, in a Go
// WASM guest through the host (bounded by the host's call_deadline, by the runner's
// deadline on the context, by no deadline at all — each interruptible, with the deadline
// checks compiled in — and uninterruptible), and the host's floor with a hand-written guest
// that only writes a constant.
func BenchmarkAct16(b *testing.B) {
	names := make([]string, 16)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	specs := discreteSpecs(3, names...)
	want, _ := newNative16().Act(context.Background(), obs16())
	runnerCtx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	b.Run("native-go", func(b *testing.B) { benchAct(b, context.Background(), newNative16(), want.Values[0]) })
	goCfg := testConfig(buildGuest(b, "testdata/guests/linear16"))
	goCfg.CacheDir = ""
	goCfg.MemoryLimitMB = 64
	b.Run("wasm-go/call-deadline", func(b *testing.B) {
		benchAct(b, context.Background(), newPolicy(b, goCfg, specs, 1), want.Values[0])
	})
	// As in the runner with the defaults (policy deadline = call_deadline = 1 s): the
	// context already ends sooner than call_deadline.
	runnerCfg := goCfg
	runnerCfg.CallDeadline = 2 * time.Hour
	b.Run("wasm-go/runner-deadline", func(b *testing.B) {
		benchAct(b, runnerCtx, newPolicy(b, runnerCfg, specs, 1), want.Values[0])
	})
	b.Run("wasm-go/no-deadline", func(b *testing.B) {
		c := goCfg
		c.CallDeadline = 0
		benchAct(b, context.Background(), newPolicy(b, c, specs, 1), want.Values[0])
	})
	b.Run("wasm-go/uninterruptible", func(b *testing.B) {
		c := runnerCfg
		c.Interruptible = false
		benchAct(b, runnerCtx, newPolicy(b, c, specs, 1), want.Values[0])
	})
	b.Run("wasm-handwritten-const/runner-deadline", func(b *testing.B) {
		c := testConfig(writeModule(b, baseModule().with(actConst(want.Values[0])).encode()))
		c.CallDeadline = 2 * time.Hour
		benchAct(b, runnerCtx, newPolicy(b, c, specs, 1), want.Values[0])
	})
}

// BenchmarkInstantiate measures creating a ready instance of the Go guest from the
// compiled module: instantiation, _initialize (the Go runtime's start), init with the spec
// and the buffer allocation — the cost of a re-instantiation after a trap.
func BenchmarkInstantiate(b *testing.B) {
	cfg := testConfig(buildGuest(b, "testdata/guests/linear16"))
	cfg.CacheDir = ""
	cfg.MemoryLimitMB = 64
	names := make([]string, 16)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	p := newPolicy(b, cfg, discreteSpecs(3, names...), 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.mu.Lock()
		in, err := p.instantiate(newBound(context.Background(), 0), newBound(context.Background(), 0))
		p.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		in.mod.Close(context.Background())
	}
}
