package framework

import "math"

func nan() float64 { return math.NaN() }

// Finite reports whether every value is neither NaN nor ±Inf.
func Finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
