package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// table of numbers read from a CSV file with a header.
type csvTable struct {
	header []string
	rows   [][]float64
}

// readCSV reads a numeric CSV file; empty or non-numeric fields are NaN.
func readCSV(path string) (*csvTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &csvTable{header: append([]string(nil), head...)}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := make([]float64, len(t.header))
		for i := range row {
			row[i] = math.NaN()
			if i < len(rec) && rec[i] != "" {
				if v, err := strconv.ParseFloat(rec[i], 64); err == nil {
					row[i] = v
				}
			}
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}

// col returns the index of the last column named name (-1 if none). Trajectories name a
// feature and the recorded ground truth alike (replicas_desired); the record comes last.
func (t *csvTable) col(name string) int {
	for i := len(t.header) - 1; i >= 0; i-- {
		if t.header[i] == name {
			return i
		}
	}
	return -1
}

func (t *csvTable) column(name string) []float64 {
	i := t.col(name)
	if i < 0 {
		return nil
	}
	out := make([]float64, len(t.rows))
	for j, r := range t.rows {
		out[j] = r[i]
	}
	return out
}

// trajectory is the part of a run's trajectory.csv the plots use.
type trajectory struct {
	t        []float64 // decision times, s
	rate     []float64 // offered load over the step that starts at t, req/s
	desired  []float64
	ready    []float64
	haveRate bool
}

func readTrajectory(runDir string) (*trajectory, error) {
	t, err := readCSV(filepath.Join(runDir, "trajectory.csv"))
	if err != nil {
		return nil, err
	}
	tr := &trajectory{t: t.column("time_s"), desired: t.column("replicas_desired"), ready: t.column("replicas_ready")}
	if tr.t == nil || tr.desired == nil {
		return nil, fmt.Errorf("%s: trajectory.csv lacks time_s or replicas_desired", runDir)
	}
	if arr := t.column("arrivals"); arr != nil {
		// arrivals counts the requests of the step (t, t+Δ]: rate = arrivals / Δ.
		tr.rate = make([]float64, len(arr))
		for i := range arr {
			dt := math.NaN()
			if i+1 < len(tr.t) {
				dt = tr.t[i+1] - tr.t[i]
			} else if i > 0 {
				dt = tr.t[i] - tr.t[i-1]
			}
			tr.rate[i] = arr[i] / dt
		}
		tr.haveRate = true
	}
	return tr, nil
}

// cdf is a run's latency distribution: latency (ms) → cumulative fraction, increasing.
type cdf struct{ x, f []float64 }

func readCDF(runDir string) (*cdf, error) {
	t, err := readCSV(filepath.Join(runDir, "latency_cdf.csv"))
	if err != nil {
		return nil, err
	}
	c := &cdf{x: t.column("latency_ms"), f: t.column("cumulative_fraction")}
	if c.x == nil || c.f == nil {
		return nil, fmt.Errorf("%s: latency_cdf.csv lacks latency_ms or cumulative_fraction", runDir)
	}
	return c, nil
}

// at is the CDF at x: the cumulative fraction of the largest latency ≤ x (0 below all).
func (c *cdf) at(x float64) float64 {
	i := sort.SearchFloat64s(c.x, x)
	if i < len(c.x) && c.x[i] == x {
		return c.f[i]
	}
	if i == 0 {
		return 0
	}
	return c.f[i-1]
}

// pooledCDF averages the runs' CDFs on a log-spaced grid of n latencies spanning them all:
// every repetition weighs the same.
func pooledCDF(cs []*cdf, n int) (x, f []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range cs {
		if len(c.x) == 0 {
			continue
		}
		lo, hi = math.Min(lo, c.x[0]), math.Max(hi, c.x[len(c.x)-1])
	}
	if !(lo > 0) || !(hi >= lo) {
		return nil, nil
	}
	if hi == lo {
		hi = lo * 1.01
	}
	x, f = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = lo * math.Pow(hi/lo, float64(i)/float64(n-1))
		for _, c := range cs {
			f[i] += c.at(x[i])
		}
		f[i] /= float64(len(cs))
	}
	return x, f
}
