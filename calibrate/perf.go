package calibrate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PerfFile is one CSV file written by Triton's perf_analyzer (-f) for requests of Batch
// images (perf_analyzer -b).
type PerfFile struct {
	Batch int
	Name  string
	R     io.Reader
}

// z99 is the standard normal's 0.99 quantile minus its median.
const z99 = 2.3263478740408408

// FromPerfAnalyzer fits the service model to perf_analyzer results, one file per batch
// size. From each file it takes the row of lowest concurrency (or request rate), where the
// server's dynamic batcher merges the fewest requests: its "Server Compute Infer" (µs per
// request) is t(b). The jitter CV is estimated from the end-to-end spread of that row,
// σ = ln(1 + (p99 − p50) / compute) / z₀.₉₉ and CV = √(exp(σ²) − 1), and then the median over
// files; since the spread also holds network and CPU noise, it is an upper bound.
// perf_analyzer reports no CPU use: CPU per request is not calibrated.
func FromPerfAnalyzer(files []PerfFile) (Result, error) {
	var data []BatchSamples
	var cvs []float64
	for _, f := range files {
		row, err := perfRow(f)
		if err != nil {
			return Result{}, err
		}
		data = append(data, BatchSamples{Batch: f.Batch, Times: []time.Duration{time.Duration(row.infer * 1e3)}})
		if row.p50 > 0 && row.p99 >= row.p50 && row.infer > 0 {
			sigma := math.Log1p((row.p99-row.p50)/row.infer) / z99
			cvs = append(cvs, math.Sqrt(math.Expm1(sigma*sigma)))
		}
	}
	fit, err := FitService(data)
	if err != nil {
		return Result{}, fmt.Errorf("calibrate: perf_analyzer: %w", err)
	}
	fit.JitterCV = 0
	if len(cvs) > 0 {
		sort.Float64s(cvs)
		fit.JitterCV = cvs[len(cvs)/2]
		if len(cvs)%2 == 0 {
			fit.JitterCV = (cvs[len(cvs)/2-1] + cvs[len(cvs)/2]) / 2
		}
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	return Result{Endpoint: strings.Join(names, ", "), Model: "(perf_analyzer)", When: time.Now().UTC(), Service: fit, Source: "perf_analyzer",
		Notes: []string{"perf_analyzer reports no CPU use: cpu_per_request is the base scenario's",
			"the jitter CV is estimated from end-to-end p99 − p50 and is an upper bound"}}, nil
}

type perfValues struct{ load, infer, p50, p99 float64 }

func perfRow(f PerfFile) (perfValues, error) {
	r := csv.NewReader(f.R)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return perfValues{}, fmt.Errorf("calibrate: %s: %w", f.Name, err)
	}
	if len(rows) < 2 {
		return perfValues{}, fmt.Errorf("calibrate: %s: no data rows", f.Name)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	need := []string{"Server Compute Infer", "p50 latency", "p99 latency"}
	for _, n := range need {
		if _, ok := col[n]; !ok {
			return perfValues{}, fmt.Errorf("calibrate: %s: no %q column (is it perf_analyzer -f output?)", f.Name, n)
		}
	}
	best := perfValues{load: math.Inf(1)}
	for i, row := range rows[1:] {
		num := func(name string, idx int) (float64, error) {
			if idx >= len(row) {
				return 0, fmt.Errorf("calibrate: %s: row %d has no %s", f.Name, i+2, name)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(row[idx]), 64)
			if err != nil {
				return 0, fmt.Errorf("calibrate: %s: row %d, %s: %w", f.Name, i+2, name, err)
			}
			return v, nil
		}
		var v perfValues
		var errs []error
		var e error
		v.load, e = num(rows[0][0], 0)
		errs = append(errs, e)
		v.infer, e = num("Server Compute Infer", col["Server Compute Infer"])
		errs = append(errs, e)
		v.p50, e = num("p50 latency", col["p50 latency"])
		errs = append(errs, e)
		v.p99, e = num("p99 latency", col["p99 latency"])
		errs = append(errs, e)
		if err := errors.Join(errs...); err != nil {
			return perfValues{}, err
		}
		if v.load < best.load {
			best = v
		}
	}
	return best, nil
}
