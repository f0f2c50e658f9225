package report

import (
	"bytes"
	"context"
	"image/png"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/experiments/internal/fakes"
	"github.com/scalelab/scalelab/experiments/sweep"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
)

// synthetic builds an experiment of two policies under one profile, N repetitions, whose
// KPIs are drawn per repetition as common noise (shared by both policies: common random
// numbers) plus independent noise; the policy's p95 latency is shifted by shift.
func synthetic(rng *rand.Rand, n int, shift float64) *Experiment {
	e := &Experiment{Info: experiments.ExperimentInfo{Name: "synthetic", Baseline: "base", Policies: []string{"base", "new"},
		Profiles: []string{"p"}, Repetitions: n}}
	for rep := 0; rep < n; rep++ {
		common := rng.NormFloat64() * 3 // seed-level variation, cancels in the pairs
		for _, pol := range []string{"base", "new"} {
			k := framework.KPIs{
				P95LatencyMS:  20 + common + 0.5*rng.NormFloat64(),
				P99LatencyMS:  30 + common + 0.5*rng.NormFloat64(),
				MeanLatencyMS: 10 + common + 0.5*rng.NormFloat64(),
			}
			if pol == "new" {
				k.P95LatencyMS += shift
			}
			e.Runs = append(e.Runs, &Run{Info: experiments.RunInfo{RunSpec: experiments.RunSpec{Policy: pol, Profile: "p", Repetition: rep, Seed: uint64(rep)}}, KPIs: k})
		}
	}
	return e
}

// TestRealDifferenceMarkedAtN5: with N = 5 pairs and a real shift of the p95 latency of
// 3 ms against a pair-difference SD of 0.5·√2 ≈ 0.71 ms (d_z ≈ 4.2), the paired t-test has
// t ≈ 4.2·√5 ≈ 9.5 on 4 df, p ≈ 7e-4, ×3 for Holm with the three latency KPIs of the family
// (the other KPIs are constant 0 and not tested) ≈ 0.002: the report marks it significant
// and better. Over 300 seeds the power is well above 90 % (noncentral t, δ = 9.5, df 4).
func TestRealDifferenceMarkedAtN5(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	marked := 0
	const trials = 300
	for i := 0; i < trials; i++ {
		a := Analyze(synthetic(rng, 5, -3), 0.05)
		c := a.Comparisons[Key{"p", "new", "p95_latency_ms"}]
		if c == nil || c.N != 5 {
			t.Fatalf("no 5-pair comparison: %+v", c)
		}
		if a.FamilySize["new"] != 3 {
			t.Fatalf("Holm family has %d tests, want 3 (p95, p99, mean latency)", a.FamilySize["new"])
		}
		if Mark(c) != "" {
			marked++
			if d := Direction(c, kpiByKey("p95_latency_ms")); d != "better" {
				t.Fatalf("lower p95 reported as %q", d)
			}
		}
	}
	if rate := float64(marked) / trials; rate < 0.9 {
		t.Errorf("a real difference was marked in %.0f %% of %d experiments, want ≥ 90 %%", 100*rate, trials)
	}
}

// TestIdenticalPoliciesAtNominalRate: two policies from the same distribution (paired by
// common noise). Over 2000 experiments the unadjusted paired t-test of one KPI rejects at
// about α = 0.05 (binomial SD √(0.05·0.95/2000) ≈ 0.0049; accepted band ±4 SD), and the
// family-wise rate of any mark after Holm over the three independent latency tests is at
// most α: 1 − (1 − 0.05/3)³ ≈ 0.049 for Bonferroni, Holm being close for a null family.
func TestIdenticalPoliciesAtNominalRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const trials = 2000
	single, family := 0, 0
	for i := 0; i < trials; i++ {
		a := Analyze(synthetic(rng, 5, 0), 0.05)
		if c := a.Comparisons[Key{"p", "new", "p95_latency_ms"}]; c.Paired.P <= 0.05 {
			single++
		}
		for _, c := range a.Comparisons {
			if m := Mark(c); m != "" && m != ConstantMark {
				family++
				break
			}
		}
	}
	if r := float64(single) / trials; math.Abs(r-0.05) > 4*0.0049 {
		t.Errorf("unadjusted rejection rate %.4f, want 0.05 ± 0.02", r)
	}
	if r := float64(family) / trials; r > 0.05+4*0.0049 || r < 0.02 {
		t.Errorf("family-wise mark rate %.4f, want ≤ 0.05 (about 0.049)", r)
	}
}

func TestMarksAndConstantDifferences(t *testing.T) {
	e := &Experiment{Info: experiments.ExperimentInfo{Baseline: "b", Policies: []string{"b", "x"}, Profiles: []string{"p"}, Repetitions: 3}}
	for rep := 0; rep < 3; rep++ {
		for pol, replicas := range map[string]float64{"b": 2, "x": 3} {
			e.Runs = append(e.Runs, &Run{Info: experiments.RunInfo{RunSpec: experiments.RunSpec{Policy: pol, Profile: "p", Repetition: rep, Seed: 7}},
				KPIs: framework.KPIs{MeanReplicas: replicas, P95LatencyMS: 10}})
		}
	}
	a := Analyze(e, 0.05)
	c := a.Comparisons[Key{"p", "x", "mean_replicas"}]
	if Mark(c) != ConstantMark || Direction(c, kpiByKey("mean_replicas")) != "worse" || c.Significant() {
		t.Errorf("constant +1 replica: mark %q, direction %q, significant %v", Mark(c), Direction(c, kpiByKey("mean_replicas")), c.Significant())
	}
	if c := a.Comparisons[Key{"p", "x", "p95_latency_ms"}]; Mark(c) != "" || !Negligible(c) {
		t.Errorf("identical p95: mark %q", Mark(c))
	}
	if got := MinWilcoxonP(5); got != 0.0625 {
		t.Errorf("MinWilcoxonP(5) = %v, want 2/32 = 0.0625", got)
	}
}

// TestConvergence: a return curve that rises linearly over the first 40 % of training and
// then stays flat with small noise converges near 40 %; a curve still rising at the end
// does not.
func TestConvergence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var xs, flat, rising []float64
	for i := 0; i < 1000; i++ {
		x := float64(i)
		xs = append(xs, x*100)
		v := math.Min(x/400, 1) * 100
		flat = append(flat, v+rng.NormFloat64())
		rising = append(rising, x/10+rng.NormFloat64())
	}
	c := DetectConvergence(xs, flat)
	// The rolling mean (window 50) is within ±5 % of the range (≈ 5) of 100 from about
	// episode 380 + window lag: the marker lies between 35 % and 50 % of training.
	if !c.Converged || c.At < 35000 || c.At > 50000 || c.Window != 50 {
		t.Errorf("flat-after-ramp: converged %v at %v (window %d), want converged at 35000..50000", c.Converged, c.At, c.Window)
	}
	if c := DetectConvergence(xs, rising); c.Converged {
		t.Errorf("a curve rising to the end was reported converged at %v", c.At)
	}
	if c := DetectConvergence(xs[:15], flat[:15]); c.Converged || len(c.X) != 0 {
		t.Error("15 episodes judged")
	}
}

// runFake runs the fake experiment (testdata/base.yaml plus sets) into root.
func runFake(t testing.TB, root string, sets ...string) *experiments.Result {
	t.Helper()
	reg := fakes.Registry(&fakes.Record{})
	l, err := config.LoadWithOptions("testdata/base.yaml", reg, config.Options{Sets: sets, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	b := &experiments.Builder{Loaded: l, Registry: reg, Logger: slog.New(slog.DiscardHandler)}
	res, err := b.RunExperiment(context.Background(), experiments.Options{Root: root, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var threePolicies = []string{"policies.three={type: fixed, replicas: 3}", "policies.one={type: fixed, replicas: 1}",
	"experiment.profiles=[flat, busy]", "experiment.repetitions=3"}

// TestRenderExperiment renders a real (fake-backend) experiment and checks what a reader
// relies on: the files, every section and table, figures that decode, an HTML page that
// needs no other file.
func TestRenderExperiment(t *testing.T) {
	root := t.TempDir()
	runFake(t, root, threePolicies...)
	out, err := RenderDirs(context.Background(), []string{root}, Options{Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Provenance", "config hash", "| experiment seed | 11 |", "## Profile `flat`", "## Profile `busy`",
		"### Differences to the baseline `two`", "p Holm", "Cliff's δ", "N for 80 %", "2/2⁵ = 0.0625", "## KPI charts",
		"## Resolved configuration", "| runs found | 18 of 18 |", "![Latency CDF and tail under flat load](plots/latency-cdf-flat.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// Fixed replicas 3 vs 2 in every pair: a constant difference, marked † and "worse".
	if !regexp.MustCompile("mean replicas \\(pods\\) \\| `three` \\| 3 \\| 1.00 ± 0 \\|.*\\| † worse \\|").Match(md) {
		t.Error("the constant replica difference of `three` is not reported as such")
	}
	// 2 profiles: cdf, replicas, reward per profile + 10 KPI charts.
	if len(out.Figures) != 2*3+len(KPIs()) {
		t.Errorf("%d figures, want %d", len(out.Figures), 2*3+len(KPIs()))
	}
	for _, f := range out.Figures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() < 500 {
			t.Errorf("%s: %v, %v", f, err, img.Bounds())
		}
		svg, err := os.ReadFile(strings.TrimSuffix(f, ".png") + ".svg")
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("%s has no SVG beside it", f)
		}
	}
	h, err := os.ReadFile(out.HTML)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(h), `src="data:image/png;base64,`); n != len(out.Figures) {
		t.Errorf("HTML embeds %d figures, want %d", n, len(out.Figures))
	}
	if regexp.MustCompile(`src="[^d]`).Match(h) || strings.Contains(string(h), "<link") {
		t.Error("HTML refers to external resources")
	}
	csv, _ := os.ReadFile(out.Comparisons)
	if lines := strings.Count(string(csv), "\n"); lines != 1+2*2*len(KPIs()) {
		t.Errorf("comparisons.csv has %d lines, want 1 + 2 policies × 2 profiles × %d KPIs", lines, len(KPIs()))
	}
	// Rendering again with fewer figures removes the stale ones.
	if _, err := RenderDirs(context.Background(), []string{root}, Options{NoSVG: true, NoHTML: true}); err != nil {
		t.Fatal(err)
	}
	if svgs, _ := filepath.Glob(filepath.Join(root, PlotsDir, "*.svg")); len(svgs) != 0 {
		t.Errorf("%d stale SVG files left", len(svgs))
	}
}

// TestLoadMergesRoots: runs split over two roots (as two workers write them) merge into
// the full experiment; the same run with another run hash in two roots is an error.
func TestLoadMergesRoots(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	runFake(t, a, threePolicies...)
	if err := os.MkdirAll(filepath.Join(b, "runs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"experiment.json", "config.resolved.yaml"} {
		copyFile(t, filepath.Join(a, f), filepath.Join(b, f))
	}
	if err := os.Rename(filepath.Join(a, "runs", "three"), filepath.Join(b, "runs", "three")); err != nil {
		t.Fatal(err)
	}
	st, err := Load(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Experiments[0].Runs); n != 18 {
		t.Errorf("merged %d runs, want 18", n)
	}
	if one, _ := Load(a); len(one.Experiments[0].Runs) != 12 {
		t.Errorf("root a alone has %d runs, want 12", len(one.Experiments[0].Runs))
	}
	// A conflicting copy of one run.
	c := filepath.Join(dir, "c")
	runFake(t, c, append(threePolicies, "policies.three.replicas=4")...)
	copyFile(t, filepath.Join(a, "experiment.json"), filepath.Join(c, "experiment.json"))
	if _, err := Load(b, c); err == nil || !strings.Contains(err.Error(), "differs between") {
		t.Errorf("conflicting runs merged: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a scalelab results folder") {
		t.Errorf("a folder without results: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRenderSweep renders a two-axis sweep with a learning policy: per-axis tables and
// figures, the per-cell effects, the training curves and the cells' own reports.
func TestRenderSweep(t *testing.T) {
	dir := t.TempDir()
	base, _ := filepath.Abs("testdata/base.yaml")
	file := filepath.Join(dir, "s.yaml")
	body := "name: s\nbase: " + base + `
set: {policies.learn: {type: learner, target: 3}}
axes:
  - {key: reward.terms.cost.weight, values: [0.5, 1]}
  - name: load
    variants:
      flat: {experiment.profiles: [flat]}
      both: {experiment.profiles: [flat, busy]}
`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "out")
	s, err := sweep.Open(file, sweep.Options{Registry: fakes.Registry(&fakes.Record{}), Root: root, Env: []string{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Execute(context.Background(), sweep.ExecOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	out, err := RenderDirs(context.Background(), []string{root}, Options{Version: "test", CellReports: true, NoSVG: true})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(out.Markdown)
	for _, want := range []string{"# s — sweep report", "## Cells", "`weight=0.5,load=both`", "## Effects against the baseline, per cell",
		"## Axis `weight`", "## Axis `load`", "### Profile `busy`", "## Training", "Too few episodes", "## Cells at a glance", "[report](cells/weight=1,load=flat/report.md)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("sweep report lacks %q", want)
		}
	}
	for _, f := range []string{"plots/axis-0-weight.png", "plots/axis-1-load.png", "plots/cells-flat.png", "plots/cells-busy.png", "plots/training-0.png",
		"cells/weight=0.5,load=both/report.md", "cells/weight=0.5,load=both/plots/kpi-p95_latency_ms.png"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}
