package stats

import "math"

// DefaultAlpha is the significance level used when none is given.
const DefaultAlpha = 0.05

// Comparison is a policy-versus-baseline comparison of one KPI over N repetitions, paired
// by evaluation seed (common random numbers): Policy[i] and Baseline[i] ran under the same
// seed. The paired t-test is the primary test; the others are reported alongside.
type Comparison struct {
	// N is the number of pairs.
	N int `json:"n"`
	// Alpha is the significance level of the power analysis (and of Significant).
	Alpha float64 `json:"alpha"`
	// Policy, Baseline and Diff (policy − baseline per pair) summarise the samples with 95 %
	// Student-t intervals.
	Policy   Summary `json:"policy"`
	Baseline Summary `json:"baseline"`
	Diff     Summary `json:"diff"`
	// Paired is the primary test: the paired t-test on the pairs.
	Paired TTestResult `json:"paired_t"`
	// PHolm is Paired.P adjusted within its report family (set by HolmFamily; NaN until then).
	PHolm float64 `json:"p_holm"`
	// Welch, MannWhitney and Wilcoxon are the secondary tests.
	Welch       TTestResult    `json:"welch_t"`
	MannWhitney RankTestResult `json:"mann_whitney"`
	Wilcoxon    RankTestResult `json:"wilcoxon"`
	// HedgesG is the independent-samples g, HedgesGz the paired g_z, CliffsDelta Cliff's δ.
	HedgesG     float64 `json:"hedges_g"`
	HedgesGz    float64 `json:"hedges_gz"`
	CliffsDelta float64 `json:"cliffs_delta"`
	// Dz is the observed paired effect d_z = mean(diff)/sd(diff) the power refers to.
	Dz float64 `json:"dz"`
	// Power is the paired t-test's power at N and Alpha to detect an effect of size Dz.
	Power float64 `json:"power"`
	// NFor80 is the number of pairs that 80 % power would need for Dz; 0 when no N reaches it
	// (no effect, or the effect is undefined).
	NFor80 int `json:"n_for_80"`
}

// Compare compares policy with baseline, pairs matched by index (the same evaluation seed).
// alpha outside (0, 1) means DefaultAlpha. Degenerate inputs give NaN fields with Notes on
// the tests, never a panic: samples of unequal length make the paired statistics NaN (N and
// Diff then cover the common prefix), and constant differences (e.g. a KPI both policies
// hit exactly under every seed) leave the paired t-test, g_z, d_z and the power NaN.
func Compare(policy, baseline []float64, alpha float64) Comparison {
	if !(alpha > 0 && alpha < 1) {
		alpha = DefaultAlpha
	}
	diff := make([]float64, min(len(policy), len(baseline)))
	for i := range diff {
		diff[i] = policy[i] - baseline[i]
	}
	c := Comparison{
		N:           len(diff),
		Alpha:       alpha,
		Policy:      Summarize(policy),
		Baseline:    Summarize(baseline),
		Diff:        Summarize(diff),
		Paired:      PairedTTest(policy, baseline),
		PHolm:       math.NaN(),
		Welch:       WelchTTest(policy, baseline),
		MannWhitney: MannWhitneyU(policy, baseline),
		Wilcoxon:    WilcoxonSignedRank(policy, baseline),
		HedgesG:     HedgesG(policy, baseline),
		HedgesGz:    HedgesGPaired(policy, baseline),
		CliffsDelta: CliffsDelta(policy, baseline),
		Dz:          CohenDz(policy, baseline),
	}
	c.Power = PairedTTestPower(c.Dz, c.N, alpha)
	if n, ok := PairedTTestSampleSize(c.Dz, alpha, TargetPower); ok {
		c.NFor80 = n
	}
	return c
}

// Significant reports whether the primary test rejects at Alpha, using the Holm-adjusted
// p-value once HolmFamily has set it.
func (c Comparison) Significant() bool {
	if !math.IsNaN(c.PHolm) {
		return Significant(c.PHolm, c.Alpha)
	}
	return Significant(c.Paired.P, c.Alpha)
}

// HolmFamily sets PHolm of every comparison of one report family (all KPIs × profiles of one
// policy-versus-baseline comparison) to its Holm-adjusted paired-t p-value.
func HolmFamily(cs []Comparison) {
	p := make([]float64, len(cs))
	for i := range cs {
		p[i] = cs[i].Paired.P
	}
	for i, v := range Holm(p) {
		cs[i].PHolm = v
	}
}
