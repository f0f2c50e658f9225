package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// gram returns W·Wᵀ (rows ≤ cols) or Wᵀ·W (rows > cols) of a rows×cols matrix.
func gram(w []float64, rows, cols int) ([]float64, int) {
	if rows <= cols {
		g := make([]float64, rows*rows)
		for i := 0; i < rows; i++ {
			for j := 0; j < rows; j++ {
				for k := 0; k < cols; k++ {
					g[i*rows+j] += w[i*cols+k] * w[j*cols+k]
				}
			}
		}
		return g, rows
	}
	g := make([]float64, cols*cols)
	for i := 0; i < cols; i++ {
		for j := 0; j < cols; j++ {
			for k := 0; k < rows; k++ {
				g[i*cols+j] += w[k*cols+i] * w[k*cols+j]
			}
		}
	}
	return g, cols
}

// TestOrthogonal: orthogonal_(W, gain) has orthonormal rows (wide) or columns (tall)
// times gain, so the Gram matrix is gain²·I.
func TestOrthogonal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct {
		rows, cols int
		gain       float64
	}{{64, 4, math.Sqrt2}, {64, 64, math.Sqrt2}, {2, 64, 0.01}, {1, 64, 1}, {3, 3, 2}} {
		w := make([]float64, s.rows*s.cols)
		orthogonal(w, s.rows, s.cols, s.gain, rng)
		g, n := gram(w, s.rows, s.cols)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				want := 0.0
				if i == j {
					want = s.gain * s.gain
				}
				if !near(g[i*n+j], want, 1e-12) {
					t.Fatalf("%d×%d gain %v: Gram[%d][%d] = %v, want %v", s.rows, s.cols, s.gain, i, j, g[i*n+j], want)
				}
			}
		}
	}
}

// TestOrthogonalSignCorrection: with the sign of diag(R) folded into Q, the factorisation
// is the one with a positive diagonal, i.e. Gram–Schmidt: Q's first column is the first
// column of the Gaussian draw divided by its norm. Without the correction LAPACK's
// Householder QR makes R₁₁ = −sign(a₁₁)·‖a₁‖, flipping that column.
func TestOrthogonalSignCorrection(t *testing.T) {
	const rows, cols = 6, 3
	w := make([]float64, rows*cols)
	orthogonal(w, rows, cols, 1, rand.New(rand.NewPCG(9, 9)))
	draw := rand.New(rand.NewPCG(9, 9)) // the same Gaussian matrix, row-major rows×cols
	a := make([]float64, rows*cols)
	for i := range a {
		a[i] = draw.NormFloat64()
	}
	norm := 0.0
	for i := 0; i < rows; i++ {
		norm += a[i*cols] * a[i*cols]
	}
	norm = math.Sqrt(norm)
	for i := 0; i < rows; i++ {
		if !near(w[i*cols], a[i*cols]/norm, 1e-12) {
			t.Fatalf("Q[%d][0] = %v, want a[%d][0]/‖a₀‖ = %v", i, w[i*cols], i, a[i*cols]/norm)
		}
	}
}

// TestInitParams checks CleanRL's layer_init on the whole network: hidden layers with gain
// √2, actor head 0.01, critic head 1, zero biases and zero log-std.
func TestInitParams(t *testing.T) {
	space := framework.ActionSpace{Kind: framework.Box, Low: []float64{-2, -1}, High: []float64{2, 1}}
	n, err := newNet(3, []int{64, 64}, actTanh, space)
	if err != nil {
		t.Fatal(err)
	}
	p := initParams(n, rand.New(rand.NewPCG(3, 4)))
	// 3·64+64 + 64·64+64 + 64·2+2 (actor) + 3·64+64 + 64·64+64 + 64+1 (critic) + 2 (log-std).
	if want := (256 + 4160 + 130) + (256 + 4160 + 65) + 2; n.n != want || len(p) != want {
		t.Fatalf("%d parameters, want %d", n.n, want)
	}
	for _, part := range []struct {
		m    mlp
		head float64
	}{{n.actor, 0.01}, {n.critic, 1}} {
		for i, l := range part.m.layers {
			gain := math.Sqrt2
			if i == len(part.m.layers)-1 {
				gain = part.head
			}
			g, k := gram(p[l.w:l.w+l.out*l.in], l.out, l.in)
			for d := 0; d < k; d++ {
				if !near(g[d*k+d], gain*gain, 1e-12) {
					t.Fatalf("layer %d: squared norm %v, want gain² %v", i, g[d*k+d], gain*gain)
				}
			}
			for _, b := range p[l.b : l.b+l.out] {
				if b != 0 {
					t.Fatalf("layer %d has a non-zero bias", i)
				}
			}
		}
	}
	for _, v := range p[n.logStd:] {
		if v != 0 {
			t.Fatal("log-std not initialised to 0")
		}
	}
	q := initParams(n, rand.New(rand.NewPCG(3, 4)))
	for i := range p {
		if p[i] != q[i] {
			t.Fatal("initialisation is not deterministic for a seed")
		}
	}
}
