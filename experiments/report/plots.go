package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/scalelab/scalelab/experiments/stats"
)

// policyColors gives every policy its colour for the whole report: the baseline dark grey,
// the others in palette order.
func policyColors(policies []string, baseline string) map[string]color.Color {
	out := map[string]color.Color{}
	i := 1
	for _, p := range policies {
		if p == baseline {
			out[p] = palette[0]
			continue
		}
		out[p] = colorAt(i)
		i++
	}
	return out
}

func policyLegend(policies []string, colors map[string]color.Color, baseline string) []legendItem {
	var out []legendItem
	for _, p := range policies {
		label := p
		if p == baseline {
			label += " (baseline)"
		}
		out = append(out, legendItem{label, fillThumb{colors[p]}})
	}
	return out
}

func axisLabel(k KPI) string { return fmt.Sprintf("%s (%s)", k.Label, k.Unit) }

// groupedBars adds one bars series per name in series to p over the groups 0..n-1; value
// returns mean, CI low, CI high and mark of (series i, group g).
func groupedBars(p *plot.Plot, groups []string, series []string, colors []color.Color,
	value func(s, g int) (mean, lo, hi float64, mark string)) {
	k := len(series)
	w := 0.8 / float64(max(k, 1))
	for i := range series {
		b := &bars{Offset: (float64(i) - float64(k-1)/2) * w, Width: w * 0.92, Fill: colors[i]}
		for g := range groups {
			m, lo, hi, mk := value(i, g)
			b.X, b.Y, b.Lo, b.Hi, b.Marks = append(b.X, float64(g)), append(b.Y, m), append(b.Lo, lo), append(b.Hi, hi), append(b.Marks, mk)
		}
		p.Add(b)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
}

// kpiFigure: one KPI, bars per policy grouped by profile, with 95 % CI error bars and the
// significance marks of the comparison with the baseline.
func kpiFigure(a *Analysis, k KPI, colors map[string]color.Color) *fig {
	n := 0
	for _, s := range a.Summaries {
		n = max(n, s.N)
	}
	p := newPlot("", "load profile", axisLabel(k))
	cs := make([]color.Color, len(a.Policies))
	for i, pol := range a.Policies {
		cs[i] = colors[pol]
	}
	groupedBars(p, a.Profiles, a.Policies, cs, func(s, g int) (float64, float64, float64, string) {
		sm, ok := a.Summaries[Key{a.Profiles[g], a.Policies[s], k.Key}]
		if !ok {
			return math.NaN(), math.NaN(), math.NaN(), ""
		}
		return sm.Mean, sm.CILow, sm.CIHigh, Mark(a.Comparisons[Key{a.Profiles[g], a.Policies[s], k.Key}])
	})
	return &fig{
		title:  fmt.Sprintf("%s: mean ± 95 %% CI, N = %d; vs %s: * p_Holm ≤ %.2g, † constant Δ", k.Label, n, a.Baseline, a.Alpha),
		legend: policyLegend(a.Policies, colors, a.Baseline),
		plots:  [][]*plot.Plot{{p}},
		w:      16 * vg.Centimeter, h: 10 * vg.Centimeter,
	}
}

// runsOf returns the experiment's runs of a profile and policy, by repetition.
func runsOf(e *Experiment, profile, policy string) []*Run {
	var out []*Run
	for _, r := range e.Runs {
		if r.Info.Profile == profile && r.Info.Policy == policy {
			out = append(out, r)
		}
	}
	return out
}

// cdfFigure: the latency distribution of each policy under one profile, pooled over the
// repetitions (each weighs the same): the CDF and, for the tail, 1 − CDF on log axes.
// Log axes are drawn as log10 of the data on linear axes with decade ticks (gonum/plot
// places axis labels of its log scale wrongly when aligning plots).
func cdfFigure(e *Experiment, a *Analysis, profile string, colors map[string]color.Color) (*fig, error) {
	left := newPlot("CDF", "latency x (ms, log scale)", "P(latency ≤ x)")
	right := newPlot("tail", "latency x (ms, log scale)", "P(latency > x), log scale")
	left.X.Tick.Marker, right.X.Tick.Marker, right.Y.Tick.Marker = decadeTicks{}, decadeTicks{}, decadeTicks{}
	left.Y.Min, left.Y.Max = 0, 1
	var legend []legendItem
	floor := math.Inf(1)
	for _, pol := range a.Policies {
		var cs []*cdf
		for _, r := range runsOf(e, profile, pol) {
			c, err := readCDF(r.Path)
			if err != nil {
				return nil, err
			}
			if len(c.x) > 0 {
				cs = append(cs, c)
			}
		}
		x, f := pooledCDF(cs, 400)
		if x == nil {
			continue
		}
		lx := make([]float64, len(x))
		tail := make([]float64, len(f))
		for i := range f {
			lx[i] = math.Log10(x[i])
			tail[i] = math.NaN()
			if t := 1 - f[i]; t > 1e-9 {
				tail[i] = math.Log10(t)
				floor = math.Min(floor, tail[i])
			}
		}
		st := lineStyle(colors[pol], 1.6)
		left.Add(line(lx, f, st))
		right.Add(line(lx, tail, st))
		label := pol
		if pol == a.Baseline {
			label += " (baseline)"
		}
		legend = append(legend, legendItem{fmt.Sprintf("%s (%d runs)", label, len(cs)), lineThumb{st}})
	}
	if !math.IsInf(floor, 1) {
		right.Y.Min, right.Y.Max = math.Max(math.Floor(floor), -7), 0
	}
	if e.SLO > 0 {
		slo := float64(e.SLO.Microseconds()) / 1000
		vs := draw.LineStyle{Color: rgb(0xB0, 0x00, 0x00), Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		left.Add(vline{x: math.Log10(slo), style: vs, label: fmt.Sprintf("SLO %g ms", slo)})
		right.Add(vline{x: math.Log10(slo), style: vs, label: fmt.Sprintf("SLO %g ms", slo)})
	}
	return &fig{
		title:  fmt.Sprintf("Latency distribution under %s load (after warm-up, repetitions pooled)", profile),
		legend: legend,
		plots:  [][]*plot.Plot{{left, right}},
		w:      20 * vg.Centimeter, h: 9.5 * vg.Centimeter,
	}, nil
}

// replicasFigure: the offered load over time (top) and, per policy, the desired and ready
// replicas of the first repetition, with the offered load scaled into the replica axis
// as a grey area behind them.
func replicasFigure(e *Experiment, a *Analysis, profile string, colors map[string]color.Color) (*fig, error) {
	type series struct {
		pol string
		tr  *trajectory
		rep int
	}
	var all []series
	var load *trajectory
	for _, pol := range a.Policies {
		runs := runsOf(e, profile, pol)
		if len(runs) == 0 {
			continue
		}
		tr, err := readTrajectory(runs[0].Path)
		if err != nil {
			return nil, err
		}
		all = append(all, series{pol, tr, runs[0].Info.Repetition})
		if load == nil && tr.haveRate {
			load = tr
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	end := 0.0
	for _, s := range all {
		if n := len(s.tr.t); n > 0 {
			end = math.Max(end, s.tr.t[n-1])
		}
	}
	if e.Duration > 0 {
		end = e.Duration.Seconds()
	}
	minutes := func(ts []float64) []float64 {
		out := make([]float64, len(ts))
		for i, t := range ts {
			out[i] = t / 60
		}
		return out
	}
	warm := draw.LineStyle{Color: color.Gray{Y: 110}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	var rows [][]*plot.Plot
	maxLoad := 0.0
	if load != nil {
		p := newPlot("offered load", "", "offered load (req/s)")
		p.Add(stepLine(minutes(load.t), load.rate, end/60, lineStyle(color.Black, 1)))
		for _, v := range load.rate {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				maxLoad = math.Max(maxLoad, v)
			}
		}
		p.Y.Min = 0
		if e.Warmup > 0 {
			p.Add(vline{x: e.Warmup.Minutes(), style: warm, label: "end of warm-up"})
		}
		rows = append(rows, []*plot.Plot{p})
	}
	maxRep := 1.0
	for _, s := range all {
		for i := range s.tr.desired {
			maxRep = math.Max(maxRep, s.tr.desired[i])
			if s.tr.ready != nil {
				maxRep = math.Max(maxRep, s.tr.ready[i])
			}
		}
	}
	for i, s := range all {
		xl := ""
		if i == len(all)-1 {
			xl = "time (min)"
		}
		title := s.pol
		if s.pol == a.Baseline {
			title += " (baseline)"
		}
		p := newPlot(fmt.Sprintf("%s, repetition %d", title, s.rep), xl, "replicas")
		if load != nil && maxLoad > 0 {
			xy := plotter.XYs{{X: load.t[0] / 60, Y: 0}}
			for j := range load.t {
				next := end
				if j+1 < len(load.t) {
					next = load.t[j+1]
				}
				v := load.rate[j] / maxLoad * maxRep
				if math.IsNaN(v) || math.IsInf(v, 0) {
					v = 0
				}
				xy = append(xy, plotter.XY{X: load.t[j] / 60, Y: v}, plotter.XY{X: next / 60, Y: v})
			}
			xy = append(xy, plotter.XY{X: end / 60, Y: 0})
			poly, err := plotter.NewPolygon(xy)
			if err == nil {
				poly.Color = color.Gray{Y: 232}
				poly.LineStyle.Width = 0
				p.Add(poly)
			}
		}
		c := colors[s.pol]
		p.Add(stepLine(minutes(s.tr.t), s.tr.desired, end/60, lineStyle(c, 1.6)))
		if s.tr.ready != nil {
			ds := lineStyle(c, 1.2)
			ds.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(stepLine(minutes(s.tr.t), s.tr.ready, end/60, ds))
		}
		if e.Warmup > 0 {
			p.Add(vline{x: e.Warmup.Minutes(), style: warm})
		}
		p.Y.Min, p.Y.Max = 0, maxRep+0.5
		p.Y.Tick.Marker = integerTicks{}
		rows = append(rows, []*plot.Plot{p})
	}
	for _, r := range rows {
		r[0].X.Min, r[0].X.Max = 0, end/60
	}
	black := lineStyle(color.Gray{Y: 60}, 1.6)
	dashed := lineStyle(color.Gray{Y: 60}, 1.2)
	dashed.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	legend := []legendItem{{"desired replicas", lineThumb{black}}, {"ready replicas", lineThumb{dashed}}}
	if load != nil {
		legend = append(legend, legendItem{fmt.Sprintf("offered load, scaled (%.0f req/s = %.0f replicas)", maxLoad, maxRep), fillThumb{color.Gray{Y: 215}}})
	}
	return &fig{
		title:  fmt.Sprintf("Replicas over time under %s load", profile),
		legend: legend,
		plots:  rows,
		w:      18 * vg.Centimeter, h: vg.Length(3.4+3.6*float64(len(rows))) * vg.Centimeter,
	}, nil
}

// decadeTicks marks an axis holding log10 of the data: the decades labelled with their
// value (0.01, 0.1, 1, 10, 1e-05 ...) and minor ticks at 2–9 times each (2× and 5×
// labelled too when the axis spans less than two decades).
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	if !(hi > lo) {
		return out
	}
	// Fewer than two decades in range: label 2× and 5× too.
	few := math.Floor(hi)-math.Ceil(lo) < 1
	for e := int(math.Floor(lo)); e <= int(math.Ceil(hi)); e++ {
		for m := 1; m <= 9; m++ {
			v := float64(e) + math.Log10(float64(m))
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || few && (m == 2 || m == 5) {
				t.Label = strconv.FormatFloat(float64(m)*math.Pow10(e), 'g', -1, 64)
			}
			out = append(out, t)
		}
	}
	return out
}

// integerTicks marks whole numbers only (replica counts).
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/6))
	var out []plot.Tick
	for v := math.Ceil(lo); v <= hi; v += step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
	}
	return out
}

// rewardTerms returns the reward terms recorded in the experiment's runs, sorted.
func rewardTerms(e *Experiment) []string {
	seen := map[string]bool{}
	for _, r := range e.Runs {
		for t := range r.KPIs.RewardTerms {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// rewardFigure: the weighted reward terms summed over each run, mean ± 95 % CI over the
// repetitions, grouped by policy.
func rewardFigure(e *Experiment, a *Analysis, profile string) *fig {
	terms := rewardTerms(e)
	if len(terms) == 0 {
		return nil
	}
	p := newPlot("", "policy", "weighted reward term, summed over the run")
	cs := make([]color.Color, len(terms))
	legend := make([]legendItem, len(terms))
	for i, t := range terms {
		cs[i] = colorAt(i + 1)
		legend[i] = legendItem{t, fillThumb{cs[i]}}
	}
	groupedBars(p, a.Policies, terms, cs, func(s, g int) (float64, float64, float64, string) {
		var xs []float64
		for _, r := range runsOf(e, profile, a.Policies[g]) {
			if v, ok := r.KPIs.RewardTerms[terms[s]]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) == 0 {
			return math.NaN(), math.NaN(), math.NaN(), ""
		}
		sm := stats.Summarize(xs)
		return sm.Mean, sm.CILow, sm.CIHigh, ""
	})
	return &fig{
		title:  fmt.Sprintf("Reward terms under %s load: mean ± 95 %% CI over repetitions", profile),
		legend: legend,
		plots:  [][]*plot.Plot{{p}},
		w:      16 * vg.Centimeter, h: 10 * vg.Centimeter,
	}
}

// trainingFigure: the episode returns over training steps with their rolling mean and the
// convergence marker, and — from the trainer's convergence record — the moving average,
// plateau bands, validation returns and the stop and best-checkpoint markers (top); the
// policy's stability on the probe states (middle); the trainer's per-iteration
// diagnostics (bottom).
func trainingFigure(t *Training) (*fig, *Convergence, *trainingRun, error) {
	run, err := readTrainingRun(t.Path)
	if err != nil {
		return nil, nil, nil, err
	}
	var rows [][]*plot.Plot
	var conv *Convergence
	var legend []legendItem
	if ep, err := readCSV(filepath.Join(t.Path, trainEpisodesFile)); err == nil && ep.col("global_step") >= 0 && ep.col("raw_return") >= 0 {
		xs, ys := ep.column("global_step"), ep.column("raw_return")
		p := newPlot("episode return", "environment steps", "return per episode")
		background := run.addBackground(p)
		sc, err := plotter.NewScatter(points{x: xs, y: ys, xerr: xs, yerr: ys})
		if err == nil {
			sc.GlyphStyle.Radius = vg.Points(1.2)
			sc.GlyphStyle.Color = withAlpha(palette[1], 90)
			p.Add(sc)
			legend = append(legend, legendItem{"episode return", fillThumb{withAlpha(palette[1], 120)}})
		}
		legend = append(legend, background...)
		c := DetectConvergence(xs, ys)
		conv = &c
		if len(c.X) > 0 {
			st := lineStyle(palette[2], 2)
			p.Add(line(c.X, c.Smoothed, st))
			legend = append(legend, legendItem{fmt.Sprintf("rolling mean over %d episodes", c.Window), lineThumb{st}})
			if c.Converged {
				vs := draw.LineStyle{Color: palette[6], Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
				p.Add(vline{x: c.At, style: vs, label: "converged"})
				legend = append(legend, legendItem{fmt.Sprintf("converged (within ±%.0f %% of range of the final mean)", 100*ConvergenceTolerance), lineThumb{vs}})
			}
		}
		legend = append(legend, run.addConvergence(p)...)
		rows = append(rows, []*plot.Plot{p})
	}
	if row := run.stabilityRow("environment steps"); row != nil {
		rows = append(rows, row)
		legend = append(legend, legendItem{"stability threshold", lineThumb{threshStyle}})
	}
	if it, err := readCSV(filepath.Join(t.Path, trainIterationsFile)); err == nil {
		x := it.column("global_step")
		xl := "environment steps"
		if x == nil {
			x, xl = it.column("iteration"), "iteration"
		}
		var row []*plot.Plot
		for _, c := range []struct{ col, title string }{
			{"entropy", "policy entropy"}, {"approx_kl", "approx. KL"}, {"explained_variance", "explained variance"}, {"clipfrac", "clip fraction"},
		} {
			ys := it.column(c.col)
			if ys == nil || x == nil {
				continue
			}
			p := newPlot(c.title, xl, c.col)
			p.Add(line(x, ys, lineStyle(palette[1], 1.2)))
			row = append(row, p)
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, nil, run, nil
	}
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	w := vg.Length(max(16, 6*cols)) * vg.Centimeter
	title := "Training " + t.Name
	if len(rows) == 1 {
		return &fig{title: title, legend: legend, plots: rows, w: w, h: 10 * vg.Centimeter}, conv, run, nil
	}
	// Returns on top at full width, each further row of panels below.
	stack := []*fig{{plots: rows[:1], w: w, h: 10 * vg.Centimeter}}
	h := 10 * vg.Centimeter
	for _, r := range rows[1:] {
		stack = append(stack, &fig{plots: [][]*plot.Plot{r}, w: w, h: 7 * vg.Centimeter})
		h += 7 * vg.Centimeter
	}
	return &fig{title: title, legend: legend, w: w, h: h + 2*vg.Centimeter, stack: stack}, conv, run, nil
}
