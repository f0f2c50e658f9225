package report

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTrainingRun reads the crafted training record in testdata/training: 7 iterations of
// 100 steps, plateau at iterations 4, 6 and 7, an early stop on a plateau, best
// validation at iteration 3 (step 300).
func TestTrainingRun(t *testing.T) {
	r, err := readTrainingRun("testdata/training")
	if err != nil {
		t.Fatal(err)
	}
	// The plateau in progress at the end started with iteration 6, whose rollout began
	// after iteration 5's step 500; the stop is at the last step, 700.
	if r.plateauSince != 500 || r.stopStep != 700 || r.stopReason != "plateau" {
		t.Fatalf("plateau since %v, stop at %v (%q); want 500, 700, plateau", r.plateauSince, r.stopStep, r.stopReason)
	}
	// Bands: iteration 4 covers (300, 400], iterations 6–7 (500, 700].
	sp := r.plateauSpans()
	if !slices.Equal(sp.x0, []float64{300, 500}) || !slices.Equal(sp.x1, []float64{400, 700}) {
		t.Fatalf("plateau bands %v–%v, want [300 500]–[400 700]", sp.x0, sp.x1)
	}
	d := r.describe()
	for _, want := range []string{"stopped early** (plateau) after 7 iterations", "ended at 41", "for the last 2 iterations (plateau)",
		"On 64 probe states", "for the last 4 iterations", "Best of 4 validations: iteration 3 (step 300)", "it is the checkpoint"} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
	// Without the convergence record the run has nothing to add.
	empty, err := readTrainingRun(t.TempDir())
	if err != nil || empty.conv != nil || empty.summary != nil || !math.IsNaN(empty.stopStep) || empty.describe() != "" {
		t.Fatalf("empty folder: %+v, %v", empty, err)
	}
}

// TestTrainingCurves draws the crafted record as PNG and SVG; the SVG carries the
// markers' and panels' labels.
func TestTrainingCurves(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"episodes.csv", "iterations.csv", "convergence.csv", "summary.json"} {
		b, err := os.ReadFile(filepath.Join("testdata/training", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := TrainingCurves(dir, 60, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	svg, _ := os.ReadFile(files[1])
	for _, want := range []string{"stop: plateau", "plateau since", "best (it. 3)", "greedy agreement", "policy change on probes",
		"validation return (mean ± std, 4 episodes)", "best checkpoint, iteration 3, selected", "moving average over 2 iterations"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("training curves lack %q", want)
		}
	}
	// A folder without a training record draws nothing.
	if files, err := TrainingCurves(t.TempDir(), 60, false); err != nil || len(files) != 0 {
		t.Fatalf("empty folder: %v, %v", files, err)
	}
}
