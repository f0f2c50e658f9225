package calibrate

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// BatchSamples are measured GPU execution times of batches of one size.
type BatchSamples struct {
	Batch int
	// Times are per-execution compute times.
	Times []time.Duration
}

// ServiceFit is the simulator's GPU service-time model fitted to measurements:
// t(b) = max(TMin, TFixed + TPerImage·b) times a lognormal jitter factor of mean 1 and
// coefficient of variation JitterCV.
type ServiceFit struct {
	TMin, TFixed, TPerImage time.Duration
	JitterCV                float64
	// Floor says whether the floor model (TMin > 0) was chosen over the plain line, and
	// FStat is the F statistic of the floor against the line (the floor is kept when
	// FStat > FloorFThreshold).
	Floor bool
	FStat float64
	// Residuals are, per batch size, the measured mean minus the fitted t(b).
	Residuals []Residual
	Samples   int
}

// Residual is one batch size's (or rate's) measured mean against the fit.
type Residual struct {
	X        float64       `json:"x"` // batch size (or offered rate)
	Measured float64       `json:"measured"`
	Fitted   float64       `json:"fitted"`
	N        int           `json:"n"`
	Unit     string        `json:"unit"`
	Diff     time.Duration `json:"-"`
}

// Rel is the residual relative to the fitted value.
func (r Residual) Rel() float64 { return (r.Measured - r.Fitted) / r.Fitted }

// FloorFThreshold is the F statistic above which the floor t_min is kept: F(1, n) > 20
// has p < 10⁻⁴ when the line is right.
const FloorFThreshold = 20

// FitService fits t(b) to per-batch-size samples by weighted least squares with weights
// 1/mean(b)² (the jitter is multiplicative, so spread grows with t(b)): first the line
// TFixed + TPerImage·b; then, for every split of the batch sizes into a flat low part
// (at least one size) and a linear high part (at least two sizes), the floor model
// max(TMin, TFixed + TPerImage·b) with TMin the low part's weighted mean. The best floor
// model replaces the line only if it explains significantly more (F test, FStat >
// FloorFThreshold) and is consistent (the line lies below TMin on the low part). The
// jitter CV is the standard deviation of the samples divided by their fitted t(b).
func FitService(data []BatchSamples) (ServiceFit, error) {
	var pts []point
	total := 0
	for _, d := range data {
		if len(d.Times) == 0 {
			continue
		}
		var s float64
		for _, t := range d.Times {
			s += float64(t)
		}
		m := s / float64(len(d.Times))
		if !(m > 0) {
			return ServiceFit{}, fmt.Errorf("batch %d: mean compute time %v is not positive", d.Batch, time.Duration(m))
		}
		pts = append(pts, point{b: float64(d.Batch), mean: m, n: len(d.Times), times: d.Times})
		total += len(d.Times)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].b < pts[j].b })
	if len(pts) < 2 {
		return ServiceFit{}, errors.New("fitting t(b) needs samples at two batch sizes at least")
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].b == pts[i-1].b {
			return ServiceFit{}, fmt.Errorf("batch size %v appears twice", pts[i].b)
		}
	}
	// Line over every point.
	c, k := wls(pts)
	lineSSE := sse(pts, func(b float64) float64 { return c + k*b })
	fit := ServiceFit{TFixed: dur(c), TPerImage: dur(k), Samples: total}
	model := func(b float64) float64 { return c + k*b }
	// Floor models.
	bestSSE, bestSplit := math.Inf(1), -1
	var ba, bc, bk float64
	for s := 1; s+2 <= len(pts); s++ {
		low, high := pts[:s], pts[s:]
		var sw, swm float64
		for _, p := range low {
			w := float64(p.n) / (p.mean * p.mean)
			sw += w
			swm += w * p.mean
		}
		a := swm / sw
		hc, hk := wls(high)
		// Consistency: the line is under the floor on the low part and over it on the high
		// part (within the high part's first point, where the two may meet).
		ok := hk > 0
		for _, p := range low {
			if hc+hk*p.b > a*1.001 {
				ok = false
			}
		}
		if hc+hk*high[len(high)-1].b < a {
			ok = false
		}
		if !ok {
			continue
		}
		e := sse(pts, func(b float64) float64 { return math.Max(a, hc+hk*b) })
		if e < bestSSE {
			bestSSE, bestSplit, ba, bc, bk = e, s, a, hc, hk
		}
	}
	if bestSplit >= 0 && total > 3 {
		// One more parameter than the line; the floor model's residual variance.
		if denom := bestSSE / float64(total-3); denom > 0 {
			fit.FStat = (lineSSE - bestSSE) / denom
		}
		if fit.FStat > FloorFThreshold {
			fit.Floor = true
			fit.TMin, fit.TFixed, fit.TPerImage = dur(ba), dur(bc), dur(bk)
			model = func(b float64) float64 { return math.Max(ba, bc+bk*b) }
		}
	}
	// Jitter: spread of the samples around the fitted t(b), relative to it.
	var sum, sum2 float64
	n := 0
	for _, p := range pts {
		f := model(p.b)
		for _, t := range p.times {
			j := float64(t) / f
			sum += j
			sum2 += j * j
			n++
		}
		fit.Residuals = append(fit.Residuals, Residual{X: p.b, Measured: p.mean / 1e3, Fitted: f / 1e3, N: p.n, Unit: "µs",
			Diff: time.Duration(p.mean - f)})
	}
	if n > 1 {
		mean := sum / float64(n)
		v := (sum2 - float64(n)*mean*mean) / float64(n-1)
		fit.JitterCV = math.Sqrt(math.Max(v, 0)) / mean
	}
	if fit.TFixed < 0 {
		fit.TFixed = 0
	}
	return fit, nil
}

type point struct {
	b, mean float64
	n       int
	times   []time.Duration
}

// wls fits mean = c + k·b with weights n/mean².
func wls(pts []point) (c, k float64) {
	var sw, sx, sy, sxx, sxy float64
	for _, p := range pts {
		w := float64(p.n) / (p.mean * p.mean)
		sw += w
		sx += w * p.b
		sy += w * p.mean
		sxx += w * p.b * p.b
		sxy += w * p.b * p.mean
	}
	det := sw*sxx - sx*sx
	if det == 0 {
		return sy / sw, 0
	}
	k = (sw*sxy - sx*sy) / det
	c = (sy - k*sx) / sw
	return c, k
}

// sse is the per-sample weighted squared error of model f.
func sse(pts []point, f func(b float64) float64) float64 {
	var e float64
	for _, p := range pts {
		ref := f(p.b)
		w := 1 / (p.mean * p.mean)
		for _, t := range p.times {
			d := float64(t) - ref
			e += w * d * d
		}
	}
	return e
}

func dur(ns float64) time.Duration { return time.Duration(math.Round(ns)) }

// CPUPoint is one step of the CPU sweep: CPU seconds used and images served over an
// interval of Seconds.
type CPUPoint struct {
	Rate       float64 // offered rate of the step, req/s
	Seconds    float64
	CPUSeconds float64
	Images     int64
}

// CPUFit is the pod's CPU cost fitted to a sweep: CPU rate = IdleCores + CPUPerImage × image
// rate.
type CPUFit struct {
	CPUPerImage time.Duration
	IdleCores   float64
	Residuals   []Residual
}

// FitCPU regresses CPU use on served images over the sweep's steps: with one step the
// CPU cost is CPU seconds per image (no idle use assumed); with several, the slope of
// cores against images per second (the intercept is the idle use).
func FitCPU(pts []CPUPoint) (CPUFit, error) {
	var xs, ys []float64
	for _, p := range pts {
		if p.Seconds <= 0 || p.Images <= 0 {
			continue
		}
		xs = append(xs, float64(p.Images)/p.Seconds)
		ys = append(ys, p.CPUSeconds/p.Seconds)
	}
	if len(xs) == 0 {
		return CPUFit{}, errors.New("fitting CPU per request needs a sweep step that served requests")
	}
	var f CPUFit
	slope, icept := ys[0]/xs[0], 0.0
	if len(xs) > 1 {
		var mx, my float64
		for i := range xs {
			mx += xs[i]
			my += ys[i]
		}
		mx /= float64(len(xs))
		my /= float64(len(xs))
		var sxy, sxx float64
		for i := range xs {
			sxy += (xs[i] - mx) * (ys[i] - my)
			sxx += (xs[i] - mx) * (xs[i] - mx)
		}
		if sxx > 0 {
			slope = sxy / sxx
			icept = my - slope*mx
		}
	}
	f.CPUPerImage = dur(slope * 1e9)
	f.IdleCores = icept
	for i := range xs {
		f.Residuals = append(f.Residuals, Residual{X: xs[i], Measured: ys[i], Fitted: icept + slope*xs[i], N: 1, Unit: "cores"})
	}
	return f, nil
}
