package report

import "math"

// Convergence is the convergence marker of a training curve (episode returns over
// training steps).
type Convergence struct {
	// Window is the number of episodes of the trailing rolling mean.
	Window int
	// X and Smoothed are the rolling mean at each episode from the Window-th on.
	X, Smoothed []float64
	// Final is the rolling mean at the end; Band the tolerance around it.
	Final, Band float64
	// Converged reports whether the rolling mean settled within Band of Final for at least
	// the last StableFraction of the curve; At is the step from which it stayed there.
	Converged bool
	At        float64
}

// Convergence criterion parameters.
const (
	// ConvergenceTolerance is the band around the final rolling mean, as a fraction of the
	// rolling mean's range (max − min over training).
	ConvergenceTolerance = 0.05
	// StableFraction is the share of the curve the rolling mean must stay in the band for
	// training to count as converged.
	StableFraction = 0.10
)

// DetectConvergence smooths the returns ys at steps xs (episode ends, increasing) with a
// trailing rolling mean over w = max(10, n/20) episodes and finds the first point from
// which the rolling mean stays within ±ConvergenceTolerance·(range of the rolling mean) of
// its final value. Training counts as converged when that point lies before the last
// StableFraction of the curve: a curve still moving at the end has not converged. With
// fewer than 2w episodes nothing is decided (Converged false, At NaN).
func DetectConvergence(xs, ys []float64) Convergence {
	n := len(ys)
	w := max(10, n/20)
	c := Convergence{Window: w, At: math.NaN(), Final: math.NaN(), Band: math.NaN()}
	if n < 2*w || len(xs) != n {
		return c
	}
	sum := 0.0
	for i, y := range ys {
		sum += y
		if i >= w {
			sum -= ys[i-w]
		}
		if i >= w-1 {
			c.X = append(c.X, xs[i])
			c.Smoothed = append(c.Smoothed, sum/float64(w))
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Smoothed {
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	m := len(c.Smoothed)
	c.Final = c.Smoothed[m-1]
	c.Band = ConvergenceTolerance * (hi - lo)
	first := m - 1
	for i := m - 1; i >= 0; i-- {
		if math.Abs(c.Smoothed[i]-c.Final) > c.Band {
			break
		}
		first = i
	}
	c.At = c.X[first]
	span := c.X[m-1] - c.X[0]
	c.Converged = span > 0 && c.X[m-1]-c.At >= StableFraction*span || hi == lo
	return c
}
