package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ReadTraceFile reads a rate trace from a CSV file; see ReadTrace.
func ReadTraceFile(path string) (times, rates []float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("trace: %w", err)
	}
	defer f.Close()
	return ReadTrace(f, path)
}

// ReadTrace parses a rate trace: one `time_seconds,rate` row per line, optionally preceded by
// a header line (a first line with a field that is a name, not a number), with blank lines and lines
// starting with # ignored. Times must be finite, ≥ 0 and strictly increasing; rates finite
// and ≥ 0. Any bad row is an error naming name and the line number.
func ReadTrace(r io.Reader, name string) (times, rates []float64, err error) {
	sc := bufio.NewScanner(r)
	line := 0
	first := true
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) != 2 {
			return nil, nil, fmt.Errorf("trace %s line %d: want 2 fields time_seconds,rate, got %d", name, line, len(fields))
		}
		t, errT := strconv.ParseFloat(strings.TrimSpace(fields[0]), 64)
		v, errV := strconv.ParseFloat(strings.TrimSpace(fields[1]), 64)
		if first && (errT != nil || errV != nil) && isHeader(fields) {
			first = false
			continue
		}
		first = false
		switch {
		case errT != nil:
			return nil, nil, fmt.Errorf("trace %s line %d: time %q is not a number", name, line, strings.TrimSpace(fields[0]))
		case errV != nil:
			return nil, nil, fmt.Errorf("trace %s line %d: rate %q is not a number", name, line, strings.TrimSpace(fields[1]))
		case math.IsNaN(t) || math.IsInf(t, 0) || t < 0:
			return nil, nil, fmt.Errorf("trace %s line %d: time %v must be finite and ≥ 0", name, line, t)
		case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
			return nil, nil, fmt.Errorf("trace %s line %d: rate %v must be finite and ≥ 0", name, line, v)
		case len(times) > 0 && t <= times[len(times)-1]:
			return nil, nil, fmt.Errorf("trace %s line %d: time %v is not after the previous row's %v", name, line, t, times[len(times)-1])
		}
		times = append(times, t)
		rates = append(rates, v)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("trace %s: %w", name, err)
	}
	if len(times) == 0 {
		return nil, nil, fmt.Errorf("trace %s: %w", name, errors.New("no data rows"))
	}
	return times, rates, nil
}

// isHeader reports whether a row looks like a header: at least one field is not a number
// and starts with a letter.
func isHeader(fields []string) bool {
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f != "" && (f[0] >= 'a' && f[0] <= 'z' || f[0] >= 'A' && f[0] <= 'Z' || f[0] == '_') {
			if _, err := strconv.ParseFloat(f, 64); err != nil {
				return true
			}
		}
	}
	return false
}
