package ppo

import (
	"math"
	"math/rand/v2"
)

// Action distributions. For one row of the actor's output (logits or means) they give the
// log-probability of an action, the entropy, their gradients, a sample and the mode.
//
// Categorical (one segment of k logits z, log-probabilities ℓⱼ = zⱼ − logΣexp z, pⱼ = e^ℓⱼ):
//
//	log π(a) = ℓₐ                 ∂/∂zⱼ = 1[j=a] − pⱼ
//	H        = −Σ pⱼ ℓⱼ           ∂H/∂zⱼ = −pⱼ (ℓⱼ + H)
//
// Multi-discrete is one independent categorical segment per action dimension; log π and H
// are the sums over segments (CleanRL's ppo_multidiscrete).
//
// Diagonal Gaussian (mean μ from the actor, state-independent log σ; zₖ = (aₖ − μₖ)/σₖ):
//
//	log π(a) = Σ −zₖ²/2 − log σₖ − ½ log 2π   ∂/∂μₖ = zₖ/σₖ   ∂/∂log σₖ = zₖ² − 1
//	H        = Σ ½ + ½ log 2π + log σₖ        ∂H/∂log σₖ = 1
//
// The sampled (unclipped) Gaussian action is what log π is evaluated at; only the copy sent
// to the environment is clipped to the bounds (Gymnasium's ClipAction, as CleanRL).

var halfLog2Pi = 0.5 * math.Log(2*math.Pi)

// evalRow returns log π(a) and H for the actor output row out (outDim values) and the
// log-std vector (Gaussian). aux (outDim values) receives what gradRow needs: the
// log-probabilities of every category, or the standardised residuals zₖ.
func (n *net) evalRow(out, logStd, a, aux []float64) (logp, ent float64) {
	if n.head == headGaussian {
		for k, mu := range out[:n.actDim] {
			ls := logStd[k]
			z := (a[k] - mu) / math.Exp(ls)
			aux[k] = z
			logp += -0.5*z*z - ls - halfLog2Pi
			ent += 0.5 + halfLog2Pi + ls
		}
		return logp, ent
	}
	off := 0
	for d, k := range n.nvec {
		z := out[off : off+k]
		l := aux[off : off+k]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = max(mx, v)
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		lse := mx + math.Log(s)
		h := 0.0
		for j, v := range z {
			l[j] = v - lse
			h -= math.Exp(l[j]) * l[j]
		}
		logp += l[int(a[d])]
		ent += h
		off += k
	}
	return logp, ent
}

// gradRow adds cL·∂log π(a)/∂out + cH·∂H/∂out to dout, and the matching log-std gradient to
// gLogStd (Gaussian), after evalRow filled aux for the same row.
func (n *net) gradRow(logStd, a, aux []float64, cL, cH float64, dout, gLogStd []float64) {
	if n.head == headGaussian {
		for k := 0; k < n.actDim; k++ {
			z := aux[k]
			dout[k] += cL * z / math.Exp(logStd[k])
			gLogStd[k] += cL*(z*z-1) + cH
		}
		return
	}
	off := 0
	for d, k := range n.nvec {
		l := aux[off : off+k]
		h := 0.0
		for _, v := range l {
			h -= math.Exp(v) * v
		}
		act := int(a[d])
		for j, v := range l {
			p := math.Exp(v)
			g := -p * cL
			if j == act {
				g += cL
			}
			dout[off+j] += g - cH*p*(v+h)
		}
		off += k
	}
}

// sampleRow draws an action from the distribution of the actor output row into a and
// returns its log-probability; aux is scratch (outDim values).
func (n *net) sampleRow(out, logStd []float64, rng *rand.Rand, a, aux []float64) float64 {
	if n.head == headGaussian {
		for k, mu := range out[:n.actDim] {
			a[k] = mu + math.Exp(logStd[k])*rng.NormFloat64()
		}
		logp, _ := n.evalRow(out, logStd, a, aux)
		return logp
	}
	off := 0
	for d, k := range n.nvec {
		z := out[off : off+k]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = max(mx, v)
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		// Inverse CDF on the unnormalised weights: first j with u·Σw < Σ_{i≤j} wᵢ.
		u := rng.Float64() * s
		c, choice := 0.0, k-1
		for j, v := range z {
			c += math.Exp(v - mx)
			if u < c {
				choice = j
				break
			}
		}
		a[d] = float64(choice)
		off += k
	}
	logp, _ := n.evalRow(out, logStd, a, aux)
	return logp
}

// modeRow writes the deterministic action: the argmax of each segment's logits (first on
// ties) or the Gaussian mean (unclipped; callers clip to the bounds).
func (n *net) modeRow(out []float64, a []float64) {
	if n.head == headGaussian {
		copy(a[:n.actDim], out[:n.actDim])
		return
	}
	off := 0
	for d, k := range n.nvec {
		best := 0
		for j, v := range out[off : off+k] {
			if v > out[off+best] {
				best = j
			}
		}
		a[d] = float64(best)
		off += k
	}
}
