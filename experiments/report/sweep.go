package report

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/scalelab/scalelab/experiments/stats"
	"github.com/scalelab/scalelab/experiments/sweep"
)

// sweepKPIs are the KPIs of the sweep's cross-cell tables and figures.
var sweepKPIs = []string{"p95_latency_ms", "qos_violation_rate", "mean_replicas", "gpu_util", "reward_total"}

func kpiByKey(key string) KPI {
	for _, k := range KPIs() {
		if k.Key == key {
			return k
		}
	}
	return KPI{Key: key, Label: key}
}

// sweepDocument assembles a sweep's report: provenance, the cells, each cell's effects
// against its baseline, one table and figure per axis, overview figures, trainings and
// failures; with CellReports, also each cell's full report in its folder.
func (r *renderer) sweepDocument(ctx context.Context, st *Study) (*document, [][]string, error) {
	in := st.Sweep
	d := &document{title: in.Name + " — sweep report"}
	analyses := make([]*Analysis, len(st.Experiments))
	var rows [][]string
	profiles, policies, baseline := []string{}, []string{}, ""
	seenProf, seenPol := map[string]bool{}, map[string]bool{}
	var ref *Analysis // the analysis with the smallest N, for the method's notes
	for i, e := range st.Experiments {
		a := Analyze(e, r.o.Alpha)
		analyses[i] = a
		id := ""
		if e.Cell != nil {
			id = e.Cell.ID
		}
		rows = append(rows, comparisonRows(e, a, id)...)
		if baseline == "" {
			baseline = a.Baseline
		}
		for _, p := range a.Profiles {
			if !seenProf[p] {
				seenProf[p] = true
				profiles = append(profiles, p)
			}
		}
		for _, p := range a.Policies {
			if !seenPol[p] {
				seenPol[p] = true
				policies = append(policies, p)
			}
		}
		if len(a.Comparisons) > 0 && (ref == nil || a.MinN < ref.MinN) {
			ref = a
		}
	}
	if ref == nil {
		ref = &Analysis{Baseline: baseline, Alpha: r.o.Alpha}
	}
	colors := policyColors(policies, baseline)

	// Provenance.
	found, expected := 0, 0
	for _, e := range st.Experiments {
		found += len(e.Runs)
		if e.Cell != nil {
			expected += e.Cell.Runs
		}
	}
	axes := fmt.Sprintf("%d axes", len(in.Axes))
	if len(in.Axes) == 1 {
		axes = "one axis"
	}
	d.p("A sweep over %s in %s mode: %d cells, each an experiment of its own (the base config with the cell's overrides), "+
		"compared with the baseline `%s` within each cell on common random numbers.", axes, in.Mode, len(in.Cells), baseline)
	d.h(2, "Provenance")
	roots := make([]string, len(st.Roots))
	for i, rt := range st.Roots {
		roots[i] = "`" + filepath.ToSlash(rt) + "`"
	}
	prov := [][]string{
		{"sweep", "`" + in.Name + "`"},
		{"sweep file", "`" + in.File + "`"},
		{"base config", "`" + in.Base + "`"},
		{"mode", in.Mode},
		{"overrides of every cell (--set)", orDash(codeList(in.Sets))},
		{"cells", strconv.Itoa(len(in.Cells))},
		{"runs found", fmt.Sprintf("%d of %d", found, expected)},
		{"trainings", strconv.Itoa(len(in.Trainings))},
		{"scalelab version (plan)", "`" + in.Version + "`"},
		{"scalelab version (report)", "`" + r.o.Version + "`"},
		{"results folders", strings.Join(roots, ", ")},
	}
	if s := st.Status; s != nil {
		prov = append(prov, []string{"last full sweep", fmt.Sprintf("%d executed, %d reused, %d failed; %d trained, %d trainings reused; %.1f s",
			s.Executed, s.Reused, s.Failed, s.Trained, s.TrainReused, s.WallS)})
	}
	d.add(table{header: []string{"", ""}, rows: prov})
	d.h(3, "Axes")
	var axisRows [][]string
	for _, ax := range in.Axes {
		key := "named variants"
		if ax.Key != "" {
			key = "`" + ax.Key + "`"
		}
		axisRows = append(axisRows, []string{"`" + ax.Name + "`", key, codeList(ax.Labels)})
	}
	if len(axisRows) > 0 {
		d.add(table{header: []string{"axis", "sets", "values"}, rows: axisRows})
	} else {
		d.p("No axes: one cell, the base config.")
	}
	method(d, ref)

	// Cells.
	d.h(2, "Cells")
	head := []string{"cell"}
	for _, ax := range in.Axes {
		head = append(head, ax.Name)
	}
	head = append(head, "config hash", "runs", "report")
	var cellRows [][]string
	for _, e := range st.Experiments {
		if e.Cell == nil {
			continue
		}
		row := []string{"`" + e.Cell.ID + "`"}
		for _, ax := range in.Axes {
			row = append(row, e.Cell.Value(ax.Name))
		}
		link := "–"
		if r.o.CellReports {
			link = fmt.Sprintf("[report](%s)", filepath.ToSlash(filepath.Join(e.Dir, MarkdownFile)))
		}
		row = append(row, "`"+short(e.Cell.ConfigHash)+"`", fmt.Sprintf("%d / %d", len(e.Runs), e.Cell.Runs), link)
		cellRows = append(cellRows, row)
	}
	d.add(table{header: head, rows: cellRows})
	var sets []string
	for _, e := range st.Experiments {
		if e.Cell != nil {
			sets = append(sets, fmt.Sprintf("%s:\n  %s", e.Cell.ID, strings.Join(e.Cell.Sets, "\n  ")))
		}
	}
	d.add(codeBlock{summary: "Each cell's overrides of the base config, in the order applied; the sweep's own --set overrides follow, then the trained checkpoints (reproduce a cell with `scalelab run BASE --set ...`, or read its config.resolved.yaml)",
		text: strings.Join(sets, "\n")})

	// Effects per cell.
	d.h(2, "Effects against the baseline, per cell")
	d.p("Δ = policy − `%s` within the cell (mean ± 95 %% CI of the paired differences) with the Holm-corrected paired t-test's mark; "+
		"the full statistics are in `%s`.", baseline, ComparisonsFile)
	for _, prof := range profiles {
		d.h(3, "Profile `%s`", prof)
		t := table{header: []string{"cell", "policy"}, right: []bool{false, false}}
		for _, k := range sweepKPIs {
			t.header, t.right = append(t.header, "Δ "+axisLabel(kpiByKey(k))), append(t.right, true)
		}
		for i, e := range st.Experiments {
			a := analyses[i]
			for _, pol := range a.Policies {
				if pol == a.Baseline {
					continue
				}
				row := []string{"`" + cellID(e) + "`", "`" + pol + "`"}
				found := false
				for _, k := range sweepKPIs {
					c := a.Comparisons[Key{prof, pol, k}]
					if c == nil {
						row = append(row, "–")
						continue
					}
					found = true
					cell := meanCI(c.Diff)
					if m := Mark(c); m != "" {
						cell += " " + m + " " + Direction(c, kpiByKey(k))
					}
					row = append(row, cell)
				}
				if found {
					t.rows = append(t.rows, row)
				}
			}
		}
		if len(t.rows) > 0 {
			d.add(t)
		} else {
			d.p("No comparisons (only the baseline ran, or no pairs finished).")
		}
	}

	// Axes.
	for ai, ax := range in.Axes {
		d.h(2, "Axis `%s`", ax.Name)
		if len(in.Axes) > 1 {
			d.p("Each value pools the runs of every cell that has it, so the figures compare the values averaged over the other axes (a marginal view); per-cell effects are above.")
		}
		for _, prof := range profiles {
			d.h(3, "Profile `%s`", prof)
			t := table{header: []string{ax.Name, "policy"}, right: []bool{false, false}}
			for _, k := range sweepKPIs {
				t.header, t.right = append(t.header, axisLabel(kpiByKey(k))), append(t.right, true)
			}
			t.header, t.right = append(t.header, "runs"), append(t.right, true)
			for _, label := range ax.Labels {
				for _, pol := range policies {
					row := []string{"`" + label + "`", "`" + pol + "`"}
					n := 0
					for _, k := range sweepKPIs {
						xs := pooled(st, ax.Name, label, prof, pol, k)
						n = max(n, len(xs))
						row = append(row, meanCI(stats.Summarize(xs)))
					}
					if n > 0 {
						t.rows = append(t.rows, append(row, strconv.Itoa(n)))
					}
				}
			}
			d.add(t)
		}
		f := axisFigure(st, ax, profiles, policies, baseline, colors)
		d.add(r.figure(fmt.Sprintf("axis-%d-%s", ai, ax.Name), fmt.Sprintf("p95 latency against mean replicas per value of `%s` (mean ± 95 %% CI)", ax.Name), f))
	}

	// Overview figures.
	d.h(2, "Cells at a glance")
	for _, prof := range profiles {
		d.add(r.figure("cells-"+prof, fmt.Sprintf("Key KPIs per cell under %s load (mean ± 95 %% CI; marks against the baseline within the cell)", prof),
			cellsFigure(st, analyses, prof, policies, baseline, colors)))
	}
	if err := r.trainingSection(d, st.Trainings); err != nil {
		return nil, nil, err
	}
	if st.Status != nil && len(st.Status.Failures) > 0 {
		d.h(2, "Failures")
		var items []string
		for _, f := range st.Status.Failures {
			items = append(items, fmt.Sprintf("`%s`: %s", filepath.ToSlash(f.Dir), f.Error))
		}
		d.list(items...)
	}
	if r.o.CellReports {
		for i, e := range st.Experiments {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if err := r.cellReport(ctx, st, e, analyses[i]); err != nil {
				return nil, nil, fmt.Errorf("cell %s: %w", cellID(e), err)
			}
		}
	}
	return d, rows, nil
}

// cellReport renders a cell's full experiment report into its folder under the report's.
func (r *renderer) cellReport(ctx context.Context, st *Study, e *Experiment, a *Analysis) error {
	o := r.o
	o.Out = filepath.Join(r.dir, e.Dir)
	o.CellReports = false
	sub := &renderer{o: o, dir: o.Out}
	d := &document{title: fmt.Sprintf("%s — cell `%s`", st.Name, cellID(e))}
	cst := &Study{Kind: KindExperiment, Name: e.Info.Name, Roots: st.Roots, Experiments: []*Experiment{e}}
	sub.provenance(d, cst, e, a)
	if e.Cell != nil {
		d.add(codeBlock{summary: "The cell's overrides of the base config", text: strings.Join(e.Cell.Sets, "\n")})
	}
	var trainings []*Training
	for _, t := range st.Trainings {
		for _, c := range t.Cells {
			if c == cellID(e) {
				trainings = append(trainings, t)
			}
		}
	}
	if err := sub.experimentSections(d, e, a, "", trainings); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	if _, err := sub.flush(ctx); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(o.Out, MarkdownFile), []byte(d.Markdown())); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(o.Out, ComparisonsFile), comparisonsCSV(comparisonRows(e, a, ""), false)); err != nil {
		return err
	}
	if !o.NoHTML {
		h, err := d.HTML(o.Out)
		if err != nil {
			return err
		}
		return writeFile(filepath.Join(o.Out, HTMLFile), []byte(h))
	}
	return nil
}

func cellID(e *Experiment) string {
	if e.Cell == nil {
		return "base"
	}
	return e.Cell.ID
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// pooled returns a KPI's values over the runs of every cell whose axis has the label.
func pooled(st *Study, axis, label, profile, policy, kpi string) []float64 {
	var xs []float64
	for _, e := range st.Experiments {
		if e.Cell == nil || e.Cell.Value(axis) != label {
			continue
		}
		for _, r := range runsOf(e, profile, policy) {
			if v := r.KPIs.Get(kpi); !math.IsNaN(v) {
				xs = append(xs, v)
			}
		}
	}
	return xs
}

// glyphShapes mark an axis' values in its figure (colour marks the policy).
var glyphShapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.PlusGlyph{}}

// axisFigure: per profile, p95 latency against mean replicas (the cost) for every value of
// the axis (glyph shape) and policy (colour), with 95 % CI error bars both ways: the better
// design at equal cost lies lower. Points far above the rest (more than 4 × the upper
// quartile of the latencies) would squash the others: they are drawn at the top edge with
// their value written beside them.
func axisFigure(st *Study, ax sweep.AxisInfo, profiles, policies []string, baseline string, colors map[string]color.Color) *fig {
	type pt struct {
		x, y stats.Summary
	}
	data := map[[3]string]pt{}
	for _, prof := range profiles {
		for _, pol := range policies {
			for _, label := range ax.Labels {
				x := stats.Summarize(pooled(st, ax.Name, label, prof, pol, "mean_replicas"))
				y := stats.Summarize(pooled(st, ax.Name, label, prof, pol, "p95_latency_ms"))
				if x.N > 0 && y.N > 0 {
					data[[3]string{prof, pol, label}] = pt{x, y}
				}
			}
		}
	}
	shapes := len(ax.Labels) <= len(glyphShapes)
	var row []*plot.Plot
	for _, prof := range profiles {
		var ys []float64
		for k, d := range data {
			if k[0] == prof {
				ys = append(ys, d.y.Mean)
			}
		}
		limit := math.Inf(1)
		if q := stats.Quantile(ys, 0.75); q > 0 {
			limit = 4 * q
		}
		top := 0.0
		for k, d := range data {
			if k[0] == prof && d.y.Mean <= limit {
				top = math.Max(top, math.Max(d.y.Mean, zeroNaN(d.y.CIHigh)))
			}
		}
		clipped := !math.IsInf(limit, 1) && top > 0
		p := newPlot(prof+" load", "mean replicas (pods)", "p95 latency (ms)")
		for _, pol := range policies {
			c := colors[pol]
			for li, label := range ax.Labels {
				d, ok := data[[3]string{prof, pol, label}]
				if !ok {
					continue
				}
				glyph := draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: glyphShapes[li%len(glyphShapes)]}
				if clipped && d.y.Mean > limit {
					at := points{x: []float64{d.x.Mean}, y: []float64{top * 1.12}}
					if sc, err := plotter.NewScatter(at); err == nil {
						sc.GlyphStyle = glyph
						p.Add(sc)
					}
					text := fmt.Sprintf("↑ %s ms", fmtNum(d.y.Mean))
					if !shapes {
						text = label + " " + text
					}
					if lb, err := plotter.NewLabels(labelled{at, []string{text}}); err == nil {
						lb.TextStyle[0] = textStyle(fontSize - 2)
						lb.TextStyle[0].Color = c
						lb.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(-4)}
						p.Add(lb)
					}
					continue
				}
				pts := points{x: []float64{d.x.Mean}, y: []float64{d.y.Mean}, xerr: []float64{zeroNaN(d.x.HalfWidth())}, yerr: []float64{zeroNaN(d.y.HalfWidth())}}
				xe, err1 := plotter.NewXErrorBars(pts)
				ye, err2 := plotter.NewYErrorBars(pts)
				if err1 == nil && err2 == nil {
					xe.LineStyle.Color, ye.LineStyle.Color = c, c
					p.Add(xe, ye)
				}
				sc, err := plotter.NewScatter(pts)
				if err != nil {
					continue
				}
				sc.GlyphStyle = glyph
				p.Add(sc)
				if !shapes {
					if lb, err := plotter.NewLabels(labelled{pts, []string{label}}); err == nil {
						lb.TextStyle[0] = textStyle(fontSize - 2)
						lb.TextStyle[0].Color = c
						lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(2)}
						p.Add(lb)
					}
				}
			}
		}
		if clipped {
			p.Y.Max = top * 1.2
		}
		row = append(row, p)
	}
	legend := policyLegend(policies, colors, baseline)
	if shapes {
		for li, label := range ax.Labels {
			legend = append(legend, legendItem{ax.Name + "=" + label, glyphThumb{draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: glyphShapes[li]}}})
		}
	}
	return &fig{
		title:  fmt.Sprintf("Axis %s: p95 latency against cost (colour: policy, shape: value; lower left is better)", ax.Name),
		legend: legend,
		plots:  [][]*plot.Plot{row},
		w:      vg.Length(max(16, 9*len(row))) * vg.Centimeter, h: 11 * vg.Centimeter,
	}
}

// labelled are points with text labels.
type labelled struct {
	points
	labels []string
}

func (l labelled) Label(i int) string { return l.labels[i] }

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// cellsFigure: the sweep's key KPIs per cell and policy under one profile.
func cellsFigure(st *Study, analyses []*Analysis, prof string, policies []string, baseline string, colors map[string]color.Color) *fig {
	var cells []string
	for _, e := range st.Experiments {
		cells = append(cells, cellID(e))
	}
	cs := make([]color.Color, len(policies))
	for i, p := range policies {
		cs[i] = colors[p]
	}
	var grid [][]*plot.Plot
	var row []*plot.Plot
	keys := []string{"p95_latency_ms", "qos_violation_rate", "mean_replicas", "reward_total"}
	bars := len(cells) * max(1, len(policies))
	perRow := 2
	if bars > 16 {
		perRow = 1 // many bars: one panel per row, full width
	}
	for i, key := range keys {
		k := kpiByKey(key)
		p := newPlot(k.Label, "", axisLabel(k))
		groupedBars(p, cells, policies, cs, func(s, g int) (float64, float64, float64, string) {
			sm, ok := analyses[g].Summaries[Key{prof, policies[s], key}]
			if !ok {
				return math.NaN(), math.NaN(), math.NaN(), ""
			}
			return sm.Mean, sm.CILow, sm.CIHigh, Mark(analyses[g].Comparisons[Key{prof, policies[s], key}])
		})
		if len(cells) > 2 {
			p.X.Tick.Label.Rotation = math.Pi / 7
			p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
		}
		row = append(row, p)
		if (i+1)%perRow == 0 {
			grid = append(grid, row)
			row = nil
		}
	}
	w := vg.Length(min(34, max(20, 0.75*float64(bars)*float64(perRow)))) * vg.Centimeter
	return &fig{
		title:  fmt.Sprintf("Key KPIs per cell under %s load", prof),
		legend: policyLegend(policies, colors, baseline),
		plots:  grid,
		w:      w, h: vg.Length(3+8*float64(len(grid))) * vg.Centimeter,
	}
}
