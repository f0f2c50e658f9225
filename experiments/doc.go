// Package experiments runs scalelab experiments: the matrix of policies × load profiles ×
// repetitions of a config, with evaluation seeds derived from the experiment seed per
// repetition and shared across policies (common random numbers → paired comparisons), runs
// in parallel on the available cores, one folder per run written atomically so a rerun skips
// finished runs, and a summary table of every KPI (mean ± 95 % CI, Student t) per policy
// and profile, printed and written as Markdown and CSV. Sweeps over designs are in
// experiments/sweep, reports in experiments/report, statistics in experiments/stats.
//
// Layout of an experiment's results (root = <experiment.out>/<experiment.name> or --out):
//
//	config.resolved.yaml          the fully resolved config (defaults filled)
//	experiment.json               name, config hash, seed, scalelab version, runs
//	summary.md, summary.csv       mean ± 95 % CI per KPI, policy and profile
//	kpis.csv                      one row per run (long format for external analysis)
//	report.md, report.html        the report: tests against the baseline, figures (experiments/report)
//	comparisons.csv, plots/       every comparison's statistics; the figures (PNG, SVG)
//	runs/<policy>/<profile>/rep-<k>/
//	    run.json                  policy, profile, repetition, seed, config hash, version
//	    kpis.json                 the run's KPI record (null = undefined)
//	    trajectory.csv            one row per decision
//	    latency_cdf.csv           the run's latency distribution (after warm-up)
package experiments
