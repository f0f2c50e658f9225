package ppo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Files a training run writes into its output directory.
const (
	EpisodesFile   = "episodes.csv"
	IterationsFile = "iterations.csv"
	SummaryFile    = "summary.json"
	CheckpointFile = "checkpoint.json"         // the policy training selected (validation.select; no optimiser state)
	LatestFile     = "checkpoints/latest.json" // the resumable checkpoint (the last iteration's policy)
	BestFile       = "best.json"               // the best validated policy (validation.every > 0)
)

const (
	maxReturnWindow = 100 // episodes in the summary's mean return
	// PCG stream selectors of the seed's generators.
	rngStreamAct  = 0x616374696f6e7321 // "actions!"
	rngStreamShuf = 0x73687566666c6521 // "shuffle!"
	rngStreamInit = 0x696e697469616c21 // "initial!"
	rngStreamEval = 0x6576616c75617465 // "evaluate"
	rngStreamProb = 0x70726f6265732121 // "probes!!"
	rngStreamVal  = 0x76616c6964617465 // "validate"
)

// TrainOptions adjust a training run beyond its Config.
type TrainOptions struct {
	// ConfigHash is recorded in checkpoints and the summary; empty uses Config.Hash().
	// Callers that train from a whole experiment config pass that config's hash.
	ConfigHash string
	// Specs, when not nil, are the configured state and action design: the environments'
	// specs must match them.
	Specs *framework.Specs
	// CheckpointPath, when set, also receives the final policy checkpoint (the config's
	// `checkpoint` key resolved against the config's directory).
	CheckpointPath string
	// Logger receives per-iteration diagnostics at debug level; nil discards them.
	Logger *slog.Logger
	// ValidationEnv builds the environment of validation episode k (k from 0), which the
	// trainer resets with seed k, for periodic validation (validation.every > 0); the
	// factory maps the seed into a held-out stream. Required when validation.every > 0.
	ValidationEnv func(index int, seed uint64) (framework.Env, error)
}

// Summary is what summary.json holds.
type Summary struct {
	Env        string `json:"env,omitempty"`
	Seed       uint64 `json:"seed"`
	ConfigHash string `json:"config_hash"`
	Iterations int    `json:"iterations"`
	GlobalStep int64  `json:"global_steps"`
	Episodes   int    `json:"episodes"`
	// MeanReturn is the mean raw (undiscounted, unnormalised) return of the last 100
	// training episodes (fewer if fewer ended); null when none ended.
	MeanReturn *float64 `json:"mean_return_last100"`
	// ReturnEpisodes is how many episodes MeanReturn averages.
	ReturnEpisodes int     `json:"mean_return_episodes"`
	WallSeconds    float64 `json:"wall_seconds"`
	// StepsPerSecond counts environment steps of this process's run (a resumed run counts
	// from the resume point).
	StepsPerSecond float64 `json:"steps_per_second"`
	Resumed        bool    `json:"resumed,omitempty"`
	Checkpoint     string  `json:"checkpoint"`
	// Deterministic evaluation of the final policy (validation environments).
	EvalEpisodes   int      `json:"eval_episodes,omitempty"`
	EvalMeanReturn *float64 `json:"eval_mean_return,omitempty"`
	EvalStdReturn  *float64 `json:"eval_std_return,omitempty"`

	// StopReason says why training ended: budget (total_timesteps), plateau or stable
	// (an early-stopping criterion of the convergence section).
	StopReason string `json:"stop_reason"`
	// Convergence holds the monitor's settings and its state at the end.
	Convergence ConvergenceSummary `json:"convergence"`
	// Validations counts the periodic validations; Best is the best of them (nil
	// without validation).
	Validations int          `json:"validations"`
	Best        *BestSummary `json:"best,omitempty"`
	// Selected is the policy written as the checkpoint: final or best.
	Selected string `json:"selected"`
	// SelectedIteration is the iteration of the selected policy.
	SelectedIteration int `json:"selected_iteration"`
}

// ConvergenceSummary is summary.json's account of convergence monitoring.
type ConvergenceSummary struct {
	Window          int     `json:"window"`
	MinImprovement  float64 `json:"min_improvement"`
	PlateauPatience int     `json:"plateau_patience"`
	StopOnPlateau   bool    `json:"stop_on_plateau"`
	Probes          int     `json:"probes"`
	MaxKL           float64 `json:"max_kl"`
	MinAgreement    float64 `json:"min_agreement"`
	StablePatience  int     `json:"stable_patience"`
	StopOnStable    bool    `json:"stop_on_stable"`
	// MovingAverage is the last moving average of the training return (null when
	// undefined); PlateauIterations and StableIterations the plateau and stable runs at
	// the end.
	MovingAverage     *float64 `json:"mean_return_ma"`
	PlateauIterations int      `json:"plateau_iterations"`
	StableIterations  int      `json:"stable_iterations"`
}

// BestSummary describes the best validated policy.
type BestSummary struct {
	Iteration  int     `json:"iteration"`
	GlobalStep int64   `json:"global_step"`
	MeanReturn float64 `json:"eval_mean_return"`
	StdReturn  float64 `json:"eval_std_return"`
	Episodes   int     `json:"eval_episodes"`
	// Checkpoint is the best.json written.
	Checkpoint string `json:"checkpoint"`
}

// Result is what Train returns.
type Result struct {
	Summary Summary
	// Checkpoint is the final policy checkpoint (also written to <out>/checkpoint.json).
	Checkpoint *Checkpoint
}

// Train runs PPO on environments built by newEnv for cfg's budget and writes into outDir
// (see the package documentation for the files). It is deterministic for cfg.Seed when
// the environments are deterministic for their seeds: the number of env workers and
// goroutine scheduling do not change any result.
func Train(ctx context.Context, cfg Config, opts TrainOptions, newEnv func(index int, seed uint64) (framework.Env, error), outDir string, progress func(framework.TrainProgress)) (*Result, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("ppo config: %w", errors.Join(errs...))
	}
	if err := os.MkdirAll(filepath.Join(outDir, "checkpoints"), 0o755); err != nil {
		return nil, fmt.Errorf("train output %s: %w", outDir, err)
	}
	t, err := newTrainer(ctx, cfg, opts, newEnv, outDir)
	if err != nil {
		return nil, err
	}
	defer t.closeAll()
	return t.run(ctx, progress)
}

// trainer is one training run's state.
type trainer struct {
	cfg    Config
	opts   TrainOptions
	hash   string
	outDir string
	log    *slog.Logger

	specs  framework.Specs
	obsDim int
	net    *net
	params []float64
	grads  []float64
	opt    *adam
	learn  *learner
	coefs  lossCoefs

	actSrc, shufSrc *rand.PCG
	actRNG, shufRNG *rand.Rand

	vec     *vecEnv
	obsNorm []*RunningMeanStd
	rewNorm []*rewardNormalizer

	// Rollout storage, index t·N + e.
	T, N      int
	bObs      []float64
	bAct      []float64
	bLogp     []float64
	bRew      []float64
	bVal      []float64
	bEnded    []bool
	bTerm     []bool
	bFinalV   []float64
	bWeight   []float64
	bAdv      []float64
	bRet      []float64
	next      []float64 // N×inDim network inputs of the current observations
	nextV     []float64
	final     []float64 // N×inDim scratch: final observations to bootstrap
	finalIdx  []int
	validTmp  []bool
	aux       []float64 // N×outDim
	rollA     *mlpWork
	rollC     *mlpWork
	envAct    []framework.Action
	mb        minibatch
	inds      []int
	clipFracs []float64

	epRet []float64
	epLen []int

	iteration  int // completed iterations
	iterations int
	globalStep int64
	episodes   int
	recent     []float64 // last ≤100 raw returns, oldest first
	resumed    bool
	// Returns of the episodes that ended in the current iteration.
	iterRetSum float64
	iterRetN   int

	mon *monitor
	// rawNext/rawValid hold each environment's current observation as the collector gave
	// it (missing values as 0), while the first rollout captures probes.
	rawNext  [][]float64
	rawValid [][]bool

	episodesW    *csvFile
	iterationsW  *csvFile
	convergenceW *csvFile
}

func newTrainer(ctx context.Context, cfg Config, opts TrainOptions, newEnv func(int, uint64) (framework.Env, error), outDir string) (_ *trainer, err error) {
	t := &trainer{cfg: cfg, opts: opts, outDir: outDir, log: opts.Logger, T: cfg.NumSteps, N: cfg.NumEnvs, iterations: cfg.Iterations(), coefs: coefsOf(cfg)}
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	t.hash = opts.ConfigHash
	if t.hash == "" {
		t.hash = cfg.Hash()
	}
	defer func() {
		if err != nil {
			t.closeAll()
		}
	}()
	envs := make([]framework.Env, cfg.NumEnvs)
	for i := range envs {
		e, err := newEnv(i, cfg.Seed+uint64(i))
		if err != nil {
			for _, prev := range envs[:i] {
				prev.Close()
			}
			return nil, fmt.Errorf("build environment %d: %w", i, err)
		}
		envs[i] = e
	}
	workers := cfg.EnvWorkers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	t.vec = newVecEnv(envs, workers, cfg.Seed)
	t.specs = envs[0].Specs()
	for i, e := range envs[1:] {
		if err := specsMatch(t.specs, e.Specs()); err != nil {
			return nil, fmt.Errorf("environment %d: %w", i+1, err)
		}
	}
	if opts.Specs != nil {
		if err := specsMatch(*opts.Specs, t.specs); err != nil {
			return nil, fmt.Errorf("training environment: %w", err)
		}
	}
	t.obsDim = len(t.specs.Features)
	act, _ := parseActivation(cfg.Activation)
	if t.net, err = newNet(inputDim(t.obsDim, cfg.MaskInput), cfg.HiddenSizes, act, t.specs.Action); err != nil {
		return nil, fmt.Errorf("build network: %w", err)
	}
	t.params = initParams(t.net, rand.New(rand.NewPCG(cfg.Seed, rngStreamInit)))
	t.grads = make([]float64, t.net.n)
	t.opt = newAdam(t.net.n, cfg.AdamEps)
	mbs := cfg.MinibatchSize()
	t.learn = newLearner(t.net, mbs)
	t.actSrc, t.shufSrc = rand.NewPCG(cfg.Seed, rngStreamAct), rand.NewPCG(cfg.Seed, rngStreamShuf)
	t.actRNG, t.shufRNG = rand.New(t.actSrc), rand.New(t.shufSrc)
	if cfg.NormObs {
		t.obsNorm = make([]*RunningMeanStd, t.N)
		for e := range t.obsNorm {
			t.obsNorm[e] = NewRunningMeanStd(t.obsDim)
		}
	}
	if cfg.NormReward {
		t.rewNorm = make([]*rewardNormalizer, t.N)
		for e := range t.rewNorm {
			t.rewNorm[e] = newRewardNormalizer(cfg.Gamma, cfg.RewardClip)
		}
	}
	B, in, ad, od := t.T*t.N, t.net.inDim, t.net.actDim, t.net.outDim
	t.bObs, t.bAct = make([]float64, B*in), make([]float64, B*ad)
	t.bLogp, t.bRew, t.bVal = make([]float64, B), make([]float64, B), make([]float64, B)
	t.bEnded, t.bTerm = make([]bool, B), make([]bool, B)
	t.bFinalV, t.bWeight, t.bAdv, t.bRet = make([]float64, B), make([]float64, B), make([]float64, B), make([]float64, B)
	t.next, t.nextV, t.final = make([]float64, t.N*in), make([]float64, t.N), make([]float64, t.N*in)
	t.validTmp = make([]bool, t.obsDim)
	t.aux = make([]float64, t.N*od)
	t.rollA, t.rollC = newMLPWork(t.net.actor, t.N), newMLPWork(t.net.critic, t.N)
	t.envAct = make([]framework.Action, t.N)
	t.mb = minibatch{
		obs: make([]float64, mbs*in), act: make([]float64, mbs*ad), oldLogp: make([]float64, mbs),
		adv: make([]float64, mbs), ret: make([]float64, mbs), oldV: make([]float64, mbs), weight: make([]float64, mbs),
	}
	t.inds = make([]int, B)
	t.epRet, t.epLen = make([]float64, t.N), make([]int, t.N)
	t.mon = &monitor{cfg: cfg.Convergence, net: t.net, space: t.specs.Action, obsDim: t.obsDim, obsClip: cfg.ObsClip, maskInput: cfg.MaskInput}
	if p := min(cfg.Convergence.Probes, B); p > 0 {
		// P distinct rollout indices, ascending; their own stream leaves training untouched.
		t.mon.probeIdx = rand.New(rand.NewPCG(cfg.Seed, rngStreamProb)).Perm(B)[:p]
		slices.Sort(t.mon.probeIdx)
	}
	if cfg.Validation.Every > 0 && opts.ValidationEnv == nil {
		return nil, fmt.Errorf("ppo config: validation.every is %d but the caller provided no validation environments", cfg.Validation.Every)
	}

	if cfg.Resume {
		if err := t.resume(); err != nil {
			return nil, err
		}
	}
	if t.episodesW, err = openCSV(filepath.Join(outDir, EpisodesFile), []string{"global_step", "env_index", "raw_return", "length"}, t.resumed, float64(t.globalStep)); err != nil {
		return nil, err
	}
	if t.iterationsW, err = openCSV(filepath.Join(outDir, IterationsFile), []string{"iteration", "global_step", "lr", "pg_loss", "v_loss", "entropy", "old_approx_kl", "approx_kl", "clipfrac", "explained_variance", "sps"}, t.resumed, float64(t.iteration)); err != nil {
		return nil, err
	}
	if t.convergenceW, err = openCSV(filepath.Join(outDir, ConvergenceFile), convergenceHeader, t.resumed, float64(t.iteration)); err != nil {
		return nil, err
	}
	if t.mon.capturing() {
		t.rawNext, t.rawValid = make([][]float64, t.N), make([][]bool, t.N)
		for e := range t.rawNext {
			t.rawNext[e], t.rawValid[e] = make([]float64, t.obsDim), make([]bool, t.obsDim)
		}
	}
	obs, err := t.vec.reset(ctx)
	if err != nil {
		return nil, err
	}
	for e := range obs {
		if err := t.encodeNext(e, obs[e]); err != nil {
			return nil, fmt.Errorf("environment %d: %w", e, err)
		}
	}
	if t.resumed {
		// π_old of the next iteration is the policy of the checkpoint.
		t.mon.rememberPolicy(t.params, t.mergedObsNorm())
	}
	return t, nil
}

func (t *trainer) closeAll() {
	if t.vec != nil {
		t.vec.close()
		t.vec = nil
	}
	if t.episodesW != nil {
		t.episodesW.close()
		t.episodesW = nil
	}
	if t.iterationsW != nil {
		t.iterationsW.close()
		t.iterationsW = nil
	}
	if t.convergenceW != nil {
		t.convergenceW.close()
		t.convergenceW = nil
	}
}

// encode turns environment e's observation into network input, updating its observation
// statistics (norm_obs).
func (t *trainer) encode(e int, o framework.Observation, dst []float64) error {
	var rms *RunningMeanStd
	if t.obsNorm != nil {
		rms = t.obsNorm[e]
	}
	return encodeObs(o, t.obsDim, rms, true, t.cfg.ObsClip, t.cfg.MaskInput, dst, t.validTmp)
}

// encodeNext encodes environment e's current observation into its row of t.next and,
// while probes are being captured, keeps the observation as the collector gave it.
func (t *trainer) encodeNext(e int, o framework.Observation) error {
	in := t.net.inDim
	if err := t.encode(e, o, t.next[e*in:(e+1)*in]); err != nil {
		return err
	}
	if t.mon.capturing() {
		for i, v := range o.Values {
			ok := t.validTmp[i] // encodeObs's verdict: valid, finite
			t.rawValid[e][i] = ok
			t.rawNext[e][i] = 0
			if ok {
				t.rawNext[e][i] = v
			}
		}
	}
	return nil
}

func (t *trainer) run(ctx context.Context, progress func(framework.TrainProgress)) (*Result, error) {
	start := time.Now()
	startStep := t.globalStep
	cc := t.cfg.Convergence
	for t.iteration < t.iterations && t.mon.state.StopReason == "" {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("training interrupted after iteration %d: %w", t.iteration, err)
		}
		it := t.iteration + 1
		lr, last, err := t.iterate(ctx)
		if err != nil {
			return nil, err
		}
		ev := explainedVariance(t.bVal, t.bRet)
		elapsed := time.Since(start).Seconds()
		sps := math.Floor(float64(t.globalStep-startStep) / elapsed)
		t.iterationsW.row(float64(it), float64(t.globalStep), lr, last.pgLoss, last.vLoss, last.entropy, last.oldApproxKL, last.approxKL, mean(t.clipFracs), ev, sps)

		// Convergence signals, stop criteria, periodic validation.
		norm := t.mergedObsNorm()
		ps := t.mon.stability(t.params, norm)
		pr := t.mon.state.Plateau.push(t.iterRetSum, t.iterRetN, cc.Window, cc.MinImprovement, cc.ImprovementFloor)
		stable := cc.Stability.stable(ps)
		if stable {
			t.mon.state.StableRun++
		} else {
			t.mon.state.StableRun = 0
		}
		stop := cc.stopReason(it, pr.run, t.mon.state.StableRun)
		end := stop != "" || it == t.iterations
		evMean, evStd, isBest := math.NaN(), math.NaN(), false
		if va := t.cfg.Validation; va.Every > 0 && (it%va.Every == 0 || end) {
			if evMean, evStd, isBest, err = t.validate(ctx); err != nil {
				return nil, fmt.Errorf("iteration %d validation: %w", it, err)
			}
		}
		reason := stop
		if reason == "" && it == t.iterations {
			reason = StopBudget
		}
		t.mon.state.StopReason = stop
		t.convergenceW.record(formatNum(float64(it)), formatNum(float64(t.globalStep)), formatNum(pr.ma), formatNum(pr.improvement),
			formatBool(pr.plateau), formatNum(ps.kl), formatNum(ps.entropy), formatNum(ps.agreement), formatBool(stable),
			formatNum(ev), formatNum(evMean), formatNum(evStd), formatBool(isBest), reason)
		if err := t.flush(); err != nil {
			return nil, err
		}
		mr, _ := t.meanReturn()
		t.log.Debug("ppo iteration", "iteration", it, "global_step", t.globalStep, "lr", lr, "pg_loss", last.pgLoss,
			"v_loss", last.vLoss, "entropy", last.entropy, "approx_kl", last.approxKL, "explained_variance", ev, "sps", sps, "mean_return", mr,
			"mean_return_ma", pr.ma, "plateau_run", pr.run, "probe_kl", ps.kl, "greedy_agreement", ps.agreement, "stable_run", t.mon.state.StableRun)
		if stop != "" {
			t.log.Info("ppo: training stopped early", "reason", stop, "iteration", it, "of", t.iterations, "global_step", t.globalStep,
				"plateau_iterations", pr.run, "stable_iterations", t.mon.state.StableRun)
		}
		if t.cfg.CheckpointEvery > 0 && it%t.cfg.CheckpointEvery == 0 && !end {
			if err := WriteCheckpoint(filepath.Join(t.outDir, LatestFile), t.checkpoint(true)); err != nil {
				return nil, err
			}
		}
		if progress != nil {
			msg := fmt.Sprintf("iteration %d/%d, %d steps, %.0f steps/s", it, t.iterations, t.globalStep, sps)
			if stop != "" {
				msg += ", stopped early: " + stop
			}
			progress(framework.TrainProgress{Iteration: it, GlobalStep: t.globalStep, MeanReturn: mr, Message: msg})
		}
	}
	wall := time.Since(start).Seconds()
	if err := WriteCheckpoint(filepath.Join(t.outDir, LatestFile), t.checkpoint(true)); err != nil {
		return nil, err
	}
	final := t.checkpoint(false)
	selected, selectedName := final, SelectFinal
	if best := t.mon.state.Best; t.cfg.selectsBest() && best != nil {
		selected, selectedName = best.Checkpoint, SelectBest
	}
	if err := WriteCheckpoint(filepath.Join(t.outDir, CheckpointFile), selected); err != nil {
		return nil, err
	}
	ckptPath := filepath.Join(t.outDir, CheckpointFile)
	if t.opts.CheckpointPath != "" {
		if err := os.MkdirAll(filepath.Dir(t.opts.CheckpointPath), 0o755); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", t.opts.CheckpointPath, err)
		}
		if err := WriteCheckpoint(t.opts.CheckpointPath, selected); err != nil {
			return nil, err
		}
		ckptPath = t.opts.CheckpointPath
	}
	s := Summary{
		Env: t.cfg.Env, Seed: t.cfg.Seed, ConfigHash: t.hash, Iterations: t.iteration, GlobalStep: t.globalStep,
		Episodes: t.episodes, WallSeconds: wall, Resumed: t.resumed, Checkpoint: ckptPath,
		StopReason: StopBudget, Selected: selectedName, SelectedIteration: selected.Iteration,
		Validations: t.mon.state.Evaluations,
		Convergence: ConvergenceSummary{
			Window: cc.Window, MinImprovement: cc.MinImprovement, PlateauPatience: cc.PlateauPatience, StopOnPlateau: cc.StopOnPlateau,
			Probes: t.mon.probes(), MaxKL: cc.Stability.MaxKL, MinAgreement: cc.Stability.MinAgreement,
			StablePatience: cc.Stability.Patience, StopOnStable: cc.StopOnStable,
			PlateauIterations: t.mon.state.Plateau.Run, StableIterations: t.mon.state.StableRun,
		},
	}
	if r := t.mon.state.StopReason; r != "" {
		s.StopReason = r
	}
	if ma := t.movingAverage(); !math.IsNaN(ma) {
		s.Convergence.MovingAverage = &ma
	}
	if b := t.mon.state.Best; b != nil {
		s.Best = &BestSummary{Iteration: b.Iteration, GlobalStep: b.GlobalStep, MeanReturn: b.MeanReturn, StdReturn: b.StdReturn,
			Episodes: t.cfg.Validation.Episodes, Checkpoint: filepath.Join(t.outDir, BestFile)}
	}
	if wall > 0 {
		s.StepsPerSecond = float64(t.globalStep-startStep) / wall
	}
	if mr, n := t.meanReturn(); n > 0 {
		s.MeanReturn, s.ReturnEpisodes = &mr, n
	}
	if err := framework.WriteJSONAtomic(filepath.Join(t.outDir, SummaryFile), s); err != nil {
		return nil, err
	}
	return &Result{Summary: s, Checkpoint: selected}, nil
}

// movingAverage is the moving average of the training return over the monitor's window
// (NaN when no episode ended in it).
func (t *trainer) movingAverage() float64 {
	ps := t.mon.state.Plateau
	tot, n := 0.0, 0
	for i := range ps.Sums {
		tot, n = tot+ps.Sums[i], n+ps.Counts[i]
	}
	if n == 0 {
		return math.NaN()
	}
	return tot / float64(n)
}

// validate runs the current deterministic policy for validation.episodes held-out
// episodes (episode k in the environment ValidationEnv(k, k), reset with seed k; the
// environment workers share the episodes, results in index order), keeps it as the best
// policy (best.json) when its mean return beats the best so far, and returns the mean,
// the population standard deviation and whether it is the new best.
func (t *trainer) validate(ctx context.Context) (float64, float64, bool, error) {
	c := t.checkpoint(false)
	K := t.cfg.Validation.Episodes
	rets := make([]float64, K)
	errs := make([]error, K)
	workers := max(1, min(t.vec.workers, K))
	one := func(k int) {
		env, err := t.opts.ValidationEnv(k, uint64(k))
		if err != nil {
			errs[k] = fmt.Errorf("validation episode %d: build environment: %w", k, err)
			return
		}
		defer env.Close()
		r, err := Evaluate(ctx, c, env, 1, uint64(k))
		if err != nil {
			errs[k] = fmt.Errorf("validation episode %d: %w", k, err)
			return
		}
		rets[k] = r[0]
	}
	if workers == 1 {
		for k := range K {
			one(k)
		}
	} else {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for k := w; k < K; k += workers {
					one(k)
				}
			})
		}
		wg.Wait()
	}
	if err := errors.Join(errs...); err != nil {
		return math.NaN(), math.NaN(), false, err
	}
	m, sd := meanStd(rets)
	t.mon.state.Evaluations++
	best := t.mon.state.Best
	if best != nil && !(m > best.MeanReturn) {
		return m, sd, false, nil
	}
	t.mon.state.Best = &BestPolicy{Iteration: t.iteration, GlobalStep: t.globalStep, MeanReturn: m, StdReturn: sd, Checkpoint: c}
	if err := WriteCheckpoint(filepath.Join(t.outDir, BestFile), c); err != nil {
		return m, sd, true, err
	}
	return m, sd, true, nil
}

// iterate runs one PPO iteration — rollout, advantages, update — and returns the
// iteration's learning rate and its last minibatch's statistics.
func (t *trainer) iterate(ctx context.Context) (float64, lossStats, error) {
	it := t.iteration + 1
	lr := t.cfg.LearningRate
	if t.cfg.AnnealLR {
		lr = annealedLR(t.cfg.LearningRate, it, t.iterations)
	}
	t.iterRetSum, t.iterRetN = 0, 0
	if err := t.rollout(ctx); err != nil {
		return lr, lossStats{}, fmt.Errorf("iteration %d rollout: %w", it, err)
	}
	if t.mon.capturing() {
		t.mon.finishCapture()
		t.rawNext, t.rawValid = nil, nil
	}
	if !t.mon.havePrev {
		// π_old of the first iteration: the initial parameters, with the statistics of the
		// first rollout.
		t.mon.rememberPolicy(t.params, t.mergedObsNorm())
	}
	t.advantages()
	last, err := t.update(lr)
	if err != nil {
		return lr, last, fmt.Errorf("iteration %d update: %w", it, err)
	}
	t.iteration = it
	return lr, last, nil
}

// rollout collects num_steps steps from every environment with the current policy.
func (t *trainer) rollout(ctx context.Context) error {
	N, in, ad, od := t.N, t.net.inDim, t.net.actDim, t.net.outDim
	var logStd []float64
	if t.net.logStd >= 0 {
		logStd = t.params[t.net.logStd : t.net.logStd+ad]
	}
	for step := 0; step < t.T; step++ {
		t.globalStep += int64(N)
		base := step * N
		copy(t.bObs[base*in:(base+N)*in], t.next)
		if t.mon.capturing() {
			for e := 0; e < N; e++ {
				t.mon.offer(base+e, t.rawNext[e], t.rawValid[e])
			}
		}
		aOut := t.net.actor.forward(t.params, t.next, N, t.rollA)
		vOut := t.net.critic.forward(t.params, t.next, N, t.rollC)
		for e := 0; e < N; e++ {
			i := base + e
			a := t.bAct[i*ad : (i+1)*ad]
			t.bLogp[i] = t.net.sampleRow(aOut[e*od:(e+1)*od], logStd, t.actRNG, a, t.aux[e*od:(e+1)*od])
			t.bVal[i] = vOut[e]
			ea := slices.Clone(a)
			if t.net.head == headGaussian {
				clipBox(ea, t.specs.Action)
			}
			t.envAct[e] = framework.Action{Values: ea}
		}
		if err := t.vec.step(ctx, t.envAct); err != nil {
			return err
		}
		t.finalIdx = t.finalIdx[:0]
		for e := 0; e < N; e++ {
			i := base + e
			res := &t.vec.results[e]
			if math.IsNaN(res.Reward) || math.IsInf(res.Reward, 0) {
				return fmt.Errorf("environment %d returned reward %v", e, res.Reward)
			}
			ended := res.Terminated || res.Truncated
			t.bEnded[i], t.bTerm[i], t.bFinalV[i] = ended, res.Terminated, 0
			t.bWeight[i] = 1
			if res.Fallback {
				t.bWeight[i] = 0
			}
			t.epRet[e] += res.Reward
			t.epLen[e]++
			if ended {
				// Gymnasium order: the final observation passes the observation normaliser,
				// then the reset observation does.
				dst := t.final[len(t.finalIdx)*in : (len(t.finalIdx)+1)*in]
				if err := t.encode(e, *res.FinalObs, dst); err != nil {
					return fmt.Errorf("environment %d final observation: %w", e, err)
				}
				if t.cfg.BootstrapTruncation && !res.Terminated {
					t.finalIdx = append(t.finalIdx, i)
				}
				t.episodes++
				t.episodesW.row(float64(t.globalStep), float64(e), t.epRet[e], float64(t.epLen[e]))
				t.pushReturn(t.epRet[e])
				t.epRet[e], t.epLen[e] = 0, 0
			}
			if err := t.encodeNext(e, res.Obs); err != nil {
				return fmt.Errorf("environment %d: %w", e, err)
			}
			r := res.Reward
			if t.rewNorm != nil {
				r = t.rewNorm[e].normalize(r, res.Terminated)
			}
			t.bRew[i] = r
		}
		if k := len(t.finalIdx); k > 0 {
			v := t.net.critic.forward(t.params, t.final[:k*in], k, t.rollC)
			for j, i := range t.finalIdx {
				t.bFinalV[i] = v[j]
			}
		}
	}
	v := t.net.critic.forward(t.params, t.next, N, t.rollC)
	copy(t.nextV, v)
	return nil
}

func (t *trainer) advantages() {
	gae(gaeInput{
		T: t.T, N: t.N, rewards: t.bRew, values: t.bVal, ended: t.bEnded, terminated: t.bTerm,
		finalValues: t.bFinalV, nextValues: t.nextV, bootstrap: t.cfg.BootstrapTruncation,
	}, t.cfg.Gamma, t.cfg.GAELambda, t.bAdv, t.bRet)
}

// update runs the epochs of minibatch updates; it returns the last minibatch's statistics
// (NaN when every sample was masked and nothing was updated).
func (t *trainer) update(lr float64) (lossStats, error) {
	B, mbs := t.T*t.N, t.cfg.MinibatchSize()
	in, ad := t.net.inDim, t.net.actDim
	for i := range t.inds {
		t.inds[i] = i
	}
	t.clipFracs = t.clipFracs[:0]
	nan := math.NaN()
	last := lossStats{loss: nan, pgLoss: nan, vLoss: nan, entropy: nan, oldApproxKL: nan, approxKL: nan, clipFrac: nan}
	for epoch := 0; epoch < t.cfg.UpdateEpochs; epoch++ {
		t.shufRNG.Shuffle(B, func(i, j int) { t.inds[i], t.inds[j] = t.inds[j], t.inds[i] })
		for start := 0; start < B; start += mbs {
			end := min(start+mbs, B)
			mb := &t.mb
			mb.n = end - start
			for r, i := range t.inds[start:end] {
				copy(mb.obs[r*in:(r+1)*in], t.bObs[i*in:(i+1)*in])
				copy(mb.act[r*ad:(r+1)*ad], t.bAct[i*ad:(i+1)*ad])
				mb.oldLogp[r], mb.adv[r], mb.ret[r] = t.bLogp[i], t.bAdv[i], t.bRet[i]
				mb.oldV[r], mb.weight[r] = t.bVal[i], t.bWeight[i]
			}
			st := t.learn.lossGrad(t.params, t.grads, mb, t.coefs)
			if st.n == 0 {
				continue // every sample of the minibatch is masked
			}
			norm := clipGradNorm(t.grads, t.cfg.MaxGradNorm)
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				return st, fmt.Errorf("non-finite gradient norm %v in epoch %d (loss %v)", norm, epoch+1, st.loss)
			}
			t.opt.step(t.params, t.grads, lr)
			t.clipFracs = append(t.clipFracs, st.clipFrac)
			last = st
		}
		if t.cfg.TargetKL > 0 && last.approxKL > t.cfg.TargetKL {
			break
		}
	}
	return last, nil
}

func (t *trainer) pushReturn(r float64) {
	if len(t.recent) == maxReturnWindow {
		copy(t.recent, t.recent[1:])
		t.recent = t.recent[:maxReturnWindow-1]
	}
	t.recent = append(t.recent, r)
	t.iterRetSum += r
	t.iterRetN++
}

// meanReturn is the mean of the last ≤100 episode returns and how many there are (NaN, 0
// when none ended).
func (t *trainer) meanReturn() (float64, int) {
	if len(t.recent) == 0 {
		return math.NaN(), 0
	}
	return mean(t.recent), len(t.recent)
}

func (t *trainer) flush() error {
	if err := t.episodesW.flush(); err != nil {
		return err
	}
	if err := t.iterationsW.flush(); err != nil {
		return err
	}
	return t.convergenceW.flush()
}

// mergedObsNorm merges the per-environment observation statistics into one (environment
// 0's folded with the others', in index order).
func (t *trainer) mergedObsNorm() *RunningMeanStd {
	if t.obsNorm == nil {
		return nil
	}
	m := t.obsNorm[0].Clone()
	for _, o := range t.obsNorm[1:] {
		m.Merge(o)
	}
	return m
}

// checkpoint snapshots the run; resumable adds the optimiser, normaliser and RNG state.
func (t *trainer) checkpoint(resumable bool) *Checkpoint {
	c := &Checkpoint{
		Format: CheckpointFormat, Version: CheckpointVersion, ConfigHash: t.hash, Env: t.cfg.Env, Specs: t.specs,
		Network: NetworkSpec{ObsDim: t.obsDim, HiddenSizes: slices.Clone(t.cfg.HiddenSizes), Activation: t.net.actor.act.String(),
			MaskInput: t.cfg.MaskInput, NormObs: t.cfg.NormObs, ObsClip: t.cfg.ObsClip, NumParams: t.net.n},
		Params: slices.Clone(t.params), ObsNorm: t.mergedObsNorm(),
		Iteration: t.iteration, Iterations: t.iterations, GlobalStep: t.globalStep,
	}
	if !resumable {
		return c
	}
	actState, _ := t.actSrc.MarshalBinary()
	shufState, _ := t.shufSrc.MarshalBinary()
	ts := &TrainState{
		AdamM: slices.Clone(t.opt.M), AdamV: slices.Clone(t.opt.V), AdamT: t.opt.T,
		ActRNG: actState, ShuffleRNG: shufState, EnvEpisodes: slices.Clone(t.vec.episodes),
		EpisodeCount: t.episodes, Recent: slices.Clone(t.recent),
	}
	ms := t.mon.state
	ms.Plateau.Sums, ms.Plateau.Counts = slices.Clone(ms.Plateau.Sums), slices.Clone(ms.Plateau.Counts)
	ms.Plateau.Recent = slices.Clone(ms.Plateau.Recent)
	ts.Monitor = &ms
	for _, o := range t.obsNorm {
		ts.ObsNorm = append(ts.ObsNorm, o.Clone())
	}
	for _, r := range t.rewNorm {
		ts.RewardNorm = append(ts.RewardNorm, &rewardNormalizer{RMS: r.RMS.Clone(), Return: r.Return})
	}
	c.Train = ts
	return c
}

// resume restores the run from <out>/checkpoints/latest.json when it exists. Episodes in
// progress at the checkpoint are not restored: every environment starts a new episode
// (with the seed its episode counter gives), so a resumed run is deterministic but not
// identical to an uninterrupted one.
func (t *trainer) resume() error {
	path := filepath.Join(t.outDir, LatestFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c, err := ReadCheckpoint(path)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if c.ConfigHash != t.hash {
		return fmt.Errorf("resume: %s was trained with config hash %s, this config's is %s (delete it or set resume: false)", path, c.ConfigHash, t.hash)
	}
	if err := specsMatch(c.Specs, t.specs); err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	ts := c.Train
	if ts == nil || len(ts.AdamM) != t.net.n || len(ts.AdamV) != t.net.n || len(ts.EnvEpisodes) != t.N ||
		(t.obsNorm != nil && len(ts.ObsNorm) != t.N) || (t.rewNorm != nil && len(ts.RewardNorm) != t.N) {
		return fmt.Errorf("resume: %s has no or mismatched training state", path)
	}
	copy(t.params, c.Params)
	copy(t.opt.M, ts.AdamM)
	copy(t.opt.V, ts.AdamV)
	t.opt.T = ts.AdamT
	for e := range t.obsNorm {
		t.obsNorm[e] = ts.ObsNorm[e].Clone()
	}
	for e := range t.rewNorm {
		t.rewNorm[e].RMS, t.rewNorm[e].Return = ts.RewardNorm[e].RMS.Clone(), ts.RewardNorm[e].Return
	}
	if err := t.actSrc.UnmarshalBinary(ts.ActRNG); err != nil {
		return fmt.Errorf("resume: action generator state: %w", err)
	}
	if err := t.shufSrc.UnmarshalBinary(ts.ShuffleRNG); err != nil {
		return fmt.Errorf("resume: shuffle generator state: %w", err)
	}
	copy(t.vec.episodes, ts.EnvEpisodes)
	t.episodes, t.recent = ts.EpisodeCount, slices.Clone(ts.Recent)
	if ts.Monitor != nil {
		t.mon.state = *ts.Monitor
		if t.cfg.Convergence.Probes == 0 {
			t.mon.state.Probes = nil
		}
		if b := t.mon.state.Best; b != nil && b.Checkpoint != nil {
			// best.json may hold a later best of the interrupted run, which this run
			// will not reproduce: restore the checkpoint's.
			if err := WriteCheckpoint(filepath.Join(t.outDir, BestFile), b.Checkpoint); err != nil {
				return fmt.Errorf("resume: %w", err)
			}
		}
	}
	t.iteration, t.globalStep, t.resumed = c.Iteration, c.GlobalStep, true
	return nil
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
