package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The student sleep data (Cushny & Peebles 1905, as in R's datasets::sleep): extra hours of
// sleep of 10 patients under two drugs.
var (
	sleep1 = []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
	sleep2 = []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}
)

// close reports whether got matches want to relative tolerance tol (absolute when want is 0).
func close(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if want == 0 {
		return math.Abs(got) <= tol
	}
	return math.Abs(got-want) <= tol*math.Abs(want)
}

func check(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if !close(got, want, tol) {
		t.Errorf("%s = %.15g, want %.15g (tol %g)", name, got, want, tol)
	}
}

func TestMeanStdDev(t *testing.T) {
	// R 4.2.2: mean(sleep$extra[1:10]) = 0.75, sd(...) = 1.78900965775916.
	check(t, "Mean", Mean(sleep1), 0.75, 1e-14)
	check(t, "StdDev", StdDev(sleep1), 1.78900965775916, 1e-13)
	check(t, "Mean(empty)", Mean(nil), math.NaN(), 0)
	check(t, "StdDev(one)", StdDev([]float64{3}), math.NaN(), 0)
	// Hand: {2, 4, 4, 4, 5, 5, 7, 9}: mean 5, Σ(x−5)² = 32, s = √(32/7).
	check(t, "StdDev(hand)", StdDev([]float64{2, 4, 4, 4, 5, 5, 7, 9}), math.Sqrt(32.0/7), 1e-14)
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name           string
		xs             []float64
		level          float64
		n              int
		mean, sd       float64
		ciLow, ciHigh  float64
		wantNaNCI      bool
		wantNaNMeanEtc bool
	}{
		// R: t.test(sleep$extra[1:10])$conf.int = (-0.529780413526232, 2.029780413526232).
		{name: "sleep 95%", xs: sleep1, level: 0.95, n: 10, mean: 0.75, sd: 1.78900965775916,
			ciLow: -0.529780413526232, ciHigh: 2.029780413526232},
		// R: t.test(sleep$extra[1:10], conf.level = 0.9)$conf.int.
		{name: "sleep 90%", xs: sleep1, level: 0.90, n: 10, mean: 0.75, sd: 1.78900965775916,
			ciLow: -0.287055278729259, ciHigh: 1.787055278729259},
		// Zero variance: the interval collapses to the mean.
		{name: "constant", xs: []float64{3, 3, 3}, level: 0.95, n: 3, mean: 3, sd: 0, ciLow: 3, ciHigh: 3},
		{name: "one value", xs: []float64{4}, level: 0.95, n: 1, mean: 4, sd: math.NaN(), wantNaNCI: true},
		{name: "empty", xs: nil, level: 0.95, n: 0, mean: math.NaN(), sd: math.NaN(), wantNaNCI: true},
		{name: "bad level", xs: sleep1, level: 1, n: 10, mean: 0.75, sd: 1.78900965775916, wantNaNCI: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Describe(tc.xs, tc.level)
			if s.N != tc.n {
				t.Errorf("N = %d, want %d", s.N, tc.n)
			}
			check(t, "Mean", s.Mean, tc.mean, 1e-13)
			check(t, "SD", s.SD, tc.sd, 1e-13)
			if tc.wantNaNCI {
				if !math.IsNaN(s.CILow) || !math.IsNaN(s.CIHigh) {
					t.Errorf("CI = [%v, %v], want NaN", s.CILow, s.CIHigh)
				}
				return
			}
			check(t, "CILow", s.CILow, tc.ciLow, 1e-12)
			check(t, "CIHigh", s.CIHigh, tc.ciHigh, 1e-12)
		})
	}
	if s := Summarize(sleep1); s.Level != 0.95 || !close(s.HalfWidth(), 1.279780413526232, 1e-12) {
		t.Errorf("Summarize: level %v half-width %v, want 0.95 and 1.279780413526232", s.Level, s.HalfWidth())
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{2.1, 7, 3.5, 9, 1}
	// R: quantile(c(2.1,7,3.5,9,1), c(.025,.1,.5,.975), type = 7) = 1.11 1.44 3.50 8.80.
	for _, c := range []struct{ p, want float64 }{{0.025, 1.11}, {0.1, 1.44}, {0.5, 3.5}, {0.975, 8.8}, {0, 1}, {1, 9}} {
		check(t, "Quantile", Quantile(xs, c.p), c.want, 1e-14)
	}
	if !slices.Equal(xs, []float64{2.1, 7, 3.5, 9, 1}) {
		t.Error("Quantile sorted its input")
	}
	check(t, "Quantile(empty)", Quantile(nil, 0.5), math.NaN(), 0)
	check(t, "Quantile(p>1)", Quantile(xs, 1.5), math.NaN(), 0)
}

func TestBootstrapCI(t *testing.T) {
	b := Bootstrap{Resamples: 2000, Seed: 7}
	lo1, hi1 := BootstrapCI(sleep1, b)
	lo2, hi2 := BootstrapCI(sleep1, b)
	if lo1 != lo2 || hi1 != hi2 {
		t.Fatalf("same seed gave [%v,%v] and [%v,%v]", lo1, hi1, lo2, hi2)
	}
	b.Seed = 8
	if lo3, hi3 := BootstrapCI(sleep1, b); lo3 == lo1 && hi3 == hi1 {
		t.Error("another seed gave the identical interval")
	}
	if !(lo1 < Mean(sleep1) && Mean(sleep1) < hi1) {
		t.Errorf("interval [%v,%v] does not contain the mean %v", lo1, hi1, Mean(sleep1))
	}
	if lo, hi := BootstrapCI([]float64{2, 2, 2, 2}, Bootstrap{Seed: 1}); lo != 2 || hi != 2 {
		t.Errorf("constant data: [%v,%v], want [2,2]", lo, hi)
	}
	if lo, hi := BootstrapCI([]float64{2}, Bootstrap{Seed: 1}); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("one value: [%v,%v], want NaN", lo, hi)
	}
	// Another statistic: the bootstrap of the median of a sample only takes sample values
	// (n odd), so both ends are members of the sample.
	lo, hi := BootstrapCI([]float64{1, 5, 2, 8, 3, 9, 4}, Bootstrap{Seed: 3, Statistic: func(x []float64) float64 { return Quantile(x, 0.5) }})
	for _, v := range []float64{lo, hi} {
		if !slices.Contains([]float64{1, 5, 2, 8, 3, 9, 4}, v) {
			t.Errorf("median bootstrap end %v is not a sample value", v)
		}
	}
}

// TestBootstrapCoverage checks the interval's frequentist meaning: for normal samples of
// n = 30 the 95 % percentile interval covers the true mean in about 94 % of datasets (the
// percentile method under-covers slightly at moderate n; Efron & Tibshirani 1993 §13.3).
// 600 datasets give a binomial standard error of √(0.95·0.05/600) ≈ 0.009, so [0.91, 0.98]
// is about ±4 SE around 0.945.
func TestBootstrapCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const datasets, n = 600, 30
	covered := 0
	xs := make([]float64, n)
	for d := range datasets {
		for i := range xs {
			xs[i] = 5 + 2*rng.NormFloat64()
		}
		lo, hi := BootstrapCI(xs, Bootstrap{Resamples: 1000, Seed: uint64(d)})
		if lo <= 5 && 5 <= hi {
			covered++
		}
	}
	if c := float64(covered) / datasets; c < 0.91 || c > 0.98 {
		t.Errorf("coverage %.3f, want about 0.945", c)
	}
}

func TestPairedTTest(t *testing.T) {
	// R: t.test(extra ~ group, data = sleep, paired = TRUE) (the example of ?t.test):
	// t = -4.0621, df = 9, p-value = 0.002833, CI (-2.4598858, -0.7001142), mean diff -1.58.
	r := PairedTTest(sleep1, sleep2)
	check(t, "T", r.T, -4.06212768338204, 1e-12)
	check(t, "DF", r.DF, 9, 0)
	check(t, "P", r.P, 0.00283289019738427, 1e-10)
	check(t, "Diff", r.Diff, -1.58, 1e-13)
	check(t, "CILow", r.CILow, -2.45988576327698, 1e-12)
	check(t, "CIHigh", r.CIHigh, -0.700114236723018, 1e-12)
	if r.Note != "" {
		t.Errorf("Note = %q", r.Note)
	}
	// Swapping the samples flips the sign of t, not p.
	s := PairedTTest(sleep2, sleep1)
	check(t, "T swapped", s.T, 4.06212768338204, 1e-12)
	check(t, "P swapped", s.P, r.P, 1e-15)
}

func TestWelchTTest(t *testing.T) {
	// R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939,
	// CI (-3.3654832, 0.2054832).
	r := WelchTTest(sleep1, sleep2)
	check(t, "T", r.T, -1.8608134674868531, 1e-12)
	check(t, "DF", r.DF, 17.7764735161784984, 1e-12)
	check(t, "P", r.P, 0.0793941401873582, 1e-10)
	check(t, "CILow", r.CILow, -3.3654832307117104, 1e-10)
	check(t, "CIHigh", r.CIHigh, 0.2054832307117102, 1e-10)
}

func TestTTestDegenerate(t *testing.T) {
	tests := []struct {
		name     string
		r        TTestResult
		diff     float64
		noteWant string
	}{
		{"paired lengths", PairedTTest([]float64{1, 2}, []float64{1}), math.NaN(), "differ in length"},
		{"paired one pair", PairedTTest([]float64{3}, []float64{1}), 2, "at least 2 pairs"},
		{"paired constant shift", PairedTTest([]float64{3, 4, 5}, []float64{2, 3, 4}), 1, "constant"},
		{"paired identical", PairedTTest([]float64{3, 4, 5}, []float64{3, 4, 5}), 0, "constant"},
		{"paired NaN", PairedTTest([]float64{3, math.NaN()}, []float64{1, 2}), math.NaN(), "non-finite"},
		{"welch one value", WelchTTest([]float64{3}, []float64{1, 2}), 1.5, "at least 2"},
		{"welch both constant", WelchTTest([]float64{3, 3}, []float64{1, 1, 1}), 2, "constant"},
		{"welch Inf", WelchTTest([]float64{3, math.Inf(1)}, []float64{1, 2}), math.NaN(), "non-finite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !math.IsNaN(tc.r.T) || !math.IsNaN(tc.r.P) || !math.IsNaN(tc.r.CILow) {
				t.Errorf("T, P, CI = %v, %v, %v, want NaN", tc.r.T, tc.r.P, tc.r.CILow)
			}
			check(t, "Diff", tc.r.Diff, tc.diff, 1e-14)
			if !strings.Contains(tc.r.Note, tc.noteWant) {
				t.Errorf("Note = %q, want it to contain %q", tc.r.Note, tc.noteWant)
			}
		})
	}
	// One constant sample is fine for Welch: the other carries the variance.
	if r := WelchTTest([]float64{3, 3, 3}, []float64{1, 2, 3}); math.IsNaN(r.P) {
		t.Errorf("Welch with one constant sample: %+v", r)
	}
}

func TestMannWhitneyU(t *testing.T) {
	males, females := []float64{19, 22, 16, 29, 24}, []float64{20, 11, 17, 12}
	yHW := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	xHW := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y40 := make([]float64, 40)
	for i := range y40 {
		y40[i] = float64(i+1) + 0.25*float64((i+1)%3)
	}
	tests := []struct {
		name  string
		x, y  []float64
		u, p  float64
		exact bool
	}{
		// SciPy mannwhitneyu docs example (Conover): U1 = 17, exact p = 0.1111111111111111.
		{"scipy docs males/females", males, females, 17, 0.1111111111111111, true},
		// R ?wilcox.test (Hollander & Wolfe 1973, p. 69): W = 35, two-sided exact p = 0.2544122544.
		{"R docs permeability", xHW, yHW, 35, 0.254412254412254, true},
		// 3 vs 40 without ties: still exact (the smaller sample has ≤ 8 values). R
		// wilcox.test (exact: both n < 50) and SciPy 1.10 agree: W = 49, p = 0.635118709991087.
		{"3 vs 40 exact", []float64{2.6, 17.6, 30.6}, y40, 49, 0.635118709991087, true},
		{"3 vs 40 extreme", []float64{0.5, 1.5, 2.6}, y40, 3, 0.00113442994895065, true},
		// 10 vs 12, no ties: normal approximation with continuity correction. R:
		// wilcox.test(x, y, exact = FALSE) → W = 31, p = 0.0602125014037792 (SciPy 1.10 agrees).
		{"10 vs 12 asymptotic",
			[]float64{1.1, 2.3, 3.8, 4.4, 5.9, 6.2, 7.5, 8.1, 9.7, 10.4},
			[]float64{3.3, 4.9, 5.5, 6.8, 7.7, 8.6, 9.1, 10.9, 11.2, 12.6, 13.0, 14.5}, 31, 0.0602125014037792, false},
		// Ties: normal approximation with tie and continuity correction. R: wilcox.test(a, b)
		// → W = 13.5, p = 0.0317589571480637 (SciPy 1.10 agrees).
		{"ties", []float64{1, 2, 2, 3, 3, 3, 4, 5}, []float64{2, 3, 4, 4, 5, 5, 6, 6, 7}, 13.5, 0.0317589571480637, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := MannWhitneyU(tc.x, tc.y)
			check(t, "U", r.Statistic, tc.u, 1e-14)
			check(t, "P", r.P, tc.p, 1e-10)
			if r.Exact != tc.exact {
				t.Errorf("Exact = %v, want %v", r.Exact, tc.exact)
			}
			// Swapping the samples: U₁' = nₓnᵧ − U₁, same p.
			s := MannWhitneyU(tc.y, tc.x)
			check(t, "U swapped", s.Statistic, float64(len(tc.x)*len(tc.y))-tc.u, 1e-14)
			check(t, "P swapped", s.P, r.P, 1e-14)
		})
	}
	// SciPy docs: the same data with method="asymptotic" (continuity-corrected): 0.11134688653314041.
	r := MannWhitneyUMethod(males, females, Asymptotic)
	check(t, "docs asymptotic", r.P, 0.11134688653314041, 1e-12)
	if r.Exact || r.Note != "" {
		t.Errorf("asymptotic on request: exact %v note %q", r.Exact, r.Note)
	}
	// Exact on request for 10 vs 12 (Auto would approximate): R wilcox.test(x, y) (exact for
	// n < 50 without ties) → p = 0.0591359105290994.
	r = MannWhitneyUMethod([]float64{1.1, 2.3, 3.8, 4.4, 5.9, 6.2, 7.5, 8.1, 9.7, 10.4},
		[]float64{3.3, 4.9, 5.5, 6.8, 7.7, 8.6, 9.1, 10.9, 11.2, 12.6, 13.0, 14.5}, Exact)
	check(t, "exact 10 vs 12", r.P, 0.0591359105290994, 1e-12)
	// Exact cannot hold with ties: it falls back and says why.
	if r := MannWhitneyUMethod([]float64{1, 2, 2}, []float64{2, 3}, Exact); r.Exact || !strings.Contains(r.Note, "ties") {
		t.Errorf("exact with ties: exact %v note %q", r.Exact, r.Note)
	}

	// Floor at 5 vs 5: complete separation gives 2/C(10,5) = 2/252.
	check(t, "5 vs 5 floor", MannWhitneyU([]float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}).P, 2.0/252, 1e-14)

	if r := MannWhitneyU([]float64{2, 2}, []float64{2, 2, 2}); r.P != 1 || r.Note == "" {
		t.Errorf("all tied: P = %v note %q, want 1 with a note", r.P, r.Note)
	}
	if r := MannWhitneyU(nil, []float64{1}); !math.IsNaN(r.P) || r.Note == "" {
		t.Errorf("empty sample: %+v", r)
	}
	if r := MannWhitneyU([]float64{math.NaN()}, []float64{1}); !math.IsNaN(r.P) {
		t.Errorf("NaN value: %+v", r)
	}
}

func TestWilcoxonSignedRank(t *testing.T) {
	// SciPy wilcoxon docs (Wilcoxon 1945, Darwin's corn): statistic 24, exact p = 0.041259765625.
	corn := []float64{6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75}
	zero := make([]float64, len(corn))
	r := WilcoxonSignedRank(corn, zero)
	check(t, "corn statistic", r.Statistic, 24, 0)
	check(t, "corn W+", r.WPlus, 96, 0) // the one-sided statistic in the docs
	check(t, "corn P", r.P, 0.041259765625, 1e-14)
	if !r.Exact {
		t.Error("corn: want the exact method")
	}
	// SciPy docs: with method='approx', p = 0.04088813291185591.
	r = WilcoxonSignedRankMethod(corn, zero, Asymptotic)
	check(t, "corn approx", r.P, 0.04088813291185591, 1e-12)
	if r.Exact || r.Note != "" {
		t.Errorf("approx on request: exact %v note %q", r.Exact, r.Note)
	}

	// R ?wilcox.test (Hollander & Wolfe 1973, p. 29, depression scores): V = 40,
	// paired two-sided exact p = 0.0390625.
	x := []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	y := []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	r = WilcoxonSignedRank(x, y)
	check(t, "depression V", r.WPlus, 40, 0)
	check(t, "depression P", r.P, 0.0390625, 1e-14)

	// N = 5, every difference positive: the floor 2/2⁵ = 0.0625 (SciPy: statistic 0, p 0.0625).
	r = WilcoxonSignedRank([]float64{1, 2, 3, 4, 5}, make([]float64, 5))
	check(t, "N=5 floor", r.P, 0.0625, 1e-15)
	check(t, "N=5 statistic", r.Statistic, 0, 0)

	// Ties and zeros: zeros dropped, normal approximation with tie correction, no continuity
	// correction. R: wilcox.test(d, exact = FALSE, correct = FALSE) → V = 50.5,
	// p = 0.0188260586702367; SciPy 1.10 wilcoxon(d) → statistic 4.5, same p.
	d := []float64{1.5, -0.5, 2.0, 0, 1.5, 3.0, -1.0, 2.0, 0.5, 4.0, 2.5, 0}
	r = WilcoxonSignedRank(d, make([]float64, len(d)))
	check(t, "ties V", r.WPlus, 50.5, 0)
	check(t, "ties statistic", r.Statistic, 4.5, 0)
	check(t, "ties P", r.P, 0.0188260586702367, 1e-10)
	if r.Exact || r.N != 10 || !strings.Contains(r.Note, "2 zero") {
		t.Errorf("ties: exact %v n %d note %q, want approximation over 10 non-zero", r.Exact, r.N, r.Note)
	}

	// n = 60 > 50, no ties: Auto approximates, Exact on request is exact. R:
	// wilcox.test((1:60) − 10.25, exact = FALSE, correct = FALSE) → V = 1730,
	// p = 1.97674562883082e-09; exact = TRUE → p = 9.05192587552507e-12 (SciPy 1.10 agrees,
	// statistic min(W⁺, W⁻) = 1830 − 1730 = 100).
	big := make([]float64, 60)
	for i := range big {
		big[i] = float64(i+1) - 10.25
	}
	r = WilcoxonSignedRank(big, make([]float64, 60))
	check(t, "n=60 statistic", r.Statistic, 100, 0)
	check(t, "n=60 P", r.P, 1.97674562883082e-09, 1e-9)
	if r.Exact || !strings.Contains(r.Note, "limit") {
		t.Errorf("n=60 auto: exact %v note %q", r.Exact, r.Note)
	}
	r = WilcoxonSignedRankMethod(big, make([]float64, 60), Exact)
	check(t, "n=60 exact P", r.P, 9.05192587552507e-12, 1e-9)
	if r := WilcoxonSignedRankMethod(d, make([]float64, len(d)), Exact); r.Exact || !strings.Contains(r.Note, "zero") {
		t.Errorf("exact with zeros: exact %v note %q", r.Exact, r.Note)
	}

	if r := WilcoxonSignedRank([]float64{1, 2}, []float64{1, 2}); !math.IsNaN(r.P) || !strings.Contains(r.Note, "zero") {
		t.Errorf("all zero: %+v", r)
	}
	if r := WilcoxonSignedRank([]float64{1, 2}, []float64{1}); !math.IsNaN(r.P) {
		t.Errorf("length mismatch: %+v", r)
	}
}

func TestHedgesG(t *testing.T) {
	// Lakens (2013, Frontiers in Psychology 4:863), movie ratings of 10 people: means 8.7 and
	// 7.7, SDs 0.82 and 0.95; reported d_s = 1.13, g_s = 1.08, t(9) = 4.74, d_z = 1.50.
	m1 := []float64{9, 7, 8, 9, 8, 9, 9, 10, 9, 9}
	m2 := []float64{9, 6, 7, 8, 7, 9, 8, 8, 8, 7}
	// Hand: SS₁ = 6.1, SS₂ = 8.1 → s_p = √(14.2/18); d_s = 1/s_p = 1.12590;
	// J(18) = Γ(9)/(3·Γ(8.5)) = 40320/(3·14034.407) = 0.957646 (R: 0.957646427023718)
	// → g_s = 0.957646 · 1.125902 = 1.07822.
	sp := math.Sqrt(14.2 / 18)
	check(t, "HedgesJ(18)", HedgesJ(18), 0.957646427023718, 1e-13)
	check(t, "HedgesG", HedgesG(m1, m2), HedgesJ(18)/sp, 1e-13)
	if g := HedgesG(m1, m2); math.Round(g*100)/100 != 1.08 {
		t.Errorf("HedgesG = %v, Lakens reports 1.08", g)
	}
	// Differences 0,1,1,1,1,0,1,2,1,2: mean 1, s_d = √(4/9) = 2/3 → d_z = 1.5 (t = 1.5·√10 =
	// 4.7434, R: 4.74341649025257); g_z = J(9)·1.5 with J(9) = Γ(4.5)/(√4.5·Γ(4)).
	check(t, "CohenDz", CohenDz(m1, m2), 1.5, 1e-13)
	j9 := math.Gamma(4.5) / (math.Sqrt(4.5) * math.Gamma(4))
	check(t, "HedgesGPaired", HedgesGPaired(m1, m2), j9*1.5, 1e-13)
	check(t, "t = d_z·√n", PairedTTest(m1, m2).T, 4.74341649025257, 1e-12)
	// J(10) = Γ(5)/(√5·Γ(4.5)) = 0.922745608053087 (R); the approximation 1 − 3/(4·10−1)
	// = 0.923077 is within 4e-4.
	check(t, "HedgesJ(10)", HedgesJ(10), 0.922745608053087, 1e-13)
	if d := math.Abs(HedgesJ(10) - (1 - 3.0/39)); d > 4e-4 {
		t.Errorf("J(10) differs from its approximation by %v", d)
	}
	check(t, "HedgesG zero SD", HedgesG([]float64{1, 1}, []float64{2, 2}), math.NaN(), 0)
	check(t, "HedgesG one value", HedgesG([]float64{1}, []float64{2, 3}), math.NaN(), 0)
	check(t, "HedgesGPaired constant", HedgesGPaired([]float64{2, 3, 4}, []float64{1, 2, 3}), math.NaN(), 0)
	check(t, "HedgesJ(1)", HedgesJ(1), math.NaN(), 0)
}

func TestCliffsDelta(t *testing.T) {
	// δ = 2U₁/(nₓnᵧ) − 1 with SciPy's docs U₁ = 17 of males vs females: 2·17/20 − 1 = 0.7.
	check(t, "docs", CliffsDelta([]float64{19, 22, 16, 29, 24}, []float64{20, 11, 17, 12}), 0.7, 1e-15)
	// Hand: x = {3,4}, y = {1,2,3}: 5 pairs x > y, one tie, none x < y → 5/6.
	check(t, "ties", CliffsDelta([]float64{3, 4}, []float64{1, 2, 3}), 5.0/6, 1e-15)
	check(t, "reversed", CliffsDelta([]float64{1, 2, 3}, []float64{3, 4}), -5.0/6, 1e-15)
	check(t, "identical", CliffsDelta([]float64{1, 2}, []float64{1, 2}), 0, 0)
	check(t, "empty", CliffsDelta(nil, []float64{1}), math.NaN(), 0)

	labels := []struct {
		v           float64
		cliff, cohn string
	}{
		{0.1, "negligible", "negligible"}, {-0.2, "small", "small"}, {0.4, "medium", "small"},
		{0.6, "large", "medium"}, {-0.9, "large", "large"}, {math.NaN(), "", ""},
	}
	for _, l := range labels {
		if got := CliffsDeltaMagnitude(l.v); got != l.cliff {
			t.Errorf("CliffsDeltaMagnitude(%v) = %q, want %q", l.v, got, l.cliff)
		}
		if got := HedgesGMagnitude(l.v); got != l.cohn {
			t.Errorf("HedgesGMagnitude(%v) = %q, want %q", l.v, got, l.cohn)
		}
	}
}

func TestHolm(t *testing.T) {
	tests := []struct {
		name string
		p    []float64
		want []float64
	}{
		// R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.2), "holm") = 0.040 0.090 0.090 0.025 0.200.
		{"R", []float64{0.01, 0.04, 0.03, 0.005, 0.2}, []float64{0.04, 0.09, 0.09, 0.025, 0.2}},
		// R: p.adjust(c(0.01, NA, 0.03, 0.04), "holm") = 0.03 NA 0.06 0.06 (m = 3).
		{"NaN excluded", []float64{0.01, math.NaN(), 0.03, 0.04}, []float64{0.03, math.NaN(), 0.06, 0.06}},
		// Hand: 3·0.5 = 1.5 → capped at 1; the running maximum keeps the rest at 1.
		{"capped", []float64{0.5, 0.6, 0.7}, []float64{1, 1, 1}},
		{"single", []float64{0.03}, []float64{0.03}},
		{"empty", nil, []float64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.p)
			got := Holm(tc.p)
			if len(got) != len(tc.want) {
				t.Fatalf("len %d, want %d", len(got), len(tc.want))
			}
			for i := range got {
				check(t, "adjusted", got[i], tc.want[i], 1e-15)
			}
			for i := range in {
				if in[i] != tc.p[i] && !math.IsNaN(in[i]) {
					t.Error("Holm modified its input")
				}
			}
		})
	}
}

func TestNoncentralTCDF(t *testing.T) {
	// The power functions rest on gonum's noncentral t CDF (AS 243). R 4.2.2:
	// pt(c(-3, -1, 0, 1.5, 4), df = 4, ncp = 1.2) and pt(c(-2, 2.776), df = 4, ncp = -0.5).
	nct := distuv.NoncentralT{Nu: 4, Mu: 1.2}
	for i, q := range []float64{-3, -1, 0, 1.5, 4} {
		want := []float64{0.00129012361723979, 0.02105411451447625, 0.11506967022170828, 0.57169055837325278, 0.94161885518873378}[i]
		check(t, "pt", nct.CDF(q), want, 1e-12)
	}
	neg := distuv.NoncentralT{Nu: 4, Mu: -0.5}
	check(t, "pt neg ncp", neg.CDF(-2), 0.126324080021342, 1e-12)
	check(t, "pt neg ncp", neg.CDF(2.776), 0.990903582640092, 1e-12)
}

func TestPower(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		// ?power.t.test example: power.t.test(n = 20, delta = 1) → power = 0.8689528 (that
		// value omits the lower rejection tail, strict = FALSE); strict = TRUE: 0.868953027724586.
		{"two-sample n=20 d=1", TwoSampleTTestPower(1, 20, 0.05), 0.868953027724586},
		// R: power.t.test(n, delta, sd = 1, type = "paired", strict = TRUE)$power.
		{"paired n=5 dz=1", PairedTTestPower(1, 5, 0.05), 0.401389917372453},
		{"paired n=5 dz=2", PairedTTestPower(2, 5, 0.05), 0.90888486810127},
		{"paired n=10 dz=0.5", PairedTTestPower(0.5, 10, 0.05), 0.293175606514385},
		{"paired n=30 dz=0.3", PairedTTestPower(0.3, 30, 0.05), 0.355462731165749},
		{"paired negative effect", PairedTTestPower(-2, 5, 0.05), 0.90888486810127},
		// No effect: the power is the level.
		{"paired dz=0", PairedTTestPower(0, 5, 0.05), 0.05},
		{"paired n=1", PairedTTestPower(1, 1, 0.05), math.NaN()},
		{"paired NaN effect", PairedTTestPower(math.NaN(), 5, 0.05), math.NaN()},
		{"paired bad alpha", PairedTTestPower(1, 5, 0), math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { check(t, "power", tc.got, tc.want, 1e-9) })
	}
	// With strict = FALSE the difference is the lower tail, far below 1e-6 here.
	if d := math.Abs(TwoSampleTTestPower(1, 20, 0.05) - 0.868952801692498); d > 1e-6 {
		t.Errorf("two-sample power differs from the ?power.t.test output by %v", d)
	}
}

func TestSampleSize(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		ok     bool
		wantN  int
		wantOK bool
	}{}
	add := func(name string, want int, wantOK bool, n int, ok bool) {
		tests = append(tests, struct {
			name   string
			n      int
			ok     bool
			wantN  int
			wantOK bool
		}{name, n, ok, want, wantOK})
	}
	// R: power.t.test(power = .8, delta = d, type = "paired", strict = TRUE)$n =
	// 9.93785029051807 (d = 1), 33.3671291039066 (0.5), 198.150820953487 (0.2),
	// 3.53345988934644 (2.5): the smallest integers are 10, 34, 199, 4.
	n, ok := PairedTTestSampleSize(1, 0.05, 0.8)
	add("paired dz=1", 10, true, n, ok)
	n, ok = PairedTTestSampleSize(0.5, 0.05, 0.8)
	add("paired dz=0.5", 34, true, n, ok)
	n, ok = PairedTTestSampleSize(-0.2, 0.05, 0.8)
	add("paired dz=-0.2", 199, true, n, ok)
	n, ok = PairedTTestSampleSize(2.5, 0.05, 0.8)
	add("paired dz=2.5", 4, true, n, ok)
	// ?power.t.test example: power.t.test(power = .90, delta = 1)$n = 22.02110 → 23.
	n, ok = TwoSampleTTestSampleSize(1, 0.05, 0.9)
	add("two-sample d=1 power .9", 23, true, n, ok)
	n, ok = PairedTTestSampleSize(0, 0.05, 0.8)
	add("no effect", 0, false, n, ok)
	n, ok = PairedTTestSampleSize(math.NaN(), 0.05, 0.8)
	add("NaN effect", 0, false, n, ok)
	n, ok = PairedTTestSampleSize(1, 0.05, 1)
	add("target 1", 0, false, n, ok)
	// A huge effect: the minimum of 2 pairs already has the power.
	n, ok = PairedTTestSampleSize(50, 0.05, 0.8)
	add("huge effect", 2, true, n, ok)
	for _, tc := range tests {
		if tc.n != tc.wantN || tc.ok != tc.wantOK {
			t.Errorf("%s: (%d, %v), want (%d, %v)", tc.name, tc.n, tc.ok, tc.wantN, tc.wantOK)
		}
	}
	// The result is the smallest such n: one pair fewer falls short.
	if p := PairedTTestPower(1, 9, 0.05); p >= 0.8 {
		t.Errorf("power at 9 pairs %v already ≥ 0.8", p)
	}
}

// simulatePairs draws n common-random-number pairs: a shared per-seed effect s ~ N(0, 2²)
// (the seed's load), baseline = 10 + s + e₁, policy = 10 + s + e₂ + shift, e ~ N(0, 1), so
// the differences are N(shift, 2) and d_z = shift/√2.
func simulatePairs(rng *rand.Rand, n int, shift float64) (policy, baseline []float64) {
	policy, baseline = make([]float64, n), make([]float64, n)
	for i := range n {
		s := 2 * rng.NormFloat64()
		baseline[i] = 10 + s + rng.NormFloat64()
		policy[i] = 10 + s + rng.NormFloat64() + shift
	}
	return policy, baseline
}

// TestPairedTTestRejectionRate checks the primary test's error rates at N = 5 over many
// seeded experiments. Identical policies: it rejects at the nominal 5 % (20 000 experiments:
// binomial SE √(0.05·0.95/20000) ≈ 0.0015; the bound ±0.006 is 4 SE). A real shift of 2.5
// (d_z = 2.5/√2 ≈ 1.77): it rejects at the analytic power PairedTTestPower(1.77, 5) ≈ 0.80,
// far more often; the rank tests cannot reject at all at N = 5 (their floor is 0.0625).
func TestPairedTTestRejectionRate(t *testing.T) {
	const experiments, n, alpha = 20000, 5, 0.05
	rate := func(shift float64) (tRate, wRate float64) {
		rng := rand.New(rand.NewPCG(2026, uint64(shift*1000)))
		var tRej, wRej int
		for range experiments {
			p, b := simulatePairs(rng, n, shift)
			if Significant(PairedTTest(p, b).P, alpha) {
				tRej++
			}
			if Significant(WilcoxonSignedRank(p, b).P, alpha) {
				wRej++
			}
		}
		return float64(tRej) / experiments, float64(wRej) / experiments
	}
	null, wNull := rate(0)
	if math.Abs(null-alpha) > 0.006 {
		t.Errorf("identical policies: rejection rate %.4f, want %.2f ± 0.006", null, alpha)
	}
	shifted, wShifted := rate(2.5)
	want := PairedTTestPower(2.5/math.Sqrt2, n, alpha)
	if math.Abs(shifted-want) > 0.015 { // binomial SE ≈ 0.003
		t.Errorf("shift 2.5: rejection rate %.4f, analytic power %.4f", shifted, want)
	}
	if shifted < 10*null {
		t.Errorf("shift 2.5 rejected %.4f, not much more often than under H₀ (%.4f)", shifted, null)
	}
	if wNull != 0 || wShifted != 0 {
		t.Errorf("Wilcoxon at N = 5 rejected (%.4f, %.4f): its floor is 0.0625", wNull, wShifted)
	}
	t.Logf("N=5: H₀ rejection %.4f; shift d_z=1.77 rejection %.4f (analytic power %.4f)", null, shifted, want)
}

func TestCompare(t *testing.T) {
	c := Compare(sleep2, sleep1, 0)
	if c.N != 10 || c.Alpha != DefaultAlpha {
		t.Fatalf("N %d alpha %v", c.N, c.Alpha)
	}
	check(t, "paired t", c.Paired.T, 4.06212768338204, 1e-12)
	check(t, "welch t", c.Welch.T, 1.8608134674868531, 1e-12)
	check(t, "diff mean", c.Diff.Mean, 1.58, 1e-13)
	check(t, "policy mean", c.Policy.Mean, Mean(sleep2), 0)
	// d_z = t/√n.
	check(t, "dz", c.Dz, 4.06212768338204/math.Sqrt(10), 1e-12)
	check(t, "power", c.Power, PairedTTestPower(c.Dz, 10, 0.05), 0)
	if want, _ := PairedTTestSampleSize(c.Dz, 0.05, 0.8); c.NFor80 != want || want < 2 {
		t.Errorf("NFor80 = %d, want %d", c.NFor80, want)
	}
	if !c.Significant() {
		t.Error("sleep comparison (p = 0.0028) not significant")
	}

	// A family of three: Holm multiplies the smallest p by 3.
	fam := []Comparison{c, Compare(sleep1, sleep1, 0.05), Compare([]float64{1, 2, 3, 4}, []float64{1.1, 1.8, 3.3, 3.9}, 0.05)}
	HolmFamily(fam)
	check(t, "holm smallest", fam[0].PHolm, 2*0.00283289019738427, 1e-9) // m = 2: the identical pair's p is NaN
	if !math.IsNaN(fam[1].PHolm) || fam[1].Significant() {
		t.Errorf("identical samples: PHolm %v significant %v, want NaN and false", fam[1].PHolm, fam[1].Significant())
	}

	// NaN fields survive a JSON round trip as null.
	b, err := json.Marshal(fam[1])
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !strings.Contains(string(b), `"p":null`) {
		t.Errorf("NaN p not written as null: %s", b)
	}
	var back Comparison
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.Paired.P) || back.Paired.Note != fam[1].Paired.Note || back.N != 10 || back.Policy.Mean != fam[1].Policy.Mean {
		t.Errorf("round trip lost data: %+v", back.Paired)
	}
	b2, _ := json.Marshal(fam[0])
	var back0 Comparison
	if err := json.Unmarshal(b2, &back0); err != nil || back0.Paired.P != fam[0].Paired.P || back0.PHolm != fam[0].PHolm {
		t.Errorf("round trip of a full comparison: %v %+v", err, back0.Paired)
	}
}
