// Command linear16 is the benchmark guest: a linear policy over 16 features with three
// actions (scores s_k = Σ_j w_kj·x_j with w_kj = (k+1)(j+1)/100·(−1)^(j+k), missing
// features counted as 0, action = argmax). policies/wasm's BenchmarkAct16 runs the same
// computation natively for comparison.
package main

import sdk "github.com/scalelab/scalelab/sdk/wasm"

type linear struct{ w [3][16]float64 }

func (l *linear) Init(s sdk.Spec) error {
	if len(s.Features) != 16 || s.Action.Kind != sdk.KindDiscrete || s.Action.N != 3 {
		return sdk.Unsupported("16 features and a discrete(3) action")
	}
	for k := range l.w {
		for j := range l.w[k] {
			w := float64((k+1)*(j+1)) / 100
			if (j+k)%2 == 1 {
				w = -w
			}
			l.w[k][j] = w
		}
	}
	return nil
}

func (l *linear) Act(obs []float64, valid []bool, action []float64) error {
	best, bestScore := 0, 0.0
	for k := range l.w {
		s := 0.0
		for j, x := range obs {
			if valid[j] {
				s += l.w[k][j] * x
			}
		}
		if k == 0 || s > bestScore {
			best, bestScore = k, s
		}
	}
	action[0] = float64(best)
	return nil
}

func init() { sdk.Register(&linear{}) }

func main() {}
