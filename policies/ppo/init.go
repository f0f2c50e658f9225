package ppo

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// orthogonal fills w (rows×cols, row-major) as torch.nn.init.orthogonal_(w, gain) does:
// draw a rows×cols standard Gaussian matrix, transpose it when rows < cols so that it is
// tall, take its QR decomposition, multiply each column of the (reduced) Q by the sign of
// the matching diagonal entry of R — which makes the result Haar-distributed rather than
// biased by the Householder sign convention — transpose back, and scale by gain. The
// result has orthonormal rows (rows ≤ cols) or orthonormal columns (rows ≥ cols), times
// gain.
func orthogonal(w []float64, rows, cols int, gain float64, rng *rand.Rand) {
	g := make([]float64, rows*cols)
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	m, n := rows, cols
	if rows < cols {
		gt := make([]float64, rows*cols)
		transpose(rows, cols, g, gt)
		g, m, n = gt, cols, rows
	}
	// g is m×n with m ≥ n.
	var qr mat.QR
	qr.Factorize(mat.NewDense(m, n, g))
	var q, r mat.Dense
	qr.QTo(&q) // m×m; the reduced Q is its first n columns
	qr.RTo(&r) // m×n
	out := make([]float64, m*n)
	for j := 0; j < n; j++ {
		s := sign(r.At(j, j))
		for i := 0; i < m; i++ {
			out[i*n+j] = q.At(i, j) * s
		}
	}
	if rows < cols {
		transpose(m, n, out, w) // back to rows×cols
	} else {
		copy(w, out)
	}
	for i := range w[:rows*cols] {
		w[i] *= gain
	}
}

// sign is torch.sign: −1, 0 or +1.
func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// initParams initialises a network's parameters as CleanRL's layer_init: orthogonal
// weights with gain √2 on hidden layers, 0.01 on the actor's output layer and 1 on the
// critic's, zero biases, and a zero log-std (σ = 1) for Gaussian heads. Actor layers are
// drawn first, then critic layers, from rng.
func initParams(n *net, rng *rand.Rand) []float64 {
	p := make([]float64, n.n)
	for _, part := range []struct {
		m        mlp
		headGain float64
	}{{n.actor, 0.01}, {n.critic, 1}} {
		for i, l := range part.m.layers {
			gain := math.Sqrt2
			if i == len(part.m.layers)-1 {
				gain = part.headGain
			}
			orthogonal(p[l.w:l.w+l.out*l.in], l.out, l.in, gain, rng)
			// Biases stay zero (make zeroes them).
		}
	}
	return p
}
