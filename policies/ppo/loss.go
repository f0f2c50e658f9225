package ppo

import (
	"math"
)

// minibatch is the data of one PPO minibatch, n rows.
type minibatch struct {
	n       int
	obs     []float64 // n×inDim network inputs
	act     []float64 // n×actDim actions (category indices as float64; unclipped Gaussian samples)
	oldLogp []float64 // log π_old(a|s) from the rollout
	adv     []float64 // GAE advantages (not normalised)
	ret     []float64 // returns = advantages + values
	oldV    []float64 // V_old(s) from the rollout
	weight  []float64 // 1 for samples in the loss, 0 for masked (fallback) steps
}

// lossCoefs are the loss hyperparameters.
type lossCoefs struct {
	clipCoef, entCoef, vfCoef float64
	normAdv, clipVLoss        bool
}

func coefsOf(c Config) lossCoefs {
	return lossCoefs{clipCoef: c.ClipCoef, entCoef: c.EntCoef, vfCoef: c.VFCoef, normAdv: c.NormAdv, clipVLoss: c.ClipVLoss}
}

// lossStats are the diagnostics CleanRL logs for a minibatch.
type lossStats struct {
	loss, pgLoss, vLoss, entropy float64
	oldApproxKL, approxKL        float64
	clipFrac                     float64
	n                            int // samples in the loss (weight 1)
}

// learner computes the PPO loss and its gradient for minibatches up to maxB rows.
type learner struct {
	net    *net
	aw, cw *mlpWork
	aux    []float64 // maxB×outDim
	dA     []float64 // maxB×outDim
	dV     []float64 // maxB
	logp   []float64
	ent    []float64
	nadv   []float64
	cL     []float64
}

func newLearner(n *net, maxB int) *learner {
	return &learner{
		net: n, aw: newMLPWork(n.actor, maxB), cw: newMLPWork(n.critic, maxB),
		aux: make([]float64, maxB*n.outDim), dA: make([]float64, maxB*n.outDim), dV: make([]float64, maxB),
		logp: make([]float64, maxB), ent: make([]float64, maxB), nadv: make([]float64, maxB), cL: make([]float64, maxB),
	}
}

// lossGrad returns CleanRL's PPO loss of the minibatch,
//
//	loss = pg_loss − ent_coef·entropy + vf_coef·v_loss
//	pg_loss = mean(max(−Â·r, −Â·clip(r, 1−ε, 1+ε)))          r = exp(log π − log π_old)
//	v_loss  = ½·mean(max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²))   (clip_vloss)
//	v_loss  = ½·mean((V − R)²)                                             (otherwise)
//
// where means run over the samples of weight 1 and Â are the advantages normalised over
// those samples with the unbiased standard deviation plus 1e-8 (norm_adv). When g is not
// nil it receives the gradient of the loss w.r.t. every parameter, with PyTorch's
// subgradients at the kinks: max passes half the gradient to each side on a tie, clamp
// passes the gradient where its input lies within the bounds (inclusive).
func (l *learner) lossGrad(p, g []float64, mb *minibatch, c lossCoefs) lossStats {
	n, nt := mb.n, l.net
	var st lossStats
	for i := 0; i < n; i++ {
		if mb.weight[i] != 0 {
			st.n++
		}
	}
	if g != nil {
		clear(g)
	}
	if st.n == 0 {
		return st
	}
	nv := float64(st.n)
	aOut := nt.actor.forward(p, mb.obs, n, l.aw)
	vOut := nt.critic.forward(p, mb.obs, n, l.cw)
	var logStd []float64
	if nt.logStd >= 0 {
		logStd = p[nt.logStd : nt.logStd+nt.actDim]
	}
	od, ad := nt.outDim, nt.actDim
	for i := 0; i < n; i++ {
		l.logp[i], l.ent[i] = nt.evalRow(aOut[i*od:i*od+od], logStd, mb.act[i*ad:i*ad+ad], l.aux[i*od:i*od+od])
	}
	// Advantage normalisation over the minibatch's weighted samples.
	copy(l.nadv[:n], mb.adv[:n])
	if c.normAdv {
		mean := 0.0
		for i := 0; i < n; i++ {
			mean += mb.weight[i] * mb.adv[i]
		}
		mean /= nv
		ss := 0.0
		for i := 0; i < n; i++ {
			d := mb.adv[i] - mean
			ss += mb.weight[i] * d * d
		}
		std := 0.0
		if st.n > 1 {
			std = math.Sqrt(ss / (nv - 1))
		}
		for i := 0; i < n; i++ {
			l.nadv[i] = (mb.adv[i] - mean) / (std + 1e-8)
		}
	}
	for i := 0; i < n; i++ {
		w := mb.weight[i]
		if w == 0 {
			l.cL[i], l.dV[i] = 0, 0
			continue
		}
		logratio := l.logp[i] - mb.oldLogp[i]
		r, oldKL, kl := klTerms(logratio)
		st.oldApproxKL += oldKL
		st.approxKL += kl
		if math.Abs(r-1) > c.clipCoef {
			st.clipFrac++
		}
		pg, dpg := pgTerm(l.nadv[i], r, c.clipCoef)
		st.pgLoss += pg
		l.cL[i] = dpg * r / nv // ∂/∂log π = ∂/∂r · r
		vl, dv := vTerm(vOut[i], mb.oldV[i], mb.ret[i], c.clipCoef, c.clipVLoss)
		st.vLoss += vl
		l.dV[i] = c.vfCoef * 0.5 * dv / nv
		st.entropy += l.ent[i]
	}
	st.pgLoss /= nv
	st.vLoss = 0.5 * st.vLoss / nv
	st.entropy /= nv
	st.oldApproxKL /= nv
	st.approxKL /= nv
	st.clipFrac /= nv
	st.loss = st.pgLoss - c.entCoef*st.entropy + c.vfCoef*st.vLoss
	if g == nil {
		return st
	}
	dA := l.dA[:n*od]
	clear(dA)
	var gLogStd []float64
	if nt.logStd >= 0 {
		gLogStd = g[nt.logStd : nt.logStd+ad]
	}
	cH := -c.entCoef / nv
	for i := 0; i < n; i++ {
		if mb.weight[i] == 0 {
			continue
		}
		nt.gradRow(logStd, mb.act[i*ad:i*ad+ad], l.aux[i*od:i*od+od], l.cL[i], cH, dA[i*od:i*od+od], gLogStd)
	}
	nt.actor.backward(p, g, mb.obs, n, l.aw, dA)
	nt.critic.backward(p, g, mb.obs, n, l.cw, l.dV[:n])
	return st
}

// klTerms returns the probability ratio r = exp(logratio) and the per-sample terms of
// CleanRL's KL estimators (http://joschu.net/blog/kl-approx.html): −log r for
// old_approx_kl and (r − 1) − log r for approx_kl.
func klTerms(logratio float64) (r, oldKL, kl float64) {
	r = math.Exp(logratio)
	return r, -logratio, (r - 1) - logratio
}

// pgTerm returns one sample's clipped-surrogate loss max(−A·r, −A·clip(r, 1−ε, 1+ε)) and
// its derivative w.r.t. r, with PyTorch's subgradients: the larger side takes the
// gradient (half each on a tie) and clamp passes it only for r within [1−ε, 1+ε].
func pgTerm(A, r, eps float64) (loss, dr float64) {
	rc := min(max(r, 1-eps), 1+eps)
	l1, l2 := -A*r, -A*rc
	g1, g2 := maxGrad(l1, l2)
	dr = g1 * -A
	if r >= 1-eps && r <= 1+eps {
		dr += g2 * -A
	}
	return max(l1, l2), dr
}

// vTerm returns one sample's squared value error — max((V − R)², (V_old + clip(V − V_old,
// −ε, ε) − R)²) when clipped, (V − R)² otherwise, before the ½ and the mean — and its
// derivative w.r.t. V, with the same subgradient rules as pgTerm.
func vTerm(v, oldV, R, eps float64, clipped bool) (loss, dv float64) {
	if !clipped {
		return (v - R) * (v - R), 2 * (v - R)
	}
	d := v - oldV
	vc := oldV + min(max(d, -eps), eps)
	lu, lc := (v-R)*(v-R), (vc-R)*(vc-R)
	gu, gc := maxGrad(lu, lc)
	dv = gu * 2 * (v - R)
	if d >= -eps && d <= eps {
		dv += gc * 2 * (vc - R)
	}
	return max(lu, lc), dv
}

// maxGrad returns ∂max(a,b)/∂a and ∂max(a,b)/∂b as PyTorch's torch.max(a, b) backward
// does: the larger side gets the gradient, a tie splits it in halves.
func maxGrad(a, b float64) (float64, float64) {
	switch {
	case a > b:
		return 1, 0
	case a < b:
		return 0, 1
	}
	return 0.5, 0.5
}

// clipGradNorm scales g so that its global L2 norm is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_: g·min(1, maxNorm/(‖g‖ + 1e-6)). It returns ‖g‖ before
// clipping. maxNorm 0 disables clipping.
func clipGradNorm(g []float64, maxNorm float64) float64 {
	ss := 0.0
	for _, v := range g {
		ss += v * v
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 {
		if coef := maxNorm / (norm + 1e-6); coef < 1 {
			for i := range g {
				g[i] *= coef
			}
		}
	}
	return norm
}

// adam is torch.optim.Adam (β₁ 0.9, β₂ 0.999, no weight decay, not amsgrad):
//
//	m ← m + (1−β₁)(g − m)        v ← β₂v + (1−β₂)g²
//	p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
//
// ε is added after the square root of the bias-corrected second moment.
type adam struct {
	M, V         []float64
	T            int
	beta1, beta2 float64
	eps          float64
}

func newAdam(n int, eps float64) *adam {
	return &adam{M: make([]float64, n), V: make([]float64, n), beta1: 0.9, beta2: 0.999, eps: eps}
}

// step applies one update to p with gradient g and learning rate lr.
func (a *adam) step(p, g []float64, lr float64) {
	a.T++
	bc1 := 1 - math.Pow(a.beta1, float64(a.T))
	bc2 := 1 - math.Pow(a.beta2, float64(a.T))
	stepSize := lr / bc1
	bc2Sqrt := math.Sqrt(bc2)
	m, v := a.M[:len(p)], a.V[:len(p)]
	g = g[:len(p)]
	for i := range p {
		m[i] += (1 - a.beta1) * (g[i] - m[i])
		v[i] = a.beta2*v[i] + (1-a.beta2)*g[i]*g[i]
		p[i] -= stepSize * m[i] / (math.Sqrt(v[i])/bc2Sqrt + a.eps)
	}
}

// annealedLR is CleanRL's schedule: at the start of iteration i (1-based) of n the
// learning rate is lr·(1 − (i−1)/n); it starts at lr and ends at lr/n, never zero.
func annealedLR(lr float64, i, n int) float64 {
	return (1 - (float64(i)-1)/float64(n)) * lr
}

// explainedVariance is 1 − Var(y − ŷ)/Var(y) with population variances (numpy's np.var),
// NaN when Var(y) is zero.
func explainedVariance(pred, y []float64) float64 {
	vy := variance(y, nil)
	if vy == 0 {
		return math.NaN()
	}
	return 1 - variance(y, pred)/vy
}

// variance is the population variance of y − sub (of y when sub is nil).
func variance(y, sub []float64) float64 {
	n := float64(len(y))
	if n == 0 {
		return math.NaN()
	}
	at := func(i int) float64 {
		if sub == nil {
			return y[i]
		}
		return y[i] - sub[i]
	}
	mean := 0.0
	for i := range y {
		mean += at(i)
	}
	mean /= n
	ss := 0.0
	for i := range y {
		d := at(i) - mean
		ss += d * d
	}
	return ss / n
}
