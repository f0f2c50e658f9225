package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Files of a training folder the training figure reads (written by policies/ppo).
const (
	trainEpisodesFile    = "episodes.csv"
	trainIterationsFile  = "iterations.csv"
	trainConvergenceFile = "convergence.csv"
	trainSummaryFile     = "summary.json"
)

// trainSummary is the part of a trainer's summary.json the report uses (policies/ppo's
// Summary; every field optional).
type trainSummary struct {
	Iterations  int               `json:"iterations"`
	GlobalStep  int64             `json:"global_steps"`
	StopReason  string            `json:"stop_reason"`
	Convergence *trainConvergence `json:"convergence"`
	Validations int               `json:"validations"`
	Best        *struct {
		Iteration  int     `json:"iteration"`
		GlobalStep int64   `json:"global_step"`
		MeanReturn float64 `json:"eval_mean_return"`
		StdReturn  float64 `json:"eval_std_return"`
		Episodes   int     `json:"eval_episodes"`
	} `json:"best"`
	Selected          string `json:"selected"`
	SelectedIteration int    `json:"selected_iteration"`
}

// trainConvergence is summary.json's convergence section.
type trainConvergence struct {
	Window            int      `json:"window"`
	MinImprovement    float64  `json:"min_improvement"`
	PlateauPatience   int      `json:"plateau_patience"`
	StopOnPlateau     bool     `json:"stop_on_plateau"`
	Probes            int      `json:"probes"`
	MaxKL             float64  `json:"max_kl"`
	MinAgreement      float64  `json:"min_agreement"`
	StablePatience    int      `json:"stable_patience"`
	StopOnStable      bool     `json:"stop_on_stable"`
	MovingAverage     *float64 `json:"mean_return_ma"`
	PlateauIterations int      `json:"plateau_iterations"`
	StableIterations  int      `json:"stable_iterations"`
}

// trainingRun is a training folder's convergence record.
type trainingRun struct {
	summary *trainSummary // nil without summary.json
	conv    *csvTable     // nil without convergence.csv
	// Derived from convergence.csv: the step of each iteration, the start (steps) of the
	// plateau run in progress at the end, and the early stop.
	steps        []float64
	plateauSince float64 // NaN when the run did not end on a plateau
	stopStep     float64 // NaN without an early stop
	stopReason   string
}

// earlyStops are the stop reasons that end training before its budget.
var earlyStops = map[string]bool{"plateau": true, "stable": true}

// readTrainingRun reads summary.json and convergence.csv of a training folder; missing
// files leave their parts nil.
func readTrainingRun(dir string) (*trainingRun, error) {
	r := &trainingRun{plateauSince: math.NaN(), stopStep: math.NaN()}
	var s trainSummary
	if err := readJSON(filepath.Join(dir, trainSummaryFile), &s); err == nil {
		r.summary = &s
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	conv, err := readCSV(filepath.Join(dir, trainConvergenceFile))
	if err != nil {
		if os.IsNotExist(err) {
			return r, nil
		}
		return nil, err
	}
	if conv.col("global_step") < 0 || len(conv.rows) == 0 {
		return r, nil
	}
	r.conv = conv
	r.steps = conv.column("global_step")
	if pl := conv.column("plateau"); pl != nil {
		n := len(pl)
		for i := n - 1; i >= 0 && pl[i] == 1; i-- {
			r.plateauSince = r.previousStep(i)
		}
	}
	if r.summary != nil && earlyStops[r.summary.StopReason] {
		r.stopStep, r.stopReason = r.steps[len(r.steps)-1], r.summary.StopReason
	}
	return r, nil
}

// previousStep is where iteration i's rollout started: the previous iteration's step (0
// before the first).
func (r *trainingRun) previousStep(i int) float64 {
	if i == 0 {
		return 0
	}
	return r.steps[i-1]
}

// spans are shaded vertical bands [x0, x1) across a plot (plateau iterations); they do
// not take part in the axis ranges.
type spans struct {
	x0, x1 []float64
	fill   color.Color
}

func (s spans) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for i := range s.x0 {
		a, b := math.Max(float64(trX(s.x0[i])), float64(c.Min.X)), math.Min(float64(trX(s.x1[i])), float64(c.Max.X))
		if b <= a {
			continue
		}
		c.FillPolygon(s.fill, []vg.Point{{X: vg.Length(a), Y: c.Min.Y}, {X: vg.Length(a), Y: c.Max.Y}, {X: vg.Length(b), Y: c.Max.Y}, {X: vg.Length(b), Y: c.Min.Y}})
	}
}

// plateauSpans merges consecutive plateau iterations into bands from the start of the
// first one's rollout to the last one's step.
func (r *trainingRun) plateauSpans() spans {
	s := spans{fill: color.Gray{Y: 228}}
	pl := r.conv.column("plateau")
	for i := 0; i < len(pl); i++ {
		if pl[i] != 1 {
			continue
		}
		j := i
		for j+1 < len(pl) && pl[j+1] == 1 {
			j++
		}
		s.x0, s.x1 = append(s.x0, r.previousStep(i)), append(s.x1, r.steps[j])
		i = j
	}
	return s
}

// hline is a horizontal line at y across the plot (a threshold).
type hline struct {
	y     float64
	style draw.LineStyle
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	if y < c.Min.Y || y > c.Max.Y {
		return
	}
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}

// DataRange keeps the threshold in view.
func (h hline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), h.y, h.y
}

var (
	stopStyle    = draw.LineStyle{Color: rgb(0xB0, 0x00, 0x00), Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	bestStyle    = draw.LineStyle{Color: palette[3], Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	plateauStyle = draw.LineStyle{Color: color.Gray{Y: 120}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
	threshStyle  = draw.LineStyle{Color: color.Gray{Y: 40}, Width: vg.Points(0.9), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
)

// marker is a vertical line at x across the plot with its label in text row `row` from
// the top (so the labels of nearby markers do not overlap), drawn left of the line in the
// right quarter of the plot.
type marker struct {
	x     float64
	row   int
	style draw.LineStyle
	label string
}

func (m marker) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(m.x)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	c.StrokeLine2(m.style, x, c.Min.Y, x, c.Max.Y)
	if m.label == "" {
		return
	}
	sty := textStyle(fontSize - 2)
	sty.YAlign, sty.Color = draw.YTop, m.style.Color
	y := c.Max.Y - vg.Points(2) - vg.Length(m.row)*(sty.Height("Mg")+vg.Points(1))
	if x > c.Min.X+(c.Max.X-c.Min.X)*3/4 {
		sty.XAlign = draw.XRight
		c.FillText(sty, vg.Point{X: x - vg.Points(2), Y: y}, m.label)
		return
	}
	sty.XAlign = draw.XLeft
	c.FillText(sty, vg.Point{X: x + vg.Points(2), Y: y}, m.label)
}

// addBackground draws the plateau bands onto the return plot p (before the data) and
// returns their legend entry.
func (r *trainingRun) addBackground(p *plot.Plot) []legendItem {
	if r.conv == nil {
		return nil
	}
	sp := r.plateauSpans()
	if len(sp.x0) == 0 {
		return nil
	}
	p.Add(sp)
	eps := ""
	if r.summary != nil && r.summary.Convergence != nil {
		eps = fmt.Sprintf(" (improvement < %g)", r.summary.Convergence.MinImprovement)
	}
	return []legendItem{{"plateau" + eps, fillThumb{sp.fill}}}
}

// addConvergence draws the convergence record onto the return plot p over the data: the
// moving average of the monitor, the validation returns (mean ± std), and markers at the
// start of the final plateau, the early stop and the best checkpoint. It returns the
// legend entries.
func (r *trainingRun) addConvergence(p *plot.Plot) []legendItem {
	var legend []legendItem
	if r.conv == nil {
		return nil
	}
	win := ""
	if r.summary != nil && r.summary.Convergence != nil {
		win = fmt.Sprintf(" over %d iterations", r.summary.Convergence.Window)
	}
	if ma := r.conv.column("mean_return_ma"); ma != nil {
		st := lineStyle(palette[4], 1.6)
		p.Add(line(r.steps, ma, st))
		legend = append(legend, legendItem{"moving average" + win, lineThumb{st}})
	}
	if em, es := r.conv.column("eval_mean_return"), r.conv.column("eval_std"); em != nil {
		var pts points
		for i := range em {
			if !math.IsNaN(em[i]) {
				sd := 0.0
				if es != nil && !math.IsNaN(es[i]) {
					sd = es[i]
				}
				pts.x, pts.y = append(pts.x, r.steps[i]), append(pts.y, em[i])
				pts.xerr, pts.yerr = append(pts.xerr, 0), append(pts.yerr, sd)
			}
		}
		if pts.Len() > 0 {
			c := palette[5]
			eb := &yErrorBars{pts: pts, style: lineStyle(c, 1)}
			p.Add(eb)
			g := draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			p.Add(glyphs{pts: pts, style: g})
			n := ""
			if r.summary != nil && r.summary.Best != nil && r.summary.Best.Episodes > 0 {
				n = fmt.Sprintf(", %d episodes", r.summary.Best.Episodes)
			}
			legend = append(legend, legendItem{"validation return (mean ± std" + n + ")", glyphThumb{g}})
		}
	}
	if !math.IsNaN(r.plateauSince) {
		p.Add(marker{x: r.plateauSince, row: 1, style: plateauStyle, label: "plateau since"})
	}
	if !math.IsNaN(r.stopStep) {
		p.Add(marker{x: r.stopStep, row: 2, style: stopStyle, label: "stop: " + r.stopReason})
		legend = append(legend, legendItem{"early stop (" + r.stopReason + ")", lineThumb{stopStyle}})
	}
	if r.summary != nil && r.summary.Best != nil {
		b := r.summary.Best
		p.Add(marker{x: float64(b.GlobalStep), row: 3, style: bestStyle, label: fmt.Sprintf("best (it. %d)", b.Iteration)})
		sel := ""
		if r.summary.Selected == "best" {
			sel = ", selected"
		}
		legend = append(legend, legendItem{fmt.Sprintf("best checkpoint, iteration %d%s", b.Iteration, sel), lineThumb{bestStyle}})
	}
	return legend
}

// stabilityRow: the policy's stability on the probes over training — KL(π_old‖π_new)
// on a log scale, the greedy agreement and the entropy — with the stability thresholds.
func (r *trainingRun) stabilityRow(xl string) []*plot.Plot {
	if r.conv == nil {
		return nil
	}
	kl, agree, ent := r.conv.column("probe_kl"), r.conv.column("greedy_agreement"), r.conv.column("probe_entropy")
	if kl == nil || allNaN(kl) {
		return nil
	}
	var cv *trainConvergence
	if r.summary != nil {
		cv = r.summary.Convergence
	}
	st := lineStyle(palette[1], 1.2)
	lkl := make([]float64, len(kl))
	for i, v := range kl {
		lkl[i] = math.NaN()
		if v > 0 {
			lkl[i] = math.Log10(v)
		}
	}
	pk := newPlot("policy change on probes", xl, "KL(π_old‖π_new), log scale")
	pk.Y.Tick.Marker = decadeTicks{}
	pk.Add(line(r.steps, lkl, st))
	if cv != nil && cv.MaxKL > 0 {
		pk.Add(hline{y: math.Log10(cv.MaxKL), style: threshStyle})
	}
	pa := newPlot("greedy agreement", xl, "probes with unchanged greedy action")
	pa.Add(line(r.steps, agree, st))
	if cv != nil {
		pa.Add(hline{y: cv.MinAgreement, style: threshStyle})
	}
	pa.Y.Max = 1
	row := []*plot.Plot{pk, pa}
	if ent != nil && !allNaN(ent) {
		pe := newPlot("entropy on probes", xl, "nats")
		pe.Add(line(r.steps, ent, st))
		row = append(row, pe)
	}
	return row
}

func allNaN(xs []float64) bool {
	for _, v := range xs {
		if !math.IsNaN(v) {
			return false
		}
	}
	return true
}

// yErrorBars draws vertical error bars pts.y ± pts.yerr.
type yErrorBars struct {
	pts   points
	style draw.LineStyle
}

func (e *yErrorBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	capW := vg.Points(3)
	for i := range e.pts.x {
		x, lo, hi := trX(e.pts.x[i]), trY(e.pts.y[i]-e.pts.yerr[i]), trY(e.pts.y[i]+e.pts.yerr[i])
		c.StrokeLines(e.style, c.ClipLinesY([]vg.Point{{X: x, Y: lo}, {X: x, Y: hi}},
			[]vg.Point{{X: x - capW, Y: lo}, {X: x + capW, Y: lo}}, []vg.Point{{X: x - capW, Y: hi}, {X: x + capW, Y: hi}})...)
	}
}

func (e *yErrorBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range e.pts.x {
		xmin, xmax = math.Min(xmin, e.pts.x[i]), math.Max(xmax, e.pts.x[i])
		ymin, ymax = math.Min(ymin, e.pts.y[i]-e.pts.yerr[i]), math.Max(ymax, e.pts.y[i]+e.pts.yerr[i])
	}
	return
}

// glyphs draws one glyph per point (without the glyph boxes of plotter.Scatter).
type glyphs struct {
	pts   points
	style draw.GlyphStyle
}

func (g glyphs) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i := range g.pts.x {
		pt := vg.Point{X: trX(g.pts.x[i]), Y: trY(g.pts.y[i])}
		if c.Contains(pt) {
			c.DrawGlyph(g.style, pt)
		}
	}
}

// describe returns sentences about the run's stop, plateau, stability and best
// checkpoint for the report.
func (r *trainingRun) describe() string {
	s := r.summary
	if s == nil {
		return ""
	}
	var out []string
	switch {
	case earlyStops[s.StopReason]:
		out = append(out, fmt.Sprintf("Training **stopped early** (%s) after %d iterations, %d environment steps.", s.StopReason, s.Iterations, s.GlobalStep))
	case s.StopReason != "":
		out = append(out, fmt.Sprintf("Training used its whole budget: %d iterations, %d environment steps.", s.Iterations, s.GlobalStep))
	}
	if cv := s.Convergence; cv != nil {
		if cv.MovingAverage != nil {
			out = append(out, fmt.Sprintf("The moving average of the return over the last %d iterations ended at %.4g;", cv.Window, *cv.MovingAverage))
		}
		if cv.PlateauIterations > 0 {
			out = append(out, fmt.Sprintf("it had improved by less than %g (relative) on its best of %d iterations earlier for the last %d iterations (plateau).",
				cv.MinImprovement, cv.Window, cv.PlateauIterations))
		} else if cv.MovingAverage != nil {
			out = append(out, "it was not on a plateau at the end.")
		}
		if cv.Probes > 0 {
			out = append(out, fmt.Sprintf("On %d probe states the policy was stable (KL ≤ %g, greedy agreement ≥ %g) for the last %d iterations.",
				cv.Probes, cv.MaxKL, cv.MinAgreement, cv.StableIterations))
		}
	}
	if b := s.Best; b != nil {
		sel := "the final policy is the checkpoint"
		if s.Selected == "best" {
			sel = "it is the checkpoint"
		}
		out = append(out, fmt.Sprintf("Best of %d validations: iteration %d (step %d), mean validation return %.4g ± %.2g (std); %s.",
			s.Validations, b.Iteration, b.GlobalStep, b.MeanReturn, b.StdReturn, sel))
	}
	return strings.Join(out, " ")
}

// TrainingCurvesFile is the base name of the figure TrainingCurves writes.
const TrainingCurvesFile = "training"

// TrainingCurves renders the training curves of one training folder — a trainer's
// episodes.csv, iterations.csv, convergence.csv and summary.json — into
// <dir>/plots/training.png (at dpi; 110 when 0) and, with svg, training.svg: the episode
// returns with their rolling and moving averages, the plateau bands, the validation
// returns and the stop and best-checkpoint markers; the policy's stability on the probes;
// and the update diagnostics. It returns the files written (none when the folder holds no
// training record).
func TrainingCurves(dir string, dpi int, svg bool) ([]string, error) {
	if dpi <= 0 {
		dpi = 110
	}
	f, _, _, err := trainingFigure(&Training{Name: filepath.Base(dir), Path: dir})
	if err != nil || f == nil {
		return nil, err
	}
	out := filepath.Join(dir, PlotsDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("training curves: %w", err)
	}
	if err := f.save(out, TrainingCurvesFile, dpi, svg); err != nil {
		return nil, err
	}
	files := []string{filepath.Join(out, TrainingCurvesFile+".png")}
	if svg {
		files = append(files, filepath.Join(out, TrainingCurvesFile+".svg"))
	}
	return files, nil
}
