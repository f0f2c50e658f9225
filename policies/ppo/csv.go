package ppo

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/scalelab/scalelab/framework"
)

// csvFile is an append-only CSV log (episodes.csv, iterations.csv), flushed once per
// iteration.
type csvFile struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	w    *csv.Writer
	rec  []string
}

// openCSV creates path with the header, or — when resuming and the file exists — keeps
// the rows whose first column is at most keepUpTo (the checkpoint's iteration or global
// step; rows written after the checkpoint are dropped) and appends after them.
func openCSV(path string, header []string, resume bool, keepUpTo float64) (*csvFile, error) {
	var keep [][]string
	if resume {
		rows, err := readCSV(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if len(rows) > 0 {
			if strings.Join(rows[0], ",") != strings.Join(header, ",") {
				return nil, fmt.Errorf("resume: %s has header %v, want %v", path, rows[0], header)
			}
			for _, r := range rows[1:] {
				if v, err := strconv.ParseFloat(r[0], 64); err == nil && v <= keepUpTo {
					keep = append(keep, r)
				}
			}
		}
	}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	_ = w.Write(header)
	_ = w.WriteAll(keep)
	if err := framework.WriteFileAtomic(path, []byte(sb.String())); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c := &csvFile{path: path, f: f, buf: bufio.NewWriterSize(f, 64<<10)}
	c.w = csv.NewWriter(c.buf)
	return c, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}

// row appends one record of numbers: integers without exponent, other values in the
// shortest representation that parses back exactly, NaN and ±Inf as empty fields.
func (c *csvFile) row(vals ...float64) {
	c.rec = c.rec[:0]
	for _, v := range vals {
		c.rec = append(c.rec, formatNum(v))
	}
	_ = c.w.Write(c.rec) // errors surface at flush
}

// record appends one record of preformatted fields.
func (c *csvFile) record(fields ...string) {
	_ = c.w.Write(fields) // errors surface at flush
}

// formatBool writes a flag as 1 or 0.
func formatBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func formatNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return ""
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (c *csvFile) flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	if err := c.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

func (c *csvFile) close() error {
	err := c.flush()
	if cerr := c.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", c.path, cerr)
	}
	return err
}
