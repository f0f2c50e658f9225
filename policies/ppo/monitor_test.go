package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// TestPlateauState runs the plateau test on crafted iterations; every expected value is
// worked out by hand in the comments (MA = moving average, B = reference).
func TestPlateauState(t *testing.T) {
	type step struct {
		sum     float64
		count   int
		ma, imp float64 // NaN: undefined
		plateau bool
		run     int
	}
	nan := math.NaN()
	tests := []struct {
		name        string
		w           int
		eps, floor  float64
		steps       []step
		ref         float64 // B after the last step
		wantRefNone bool
	}{
		{
			name: "window 2", w: 2, eps: 0.1, floor: 1e-6,
			steps: []step{
				{10, 1, 10, nan, false, 0},       // i=1: partial window, no reference
				{30, 1, 20, nan, false, 0},       // i=2: (10+30)/2; first full window
				{50, 1, 40, nan, false, 0},       // i=3: (30+50)/2; MA₁ (partial) leaves, B still undefined
				{50, 1, 50, 1.5, false, 0},       // i=4: (50+50)/2; B = MA₂ = 20: (50−20)/20
				{52, 1, 51, 0.275, false, 0},     // i=5: B = max(20, MA₃=40) = 40: (51−40)/40
				{52, 1, 52, 0.04, true, 1},       // i=6: B = MA₄ = 50: (52−50)/50 < 0.1
				{0, 0, 52, 1.0 / 51, true, 2},    // i=7: no episode; window (52+0)/(1+0); B = 51
				{0, 0, nan, nan, false, 0},       // i=8: no episode in the window: no test, run resets
				{120, 2, 60, 8.0 / 52, false, 0}, // i=9: 120/2; B = max(51, MA₆=52, MA₇=52) = 52
			},
			ref: 52,
		},
		{
			// |B| in the denominator: −200 after −1000 is an improvement of +0.8.
			name: "negative returns", w: 1, eps: 0.01, floor: 1e-6,
			steps: []step{
				{-1000, 1, -1000, nan, false, 0},
				{-200, 1, -200, 0.8, false, 0},  // B = −1000: (−200+1000)/1000
				{-210, 1, -210, -0.05, true, 1}, // B = −200: (−210+200)/200
				{-420, 2, -210, -0.05, true, 2}, // B = max(−200, −210) = −200
			},
			ref: -200,
		},
		{
			// Near zero the floor keeps a tiny change from looking like a huge one.
			name: "floor", w: 1, eps: 0.01, floor: 1,
			steps: []step{
				{0, 1, 0, nan, false, 0},
				{0.005, 1, 0.005, 0.005, true, 1}, // (0.005 − 0)/max(0, 1)
			},
			ref: 0,
		},
		{
			name: "no episodes at all", w: 2, eps: 0.01, floor: 1e-6,
			steps:       []step{{0, 0, nan, nan, false, 0}, {0, 0, nan, nan, false, 0}, {0, 0, nan, nan, false, 0}, {0, 0, nan, nan, false, 0}},
			wantRefNone: true,
		},
	}
	same := func(a, b float64) bool {
		return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s plateauState
			for i, st := range tc.steps {
				r := s.push(st.sum, st.count, tc.w, tc.eps, tc.floor)
				if !same(r.ma, st.ma) || !same(r.improvement, st.imp) || r.plateau != st.plateau || r.run != st.run {
					t.Fatalf("iteration %d: got MA %v improvement %v plateau %v run %d, want %v %v %v %d",
						i+1, r.ma, r.improvement, r.plateau, r.run, st.ma, st.imp, st.plateau, st.run)
				}
				if len(s.Sums) > tc.w || len(s.Recent) > tc.w {
					t.Fatalf("iteration %d: window holds %d sums and %d averages, W = %d", i+1, len(s.Sums), len(s.Recent), tc.w)
				}
			}
			if tc.wantRefNone != (s.Ref == nil) || s.Ref != nil && *s.Ref != tc.ref {
				t.Fatalf("reference %v, want %v", s.Ref, tc.ref)
			}
		})
	}
}

func testNet(t *testing.T, space framework.ActionSpace) *net {
	t.Helper()
	n, err := newNet(2, []int{4}, actTanh, space)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKLClosedForms checks the exact KLs against hand values and a Monte Carlo estimate
// E_P[log p(a) − log q(a)] with actions sampled from P.
func TestKLClosedForms(t *testing.T) {
	ln := math.Log
	tests := []struct {
		name     string
		space    framework.ActionSpace
		p, lsP   []float64
		q, lsQ   []float64
		want     float64
		entropyP float64
	}{
		{
			// p = (½, ½), q = (¼, ¾): ½ ln(½/¼) + ½ ln(½/¾) = ½ ln(4/3).
			name: "categorical", space: framework.ActionSpace{Kind: framework.Discrete, N: 2},
			p: []float64{0, 0}, q: []float64{0, ln(3)}, want: 0.5 * ln(4.0/3), entropyP: ln(2),
		},
		{
			// Two independent dimensions: the categorical above plus p = (1/3,1/3,1/3) vs
			// q = (½,¼,¼): ⅓ ln(⅓/½) + ⅔ ln(⅓/¼) = ⅓ ln(2/3) + ⅔ ln(4/3).
			name: "multi-discrete", space: framework.ActionSpace{Kind: framework.MultiDiscrete, Nvec: []int{2, 3}},
			p: []float64{0, 0, 0, 0, 0}, q: []float64{0, ln(3), ln(2), 0, 0},
			want: 0.5*ln(4.0/3) + ln(2.0/3)/3 + 2*ln(4.0/3)/3, entropyP: ln(2) + ln(3),
		},
		{
			// N(0, 1) vs N(1, 2²): ln 2 + (1 + 1)/(2·4) − ½ = ln 2 − ¼; plus N(0.5, e^{-1}) vs
			// itself: 0. Entropy of P: ½ + ½ ln 2π + 0, plus ½ + ½ ln 2π − 1.
			name: "gaussian", space: framework.ActionSpace{Kind: framework.Box, Low: []float64{-1, -1}, High: []float64{1, 1}},
			p: []float64{0, 0.5}, lsP: []float64{0, -1}, q: []float64{1, 0.5}, lsQ: []float64{ln(2), -1},
			want: ln(2) - 0.25, entropyP: 2*(0.5+halfLog2Pi) - 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := testNet(t, tc.space)
			if got := n.klRow(tc.p, tc.lsP, tc.q, tc.lsQ); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("KL %v, want %v", got, tc.want)
			}
			if got := n.klRow(tc.p, tc.lsP, tc.p, tc.lsP); math.Abs(got) > 1e-15 {
				t.Fatalf("KL(P‖P) = %v", got)
			}
			if got := n.entropyRow(tc.p, tc.lsP); math.Abs(got-tc.entropyP) > 1e-12 {
				t.Fatalf("entropy %v, want %v", got, tc.entropyP)
			}
			// Monte Carlo: the mean of log p(a) − log q(a) over samples of P, within 5
			// standard errors.
			rng := rand.New(rand.NewPCG(3, 4))
			a, aux := make([]float64, n.actDim), make([]float64, n.outDim)
			const samples = 200000
			sum, ss := 0.0, 0.0
			for range samples {
				lp := n.sampleRow(tc.p, tc.lsP, rng, a, aux)
				lq, _ := n.evalRow(tc.q, tc.lsQ, a, aux)
				d := lp - lq
				sum += d
				ss += d * d
			}
			m := sum / samples
			se := math.Sqrt((ss/samples - m*m) / samples)
			if math.Abs(m-tc.want) > 5*se {
				t.Fatalf("Monte Carlo KL %v ± %v, closed form %v", m, se, tc.want)
			}
		})
	}
}

func TestSameGreedy(t *testing.T) {
	md := framework.ActionSpace{Kind: framework.MultiDiscrete, Nvec: []int{2, 3}}
	box := framework.ActionSpace{Kind: framework.Box, Low: []float64{-2, math.Inf(-1)}, High: []float64{2, math.Inf(1)}}
	a, b := make([]float64, 2), make([]float64, 2)
	tests := []struct {
		name  string
		space framework.ActionSpace
		p, q  []float64
		want  bool
	}{
		{"same argmax, other logits", md, []float64{0, 1, 5, 0, 0}, []float64{-3, 2, 1, 0, 0.5}, true},
		{"second dimension flips", md, []float64{0, 1, 5, 0, 0}, []float64{0, 1, 0, 5, 0}, false},
		// Tolerance 0.01 of the range 4 is 0.04; the unbounded dimension uses 0.01 itself.
		{"within tolerance", box, []float64{0.5, 10}, []float64{0.539, 10.009}, true},
		{"bounded dimension moved too far", box, []float64{0.5, 10}, []float64{0.55, 10}, false},
		{"unbounded dimension moved too far", box, []float64{0.5, 10}, []float64{0.5, 10.02}, false},
		{"both clipped to the bound", box, []float64{3, 0}, []float64{5, 0}, true},
	}
	for _, tc := range tests {
		n := testNet(t, tc.space)
		if got := n.sameGreedy(tc.p, tc.q, tc.space, 0.01, a, b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCompareProbes: the means over the probes, by hand for two rows of a categorical.
func TestCompareProbes(t *testing.T) {
	space := framework.ActionSpace{Kind: framework.Discrete, N: 2}
	n := testNet(t, space)
	old := []float64{0, 0, 0, math.Log(3)} // rows (½,½) and (¼,¾)
	nw := []float64{0, math.Log(3), 0, math.Log(3)}
	// Row 1: KL((½,½)‖(¼,¾)) = ½ ln(4/3), argmax 0 → 1 (ties take the first): changed.
	// Row 2: identical: KL 0, argmax 1 both: same. Entropy of the new rows: both (¼,¾):
	// H = −¼ ln ¼ − ¾ ln ¾.
	s := n.compareProbes(old, nil, nw, nil, 2, space, 0)
	h := -0.25*math.Log(0.25) - 0.75*math.Log(0.75)
	if math.Abs(s.kl-0.25*math.Log(4.0/3)) > 1e-12 || math.Abs(s.entropy-h) > 1e-12 || s.agreement != 0.5 {
		t.Fatalf("stats %+v, want KL %v entropy %v agreement 0.5", s, 0.25*math.Log(4.0/3), h)
	}
	if s := n.compareProbes(nil, nil, nil, nil, 0, space, 0); !math.IsNaN(s.kl) || !math.IsNaN(s.agreement) {
		t.Fatalf("no probes: %+v, want NaNs", s)
	}
}

func TestStopReason(t *testing.T) {
	c := DefaultConfig().Convergence
	c.PlateauPatience, c.Stability.Patience, c.MinIterations = 3, 2, 10
	tests := []struct {
		onPlateau, onStable bool
		it, plateauRun, run int
		want                string
	}{
		{false, false, 50, 9, 9, ""},         // criteria off: only the budget stops
		{true, false, 50, 3, 0, StopPlateau}, // patience reached
		{true, false, 50, 2, 9, ""},          // not yet, and stability is off
		{false, true, 50, 0, 2, StopStable},  // stable patience reached
		{true, true, 9, 5, 5, ""},            // before min_iterations
		{true, true, 10, 5, 5, StopPlateau},  // both: plateau is reported first
	}
	for _, tc := range tests {
		c.StopOnPlateau, c.StopOnStable = tc.onPlateau, tc.onStable
		if got := c.stopReason(tc.it, tc.plateauRun, tc.run); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc, got, tc.want)
		}
	}
	st := StabilityConfig{MaxKL: 1e-3, MinAgreement: 0.9}
	for _, tc := range []struct {
		s    probeStats
		want bool
	}{
		{probeStats{kl: 1e-3, agreement: 0.9}, true}, // both bounds inclusive
		{probeStats{kl: 2e-3, agreement: 1}, false},
		{probeStats{kl: 0, agreement: 0.89}, false},
		{probeStats{kl: math.NaN(), agreement: math.NaN()}, false}, // no probes: never stable
	} {
		if got := st.stable(tc.s); got != tc.want {
			t.Errorf("stable(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
