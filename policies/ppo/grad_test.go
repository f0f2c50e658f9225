package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// TestLossGradientFiniteDifference checks the hand-written backward pass: the gradient of
// the full PPO loss w.r.t. every parameter (both networks, biases, log-std) against central
// differences, for each head and activation, with ratios and value changes spread over
// the clip boundaries, advantage normalisation on, and a masked sample.
func TestLossGradientFiniteDifference(t *testing.T) {
	spaces := map[string]framework.ActionSpace{
		"categorical":    {Kind: framework.Discrete, N: 3},
		"multi_discrete": {Kind: framework.MultiDiscrete, Nvec: []int{2, 4}},
		"gaussian":       {Kind: framework.Box, Low: []float64{-1, -2}, High: []float64{1, 2}},
	}
	for _, name := range []string{"categorical", "multi_discrete", "gaussian"} {
		for _, act := range []activation{actTanh, actReLU} {
			for _, clipV := range []bool{true, false} {
				t.Run(name+"/"+act.String(), func(t *testing.T) {
					checkGradient(t, spaces[name], act, clipV)
				})
			}
		}
	}
}

func checkGradient(t *testing.T, space framework.ActionSpace, act activation, clipV bool) {
	rng := rand.New(rand.NewPCG(11, uint64(act)))
	const inDim, n = 4, 9
	nt, err := newNet(inDim, []int{5, 4}, act, space)
	if err != nil {
		t.Fatal(err)
	}
	// Random parameters at a scale where every term matters (the CleanRL init's 0.01 head
	// would make the policy nearly uniform).
	p := make([]float64, nt.n)
	for i := range p {
		p[i] = 0.6 * rng.NormFloat64()
	}
	mb := &minibatch{n: n, obs: make([]float64, n*inDim), act: make([]float64, n*nt.actDim),
		oldLogp: make([]float64, n), adv: make([]float64, n), ret: make([]float64, n), oldV: make([]float64, n), weight: make([]float64, n)}
	for i := range mb.obs {
		mb.obs[i] = rng.NormFloat64()
	}
	l := newLearner(nt, n)
	aOut := nt.actor.forward(p, mb.obs, n, l.aw)
	var logStd []float64
	if nt.logStd >= 0 {
		logStd = p[nt.logStd:]
	}
	for i := 0; i < n; i++ {
		a := mb.act[i*nt.actDim : (i+1)*nt.actDim]
		logp := nt.sampleRow(aOut[i*nt.outDim:(i+1)*nt.outDim], logStd, rng, a, l.aux[:nt.outDim])
		// Ratios exp(±0.5·N) straddle [0.8, 1.2].
		mb.oldLogp[i] = logp + 0.5*rng.NormFloat64()
		mb.adv[i] = rng.NormFloat64()
		mb.ret[i] = rng.NormFloat64()
		mb.weight[i] = 1
	}
	vOut := nt.critic.forward(p, mb.obs, n, l.cw)
	for i := 0; i < n; i++ {
		mb.oldV[i] = vOut[i] + 0.4*rng.NormFloat64() // value changes straddle ±0.2
	}
	mb.weight[3] = 0
	c := lossCoefs{clipCoef: 0.2, entCoef: 0.05, vfCoef: 0.7, normAdv: true, clipVLoss: clipV}
	g := make([]float64, nt.n)
	st := l.lossGrad(p, g, mb, c)
	if st.n != n-1 || st.clipFrac == 0 || st.clipFrac == 1 {
		t.Fatalf("test data does not exercise both clip regions: %+v", st)
	}
	const h = 1e-6
	q := append([]float64(nil), p...)
	for j := range p {
		q[j] = p[j] + h
		up := l.lossGrad(q, nil, mb, c).loss
		q[j] = p[j] - h
		down := l.lossGrad(q, nil, mb, c).loss
		q[j] = p[j]
		num := (up - down) / (2 * h)
		if math.Abs(num-g[j]) > 1e-6*math.Max(1, math.Abs(num)) {
			t.Fatalf("parameter %d of %d: analytic %v, numerical %v", j, nt.n, g[j], num)
		}
	}
}

// TestMaskedSampleIsLeftOut: a sample of weight 0 contributes nothing: the loss and the
// gradient equal those of the minibatch without it.
func TestMaskedSampleIsLeftOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	nt, _ := newNet(3, []int{6}, actTanh, framework.ActionSpace{Kind: framework.Discrete, N: 2})
	p := initParams(nt, rng)
	const n = 5
	full := &minibatch{n: n, obs: make([]float64, n*3), act: make([]float64, n), oldLogp: make([]float64, n),
		adv: make([]float64, n), ret: make([]float64, n), oldV: make([]float64, n), weight: []float64{1, 1, 0, 1, 1}}
	for i := range full.obs {
		full.obs[i] = rng.NormFloat64()
	}
	for i := 0; i < n; i++ {
		full.act[i] = float64(i % 2)
		full.oldLogp[i] = -0.7 + 0.3*rng.NormFloat64()
		full.adv[i], full.ret[i], full.oldV[i] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
	}
	keep := []int{0, 1, 3, 4}
	part := &minibatch{n: 4, obs: make([]float64, 4*3), act: make([]float64, 4), oldLogp: make([]float64, 4),
		adv: make([]float64, 4), ret: make([]float64, 4), oldV: make([]float64, 4), weight: []float64{1, 1, 1, 1}}
	for r, i := range keep {
		copy(part.obs[r*3:r*3+3], full.obs[i*3:i*3+3])
		part.act[r], part.oldLogp[r], part.adv[r], part.ret[r], part.oldV[r] = full.act[i], full.oldLogp[i], full.adv[i], full.ret[i], full.oldV[i]
	}
	c := coefsOf(DefaultConfig())
	l := newLearner(nt, n)
	gf, gp := make([]float64, nt.n), make([]float64, nt.n)
	sf := l.lossGrad(p, gf, full, c)
	sp := l.lossGrad(p, gp, part, c)
	if !near(sf.loss, sp.loss, 1e-14) || sf.n != 4 {
		t.Fatalf("loss with mask %v (n %d), without the sample %v", sf.loss, sf.n, sp.loss)
	}
	for j := range gf {
		if !near(gf[j], gp[j], 1e-14) {
			t.Fatalf("gradient %d: %v vs %v", j, gf[j], gp[j])
		}
	}
}
