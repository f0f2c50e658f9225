package ppo

import "gonum.org/v1/gonum/floats"

// The dense kernels of the MLP. Every product the network needs is written as
// C = A·Bᵀ with row-major A (m×k), B (n×k) and C (m×n), so that each entry is a dot
// product of two contiguous rows: the forward pass (Y = X·Wᵀ), the input gradient
// (dX = dY·W = dY·(Wᵀ)ᵀ) and the weight gradient (dW = dYᵀ·X = (dYᵀ)·(Xᵀ)ᵀ) after
// transposing small operands.
//
// Long contractions (k ≥ dotMinK: hidden layers, weight gradients over a minibatch) use
// gonum's assembly dot product (floats.Dot, packed SSE2 on amd64), which measured about 17%
// more training throughput than the plain Go loop; short ones (the first layer's k =
// number of features) use a plain loop computing four outputs per pass, where the call
// overhead of the assembly routine does not pay. BenchmarkGemmNT compares both with
// gonum's blas64.Gemm (see doc.go). Neither path allocates or starts goroutines.

// dotMinK is the contraction length from which gemmNT uses floats.Dot.
const dotMinK = 16

// gemmNT sets C = A·Bᵀ, or C = A·Bᵀ + bias (bias broadcast over rows) when bias is not nil.
func gemmNT(m, n, k int, a, b, c, bias []float64) {
	if k < dotMinK {
		gemmNTPlain(m, n, k, a, b, c, bias)
		return
	}
	for i := 0; i < m; i++ {
		ai := a[i*k : i*k+k]
		ci := c[i*n : i*n+n]
		for j := range ci {
			d := floats.Dot(ai, b[j*k:j*k+k])
			if bias != nil {
				d = bias[j] + d
			}
			ci[j] = d
		}
	}
}

// gemmNTPlain is gemmNT in plain Go, four output columns per pass over a row of A (four
// independent accumulators).
func gemmNTPlain(m, n, k int, a, b, c, bias []float64) {
	for i := 0; i < m; i++ {
		ai := a[i*k : i*k+k]
		ci := c[i*n : i*n+n]
		j := 0
		for ; j+4 <= n; j += 4 {
			b0 := b[j*k : j*k+k]
			b1 := b[(j+1)*k : (j+1)*k+k]
			b2 := b[(j+2)*k : (j+2)*k+k]
			b3 := b[(j+3)*k : (j+3)*k+k]
			// Equal lengths let the compiler drop the bounds checks in the loop.
			b0, b1, b2, b3 = b0[:len(ai)], b1[:len(ai)], b2[:len(ai)], b3[:len(ai)]
			var s0, s1, s2, s3 float64
			if bias != nil {
				s0, s1, s2, s3 = bias[j], bias[j+1], bias[j+2], bias[j+3]
			}
			for p, v := range ai {
				s0 += v * b0[p]
				s1 += v * b1[p]
				s2 += v * b2[p]
				s3 += v * b3[p]
			}
			ci[j], ci[j+1], ci[j+2], ci[j+3] = s0, s1, s2, s3
		}
		for ; j < n; j++ {
			bj := b[j*k : j*k+k][:len(ai)]
			var s float64
			if bias != nil {
				s = bias[j]
			}
			for p, v := range ai {
				s += v * bj[p]
			}
			ci[j] = s
		}
	}
}

// transpose writes the n×m transpose of the row-major m×n matrix a into t, in 8×8 tiles
// so that both the reads and the strided writes stay within a few cache lines.
func transpose(m, n int, a, t []float64) {
	const tile = 8
	for i0 := 0; i0 < m; i0 += tile {
		i1 := min(i0+tile, m)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			for i := i0; i < i1; i++ {
				row := a[i*n+j0 : i*n+j1]
				for dj, v := range row {
					t[(j0+dj)*m+i] = v
				}
			}
		}
	}
}
