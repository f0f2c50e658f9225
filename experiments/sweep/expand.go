package sweep

import (
	"fmt"
	"sort"
	"strings"
)

// AxisValue is the value one axis takes in a cell.
type AxisValue struct {
	Axis  string `json:"axis"`
	Label string `json:"label"`
}

// Cell is one point of the sweep: a value per axis and the config overrides that make it.
type Cell struct {
	// Index is the cell's position in expansion order.
	Index int `json:"index"`
	// ID is the stable, readable identifier: axis=label pairs joined by ",", e.g.
	// "state=no-gpu,reward=latency-only" ("base" for a sweep without axes). It names the
	// cell's results folder.
	ID string `json:"id"`
	// Values are the axis values in axis order.
	Values []AxisValue `json:"values"`
	// Sets are the cell's config overrides in the order applied (the file's set, then each
	// axis' assignments), as --set arguments: `scalelab run BASE --set ...` with them
	// reproduces the cell.
	Sets []string `json:"sets"`
}

// Value returns the label the cell has on the named axis ("" if none).
func (c Cell) Value(axis string) string {
	for _, v := range c.Values {
		if v.Axis == axis {
			return v.Label
		}
	}
	return ""
}

// Cells expands the sweep's axes: every combination in product mode (the first axis
// varies slowest), the i-th values together in zip mode. Cell IDs depend only on the axes'
// names and labels, so adding a value to an axis keeps the other cells' IDs (and results
// folders).
func (f *File) Cells() ([]Cell, error) {
	common, err := render(f.Set)
	if err != nil {
		return nil, fmt.Errorf("set: %w", err)
	}
	if len(f.Axes) == 0 {
		return []Cell{{Index: 0, ID: "base", Sets: common}}, nil
	}
	var combos [][]int
	switch f.Mode {
	case ModeZip:
		for i := 0; i < f.Axes[0].Len(); i++ {
			c := make([]int, len(f.Axes))
			for a := range c {
				c[a] = i
			}
			combos = append(combos, c)
		}
	default:
		combos = [][]int{{}}
		for _, ax := range f.Axes {
			var next [][]int
			for _, c := range combos {
				for i := 0; i < ax.Len(); i++ {
					next = append(next, append(append([]int(nil), c...), i))
				}
			}
			combos = next
		}
	}
	labels := make([][]string, len(f.Axes))
	for a, ax := range f.Axes {
		labels[a] = ax.labels()
	}
	cells := make([]Cell, 0, len(combos))
	for k, combo := range combos {
		c := Cell{Index: k, Sets: append([]string(nil), common...)}
		parts := make([]string, len(combo))
		for a, i := range combo {
			ax := f.Axes[a]
			c.Values = append(c.Values, AxisValue{Axis: ax.Name, Label: labels[a][i]})
			parts[a] = ax.Name + "=" + labels[a][i]
			sets, err := render(ax.assignments(i))
			if err != nil {
				return nil, fmt.Errorf("axis %s, value %s: %w", ax.Name, labels[a][i], err)
			}
			c.Sets = append(c.Sets, sets...)
		}
		c.ID = strings.Join(parts, ",")
		cells = append(cells, c)
	}
	return cells, nil
}

// render turns assignments into --set arguments.
func render(as Assignments) ([]string, error) {
	out := make([]string, 0, len(as))
	for _, a := range as {
		v, err := SetValue(a.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Key, err)
		}
		out = append(out, a.Key+"="+v)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
