// Package stats holds the statistics scalelab reports about experiments: descriptive
// summaries with Student-t and bootstrap confidence intervals, the paired t-test (the primary
// test on common-random-number pairs: policy and baseline run under the same evaluation
// seed), Welch's t-test, the Mann–Whitney U and Wilcoxon signed-rank tests, effect sizes
// (Hedges' g, Cliff's delta), Holm–Bonferroni adjusted p-values, and the power of the paired
// t-test with the sample size a target power needs.
//
// Every function documents its formula and its source, and the tests check each against
// published reference values (R and SciPy documentation examples, textbook data) named in
// the test. Conventions follow R and SciPy where they agree; where they differ the choice is
// documented (for example the rank tests follow SciPy's method='auto').
//
// Degenerate inputs never panic. Too few observations (N < 2 where a variance is needed),
// zero variance, unequal lengths of paired samples and non-finite values give NaN statistics
// and p-values, with the reason in the result's Note field. A NaN p-value is "no evidence",
// never "significant": Significant and Holm treat it so.
//
// Reporting rank tests at small N: with N = 5 pairs the smallest two-sided p-value the exact
// Wilcoxon signed-rank test can reach is 2/2⁵ = 0.0625, so it can never reject at α = 0.05;
// for two independent samples of 5 the exact Mann–Whitney U test's floor is 2/C(10,5) ≈ 0.0079.
// Rank tests need larger N than the t-test to show a difference.
package stats
