package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/experiments/report"
)

// reportFlags are the report options shared by report, run and sweep.
type reportFlags struct {
	alpha       float64
	dpi         int
	noSVG       bool
	noHTML      bool
	cellReports bool
}

func (f *reportFlags) add(cmd *cobra.Command, prefix string) {
	cmd.Flags().Float64Var(&f.alpha, prefix+"alpha", 0.05, "significance level of the tests and marks")
	cmd.Flags().IntVar(&f.dpi, prefix+"dpi", 110, "resolution of the PNG figures")
	cmd.Flags().BoolVar(&f.noSVG, prefix+"no-svg", false, "write the figures as PNG only")
	cmd.Flags().BoolVar(&f.noHTML, prefix+"no-html", false, "write report.md only, no report.html")
}

func (f *reportFlags) options(out string) report.Options {
	return report.Options{Out: out, Alpha: f.alpha, DPI: f.dpi, NoSVG: f.noSVG, NoHTML: f.noHTML, CellReports: f.cellReports,
		Version: scalelabVersion(), Logger: slog.Default()}
}

// writeReport renders the report of results roots and says where it is.
func writeReport(cmd *cobra.Command, w io.Writer, roots []string, o report.Options) error {
	out, err := report.RenderDirs(cmd.Context(), roots, o)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	where := out.Markdown
	if out.HTML != "" {
		where += " and " + filepath.Base(out.HTML)
	}
	fmt.Fprintf(w, "report: %s (%d figures, %.1fs)\n", where, len(out.Figures), out.Wall.Seconds())
	return nil
}

func newReportCmd() *cobra.Command {
	var (
		out   string
		flags reportFlags
	)
	cmd := &cobra.Command{
		Use:   "report DIR [DIR...]",
		Short: "Write the report of an experiment's or a sweep's results: tables, tests, plots",
		Long: `Render the report of results folders: report.md, a self-contained report.html (figures
embedded), comparisons.csv and plots/ (PNG and SVG).

Per load profile, a table of every KPI per policy (mean ± 95 % CI over the repetitions) and
every policy's differences to the baseline: the paired t-test on common-random-number pairs
(primary, Holm–Bonferroni within the policy's family of KPIs × profiles), Welch's t,
Mann–Whitney U and Wilcoxon signed-rank, Hedges' g_z and Cliff's delta, a significance mark,
the power at this N and the N that 80 % power needs. Figures: KPI bars with CI error bars,
latency CDFs, replicas over time with the offered load, reward terms, training curves with
their convergence marker; for a sweep, a table and a figure per axis.

Several folders are merged: the roots that the workers of an Indexed Job (scalelab sweep
--emit-job) or several machines wrote for the same experiment or sweep. The report goes to
the first folder unless --out says otherwise. run and sweep write it at their end.`,
		Example: `  scalelab report results/seed
  scalelab report results/ablation-state --cell-reports
  scalelab report /mnt/worker-a/ablation /mnt/worker-b/ablation --out results/ablation`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeReport(cmd, cmd.OutOrStdout(), args, flags.options(out))
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "report folder (default: the first results folder)")
	cmd.Flags().BoolVar(&flags.cellReports, "cell-reports", false, "for a sweep, also write each cell's full report into its folder")
	flags.add(cmd, "")
	return cmd
}
