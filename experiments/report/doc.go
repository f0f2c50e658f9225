// Package report turns scalelab results into a report a paper can use: a Markdown file and
// a self-contained HTML page (figures embedded as PNG, styles inline), the figures as PNG
// and SVG under plots/, and comparisons.csv with every statistic.
//
// For an experiment (`scalelab run`), the report states the config and its provenance
// (config hash, seed, scalelab version), explains the statistics, and for every load
// profile gives a table of every KPI per policy (mean ± 95 % Student-t CI over the
// repetitions) and a table of every policy's differences to the baseline: the paired
// t-test on common-random-number pairs (the primary test, Holm-corrected within the
// policy's family of all KPIs × profiles), Welch's t, Mann–Whitney U and Wilcoxon
// signed-rank (secondary), Hedges' g_z and Cliff's δ, a significance mark, and the power
// to detect the observed effect with the N that 80 % power would need. Figures: bars with
// CI error bars per KPI, latency CDFs with their tail, replicas over time with the
// offered load, the reward-term breakdown, and training curves with a convergence marker
// when the results hold a training folder — with the trainer's own convergence record
// (convergence.csv, summary.json) when it wrote one: moving average, plateau bands,
// validation returns, stop and best-checkpoint markers, and the policy's stability on its
// probe states. TrainingCurves draws the same figure for one training folder (what
// `scalelab train` writes at its end).
//
// For a sweep (experiments/sweep), the report lists the axes and cells, each cell's
// effects against its baseline, a table and a figure per axis (p95 latency against cost
// per value), overview figures across cells and the trainings; the cells' full reports
// can be rendered into their folders as well.
//
// Load merges results folders written by several workers (an Indexed Job's pods, several
// machines) into one Study; Analyze computes the statistics; Render writes the files.
package report
