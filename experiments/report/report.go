package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scalelab/scalelab/experiments/stats"
	"github.com/scalelab/scalelab/framework"
)

// Files a report writes into its folder.
const (
	MarkdownFile    = "report.md"
	HTMLFile        = "report.html"
	ComparisonsFile = "comparisons.csv"
	PlotsDir        = "plots"
)

// Options configure Render.
type Options struct {
	// Out is the report's folder (default: the first results root).
	Out string
	// Alpha is the significance level (default 0.05).
	Alpha float64
	// DPI of the PNG figures (default 110).
	DPI int
	// NoSVG skips the SVG versions of the figures; NoHTML the HTML report.
	NoSVG, NoHTML bool
	// CellReports also renders each sweep cell's full report into the cell's folder.
	CellReports bool
	// Workers render figures in parallel (0 = GOMAXPROCS).
	Workers int
	// Version is the scalelab version that renders the report.
	Version string
	// Logger receives progress (default slog.Default()).
	Logger *slog.Logger
}

// Output says what Render wrote.
type Output struct {
	Markdown, HTML, Comparisons string
	// Figures are the PNG files written (each with an SVG beside it unless NoSVG).
	Figures []string
	Wall    time.Duration
}

// RenderDirs loads the results roots (Load) and renders their report (Render).
func RenderDirs(ctx context.Context, roots []string, o Options) (*Output, error) {
	st, err := Load(roots...)
	if err != nil {
		return nil, err
	}
	return Render(ctx, st, o)
}

// renderer collects the figures of one report and writes them.
type renderer struct {
	o       Options
	dir     string // report folder
	figures []pendingFigure
}

type pendingFigure struct {
	name string
	f    *fig
}

// figure queues f as plots/<name> and returns the document block that shows it.
func (r *renderer) figure(name, caption string, f *fig) figure {
	r.figures = append(r.figures, pendingFigure{name: name, f: f})
	fg := figure{caption: caption, png: PlotsDir + "/" + name + ".png"}
	if !r.o.NoSVG {
		fg.svg = PlotsDir + "/" + name + ".svg"
	}
	return fg
}

// flush renders the queued figures in parallel and removes stale ones from plots/.
func (r *renderer) flush(ctx context.Context) ([]string, error) {
	dir := filepath.Join(r.dir, PlotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, pf := range r.figures {
		keep[pf.name+".png"], keep[pf.name+".svg"] = true, !r.o.NoSVG
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if ext := filepath.Ext(e.Name()); (ext == ".png" || ext == ".svg") && !keep[e.Name()] {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	workers := r.o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan pendingFigure)
	errs := make([]error, len(r.figures))
	var wg sync.WaitGroup
	idx := map[string]int{}
	for i, pf := range r.figures {
		idx[pf.name] = i
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pf := range jobs {
				errs[idx[pf.name]] = pf.f.save(dir, pf.name, r.o.DPI, !r.o.NoSVG)
			}
		}()
	}
	var out []string
	for _, pf := range r.figures {
		if ctx.Err() != nil {
			break
		}
		jobs <- pf
		out = append(out, filepath.Join(dir, pf.name+".png"))
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

// Render writes the study's report into o.Out: report.md, report.html (self-contained:
// figures embedded as PNG), comparisons.csv (every comparison with every statistic) and
// plots/ (PNG and SVG).
func Render(ctx context.Context, st *Study, o Options) (*Output, error) {
	start := time.Now()
	if o.Out == "" {
		o.Out = st.Roots[0]
	}
	if !(o.Alpha > 0 && o.Alpha < 1) {
		o.Alpha = stats.DefaultAlpha
	}
	if o.DPI <= 0 {
		o.DPI = 110
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("report folder: %w", err)
	}
	r := &renderer{o: o, dir: o.Out}
	var d *document
	var rows [][]string
	var err error
	switch st.Kind {
	case KindSweep:
		d, rows, err = r.sweepDocument(ctx, st)
	default:
		e := st.Experiments[0]
		a := Analyze(e, o.Alpha)
		d = &document{title: st.Name + " — experiment report"}
		r.provenance(d, st, e, a)
		err = r.experimentSections(d, e, a, "", st.Trainings)
		rows = comparisonRows(e, a, "")
	}
	if err != nil {
		return nil, err
	}
	out := &Output{Markdown: filepath.Join(o.Out, MarkdownFile), Comparisons: filepath.Join(o.Out, ComparisonsFile)}
	if out.Figures, err = r.flush(ctx); err != nil {
		return nil, err
	}
	if err := framework.WriteFileAtomic(out.Markdown, []byte(d.Markdown())); err != nil {
		return nil, err
	}
	if err := framework.WriteFileAtomic(out.Comparisons, comparisonsCSV(rows, st.Kind == KindSweep)); err != nil {
		return nil, err
	}
	if !o.NoHTML {
		h, err := d.HTML(o.Out)
		if err != nil {
			return nil, err
		}
		out.HTML = filepath.Join(o.Out, HTMLFile)
		if err := framework.WriteFileAtomic(out.HTML, []byte(h)); err != nil {
			return nil, err
		}
	}
	out.Wall = time.Since(start)
	return out, nil
}

// provenance writes the experiment's identity: config, hash, seed, version, what ran.
func (r *renderer) provenance(d *document, st *Study, e *Experiment, a *Analysis) {
	in := e.Info
	expected := len(in.Policies) * len(in.Profiles) * in.Repetitions
	d.p("Policies compared with the baseline `%s` under each load profile over N = %d repetitions; "+
		"evaluation seeds are shared by all policies, so each repetition pairs the policies on identical arrivals (common random numbers).",
		a.Baseline, in.Repetitions)
	d.h(2, "Provenance")
	roots := make([]string, len(st.Roots))
	for i, rt := range st.Roots {
		roots[i] = "`" + filepath.ToSlash(rt) + "`"
	}
	d.add(table{header: []string{"", ""}, rows: [][]string{
		{"experiment", "`" + in.Name + "`"},
		{"config file", "`" + filepath.ToSlash(in.ConfigFile) + "`"},
		{"config hash (SHA-256)", "`" + in.ConfigHash + "`"},
		{"experiment seed", strconv.FormatUint(in.Seed, 10)},
		{"scalelab version (runs)", "`" + in.Version + "`"},
		{"scalelab version (report)", "`" + r.o.Version + "`"},
		{"baseline", "`" + in.Baseline + "`"},
		{"policies", codeList(a.Policies)},
		{"load profiles", codeList(a.Profiles)},
		{"repetitions (N)", strconv.Itoa(in.Repetitions)},
		{"runs found", fmt.Sprintf("%d of %d", len(e.Runs), expected)},
		{"results folders", strings.Join(roots, ", ")},
	}})
}

func codeList(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = "`" + x + "`"
	}
	return strings.Join(out, ", ")
}

// method explains the statistics in the tables.
func method(d *document, a *Analysis) {
	d.h(2, "How to read the tables")
	n := a.MinN
	items := []string{
		"Each cell is the **mean ± half-width of the 95 % confidence interval** (Student t, n − 1 degrees of freedom) over the repetitions. " +
			"Latency percentiles are per-run values from each run's merged latency histogram (warm-up excluded), never averages of per-window percentiles.",
		"**Δ** is policy − baseline, computed per repetition on the pair that ran under the same evaluation seed, with the 95 % CI of the mean difference.",
		fmt.Sprintf("The primary test is the **paired t-test** on those pairs. Its p-values are corrected with **Holm–Bonferroni** within each policy's family: "+
			"every KPI × load profile of that policy's comparison with `%s` (m tests per family, counted in the tables). "+
			"Marks: `*` p_Holm ≤ %.2g, `**` ≤ 0.01, `***` ≤ 0.001; *better*/*worse* follows each KPI's direction (lower latency, violations, replicas and scale events are better; higher utilisation, throughput and reward are better).",
			a.Baseline, a.Alpha),
		"Secondary tests, reported without correction: Welch's t-test (unpaired), the Mann–Whitney U test and the Wilcoxon signed-rank test (exact for small N, as SciPy's method='auto').",
		fmt.Sprintf("Rank tests need larger N: **at N = 5 the smallest attainable two-sided Wilcoxon signed-rank p-value is 2/2⁵ = 0.0625**, so the exact test cannot reject at α = 0.05 whatever the data; here the smallest N of a comparison is %d (exact floor %s). "+
			"(With tied or zero differences SciPy's method='auto', followed here, switches to the normal approximation, whose p-values can fall below that floor.)",
			n, fmtP(MinWilcoxonP(n))),
		"Effect sizes: **g_z** is Hedges' bias-corrected standardised mean difference of the pairs (d_z · J); **Cliff's δ** ∈ [−1, 1] is P(policy > baseline) − P(policy < baseline) over all cross pairs.",
		fmt.Sprintf("**Power** is the paired t-test's power at this N and α = %.2g to detect an effect of the observed size d_z; **N for 80 %%** is the number of pairs that would give 80 %% power (– when there is no effect to detect).", a.Alpha),
		"A KPI with the same value in every pair (for example no QoS violations under light load) has no defined t statistic: its p-value is –, it is not counted in the Holm family and never marked. " +
			"When every pair differs by the same nonzero amount the t statistic is undefined too; such a difference is marked `" + ConstantMark + "` (constant across pairs, typically deterministic under common random numbers) and not counted as significant. " +
			"Differences below 10⁻⁹ of the KPI's magnitude are floating-point rounding and shown as ≈ 0.",
	}
	if fam := familyText(a); fam != "" {
		items = append(items, "Holm family sizes (tests with a defined p-value): "+fam+".")
	}
	if a.decisionsDiffer {
		items = append(items, "**reward (sum)** sums each decision's reward over the run, and these policies take different numbers of decisions "+
			"(their own periods, e.g. a KPA ticks every 2 s, the HPA syncs every 15 s): compare the reward only between policies deciding at the same interval.")
	}
	d.list(items...)
}

func familyText(a *Analysis) string {
	var parts []string
	for _, pol := range a.Policies {
		if pol != a.Baseline {
			if m, ok := a.FamilySize[pol]; ok {
				parts = append(parts, fmt.Sprintf("`%s` m = %d", pol, m))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// experimentSections writes the per-profile tables and figures, the KPI charts, the
// trainings and the config. prefix makes figure names unique within a sweep report.
func (r *renderer) experimentSections(d *document, e *Experiment, a *Analysis, prefix string, trainings []*Training) error {
	method(d, a)
	colors := policyColors(a.Policies, a.Baseline)
	kpis := KPIs()
	for _, prof := range a.Profiles {
		d.h(2, "Profile `%s`", prof)
		d.h(3, "KPIs per policy")
		d.add(overviewTable(a, prof, kpis))
		if len(a.Policies) > 1 && a.Baseline != "" {
			d.h(3, "Differences to the baseline `%s`", a.Baseline)
			d.add(comparisonTable(a, prof, kpis))
		}
		d.h(3, "Figures")
		cf, err := cdfFigure(e, a, prof, colors)
		if err != nil {
			return err
		}
		if cf != nil {
			d.add(r.figure(prefix+"latency-cdf-"+prof, fmt.Sprintf("Latency CDF and tail under %s load", prof), cf))
		}
		rf, err := replicasFigure(e, a, prof, colors)
		if err != nil {
			return err
		}
		if rf != nil {
			d.add(r.figure(prefix+"replicas-"+prof, fmt.Sprintf("Replicas over time with the offered load under %s load (first repetition of each policy)", prof), rf))
		}
		if wf := rewardFigure(e, a, prof); wf != nil {
			d.add(r.figure(prefix+"reward-terms-"+prof, fmt.Sprintf("Reward-term breakdown under %s load", prof), wf))
		}
	}
	d.h(2, "KPI charts")
	d.p("One chart per KPI: bars are means over the repetitions, error bars the 95 %% CI; marks as in the tables.")
	for _, k := range kpis {
		d.add(r.figure(prefix+"kpi-"+k.Key, fmt.Sprintf("%s per policy and profile", axisLabel(k)), kpiFigure(a, k, colors)))
	}
	if err := r.trainingSection(d, trainings); err != nil {
		return err
	}
	missing := missingRuns(e, a)
	if len(missing) > 0 {
		d.h(2, "Missing runs")
		d.p("These runs of the matrix have no finished results (they failed or did not run); statistics use the repetitions present, and comparisons the pairs present.")
		d.list(missing...)
	}
	if e.Config != "" {
		d.h(2, "Resolved configuration")
		d.add(codeBlock{lang: "yaml", summary: "config.resolved.yaml", text: e.Config})
	}
	return nil
}

func (r *renderer) trainingSection(d *document, trainings []*Training) error {
	if len(trainings) == 0 {
		return nil
	}
	d.h(2, "Training")
	for i, t := range trainings {
		f, conv, run, err := trainingFigure(t)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		d.h(3, "`%s`", t.Name)
		if t.Policy != "" {
			d.p("Policy `%s`, evaluated in the cells %s.", t.Policy, codeList(t.Cells))
		}
		if conv != nil {
			switch {
			case len(conv.X) == 0:
				d.p("Too few episodes (fewer than %d) to judge convergence.", 2*conv.Window)
			case conv.Converged:
				d.p("Converged at step %.0f: from there the rolling mean of the return (window %d episodes) stays within ±%.0f %% of its range around its final value %.4g.",
					conv.At, conv.Window, 100*ConvergenceTolerance, conv.Final)
			default:
				d.p("**Not converged**: the rolling mean of the return (window %d episodes) was still moving during the last %.0f %% of training (final value %.4g); consider a larger budget.",
					conv.Window, 100*StableFraction, conv.Final)
			}
		}
		if txt := run.describe(); txt != "" {
			d.p("%s", txt)
		}
		d.add(r.figure(fmt.Sprintf("training-%d", i), "Training curves of "+t.Name, f))
	}
	return nil
}

func missingRuns(e *Experiment, a *Analysis) []string {
	have := map[string]bool{}
	for _, r := range e.Runs {
		have[fmt.Sprintf("%s/%s/%d", r.Info.Policy, r.Info.Profile, r.Info.Repetition)] = true
	}
	var out []string
	for _, pol := range e.Info.Policies {
		for _, prof := range e.Info.Profiles {
			for rep := 0; rep < e.Info.Repetitions; rep++ {
				if !have[fmt.Sprintf("%s/%s/%d", pol, prof, rep)] {
					out = append(out, fmt.Sprintf("`%s`", filepath.ToSlash(filepath.Join(e.Dir, "runs", pol, prof, fmt.Sprintf("rep-%d", rep)))))
				}
			}
		}
	}
	return out
}

// overviewTable: rows policies, columns KPIs, cells mean ± CI with the significance mark.
func overviewTable(a *Analysis, prof string, kpis []KPI) table {
	t := table{header: []string{"policy"}, right: []bool{false}}
	for _, k := range kpis {
		t.header = append(t.header, axisLabel(k))
		t.right = append(t.right, true)
	}
	t.header, t.right = append(t.header, "n"), append(t.right, true)
	for _, pol := range a.Policies {
		name := "`" + pol + "`"
		if pol == a.Baseline {
			name += " (baseline)"
		}
		row := []string{name}
		n := 0
		for _, k := range kpis {
			sm, ok := a.Summaries[Key{prof, pol, k.Key}]
			if !ok {
				row = append(row, "–")
				continue
			}
			n = max(n, sm.N)
			cell := meanCI(sm)
			if m := Mark(a.Comparisons[Key{prof, pol, k.Key}]); m != "" {
				cell += " " + m
			}
			row = append(row, cell)
		}
		row = append(row, strconv.Itoa(n))
		t.rows = append(t.rows, row)
	}
	return t
}

// comparisonTable: one row per KPI and policy with every statistic of the comparison.
func comparisonTable(a *Analysis, prof string, kpis []KPI) table {
	t := table{
		header: []string{"KPI", "policy", "N pairs", "Δ mean ± CI", "p (paired t)", "p Holm", "sig.", "p Welch", "p Mann–Whitney", "p Wilcoxon", "g_z", "Cliff's δ", "power", "N for 80 %"},
		right:  []bool{false, false, true, true, true, true, false, true, true, true, true, true, true, true},
	}
	for _, k := range kpis {
		for _, pol := range a.Policies {
			c := a.Comparisons[Key{prof, pol, k.Key}]
			if pol == a.Baseline || c == nil {
				continue
			}
			sig := Mark(c)
			if dir := Direction(c, k); dir != "" {
				sig += " " + dir
			}
			n80 := "–"
			if c.NFor80 > 0 {
				n80 = strconv.Itoa(c.NFor80)
			}
			diff := meanCI(c.Diff)
			if Negligible(c) {
				diff = "≈ 0"
			}
			t.rows = append(t.rows, []string{axisLabel(k), "`" + pol + "`", strconv.Itoa(c.N), diff,
				fmtP(c.Paired.P), fmtP(c.PHolm), sig, fmtP(c.Welch.P), fmtP(c.MannWhitney.P), fmtP(c.Wilcoxon.P),
				fmtFixed(c.HedgesGz, 2), fmtFixed(c.CliffsDelta, 2), fmtFixed(c.Power, 2), n80})
		}
	}
	return t
}

// meanCI renders mean ± CI half-width with precision suited to the interval.
func meanCI(s stats.Summary) string {
	if s.N == 0 || math.IsNaN(s.Mean) {
		return "–"
	}
	h := s.HalfWidth()
	if s.N < 2 || math.IsNaN(h) {
		return fmtNum(s.Mean)
	}
	return fmtNum(s.Mean) + " ± " + fmtNum(h)
}

// fmtNum renders a number with about three significant digits.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case a == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func fmtFixed(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// fmtP renders a p-value: two significant digits, "< 0.0001" below.
func fmtP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "–"
	case p < 1e-4:
		return "< 0.0001"
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}

// comparisonRows returns the experiment's comparisons as CSV rows (cell first).
func comparisonRows(e *Experiment, a *Analysis, cell string) [][]string {
	var rows [][]string
	g := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 10, 64)
	}
	for _, prof := range a.Profiles {
		for _, pol := range a.Policies {
			for _, k := range KPIs() {
				c := a.Comparisons[Key{prof, pol, k.Key}]
				if c == nil {
					continue
				}
				rows = append(rows, []string{cell, prof, pol, a.Baseline, k.Key, strconv.Itoa(c.N),
					g(c.Policy.Mean), g(c.Baseline.Mean), g(c.Diff.Mean), g(c.Diff.CILow), g(c.Diff.CIHigh),
					g(c.Paired.P), g(c.PHolm), strconv.FormatBool(c.Significant()), Direction(c, k),
					g(c.Welch.P), g(c.MannWhitney.P), g(c.Wilcoxon.P), g(c.HedgesG), g(c.HedgesGz), g(c.CliffsDelta),
					g(c.Dz), g(c.Power), strconv.Itoa(c.NFor80)})
			}
		}
	}
	return rows
}

func comparisonsCSV(rows [][]string, withCell bool) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"cell", "profile", "policy", "baseline", "kpi", "n_pairs", "policy_mean", "baseline_mean", "diff_mean",
		"diff_ci_low", "diff_ci_high", "p_paired_t", "p_holm", "significant", "direction", "p_welch", "p_mann_whitney",
		"p_wilcoxon", "hedges_g", "hedges_gz", "cliffs_delta", "dz", "power", "n_for_80"}
	start := 1
	if withCell {
		start = 0
	}
	_ = w.Write(head[start:])
	for _, r := range rows {
		_ = w.Write(r[start:])
	}
	w.Flush()
	return buf.Bytes()
}

func writeFile(path string, data []byte) error { return framework.WriteFileAtomic(path, data) }
