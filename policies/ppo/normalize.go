package ppo

import "math"

// normEps is the ε of Gymnasium's normalisation wrappers: x / √(var + ε).
const normEps = 1e-8

// RunningMeanStd tracks a per-feature running mean and (population) variance as
// Gymnasium 0.29's RunningMeanStd: mean 0, variance 1 and count 1e-4 before any data,
// updated with Chan et al.'s parallel formula
//
//	δ = μ_b − μ,  n' = n + n_b,  μ' = μ + δ·n_b/n',  σ²' = (σ²·n + σ²_b·n_b + δ²·n·n_b/n')/n'.
//
// Unlike Gymnasium's it keeps one count per feature so that missing values (invalid
// observation entries) can be left out of a feature's statistics; with every value valid
// all counts are equal and the result is Gymnasium's.
type RunningMeanStd struct {
	Mean  []float64 `json:"mean"`
	Var   []float64 `json:"var"`
	Count []float64 `json:"count"`
}

// NewRunningMeanStd returns statistics for dim features in Gymnasium's initial state.
func NewRunningMeanStd(dim int) *RunningMeanStd {
	r := &RunningMeanStd{Mean: make([]float64, dim), Var: make([]float64, dim), Count: make([]float64, dim)}
	for i := range r.Var {
		r.Var[i], r.Count[i] = 1, 1e-4
	}
	return r
}

// Update adds one sample (a batch of one: batch mean x, batch variance 0, count 1);
// features with valid[i] false are skipped (valid nil means all valid).
func (r *RunningMeanStd) Update(x []float64, valid []bool) {
	for i, v := range x {
		if valid != nil && !valid[i] {
			continue
		}
		r.merge(i, v, 0, 1)
	}
}

// Merge folds another set of statistics into r as a batch (moments and count).
func (r *RunningMeanStd) Merge(o *RunningMeanStd) {
	for i := range r.Mean {
		r.merge(i, o.Mean[i], o.Var[i], o.Count[i])
	}
}

func (r *RunningMeanStd) merge(i int, bMean, bVar, bCount float64) {
	mean, v, n := r.Mean[i], r.Var[i], r.Count[i]
	delta := bMean - mean
	tot := n + bCount
	r.Mean[i] = mean + delta*bCount/tot
	m2 := v*n + bVar*bCount + delta*delta*n*bCount/tot
	r.Var[i] = m2 / tot
	r.Count[i] = tot
}

// Normalize writes (x − μ)/√(σ² + 1e-8), clipped to ±clip, into dst.
func (r *RunningMeanStd) Normalize(x, dst []float64, clip float64) {
	for i, v := range x {
		z := (v - r.Mean[i]) / math.Sqrt(r.Var[i]+normEps)
		dst[i] = min(max(z, -clip), clip)
	}
}

// Clone returns a deep copy.
func (r *RunningMeanStd) Clone() *RunningMeanStd {
	return &RunningMeanStd{Mean: append([]float64(nil), r.Mean...), Var: append([]float64(nil), r.Var...), Count: append([]float64(nil), r.Count...)}
}

// rewardNormalizer is Gymnasium 0.29's NormalizeReward for one environment followed by
// CleanRL's reward clip: the discounted return G ← γ·G·(1 − terminated) + r is tracked,
// its running variance updated with G, and the reward returned as r/√(var(G) + 1e-8),
// clipped to ±clip. The return is reset on termination only (not on truncation), exactly
// as in that Gymnasium version.
type rewardNormalizer struct {
	RMS    *RunningMeanStd `json:"rms"`
	Return float64         `json:"return"`
	gamma  float64
	clip   float64
}

func newRewardNormalizer(gamma, clip float64) *rewardNormalizer {
	return &rewardNormalizer{RMS: NewRunningMeanStd(1), gamma: gamma, clip: clip}
}

// normalize returns the scaled reward of one step.
func (n *rewardNormalizer) normalize(r float64, terminated bool) float64 {
	keep := 1.0
	if terminated {
		keep = 0
	}
	n.Return = n.Return*n.gamma*keep + r
	n.RMS.merge(0, n.Return, 0, 1)
	s := r / math.Sqrt(n.RMS.Var[0]+normEps)
	return min(max(s, -n.clip), n.clip)
}
