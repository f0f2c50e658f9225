package ppo

import (
	"fmt"
	"math"

	"github.com/scalelab/scalelab/framework"
)

// inputDim is the network input width for obsDim features.
func inputDim(obsDim int, maskInput bool) int {
	if maskInput {
		return 2 * obsDim
	}
	return obsDim
}

// encodeObs writes the network input for o into dst (inputDim values).
//
// Missing values — Valid[i] false, or a value that is NaN or ±Inf — enter the network as 0
// (after normalisation, i.e. at the running mean, when rms is not nil) and are left out of
// the running statistics; with mask_input the validity flags (1 valid, 0 missing) follow
// the values. A nil Valid slice means every value is valid. With rms not nil and update
// true the statistics are updated with o before normalising, as Gymnasium's
// NormalizeObservation does.
func encodeObs(o framework.Observation, obsDim int, rms *RunningMeanStd, update bool, clip float64, maskInput bool, dst []float64, valid []bool) error {
	if len(o.Values) != obsDim {
		return fmt.Errorf("observation has %d values, the policy expects %d", len(o.Values), obsDim)
	}
	if o.Valid != nil && len(o.Valid) != obsDim {
		return fmt.Errorf("observation has %d validity flags for %d values", len(o.Valid), obsDim)
	}
	for i, v := range o.Values {
		valid[i] = (o.Valid == nil || o.Valid[i]) && !math.IsNaN(v) && !math.IsInf(v, 0)
		if valid[i] {
			dst[i] = v
		} else {
			dst[i] = 0
		}
	}
	if rms != nil {
		if update {
			rms.Update(dst[:obsDim], valid[:obsDim])
		}
		rms.Normalize(dst[:obsDim], dst[:obsDim], clip)
		for i := 0; i < obsDim; i++ {
			if !valid[i] {
				dst[i] = 0
			}
		}
	}
	if maskInput {
		for i := 0; i < obsDim; i++ {
			if valid[i] {
				dst[obsDim+i] = 1
			} else {
				dst[obsDim+i] = 0
			}
		}
	}
	return nil
}

// model is a trained network ready to act deterministically: argmax of the logits per
// discrete dimension, or the Gaussian mean clipped to the action bounds.
type model struct {
	net       *net
	params    []float64
	obsDim    int
	obsNorm   *RunningMeanStd // nil without norm_obs
	obsClip   float64
	maskInput bool
	space     framework.ActionSpace
	work      *mlpWork
	in        []float64
	valid     []bool
}

func newModel(n *net, params []float64, obsDim int, obsNorm *RunningMeanStd, obsClip float64, maskInput bool, space framework.ActionSpace) *model {
	return &model{
		net: n, params: params, obsDim: obsDim, obsNorm: obsNorm, obsClip: obsClip, maskInput: maskInput, space: space,
		work: newMLPWork(n.actor, 1), in: make([]float64, n.inDim), valid: make([]bool, obsDim),
	}
}

// act returns the deterministic action for o. Not safe for concurrent use.
func (m *model) act(o framework.Observation) (framework.Action, error) {
	if err := encodeObs(o, m.obsDim, m.obsNorm, false, m.obsClip, m.maskInput, m.in, m.valid); err != nil {
		return framework.Action{}, err
	}
	out := m.net.actor.forward(m.params, m.in, 1, m.work)
	a := make([]float64, m.net.actDim)
	m.net.modeRow(out, a)
	if m.net.head == headGaussian {
		clipBox(a, m.space)
	}
	return framework.Action{Values: a}, nil
}

// clipBox clips a to the box's bounds (Gymnasium's ClipAction).
func clipBox(a []float64, s framework.ActionSpace) {
	for k := range a {
		a[k] = min(max(a[k], s.Low[k]), s.High[k])
	}
}
