package loadgen

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/internal/realtimetest"
)

func readProfile(t *testing.T, file string) load.Profile {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	typ, _ := m["type"].(string)
	delete(m, "type")
	p, err := load.FromConfig(typ, m, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sendTimes runs g and returns the send offsets (from the start of the run) of its
// requests, and the summary.
func sendTimes(t *testing.T, g *Generator) ([]time.Duration, Summary) {
	t.Helper()
	var stamps []time.Duration
	g.OnResult = func(r *vegeta.Result) { stamps = append(stamps, r.Timestamp.Sub(g.Start())) }
	s, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stamps, s
}

func countIn(stamps []time.Duration, from, to time.Duration) int {
	n := 0
	for _, s := range stamps {
		if s >= from && s < to {
			n++
		}
	}
	return n
}

// TestHoldsEveryProfileRateOverAMinute plays every profile type (constant, step, ramp,
// sine, spike, trace — as the parts of one 54-second sequence, testdata/all-profiles.yaml,
// 100–400 req/s) with deterministic arrivals against the emulator, with a small payload
// (a 3×8×8 UINT8 tensor, binary). The requests sent in each 9-second part and over the
// run must be within 2 % of the profile's integral, and in each 3-second window within 5 %.
func TestHoldsEveryProfileRateOverAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("54-second rate test; run without -short")
	}
	realtimetest.Exclusive(t)
	prof := readProfile(t, "testdata/all-profiles.yaml")
	_, url := emulator(t, nil)
	c := Defaults()
	c.URL, c.Shape, c.Payload, c.MetricsAddr = url, []int64{3, 8, 8}, PayloadUINT8, ""
	const part = 9 * time.Second
	c.Duration = 6 * part
	g, err := New(c, load.Load{Name: "all-profiles", Profile: prof, Arrivals: load.Arrivals{Kind: load.Deterministic}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stamps, s := sendTimes(t, g)
	names := []string{"constant", "step", "ramp", "sine", "spike", "trace"}
	check := func(what string, from, to time.Duration, tol float64) float64 {
		want := load.Integral(prof, from, to)
		got := float64(countIn(stamps, from, to))
		rel := (got - want) / want
		if math.Abs(rel) > tol {
			t.Errorf("%s [%v, %v): sent %.0f, profile %.1f (%+.2f %%, allowed ± %.0f %%)", what, from, to, got, want, 100*rel, 100*tol)
		}
		return rel
	}
	// 3-second windows hold 300–1,200 requests: a 20 ms stall of the machine moves up to
	// 8 of them into the next window, so these get 5 %.
	worst := 0.0
	for w := time.Duration(0); w < c.Duration; w += 3 * time.Second {
		worst = math.Max(worst, math.Abs(check("window", w, w+3*time.Second, 0.05)))
	}
	for i, n := range names {
		rel := check(n, time.Duration(i)*part, time.Duration(i+1)*part, 0.02)
		t.Logf("%-8s part: %+.3f %% of the profile's integral", n, 100*rel)
	}
	total := check("whole run", 0, c.Duration, 0.02)
	t.Logf("run: sent %d of %.1f expected (%+.3f %%); worst 3-s window %.3f %%; send lag p50 %v p99 %v max %v; p95 latency %.2f ms",
		s.Sent, s.Expected, 100*total, 100*worst, s.LagP50, s.LagP99, s.LagMax, s.KPIs.P95LatencyMS)
	if s.KPIs.Failures != 0 || s.KPIs.Drops != 0 || s.KPIs.Completions != s.Sent {
		t.Errorf("sent %d: %d completed, %d failed, %d dropped", s.Sent, s.KPIs.Completions, s.KPIs.Failures, s.KPIs.Drops)
	}
}

// TestSendsPoissonArrivalsOnSchedule checks open-loop Poisson sending at 300 req/s for 10 s:
// the requests sent in each 5-second half match the arrival process's draws for the seed
// (which the simulator would draw too) within 2 %, and the total equals them exactly.
func TestSendsPoissonArrivalsOnSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("10-second rate test; run without -short")
	}
	realtimetest.Exclusive(t)
	_, url := emulator(t, nil)
	c := Defaults()
	c.URL, c.Shape, c.Payload, c.MetricsAddr, c.Duration, c.Seed = url, []int64{3, 8, 8}, PayloadUINT8, "", 10*time.Second, 9
	l := load.Load{Profile: load.Constant{RPS: 300}}
	g, err := New(c, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	stamps, s := sendTimes(t, g)
	// The schedule: the same pacer, drawn without sending.
	p := NewPacer(l, c.Seed, c.Duration)
	var sched []time.Duration
	for hits := uint64(0); ; hits++ {
		wait, stop := p.Pace(0, hits)
		if stop {
			break
		}
		sched = append(sched, wait)
	}
	if int64(len(sched)) != s.Sent {
		t.Errorf("sent %d requests, the arrival process drew %d", s.Sent, len(sched))
	}
	for w := time.Duration(0); w < c.Duration; w += 5 * time.Second {
		want, got := countIn(sched, w, w+5*time.Second), countIn(stamps, w, w+5*time.Second)
		if math.Abs(float64(got-want)) > 0.02*float64(want) {
			t.Errorf("window [%v, %v): sent %d, scheduled %d", w, w+5*time.Second, got, want)
		}
	}
	t.Logf("sent %d (scheduled %d, profile %.0f); lag p50 %v p99 %v max %v", s.Sent, len(sched), s.Expected, s.LagP50, s.LagP99, s.LagMax)
}
