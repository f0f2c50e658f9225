package ppo

import (
	"fmt"
	"math"
	"strings"

	"github.com/scalelab/scalelab/framework"
)

// activation is the hidden-layer nonlinearity.
type activation int

const (
	actTanh activation = iota
	actReLU
)

func parseActivation(s string) (activation, error) {
	switch strings.ToLower(s) {
	case "tanh":
		return actTanh, nil
	case "relu":
		return actReLU, nil
	}
	return 0, fmt.Errorf("unknown activation %q (want tanh or relu)", s)
}

func (a activation) String() string {
	if a == actReLU {
		return "relu"
	}
	return "tanh"
}

// headKind is the action distribution.
type headKind int

const (
	headCategorical headKind = iota
	headMultiDiscrete
	headGaussian
)

// linear is one dense layer y = W·x + b; w and b are offsets into the flat parameter
// vector, W stored row-major as out×in (PyTorch's layout).
type linear struct {
	in, out int
	w, b    int
}

// mlp is a stack of linear layers with the activation after every layer but the last.
type mlp struct {
	layers []linear
	act    activation
}

// net is the actor-critic of CleanRL: two separate MLPs from the observation, an actor
// whose last layer gives the logits (categorical, multi-discrete) or the mean (Gaussian),
// a critic whose last layer gives V(s), and for Gaussian heads a state-independent log-std
// vector. All parameters live in one flat []float64 (see layout): actor layers, critic
// layers, then log-std.
type net struct {
	inDim  int // network input width (observation features, plus validity flags with mask_input)
	head   headKind
	nvec   []int // category counts per action dimension (categorical: one entry)
	actDim int   // float64 values per action
	outDim int   // actor output width
	actor  mlp
	critic mlp
	logStd int // offset of the log-std block (Gaussian), -1 otherwise
	n      int // number of parameters
}

// newNet lays out the network for an input width, hidden sizes and an action space.
func newNet(inDim int, hidden []int, act activation, space framework.ActionSpace) (*net, error) {
	if inDim < 1 {
		return nil, fmt.Errorf("observation has no features")
	}
	n := &net{inDim: inDim, logStd: -1}
	switch space.Kind {
	case framework.Discrete:
		if space.N < 1 {
			return nil, fmt.Errorf("discrete action space needs n ≥ 1, got %d", space.N)
		}
		n.head, n.nvec, n.actDim, n.outDim = headCategorical, []int{space.N}, 1, space.N
	case framework.MultiDiscrete:
		if len(space.Nvec) == 0 {
			return nil, fmt.Errorf("multi-discrete action space has no dimensions")
		}
		n.head, n.nvec, n.actDim = headMultiDiscrete, append([]int(nil), space.Nvec...), len(space.Nvec)
		for i, k := range space.Nvec {
			if k < 1 {
				return nil, fmt.Errorf("multi-discrete dimension %d needs ≥ 1 choice, got %d", i, k)
			}
			n.outDim += k
		}
	case framework.Box:
		if len(space.Low) == 0 || len(space.Low) != len(space.High) {
			return nil, fmt.Errorf("box action space needs low and high of equal non-zero length, got %d and %d", len(space.Low), len(space.High))
		}
		for i := range space.Low {
			if !(space.Low[i] <= space.High[i]) {
				return nil, fmt.Errorf("box action dimension %d has low %v > high %v", i, space.Low[i], space.High[i])
			}
		}
		n.head, n.actDim, n.outDim = headGaussian, len(space.Low), len(space.Low)
	default:
		return nil, fmt.Errorf("unsupported action space kind %q", space.Kind)
	}
	off := 0
	build := func(outDim int) mlp {
		m := mlp{act: act}
		in := inDim
		for _, h := range append(append([]int(nil), hidden...), outDim) {
			m.layers = append(m.layers, linear{in: in, out: h, w: off, b: off + h*in})
			off += h*in + h
			in = h
		}
		return m
	}
	n.actor = build(n.outDim)
	n.critic = build(1)
	if n.head == headGaussian {
		n.logStd = off
		off += n.actDim
	}
	n.n = off
	return n, nil
}

// mlpWork holds one MLP's activations and gradients for batches up to maxB rows.
type mlpWork struct {
	out  [][]float64 // per layer: B×out outputs (post-activation for hidden layers)
	dout [][]float64 // per hidden layer: B×out gradient of the loss w.r.t. the output
	xt   []float64   // transposed layer input, in×B
	dyt  []float64   // transposed output gradient, out×B
	wt   []float64   // transposed weights, in×out
}

func newMLPWork(m mlp, maxB int) *mlpWork {
	w := &mlpWork{}
	maxIn, maxOut, maxW := 0, 0, 0
	for _, l := range m.layers {
		w.out = append(w.out, make([]float64, maxB*l.out))
		w.dout = append(w.dout, make([]float64, maxB*l.out))
		maxIn, maxOut, maxW = max(maxIn, l.in), max(maxOut, l.out), max(maxW, l.in*l.out)
	}
	w.xt = make([]float64, maxB*maxIn)
	w.dyt = make([]float64, maxB*maxOut)
	w.wt = make([]float64, maxW)
	return w
}

// forward runs the MLP on B rows of x (B×in) and returns the B×out output of the last
// (linear) layer, which lives in w until the next call.
func (m mlp) forward(p, x []float64, B int, w *mlpWork) []float64 {
	in := x
	last := len(m.layers) - 1
	for l, L := range m.layers {
		y := w.out[l][:B*L.out]
		gemmNT(B, L.out, L.in, in[:B*L.in], p[L.w:L.w+L.out*L.in], y, p[L.b:L.b+L.out])
		if l < last {
			switch m.act {
			case actTanh:
				for i, v := range y {
					y[i] = math.Tanh(v)
				}
			case actReLU:
				for i, v := range y {
					if v < 0 {
						y[i] = 0
					}
				}
			}
		}
		in = y
	}
	return in
}

// backward writes into g the gradient of the loss w.r.t. the MLP's parameters, given the
// gradient dOut (B×out) w.r.t. its output, after forward on the same x and B. It
// overwrites the MLP's parameter slots of g.
func (m mlp) backward(p, g, x []float64, B int, w *mlpWork, dOut []float64) {
	dy := dOut[:B*m.layers[len(m.layers)-1].out]
	for l := len(m.layers) - 1; l >= 0; l-- {
		L := m.layers[l]
		var in []float64
		if l > 0 {
			in = w.out[l-1][:B*L.in]
		} else {
			in = x[:B*L.in]
		}
		// dW = dYᵀ·X, computed as (dYᵀ)·(Xᵀ)ᵀ.
		transpose(B, L.out, dy, w.dyt)
		transpose(B, L.in, in, w.xt)
		gemmNT(L.out, L.in, B, w.dyt[:L.out*B], w.xt[:L.in*B], g[L.w:L.w+L.out*L.in], nil)
		// db = Σ_rows dY, the row sums of dYᵀ.
		gb := g[L.b : L.b+L.out]
		for o := range gb {
			s := 0.0
			for _, v := range w.dyt[o*B : o*B+B] {
				s += v
			}
			gb[o] = s
		}
		if l == 0 {
			break
		}
		// dX = dY·W, computed as dY·(Wᵀ)ᵀ, then through the activation of layer l−1.
		transpose(L.out, L.in, p[L.w:L.w+L.out*L.in], w.wt)
		dx := w.dout[l-1][:B*L.in]
		gemmNT(B, L.in, L.out, dy, w.wt[:L.in*L.out], dx, nil)
		h := w.out[l-1][:B*L.in]
		switch m.act {
		case actTanh:
			for i, v := range h {
				dx[i] *= 1 - v*v
			}
		case actReLU:
			for i, v := range h {
				if v <= 0 { // PyTorch: grad·(output > 0)
					dx[i] = 0
				}
			}
		}
		dy = dx
	}
}
