package report

import (
	"math"
	"sort"

	"github.com/scalelab/scalelab/experiments/stats"
	"github.com/scalelab/scalelab/framework"
)

// KPI describes one reported KPI.
type KPI struct {
	Key, Label, Unit string
	LowerIsBetter    bool
}

// KPIs are the reported KPIs, in table order (framework.KPINames).
func KPIs() []KPI {
	out := make([]KPI, len(framework.KPINames))
	for i, k := range framework.KPINames {
		out[i] = KPI{Key: k.Key, Label: k.Label, Unit: k.Unit, LowerIsBetter: k.LowerIsBetter}
	}
	return out
}

// Key addresses one (profile, policy, KPI) cell of an analysis.
type Key struct{ Profile, Policy, KPI string }

// Analysis holds an experiment's statistics: every KPI per profile and policy (mean ± 95 %
// Student-t CI over the repetitions) and every policy's comparison with the baseline per
// profile and KPI, paired by evaluation seed, Holm-corrected within each policy's family.
type Analysis struct {
	// Profiles and Policies in report order (baseline first).
	Profiles []string
	Policies []string
	Baseline string
	// Alpha is the significance level.
	Alpha float64
	// Summaries are over all finished runs of a (profile, policy).
	Summaries map[Key]stats.Summary
	// Comparisons are policy versus baseline (policy ≠ baseline), over the repetitions both
	// finished under the same seed; PHolm is set within the policy's family.
	Comparisons map[Key]*stats.Comparison
	// FamilySize is the number of tests Holm's correction counted per policy (comparisons
	// with a defined p-value).
	FamilySize map[string]int
	// MinN is the smallest number of pairs of any comparison (0 without comparisons).
	MinN int

	// decisionsDiffer is set when policies took different numbers of decisions in a
	// profile (their reward sums are then not comparable).
	decisionsDiffer bool
}

// Analyze computes the statistics of an experiment's runs at significance level alpha
// (outside (0, 1): 0.05). The Holm family of a policy is every KPI × profile comparison of
// that policy with the baseline (DESIGN.md: one report's family per policy-vs-baseline
// comparison).
func Analyze(e *Experiment, alpha float64) *Analysis {
	if !(alpha > 0 && alpha < 1) {
		alpha = stats.DefaultAlpha
	}
	a := &Analysis{Alpha: alpha, Baseline: e.Info.Baseline, Summaries: map[Key]stats.Summary{},
		Comparisons: map[Key]*stats.Comparison{}, FamilySize: map[string]int{}}
	a.Profiles, a.Policies = orderNames(e)
	// values[profile][policy][rep] = run
	byRep := map[[2]string]map[int]*Run{}
	for _, r := range e.Runs {
		k := [2]string{r.Info.Profile, r.Info.Policy}
		if byRep[k] == nil {
			byRep[k] = map[int]*Run{}
		}
		byRep[k][r.Info.Repetition] = r
	}
	for _, prof := range a.Profiles {
		for _, pol := range a.Policies {
			runs := byRep[[2]string{prof, pol}]
			reps := sortedReps(runs)
			for _, k := range KPIs() {
				var xs []float64
				for _, rep := range reps {
					if v := runs[rep].KPIs.Get(k.Key); !math.IsNaN(v) {
						xs = append(xs, v)
					}
				}
				if len(xs) > 0 {
					a.Summaries[Key{prof, pol, k.Key}] = stats.Summarize(xs)
				}
			}
		}
	}
	for _, prof := range a.Profiles {
		dec := -1
		for _, pol := range a.Policies {
			for _, r := range byRep[[2]string{prof, pol}] {
				if dec >= 0 && r.KPIs.Decisions != dec {
					a.decisionsDiffer = true
				}
				dec = r.KPIs.Decisions
			}
		}
	}
	if a.Baseline == "" {
		return a
	}
	a.MinN = -1
	for _, pol := range a.Policies {
		if pol == a.Baseline {
			continue
		}
		var family []*stats.Comparison
		for _, prof := range a.Profiles {
			base, runs := byRep[[2]string{prof, a.Baseline}], byRep[[2]string{prof, pol}]
			for _, k := range KPIs() {
				var x, y []float64
				for _, rep := range sortedReps(runs) {
					b, ok := base[rep]
					if !ok || b.Info.Seed != runs[rep].Info.Seed {
						continue
					}
					xv, yv := runs[rep].KPIs.Get(k.Key), b.KPIs.Get(k.Key)
					if math.IsNaN(xv) || math.IsNaN(yv) {
						continue
					}
					x, y = append(x, xv), append(y, yv)
				}
				if len(x) == 0 {
					continue
				}
				c := stats.Compare(x, y, alpha)
				a.Comparisons[Key{prof, pol, k.Key}] = &c
				family = append(family, &c)
				if a.MinN < 0 || c.N < a.MinN {
					a.MinN = c.N
				}
			}
		}
		cs := make([]stats.Comparison, len(family))
		for i, c := range family {
			cs[i] = *c
		}
		stats.HolmFamily(cs)
		for i, c := range family {
			c.PHolm = cs[i].PHolm
			if !math.IsNaN(c.Paired.P) {
				a.FamilySize[pol]++
			}
		}
	}
	if a.MinN < 0 {
		a.MinN = 0
	}
	return a
}

// orderNames returns the profiles (the experiment's order, then any others found) and the
// policies (baseline first, then by name).
func orderNames(e *Experiment) (profiles, policies []string) {
	seenProf, seenPol := map[string]bool{}, map[string]bool{}
	for _, p := range e.Info.Profiles {
		if !seenProf[p] {
			seenProf[p] = true
			profiles = append(profiles, p)
		}
	}
	var extraProf, pols []string
	for _, r := range e.Runs {
		if !seenProf[r.Info.Profile] {
			seenProf[r.Info.Profile] = true
			extraProf = append(extraProf, r.Info.Profile)
		}
		if !seenPol[r.Info.Policy] {
			seenPol[r.Info.Policy] = true
			pols = append(pols, r.Info.Policy)
		}
	}
	for _, p := range e.Info.Policies {
		if !seenPol[p] {
			seenPol[p] = true
			pols = append(pols, p)
		}
	}
	sort.Strings(extraProf)
	profiles = append(profiles, extraProf...)
	sort.Strings(pols)
	for _, p := range pols {
		if p == e.Info.Baseline {
			policies = append([]string{p}, policies...)
		} else {
			policies = append(policies, p)
		}
	}
	return profiles, policies
}

func sortedReps(m map[int]*Run) []int {
	out := make([]int, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Ints(out)
	return out
}

// ConstantMark marks a comparison whose pairs all differ by the same nonzero amount: the
// paired t statistic is undefined (zero variance), so no p-value exists, but the
// difference is not noise either (typically a deterministic effect under common random
// numbers). It never counts as significant.
const ConstantMark = "†"

// Mark is the significance mark of a comparison: "*", "**" or "***" when the
// Holm-adjusted paired t-test p-value is at most alpha, 0.01 or 0.001 (and alpha);
// ConstantMark for a constant nonzero difference; else "".
func Mark(c *stats.Comparison) string {
	if c == nil {
		return ""
	}
	if Constant(c) {
		return ConstantMark
	}
	if !c.Significant() {
		return ""
	}
	p := c.PHolm
	if math.IsNaN(p) {
		p = c.Paired.P
	}
	switch {
	case p <= 0.001:
		return "***"
	case p <= 0.01:
		return "**"
	}
	return "*"
}

// Constant reports whether every pair of the comparison differs by the same nonzero
// amount (up to rounding: the differences' spread is below 1e-12 of their mean).
func Constant(c *stats.Comparison) bool {
	if c == nil || c.N < 2 || c.Diff.Mean == 0 || math.IsNaN(c.Diff.Mean) || math.IsNaN(c.Diff.SD) {
		return false
	}
	return c.Diff.SD <= 1e-12*math.Abs(c.Diff.Mean)
}

// Negligible reports whether a comparison's mean difference and its spread are rounding
// noise: below 1e-9 of the larger mean.
func Negligible(c *stats.Comparison) bool {
	scale := math.Max(math.Abs(c.Policy.Mean), math.Abs(c.Baseline.Mean))
	sd := c.Diff.SD
	if math.IsNaN(sd) {
		sd = 0
	}
	return math.Abs(c.Diff.Mean) <= 1e-9*scale && sd <= 1e-9*scale
}

// Direction says whether a significant (or constant) difference is an improvement:
// "better", "worse" or "" (not significant, or no difference).
func Direction(c *stats.Comparison, k KPI) string {
	if c == nil || !(c.Significant() || Constant(c)) || c.Diff.Mean == 0 || math.IsNaN(c.Diff.Mean) {
		return ""
	}
	if (c.Diff.Mean < 0) == k.LowerIsBetter {
		return "better"
	}
	return "worse"
}

// MinWilcoxonP is the smallest two-sided p-value the exact Wilcoxon signed-rank test can
// reach with n pairs: 2/2ⁿ (every difference of one sign).
func MinWilcoxonP(n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return 2 / math.Pow(2, float64(n))
}
