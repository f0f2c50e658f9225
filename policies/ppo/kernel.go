package ppo

// The dense kernels of the MLP. Every product the network needs is written as
// C = A·Bᵀ with row-major A (m×k), B (n×k) and C (m×n), so the innermost loop is a dot
// product over two contiguous rows: the forward pass (Y = X·Wᵀ), the input gradient
// (dX = dY·W = dY·(Wᵀ)ᵀ) and the weight gradient (dW = dYᵀ·X = (dYᵀ)·(Xᵀ)ᵀ) after
// transposing small operands. Four output columns are computed per pass over a row of A
// (four independent accumulators), which keeps the loop free of bounds checks and
// latency-bound on neither loads nor the add chain. BenchmarkGemmNT compares this with
// gonum's blas64.Gemm on the network's shapes (see doc.go).

// gemmNT sets C = A·Bᵀ, or C = A·Bᵀ + bias (bias broadcast over rows) when bias is not nil.
func gemmNT(m, n, k int, a, b, c, bias []float64) {
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
