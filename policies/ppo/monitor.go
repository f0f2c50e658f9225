package ppo

import (
	"math"
	"slices"

	"github.com/scalelab/scalelab/framework"
)

// Convergence monitoring. After every iteration the trainer records, in convergence.csv:
//
// Moving average and plateau. Let Rᵢ be the raw returns of the training episodes that
// ended during iteration i. The moving average MAᵢ is the mean of every return in
// R_{i−W+1} ∪ … ∪ Rᵢ (W = convergence.window; over iterations 1..i while i < W; undefined
// when no episode ended in the window). Only full-window averages (i ≥ W) serve as
// references: Bᵢ = max{MAⱼ : W ≤ j ≤ i−W} is the best moving average at least W
// iterations old, defined from i = 2W on. The relative improvement is
//
//	impᵢ = (MAᵢ − Bᵢ) / max(|Bᵢ|, improvement_floor)
//
// (|Bᵢ| keeps the sign right for negative returns: −200 after −1000 is +0.8), and
// iteration i is on a plateau when impᵢ < ε (convergence.min_improvement): the return has
// not improved by a relative ε over the best it had W iterations ago. stop_on_plateau
// stops after plateau_patience consecutive plateau iterations. Comparing with the best
// older average (Keras's EarlyStopping rule, with W iterations of lag) rather than with
// MA_{i−W} alone means a recovery from a dip does not count as progress.
//
// Policy stability on probes. A fixed probe set of observations (convergence.probes of
// the first rollout's num_envs·num_steps, drawn without replacement by a PCG stream of the
// seed, stored in the resumable checkpoint so a resumed run measures on the same states)
// is fed to π_old — the policy as it acted after the previous iteration, its parameters
// and observation statistics (for iteration 1, the initial parameters with the statistics
// of the first rollout) — and to π_new, the policy after this iteration. Per iteration:
//
//   - probe_kl: the mean over the probes of the exact KL(π_old‖π_new): for a categorical
//     Σⱼ pⱼ (log pⱼ − log qⱼ), summed over the dimensions of a multi-discrete action; for
//     the diagonal Gaussian Σₖ log(σ′ₖ/σₖ) + (σₖ² + (μₖ − μ′ₖ)²)/(2σ′ₖ²) − ½.
//   - probe_entropy: the mean entropy of π_new on the probes.
//   - greedy_agreement: the fraction of probes whose deterministic action (argmax per
//     dimension; the Gaussian mean clipped to the bounds) is the same under π_old and
//     π_new; Gaussian means count as the same when every dimension moved by at most
//     stability.action_tolerance of its bound range.
//
// An iteration is stable when probe_kl ≤ stability.max_kl and greedy_agreement ≥
// stability.min_agreement; stop_on_stable stops after stability.patience consecutive
// stable iterations. No stop happens before convergence.min_iterations.

// Stop reasons recorded in summary.json and convergence.csv.
const (
	StopBudget  = "budget"  // total_timesteps reached
	StopPlateau = "plateau" // plateau_patience consecutive plateau iterations
	StopStable  = "stable"  // stability.patience consecutive stable iterations
)

// ConvergenceFile is the per-iteration convergence log a training run writes.
const ConvergenceFile = "convergence.csv"

// convergenceHeader is convergence.csv's header.
var convergenceHeader = []string{"iteration", "global_step", "mean_return_ma", "improvement", "plateau", "probe_kl",
	"probe_entropy", "greedy_agreement", "stable", "explained_variance", "eval_mean_return", "eval_std", "best", "stop_reason"}

// MonitorState is the convergence monitor's part of a resumable checkpoint.
type MonitorState struct {
	// Probes are the probe observations; nil until the first rollout collected them.
	Probes *ProbeSet `json:"probes,omitempty"`
	// Plateau is the moving-average and plateau state.
	Plateau plateauState `json:"plateau"`
	// StableRun counts the consecutive stable iterations up to the checkpoint.
	StableRun int `json:"stable_run"`
	// Evaluations counts the periodic validations so far.
	Evaluations int `json:"evaluations"`
	// Best is the best validated policy so far (nil before the first validation).
	Best *BestPolicy `json:"best,omitempty"`
	// StopReason is set when training stopped early; a resumed run does not continue past
	// a stop.
	StopReason string `json:"stop_reason,omitempty"`
}

// ProbeSet holds the probe observations: each row's values (missing values as 0) and
// validity flags, as the collector reported them (before normalisation).
type ProbeSet struct {
	Values [][]float64 `json:"values"`
	Valid  [][]bool    `json:"valid"`
}

// BestPolicy is the best policy of the periodic validations: highest mean validation
// return, the earliest on ties.
type BestPolicy struct {
	Iteration  int     `json:"iteration"`
	GlobalStep int64   `json:"global_step"`
	MeanReturn float64 `json:"eval_mean_return"`
	StdReturn  float64 `json:"eval_std_return"`
	// Checkpoint is the policy (without training state).
	Checkpoint *Checkpoint `json:"checkpoint"`
}

// plateauState is the moving average's window and the plateau test's reference.
type plateauState struct {
	// Sums and Counts are the return sums and episode counts of the last ≤ W iterations,
	// oldest first.
	Sums   []float64 `json:"sums"`
	Counts []int     `json:"counts"`
	// Recent are the full-window moving averages of the last ≤ W iterations, oldest
	// first (nil: undefined or not a full window).
	Recent []*float64 `json:"recent"`
	// Ref is B, the best full-window moving average at least W iterations old.
	Ref *float64 `json:"ref"`
	// Run counts the consecutive plateau iterations.
	Run int `json:"run"`
	// Iterations counts the iterations pushed.
	Iterations int `json:"iterations"`
}

// plateauResult is one iteration's plateau test.
type plateauResult struct {
	ma          float64 // moving average (NaN when undefined)
	improvement float64 // relative improvement over the reference (NaN before it exists)
	plateau     bool
	run         int // consecutive plateau iterations including this one
}

// push adds iteration i's returns (their sum and count) and runs the plateau test with
// window w, threshold eps and denominator floor (see the comment at the top of the file).
func (s *plateauState) push(sum float64, count, w int, eps, floor float64) plateauResult {
	s.Iterations++
	s.Sums, s.Counts = append(s.Sums, sum), append(s.Counts, count)
	if len(s.Sums) > w {
		s.Sums, s.Counts = slices.Delete(s.Sums, 0, len(s.Sums)-w), slices.Delete(s.Counts, 0, len(s.Counts)-w)
	}
	tot, n := 0.0, 0
	for i := range s.Sums {
		tot, n = tot+s.Sums[i], n+s.Counts[i]
	}
	r := plateauResult{ma: math.NaN(), improvement: math.NaN()}
	if n > 0 {
		r.ma = tot / float64(n)
	}
	var full *float64
	if s.Iterations >= w && n > 0 {
		v := r.ma
		full = &v
	}
	s.Recent = append(s.Recent, full)
	for len(s.Recent) > w {
		if old := s.Recent[0]; old != nil && (s.Ref == nil || *old > *s.Ref) {
			v := *old
			s.Ref = &v
		}
		s.Recent = slices.Delete(s.Recent, 0, 1)
	}
	if s.Ref != nil && n > 0 {
		r.improvement = (r.ma - *s.Ref) / math.Max(math.Abs(*s.Ref), floor)
		r.plateau = r.improvement < eps
	}
	if r.plateau {
		s.Run++
	} else {
		s.Run = 0
	}
	r.run = s.Run
	return r
}

// klRow returns the exact KL(P‖Q) between the action distributions of two actor output
// rows p and q (logits or means) with log-std vectors lsP and lsQ (Gaussian heads).
func (n *net) klRow(p, lsP, q, lsQ []float64) float64 {
	kl := 0.0
	if n.head == headGaussian {
		for k := 0; k < n.actDim; k++ {
			vp, vq := math.Exp(2*lsP[k]), math.Exp(2*lsQ[k])
			d := p[k] - q[k]
			kl += lsQ[k] - lsP[k] + (vp+d*d)/(2*vq) - 0.5
		}
		return kl
	}
	off := 0
	for _, k := range n.nvec {
		lp, lq := logSumExp(p[off:off+k]), logSumExp(q[off:off+k])
		for j := off; j < off+k; j++ {
			a, b := p[j]-lp, q[j]-lq
			kl += math.Exp(a) * (a - b)
		}
		off += k
	}
	return kl
}

// entropyRow returns the entropy of the action distribution of an actor output row.
func (n *net) entropyRow(out, logStd []float64) float64 {
	h := 0.0
	if n.head == headGaussian {
		for k := 0; k < n.actDim; k++ {
			h += 0.5 + halfLog2Pi + logStd[k]
		}
		return h
	}
	off := 0
	for _, k := range n.nvec {
		l := logSumExp(out[off : off+k])
		for _, v := range out[off : off+k] {
			h -= math.Exp(v-l) * (v - l)
		}
		off += k
	}
	return h
}

// sameGreedy reports whether two actor output rows give the same deterministic action:
// equal argmax in every dimension, or Gaussian means (clipped to the bounds) within tol of
// the bound range per dimension (tol itself for an unbounded dimension). a and b are
// scratch of actDim values.
func (n *net) sameGreedy(p, q []float64, space framework.ActionSpace, tol float64, a, b []float64) bool {
	n.modeRow(p, a)
	n.modeRow(q, b)
	if n.head != headGaussian {
		return slices.Equal(a[:n.actDim], b[:n.actDim])
	}
	clipBox(a, space)
	clipBox(b, space)
	for k := 0; k < n.actDim; k++ {
		r := space.High[k] - space.Low[k]
		if math.IsInf(r, 0) || math.IsNaN(r) {
			r = 1
		}
		if math.Abs(a[k]-b[k]) > tol*r {
			return false
		}
	}
	return true
}

func logSumExp(z []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, v)
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s)
}

// probeStats are one iteration's stability signals.
type probeStats struct {
	kl, entropy, agreement float64
}

// compareProbes returns the mean KL(π_old‖π_new), the mean entropy of π_new and the
// greedy agreement over P probe rows of actor outputs old and new (P×outDim each).
func (n *net) compareProbes(old, lsOld, new, lsNew []float64, P int, space framework.ActionSpace, tol float64) probeStats {
	if P == 0 {
		return probeStats{math.NaN(), math.NaN(), math.NaN()}
	}
	od := n.outDim
	a, b := make([]float64, n.actDim), make([]float64, n.actDim)
	var s probeStats
	for i := 0; i < P; i++ {
		po, pn := old[i*od:(i+1)*od], new[i*od:(i+1)*od]
		s.kl += n.klRow(po, lsOld, pn, lsNew)
		s.entropy += n.entropyRow(pn, lsNew)
		if n.sameGreedy(po, pn, space, tol, a, b) {
			s.agreement++
		}
	}
	p := float64(P)
	return probeStats{s.kl / p, s.entropy / p, s.agreement / p}
}

// monitor measures the convergence signals of a training run.
type monitor struct {
	cfg       ConvergenceConfig
	net       *net
	space     framework.ActionSpace
	obsDim    int
	obsClip   float64
	maskInput bool

	// probeIdx are the rollout indices (t·N + e) of the first rollout to capture as
	// probes, ascending; next is the position of the next one to capture.
	probeIdx []int
	next     int
	capture  ProbeSet

	state MonitorState

	in       []float64 // P×inDim encoded probes
	valid    []bool
	work     *mlpWork
	prevOut  []float64 // π_old's actor outputs on the probes
	prevLS   []float64 // π_old's log-std (Gaussian)
	newOut   []float64
	havePrev bool
}

// capturing reports whether the current rollout collects probes.
func (m *monitor) capturing() bool {
	return m.state.Probes == nil && len(m.probeIdx) > 0
}

// offer captures the raw observation at rollout index i when it is a probe.
func (m *monitor) offer(i int, values []float64, valid []bool) {
	if m.next < len(m.probeIdx) && m.probeIdx[m.next] == i {
		m.capture.Values = append(m.capture.Values, slices.Clone(values))
		m.capture.Valid = append(m.capture.Valid, slices.Clone(valid))
		m.next++
	}
}

// finishCapture turns the captured rows into the probe set after the first rollout.
func (m *monitor) finishCapture() {
	if m.capturing() && m.next == len(m.probeIdx) {
		p := m.capture
		m.state.Probes = &p
		m.capture = ProbeSet{}
	}
}

// probes returns the number of probe rows available.
func (m *monitor) probes() int {
	if m.state.Probes == nil {
		return 0
	}
	return len(m.state.Probes.Values)
}

// outputs evaluates the actor with params on the probes, normalised with norm (nil
// without norm_obs), into dst (P×outDim); it returns dst and the log-std (a copy).
func (m *monitor) outputs(params []float64, norm *RunningMeanStd, dst []float64) ([]float64, []float64) {
	P := m.probes()
	in := m.net.inDim
	if len(m.in) < P*in {
		m.in = make([]float64, P*in)
		m.work = newMLPWork(m.net.actor, P)
	}
	if m.valid == nil {
		m.valid = make([]bool, m.obsDim)
	}
	ps := m.state.Probes
	for r := 0; r < P; r++ {
		o := framework.Observation{Values: ps.Values[r], Valid: ps.Valid[r]}
		// The probes were captured from observations the network already accepted.
		_ = encodeObs(o, m.obsDim, norm, false, m.obsClip, m.maskInput, m.in[r*in:(r+1)*in], m.valid)
	}
	out := m.net.actor.forward(params, m.in[:P*in], P, m.work)
	dst = append(dst[:0], out...)
	var ls []float64
	if m.net.logStd >= 0 {
		ls = slices.Clone(params[m.net.logStd : m.net.logStd+m.net.actDim])
	}
	return dst, ls
}

// rememberPolicy records the acting policy as π_old for the next comparison.
func (m *monitor) rememberPolicy(params []float64, norm *RunningMeanStd) {
	if m.probes() == 0 {
		return
	}
	m.prevOut, m.prevLS = m.outputs(params, norm, m.prevOut)
	m.havePrev = true
}

// stability compares the policy params/norm (π_new) with π_old on the probes and makes it
// the next π_old; NaNs when there are no probes.
func (m *monitor) stability(params []float64, norm *RunningMeanStd) probeStats {
	if m.probes() == 0 || !m.havePrev {
		return probeStats{math.NaN(), math.NaN(), math.NaN()}
	}
	var ls []float64
	m.newOut, ls = m.outputs(params, norm, m.newOut)
	s := m.net.compareProbes(m.prevOut, m.prevLS, m.newOut, ls, m.probes(), m.space, m.cfg.Stability.ActionTolerance)
	m.prevOut, m.newOut = m.newOut, m.prevOut
	m.prevLS = ls
	return s
}

// stable reports whether the stability signals meet the thresholds.
func (c StabilityConfig) stable(s probeStats) bool {
	return !math.IsNaN(s.kl) && s.kl <= c.MaxKL && s.agreement >= c.MinAgreement
}

// stopReason decides whether training stops after iteration it: a stop criterion that is
// on and whose patience is exhausted, never before min_iterations; "" continues.
func (c ConvergenceConfig) stopReason(it, plateauRun, stableRun int) string {
	if it < c.MinIterations {
		return ""
	}
	if c.StopOnPlateau && plateauRun >= c.PlateauPatience {
		return StopPlateau
	}
	if c.StopOnStable && stableRun >= c.Stability.Patience {
		return StopStable
	}
	return ""
}
