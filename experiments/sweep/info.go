package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Files a sweep writes at its root.
const (
	InfoFile   = "sweep.json"  // the plan: axes, cells, trainings, run count
	StatusFile = "status.json" // the last full sweep's counts and failures
	CellFile   = "cell.json"   // in each cell folder: the cell's axis values and overrides
	TrainFile  = "train.json"  // in each training folder, written last: the training finished
)

// Info is what sweep.json holds: the plan, identical for every process that opens the same
// sweep (a full sweep, run-index workers), so any of them may write it.
type Info struct {
	Name      string      `json:"name"`
	File      string      `json:"file"`
	Base      string      `json:"base"`
	Mode      string      `json:"mode"`
	Sets      []string    `json:"sets,omitempty"`
	Axes      []AxisInfo  `json:"axes"`
	Cells     []CellInfo  `json:"cells"`
	Trainings []*Training `json:"trainings"`
	Runs      int         `json:"runs"`
	Version   string      `json:"scalelab_version"`
}

// AxisInfo describes one axis.
type AxisInfo struct {
	Name   string   `json:"name"`
	Key    string   `json:"key,omitempty"`
	Labels []string `json:"labels"`
}

// CellInfo is a cell with its config hash and run count.
type CellInfo struct {
	Cell
	ConfigHash string `json:"config_hash"`
	Runs       int    `json:"runs"`
}

// Status is what status.json holds after a full sweep.
type Status struct {
	Runs        int       `json:"runs"`
	Executed    int       `json:"executed"`
	Reused      int       `json:"reused"`
	Failed      int       `json:"failed"`
	Trained     int       `json:"trained"`
	TrainReused int       `json:"train_reused"`
	Failures    []Failure `json:"failures"`
	WallS       float64   `json:"wall_s"`
	Interrupted bool      `json:"interrupted,omitempty"`
}

// Failure is a failed run or training.
type Failure struct {
	// Dir is the run's folder (or the training's) relative to the sweep root.
	Dir   string `json:"dir"`
	Error string `json:"error"`
}

// TrainInfo is what a finished training's train.json holds.
type TrainInfo struct {
	Policy     string   `json:"policy"`
	Hash       string   `json:"train_hash"`
	Cells      []string `json:"cells"`
	Checkpoint string   `json:"checkpoint"`
	Version    string   `json:"scalelab_version"`
	WallS      float64  `json:"wall_s"`
}

// Info returns the plan as sweep.json records it.
func (s *Sweep) Info(version string) Info {
	in := Info{Name: s.File.Name, File: filepath.ToSlash(s.Path), Base: filepath.ToSlash(s.File.Base), Mode: s.File.Mode,
		Sets: s.opts.Sets, Trainings: s.Trainings, Runs: len(s.Runs), Version: version}
	if s.File.Base == "" {
		in.Base = "(inline)"
	}
	for _, a := range s.File.Axes {
		in.Axes = append(in.Axes, AxisInfo{Name: a.Name, Key: a.Key, Labels: a.labels()})
	}
	counts := map[string]int{}
	for _, r := range s.Runs {
		counts[r.Cell.ID]++
	}
	for _, c := range s.Cells {
		in.Cells = append(in.Cells, CellInfo{Cell: c.Cell, ConfigHash: c.Config.Hash, Runs: counts[c.ID]})
	}
	return in
}

// ReadInfo reads a sweep root's sweep.json.
func ReadInfo(root string) (*Info, error) {
	var in Info
	if err := readJSON(filepath.Join(root, InfoFile), &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// ReadStatus reads a sweep root's status.json.
func ReadStatus(root string) (*Status, error) {
	var st Status
	if err := readJSON(filepath.Join(root, StatusFile), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
