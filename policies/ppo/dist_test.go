package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// TestCategoricalRow: logits (0, ln 2, ln 3) give probabilities (1/6, 2/6, 3/6), so
// log π(2) = ln ½ and H = −Σ p ln p; samples follow the probabilities; the mode is 2.
func TestCategoricalRow(t *testing.T) {
	nt, _ := newNet(1, []int{1}, actTanh, framework.ActionSpace{Kind: framework.Discrete, N: 3})
	out := []float64{0, math.Log(2), math.Log(3)}
	aux := make([]float64, 3)
	logp, h := nt.evalRow(out, nil, []float64{2}, aux)
	wantH := -(1.0/6*math.Log(1.0/6) + 2.0/6*math.Log(2.0/6) + 3.0/6*math.Log(3.0/6))
	if !near(logp, math.Log(0.5), 1e-15) || !near(h, wantH, 1e-15) {
		t.Fatalf("log π %v H %v, want %v %v", logp, h, math.Log(0.5), wantH)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]float64, 3)
	a := []float64{0}
	const n = 60000
	for i := 0; i < n; i++ {
		lp := nt.sampleRow(out, nil, rng, a, aux)
		counts[int(a[0])]++
		if !near(lp, math.Log((a[0]+1)/6), 1e-15) {
			t.Fatalf("sample %v has log π %v", a[0], lp)
		}
	}
	for j, c := range counts {
		p := float64(j+1) / 6
		if math.Abs(c/n-p) > 4*math.Sqrt(p*(1-p)/n) {
			t.Fatalf("category %d drawn %.4f of the time, want %.4f", j, c/n, p)
		}
	}
	nt.modeRow(out, a)
	if a[0] != 2 {
		t.Fatalf("mode %v, want 2", a[0])
	}
}

// TestGaussianRow: for μ = 0.5, log σ = ln 2 and a = 1.5, z = 0.5 and
// log π = −z²/2 − ln 2 − ½ ln 2π, H = ½ + ½ ln 2π + ln 2; samples have mean μ and std σ.
func TestGaussianRow(t *testing.T) {
	nt, _ := newNet(1, []int{1}, actTanh, framework.ActionSpace{Kind: framework.Box, Low: []float64{-1}, High: []float64{1}})
	out, logStd, aux := []float64{0.5}, []float64{math.Ln2}, []float64{0}
	logp, h := nt.evalRow(out, logStd, []float64{1.5}, aux)
	if !near(logp, -0.125-math.Ln2-0.5*math.Log(2*math.Pi), 1e-15) || !near(h, 0.5+0.5*math.Log(2*math.Pi)+math.Ln2, 1e-15) {
		t.Fatalf("log π %v H %v", logp, h)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	a := []float64{0}
	var s, ss float64
	const n = 40000
	outside := false
	for i := 0; i < n; i++ {
		nt.sampleRow(out, logStd, rng, a, aux)
		s += a[0]
		ss += a[0] * a[0]
		outside = outside || a[0] > 1 || a[0] < -1
	}
	m := s / n
	sd := math.Sqrt(ss/n - m*m)
	if math.Abs(m-0.5) > 0.03 || math.Abs(sd-2) > 0.03 {
		t.Fatalf("samples mean %v std %v, want 0.5 and 2", m, sd)
	}
	if !outside {
		t.Fatal("samples are clipped: the stored sample must be the unclipped one")
	}
}
