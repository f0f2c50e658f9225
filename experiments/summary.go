package experiments

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/scalelab/scalelab/experiments/stats"
	"github.com/scalelab/scalelab/framework"
)

// Cell is the summary of one KPI for one policy and profile over the repetitions.
type Cell struct {
	Profile string
	Policy  string
	KPI     string
	Summary stats.Summary
}

// Summary is the experiment's table: every KPI per policy and profile, mean ± 95 % CI.
type Summary struct {
	Name     string
	Profiles []string
	Policies []string
	Cells    map[[3]string]Cell // (profile, policy, kpi)
	Failed   []RunOutcome
	Level    float64
}

// Summarize builds the summary table from run outcomes (failed runs are listed, not
// averaged).
func Summarize(name string, profiles, policies []string, outcomes []RunOutcome, level float64) *Summary {
	s := &Summary{Name: name, Profiles: profiles, Policies: policies, Cells: map[[3]string]Cell{}, Level: level}
	vals := map[[3]string][]float64{}
	for _, o := range outcomes {
		if o.Err != nil {
			s.Failed = append(s.Failed, o)
			continue
		}
		if o.Spec.Policy == "" {
			continue
		}
		for _, k := range framework.KPINames {
			v := o.KPIs.Get(k.Key)
			if math.IsNaN(v) {
				continue
			}
			key := [3]string{o.Spec.Profile, o.Spec.Policy, k.Key}
			vals[key] = append(vals[key], v)
		}
	}
	for key, xs := range vals {
		s.Cells[key] = Cell{Profile: key[0], Policy: key[1], KPI: key[2], Summary: stats.Describe(xs, level)}
	}
	return s
}

func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case a == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// cellText renders mean ± CI half-width.
func (c Cell) cellText() string {
	sm := c.Summary
	if sm.N == 0 {
		return "–"
	}
	half := (sm.CIHigh - sm.CILow) / 2
	if sm.N < 2 || math.IsNaN(half) {
		return fmtNum(sm.Mean)
	}
	return fmtNum(sm.Mean) + " ± " + fmtNum(half)
}

// Markdown renders the summary as one table per profile.
func (s *Summary) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: KPIs per policy and profile\n\n", s.Name)
	fmt.Fprintf(&b, "Mean ± half-width of the %.0f %% confidence interval (Student t) over the repetitions; "+
		"latency percentiles are per-run values from each run's merged histogram (warm-up excluded).\n\n", s.Level*100)
	for _, prof := range s.Profiles {
		fmt.Fprintf(&b, "## Profile `%s`\n\n", prof)
		b.WriteString("| policy |")
		for _, k := range framework.KPINames {
			fmt.Fprintf(&b, " %s (%s) |", k.Label, k.Unit)
		}
		b.WriteString(" n |\n|---|")
		for range framework.KPINames {
			b.WriteString("---:|")
		}
		b.WriteString("---:|\n")
		for _, pol := range s.Policies {
			fmt.Fprintf(&b, "| %s |", pol)
			n := 0
			for _, k := range framework.KPINames {
				c := s.Cells[[3]string{prof, pol, k.Key}]
				if c.Summary.N > n {
					n = c.Summary.N
				}
				fmt.Fprintf(&b, " %s |", c.cellText())
			}
			fmt.Fprintf(&b, " %d |\n", n)
		}
		b.WriteString("\n")
	}
	if len(s.Failed) > 0 {
		b.WriteString("## Failed runs\n\n")
		for _, f := range s.Failed {
			fmt.Fprintf(&b, "- `%s`: %v\n", f.Spec.Dir(), f.Err)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Text renders a compact plain-text table for the terminal.
func (s *Summary) Text() string {
	keys := []string{"p95_latency_ms", "p99_latency_ms", "qos_violation_rate", "mean_replicas", "gpu_util", "cpu_util"}
	labels := []string{"p95 ms", "p99 ms", "QoS viol", "replicas", "GPU util", "CPU util"}
	var b strings.Builder
	fmt.Fprintf(&b, "%s — mean ± %.0f%% CI over repetitions\n", s.Name, s.Level*100)
	w := 10
	for _, p := range s.Policies {
		if len(p) > w {
			w = len(p)
		}
	}
	for _, prof := range s.Profiles {
		fmt.Fprintf(&b, "\nprofile %s\n", prof)
		fmt.Fprintf(&b, "  %-*s", w, "policy")
		for _, l := range labels {
			fmt.Fprintf(&b, " %17s", l)
		}
		b.WriteString("\n")
		for _, pol := range s.Policies {
			fmt.Fprintf(&b, "  %-*s", w, pol)
			for _, k := range keys {
				fmt.Fprintf(&b, " %17s", s.Cells[[3]string{prof, pol, k}].cellText())
			}
			b.WriteString("\n")
		}
	}
	if len(s.Failed) > 0 {
		fmt.Fprintf(&b, "\n%d run(s) failed:\n", len(s.Failed))
		for _, f := range s.Failed {
			fmt.Fprintf(&b, "  %s: %v\n", f.Spec.Dir(), f.Err)
		}
	}
	return b.String()
}

// CSV renders the summary in long format: profile, policy, kpi, n, mean, sd, ci_low, ci_high.
func (s *Summary) CSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"profile", "policy", "kpi", "unit", "n", "mean", "sd", "ci_low", "ci_high"})
	for _, prof := range s.Profiles {
		for _, pol := range s.Policies {
			for _, k := range framework.KPINames {
				c, ok := s.Cells[[3]string{prof, pol, k.Key}]
				if !ok {
					continue
				}
				sm := c.Summary
				_ = w.Write([]string{prof, pol, k.Key, k.Unit, strconv.Itoa(sm.N), g(sm.Mean), g(sm.SD), g(sm.CILow), g(sm.CIHigh)})
			}
		}
	}
	w.Flush()
	return buf.Bytes()
}

func g(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

// RunsCSV renders every run's KPIs, one row per run.
func RunsCSV(outcomes []RunOutcome) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	cols := []string{"mean_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "throughput_rps",
		"qos_violation_rate", "drop_rate", "mean_replicas", "mean_ready_replicas", "replica_seconds", "gpu_seconds",
		"gpu_util", "cpu_util", "mem_util", "gpu_mem_util", "avg_batch_size", "mean_queue_ms", "offered_rps",
		"scale_events", "fallback_steps", "reward_total"}
	_ = w.Write(append([]string{"policy", "profile", "repetition", "seed"}, cols...))
	for _, o := range outcomes {
		if o.Err != nil || o.Spec.Policy == "" {
			continue
		}
		row := []string{o.Spec.Policy, o.Spec.Profile, strconv.Itoa(o.Spec.Repetition), strconv.FormatUint(o.Spec.Seed, 10)}
		for _, c := range cols {
			row = append(row, g(o.KPIs.Get(c)))
		}
		_ = w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}
