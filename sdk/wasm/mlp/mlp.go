// Package mlp is a generic multilayer-perceptron policy for the WASM guest SDK: a model
// file (JSON, format "scalelab-mlp" version 1) describes the inputs, an optional
// observation normalisation, the dense layers and how the output becomes an action, and
// Model implements sdk/wasm's Policy with it. `scalelab export wasm` turns a PPO checkpoint
// into such a model and builds it into a self-contained module; sdk/examples/wasm-mlp
// ships a small hand-written one.
//
// The forward pass, for input features selected by name from the spec:
//
//	x_i = obs[idx_i]                       when valid and finite, else missing
//	x_i = clip((x_i − μ_i)/√(σ²_i + ε), ±c) with a normalisation (missing values stay missing)
//	x_i = 0                                for a missing value (after normalisation: the mean)
//	x   = [x, m]                           with mask_input: m_i = 1 valid, 0 missing
//	h   = act(W_l·h + b_l) for every layer but the last, which is linear
//
// and the action is argmax(out) for a discrete space (the first index among equal
// maxima), one argmax per block of nvec[d] outputs for a multi-discrete space, or out
// clipped to [low, high] for a box. Every dot product is accumulated from the bias in
// input order, in float64, as policies/ppo computes it, so an exported PPO policy gives
// the native checkpoint's actions.
package mlp

import (
	"encoding/json"
	"fmt"
	"math"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

// Format and Version identify a model file.
const (
	Format  = "scalelab-mlp"
	Version = 1
)

// Normalization is a per-input affine normalisation (x − mean)/√(var + epsilon), clipped
// to ±clip.
type Normalization struct {
	Mean    []float64 `json:"mean"`
	Var     []float64 `json:"var"`
	Epsilon float64   `json:"epsilon"`
	Clip    float64   `json:"clip"`
}

// Layer is a dense layer y = W·x + b with W row-major (out rows of in values).
type Layer struct {
	In      int       `json:"in"`
	Out     int       `json:"out"`
	Weights []float64 `json:"weights"`
	Bias    []float64 `json:"bias"`
}

// Action is the action space the model was built for; Init checks the spec's matches.
type Action struct {
	Kind string    `json:"kind"`
	N    int       `json:"n,omitempty"`
	Nvec []int     `json:"nvec,omitempty"`
	Low  []float64 `json:"low,omitempty"`
	High []float64 `json:"high,omitempty"`
}

// Model is a model file's contents and, after Init, the index of each input in the
// observation.
type Model struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Description says where the model comes from (free text).
	Description string `json:"description,omitempty"`
	// Inputs are the feature names the network reads, in input order.
	Inputs []string `json:"inputs"`
	// Normalize, when present, normalises the inputs.
	Normalize *Normalization `json:"normalize,omitempty"`
	// MaskInput appends the inputs' validity flags (1/0) to the network input.
	MaskInput bool `json:"mask_input"`
	// Activation is the hidden layers' nonlinearity: "tanh" or "relu".
	Activation string  `json:"activation"`
	Layers     []Layer `json:"layers"`
	Action     Action  `json:"action"`

	idx   []int
	nvec1 [1]int
	buf   [2][]float64
	x     []float64
	relu  bool
}

var _ sdk.Policy = (*Model)(nil)

// Parse decodes and checks a model file.
func Parse(data []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("mlp model: %w", err)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// MustParse is Parse for models embedded in a module: it panics on a bad model, which a
// guest's init reports as a trap with the message on stderr.
func MustParse(data []byte) *Model {
	m, err := Parse(data)
	if err != nil {
		panic(err)
	}
	return m
}

// outDim is the width of the last layer the action kind needs.
func (a Action) outDim() (int, error) {
	switch a.Kind {
	case sdk.KindDiscrete:
		if a.N < 1 {
			return 0, fmt.Errorf("discrete action needs n ≥ 1, got %d", a.N)
		}
		return a.N, nil
	case sdk.KindMultiDiscrete:
		s := 0
		for i, k := range a.Nvec {
			if k < 1 {
				return 0, fmt.Errorf("multi-discrete dimension %d needs ≥ 1 choice, got %d", i, k)
			}
			s += k
		}
		if s == 0 {
			return 0, fmt.Errorf("multi-discrete action has no dimensions")
		}
		return s, nil
	case sdk.KindBox:
		if len(a.Low) == 0 || len(a.Low) != len(a.High) {
			return 0, fmt.Errorf("box action needs low and high of equal non-zero length, got %d and %d", len(a.Low), len(a.High))
		}
		return len(a.Low), nil
	}
	return 0, fmt.Errorf("unknown action kind %q", a.Kind)
}

// dim is the number of action values.
func (a Action) dim() int {
	switch a.Kind {
	case sdk.KindDiscrete:
		return 1
	case sdk.KindMultiDiscrete:
		return len(a.Nvec)
	}
	return len(a.Low)
}

// Check verifies the model is self-consistent: format, layer shapes chained from the
// input width to the action's output width, normalisation sizes.
func (m *Model) Check() error {
	if m.Format != Format || m.Version != Version {
		return fmt.Errorf("mlp model: format %q version %d, want %q version %d", m.Format, m.Version, Format, Version)
	}
	if len(m.Inputs) == 0 {
		return fmt.Errorf("mlp model: no inputs")
	}
	switch m.Activation {
	case "tanh", "relu":
	default:
		return fmt.Errorf("mlp model: activation %q, want tanh or relu", m.Activation)
	}
	if n := m.Normalize; n != nil && (len(n.Mean) != len(m.Inputs) || len(n.Var) != len(m.Inputs)) {
		return fmt.Errorf("mlp model: normalisation has %d means and %d variances for %d inputs", len(n.Mean), len(n.Var), len(m.Inputs))
	}
	out, err := m.Action.outDim()
	if err != nil {
		return fmt.Errorf("mlp model: %w", err)
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("mlp model: no layers")
	}
	in := len(m.Inputs)
	if m.MaskInput {
		in *= 2
	}
	for i, l := range m.Layers {
		if l.In != in {
			return fmt.Errorf("mlp model: layer %d takes %d inputs, the previous width is %d", i, l.In, in)
		}
		if l.Out < 1 || len(l.Weights) != l.In*l.Out || len(l.Bias) != l.Out {
			return fmt.Errorf("mlp model: layer %d (%d→%d) has %d weights and %d biases, want %d and %d",
				i, l.In, l.Out, len(l.Weights), len(l.Bias), l.In*l.Out, l.Out)
		}
		in = l.Out
	}
	if in != out {
		return fmt.Errorf("mlp model: the last layer has %d outputs, the %s action needs %d", in, m.Action.Kind, out)
	}
	return nil
}

// Init maps the model's inputs to the spec's features by name and checks the spec's
// action space is the model's.
func (m *Model) Init(s sdk.Spec) error {
	if err := m.Check(); err != nil {
		return fmt.Errorf("%w: %v", sdk.ErrInvalidArgument, err)
	}
	m.idx = make([]int, len(m.Inputs))
	for i, name := range m.Inputs {
		j := s.FeatureIndex(name)
		if j < 0 {
			return sdk.Unsupported(fmt.Sprintf("the model reads feature %q, which the state design does not have", name))
		}
		m.idx[i] = j
	}
	a, b := m.Action, s.Action
	same := a.Kind == b.Kind && a.N == b.N && equalInts(a.Nvec, b.Nvec) && equalFloats(a.Low, b.Low) && equalFloats(a.High, b.High)
	if !same {
		return sdk.Unsupported(fmt.Sprintf("the model acts in %s, the action design %q in %s", spaceString(a), s.ActionDesign,
			spaceString(Action{Kind: b.Kind, N: b.N, Nvec: b.Nvec, Low: b.Low, High: b.High})))
	}
	width := 0
	for _, l := range m.Layers {
		width = max(width, l.Out)
	}
	in := len(m.Inputs)
	if m.MaskInput {
		in *= 2
	}
	m.x = make([]float64, in)
	m.buf = [2][]float64{make([]float64, width), make([]float64, width)}
	m.relu = m.Activation == "relu"
	return nil
}

// Act runs the network and writes the action.
func (m *Model) Act(obs []float64, valid []bool, action []float64) error {
	n := len(m.Inputs)
	x := m.x
	for i, j := range m.idx {
		v := obs[j]
		ok := valid[j] && !math.IsNaN(v) && !math.IsInf(v, 0)
		switch {
		case !ok:
			x[i] = 0
		case m.Normalize != nil:
			nz := m.Normalize
			z := (v - nz.Mean[i]) / math.Sqrt(nz.Var[i]+nz.Epsilon)
			x[i] = min(max(z, -nz.Clip), nz.Clip)
		default:
			x[i] = v
		}
		if m.MaskInput {
			if ok {
				x[n+i] = 1
			} else {
				x[n+i] = 0
			}
		}
	}
	out := m.Forward(x)
	switch m.Action.Kind {
	case sdk.KindBox:
		for k := range action {
			action[k] = min(max(out[k], m.Action.Low[k]), m.Action.High[k])
		}
	default:
		nvec := m.Action.Nvec
		if m.Action.Kind == sdk.KindDiscrete {
			nvec = m.nvec1[:]
			nvec[0] = m.Action.N
		}
		off := 0
		for d, k := range nvec {
			best := 0
			for j, v := range out[off : off+k] {
				if v > out[off+best] {
					best = j
				}
			}
			action[d] = float64(best)
			off += k
		}
	}
	return nil
}

// Forward runs the layers on the prepared input x (normalised, with the mask appended when
// MaskInput) and returns the last layer's output, valid until the next call. Init must
// have run.
func (m *Model) Forward(x []float64) []float64 {
	in := x
	last := len(m.Layers) - 1
	for l, L := range m.Layers {
		y := m.buf[l%2][:L.Out]
		dense(L, in, y)
		if l < last {
			if m.relu {
				for i, v := range y {
					if v < 0 {
						y[i] = 0
					}
				}
			} else {
				for i, v := range y {
					y[i] = math.Tanh(v)
				}
			}
		}
		in = y
	}
	return in
}

// dense sets y = W·x + b. Each output is accumulated from its bias in input order, one
// rounded multiply and one rounded add per input (the explicit float64 conversions forbid
// fused multiply-adds), which is policies/ppo's order, so results are bit-identical to
// its kernel wherever neither fuses. The loops handle four outputs and four inputs per
// iteration, reading each through a four-element window (one bounds check per slice and
// iteration instead of one per element): in a Go guest every loop iteration passes through
// the function's dispatch loop, which a host that enforces deadlines instruments, so fewer
// iterations and branches matter more than in native code.
func dense(L Layer, x, y []float64) {
	n := len(x)
	n4 := n &^ 3
	o := 0
	for ; o+4 <= L.Out; o += 4 {
		w0 := L.Weights[o*n : o*n+n]
		w1 := L.Weights[(o+1)*n : (o+1)*n+n]
		w2 := L.Weights[(o+2)*n : (o+2)*n+n]
		w3 := L.Weights[(o+3)*n : (o+3)*n+n]
		s0, s1, s2, s3 := L.Bias[o], L.Bias[o+1], L.Bias[o+2], L.Bias[o+3]
		p := 0
		for ; p < n4; p += 4 {
			// Four-element windows: one bounds check each instead of one per element.
			xs, v0, v1, v2, v3 := x[p:p+4], w0[p:p+4], w1[p:p+4], w2[p:p+4], w3[p:p+4]
			a, b, c, d := xs[0], xs[1], xs[2], xs[3]
			s0 += float64(a * v0[0])
			s0 += float64(b * v0[1])
			s0 += float64(c * v0[2])
			s0 += float64(d * v0[3])
			s1 += float64(a * v1[0])
			s1 += float64(b * v1[1])
			s1 += float64(c * v1[2])
			s1 += float64(d * v1[3])
			s2 += float64(a * v2[0])
			s2 += float64(b * v2[1])
			s2 += float64(c * v2[2])
			s2 += float64(d * v2[3])
			s3 += float64(a * v3[0])
			s3 += float64(b * v3[1])
			s3 += float64(c * v3[2])
			s3 += float64(d * v3[3])
		}
		for ; p < n; p++ {
			a := x[p]
			s0 += float64(a * w0[p])
			s1 += float64(a * w1[p])
			s2 += float64(a * w2[p])
			s3 += float64(a * w3[p])
		}
		y[o], y[o+1], y[o+2], y[o+3] = s0, s1, s2, s3
	}
	for ; o < L.Out; o++ {
		w := L.Weights[o*n : o*n+n]
		s := L.Bias[o]
		p := 0
		for ; p < n4; p += 4 {
			xs, v := x[p:p+4], w[p:p+4]
			s += float64(xs[0] * v[0])
			s += float64(xs[1] * v[1])
			s += float64(xs[2] * v[2])
			s += float64(xs[3] * v[3])
		}
		for ; p < n; p++ {
			s += float64(x[p] * w[p])
		}
		y[o] = s
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func spaceString(a Action) string {
	switch a.Kind {
	case sdk.KindDiscrete:
		return fmt.Sprintf("discrete(%d)", a.N)
	case sdk.KindMultiDiscrete:
		return fmt.Sprintf("multi_discrete%v", a.Nvec)
	default:
		return fmt.Sprintf("box(low=%v, high=%v)", a.Low, a.High)
	}
}
