package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/scalelab/scalelab/framework"
	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrDisabled is returned by every call once the plugin failed more often than
	// max_restarts allows (or answered that it does not implement the service).
	ErrDisabled = errors.New("plugin disabled for the rest of the run")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("plugin policy closed")
	// ErrNotInitialized is returned by Act before a successful Init.
	ErrNotInitialized = errors.New("plugin policy used before Init")
)

// state is the host's view of its plugin process. The transitions:
//
//	            Init: start + init ok
//	  idle ──────────────────────────▶ running ◀────────────────────────┐
//	                                     │ crash, hang past the         │ restart after
//	                                     │ deadline, malformed answer   │ backoff (on Act)
//	                                     ▼                              │
//	                                   broken ──────────────────────────┘
//	                                     │ failure with restarts = max_restarts,
//	                                     ▼ or the plugin lacks the service
//	                                  disabled   (every call: ErrDisabled)
//
//	Close from any state ▶ closed (process stopped and reaped, sockets removed).
//
// An error the plugin reports on purpose (an Act that returns an error) fails only that
// call: the process stays running.
type state int

const (
	stateIdle state = iota
	stateRunning
	stateBroken
	stateDisabled
	stateClosed
)

func (s state) String() string {
	return [...]string{"idle", "running", "broken", "disabled", "closed"}[s]
}

// maxBackoffFactor caps the restart backoff at restart_backoff × 32.
const maxBackoffFactor = 32

// Stats counts what happened to a plugin policy over its life.
type Stats struct {
	// Starts counts processes started (the first one and every restart that got as far as
	// starting a process).
	Starts int `json:"starts"`
	// Restarts counts restart attempts after failures.
	Restarts int `json:"restarts"`
	// Failures counts crashes, hangs past the deadline, malformed answers and failed
	// restarts.
	Failures int `json:"failures"`
	// Disabled is true once the plugin is disabled for the rest of the run.
	Disabled bool `json:"disabled"`
	// LastFailure is the last failure's description ("" when none).
	LastFailure string `json:"last_failure,omitempty"`
	// PID is the running process's id (0 when none is running).
	PID int `json:"pid"`
}

// Policy is a policy served by a plugin process over gRPC (go-plugin). It implements
// framework.Policy with Init, Reset, Observe and Close; see the package documentation for
// its failure handling.
type Policy struct {
	name    string
	cfg     Config
	launch  launchSpec
	seed    uint64
	sockDir string // parent of the private socket root ("" = system temp dir)
	log     *slog.Logger
	// now and sleep are the clock (injectable for tests).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// onStart, when set, is called with the pid of every process started (tests).
	onStart func(pid int)

	mu          sync.Mutex
	st          state
	specs       *policyv1.InitRequest
	dim         int
	proc        *proc
	stats       Stats
	streak      int // consecutive failures since the last successful call
	nextStart   time.Time
	disabledErr error
	reapers     sync.WaitGroup
}

var (
	_ framework.Policy           = (*Policy)(nil)
	_ framework.Initializer      = (*Policy)(nil)
	_ framework.Resetter         = (*Policy)(nil)
	_ framework.Observer         = (*Policy)(nil)
	_ interface{ Close() error } = (*Policy)(nil)
)

// New returns a plugin policy for a validated config. It checks the executable (and its
// checksum) but starts nothing: Init starts the process.
func New(bc framework.BuildContext, c Config) (*Policy, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("plugin policy %s: %w", bc.Name, errors.Join(errs...))
	}
	path := resolve(bc.BaseDir, c.Command)
	if err := checkExecutable(path); err != nil {
		return nil, fmt.Errorf("plugin policy %s: command: %w", bc.Name, err)
	}
	sum, _ := parseChecksum(c.Checksum)
	if err := verifyChecksum(path, c.Checksum); err != nil {
		return nil, fmt.Errorf("plugin policy %s: checksum: %w", bc.Name, err)
	}
	log := bc.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("policy", bc.Name, "type", Type)
	p := &Policy{
		name: bc.Name,
		cfg:  c,
		launch: launchSpec{path: path, args: append([]string(nil), c.Args...), workDir: bc.BaseDir, checksum: sum,
			timeout: c.StartTimeout, log: log},
		seed:    bc.Seed,
		sockDir: c.SocketDir,
		log:     log,
		now:     time.Now,
		sleep:   sleepCtx,
	}
	return p, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Init starts the plugin process and sends it the specs. An error (the executable does not
// start, the handshake fails, the plugin refuses the specs) leaves no process behind.
// Calling Init again re-sends the specs to the running process.
func (p *Policy) Init(s framework.Specs) error {
	req := initRequest(s, p.seed, p.name)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.st {
	case stateClosed:
		return ErrClosed
	case stateDisabled:
		return p.disabledErr
	}
	p.specs, p.dim = req, s.Action.Dim()
	if p.proc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
		defer cancel()
		if err := p.initProc(ctx, p.proc); err != nil {
			return p.fail("init", err, restartable)
		}
		return nil
	}
	pr, err := p.start()
	if err != nil {
		// Leave nothing behind: a caller whose set-up failed may never call Close.
		p.specs = nil
		p.reapers.Wait()
		_ = os.RemoveAll(p.launch.sockRoot)
		p.launch.sockRoot = ""
		untrack(p)
		return fmt.Errorf("plugin policy %s: %w", p.name, err)
	}
	p.proc, p.st = pr, stateRunning
	return nil
}

func initRequest(s framework.Specs, seed uint64, name string) *policyv1.InitRequest {
	r := &policyv1.InitRequest{
		ActionDesign:  s.ActionDesign,
		IntervalNanos: int64(s.Interval),
		Seed:          seed,
		PolicyName:    name,
		Action: &policyv1.ActionSpace{
			Kind: string(s.Action.Kind), N: int64(s.Action.N), Low: s.Action.Low, High: s.Action.High,
			Names: s.Action.Names, Dim: int64(s.Action.Dim()),
		},
	}
	for _, n := range s.Action.Nvec {
		r.Action.Nvec = append(r.Action.Nvec, int64(n))
	}
	for _, f := range s.Features {
		r.Features = append(r.Features, &policyv1.FeatureSpec{Name: f.Name, Unit: f.Unit, Description: f.Description,
			Low: f.Low, High: f.High})
	}
	return r
}

// start launches a process and initialises it; the caller holds mu.
func (p *Policy) start() (*proc, error) {
	if p.launch.sockRoot == "" {
		dir, err := os.MkdirTemp(p.sockDir, "sl-plugin-")
		if err != nil {
			return nil, fmt.Errorf("create the socket directory: %w", err)
		}
		p.launch.sockRoot = dir
		track(p)
	}
	t0 := p.now()
	pr, err := launch(p.launch)
	if err != nil {
		return nil, err
	}
	p.stats.Starts++
	if p.onStart != nil {
		p.onStart(pr.pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
	defer cancel()
	if err := p.initProc(ctx, pr); err != nil {
		pr.stop(true)
		return nil, err
	}
	p.log.Info("plugin started", "pid", pr.pid, "plugin", pr.name, "took", p.now().Sub(t0).Round(time.Microsecond))
	return pr, nil
}

func (p *Policy) initProc(ctx context.Context, pr *proc) error {
	resp, err := pr.rpc.Init(ctx, p.specs)
	if err != nil {
		return fmt.Errorf("init: %s", describe(err))
	}
	pr.wantsObserve, pr.wantsReset, pr.name = resp.GetWantsObserve(), resp.GetWantsReset(), resp.GetName()
	return nil
}

// stopAsync stops a process in the background (Close waits for it).
func (p *Policy) stopAsync(pr *proc, force bool) {
	p.reapers.Add(1)
	go func() {
		defer p.reapers.Done()
		pr.stop(force)
	}()
}

// describe renders a gRPC error as "code: message".
func describe(err error) string {
	if s, ok := status.FromError(err); ok {
		return fmt.Sprintf("%s: %s", s.Code(), s.Message())
	}
	return err.Error()
}

// failureKind says what a failed call means for the process.
type failureKind int

const (
	// callError: the plugin answered with an error on purpose; the process is fine.
	callError failureKind = iota
	// restartable: crash, hang or malformed answer; the process must be replaced.
	restartable
	// fatal: the plugin cannot serve this contract at all (Unimplemented).
	fatal
	// hostCanceled: the host cancelled the call (shutdown); not the plugin's fault.
	hostCanceled
)

// classify sorts a failed call. ctx is the caller's context, cctx the call's (with its
// deadline).
func classify(ctx, cctx context.Context, err error) failureKind {
	if errors.Is(ctx.Err(), context.Canceled) {
		return hostCanceled
	}
	if cctx.Err() != nil {
		return restartable // the deadline passed: the plugin hangs or is too slow
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Aborted, codes.FailedPrecondition, codes.DataLoss,
		codes.ResourceExhausted, codes.Canceled, codes.DeadlineExceeded:
		return restartable
	case codes.Unimplemented:
		return fatal
	default:
		return callError
	}
}

// isDeadline reports whether a failed call ran out of time. gRPC may report the deadline
// (the server enforces it too) a moment before cctx expires.
func isDeadline(cctx context.Context, err error) bool {
	return cctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded
}

// fail records a failure of the running process (or of a restart) and decides what comes
// next; the caller holds mu. It returns the error for the caller.
func (p *Policy) fail(op string, cause error, kind failureKind) error {
	p.stats.Failures++
	p.stats.LastFailure = fmt.Sprintf("%s: %v", op, cause)
	p.streak++
	if p.proc != nil {
		p.stopAsync(p.proc, true)
		p.proc = nil
	}
	if kind == fatal || p.stats.Restarts >= p.cfg.MaxRestarts {
		p.st = stateDisabled
		p.stats.Disabled = true
		why := fmt.Sprintf("after %d restarts", p.stats.Restarts)
		if kind == fatal {
			why = "because it does not serve the policy contract"
		}
		p.disabledErr = fmt.Errorf("plugin %s: %w %s; last failure: %s", p.name, ErrDisabled, why, p.stats.LastFailure)
		p.log.Error("plugin disabled for the rest of the run", "restarts", p.stats.Restarts, "failures", p.stats.Failures,
			"last_failure", p.stats.LastFailure)
		return p.disabledErr
	}
	p.st = stateBroken
	backoff := p.backoff()
	p.nextStart = p.now().Add(backoff)
	p.log.Warn("plugin failed; restarting it", "op", op, "error", cause.Error(), "restart", p.stats.Restarts+1,
		"max_restarts", p.cfg.MaxRestarts, "backoff", backoff)
	return fmt.Errorf("plugin %s: %s: %w (restart %d of %d in %v)", p.name, op, cause, p.stats.Restarts+1,
		p.cfg.MaxRestarts, backoff)
}

// backoff is restart_backoff × 2^(streak−1), capped at restart_backoff × 32.
func (p *Policy) backoff() time.Duration {
	f := 1
	for i := 1; i < p.streak && f < maxBackoffFactor; i++ {
		f *= 2
	}
	return p.cfg.RestartBackoff * time.Duration(f)
}

// ready makes sure a process is running for a call with context ctx, restarting a broken
// one once its backoff has passed (waiting for it when ctx's deadline allows); the caller
// holds mu.
func (p *Policy) ready(ctx context.Context) error {
	switch p.st {
	case stateClosed:
		return ErrClosed
	case stateDisabled:
		return p.disabledErr
	case stateIdle:
		return fmt.Errorf("plugin %s: %w", p.name, ErrNotInitialized)
	case stateRunning:
		return nil
	}
	if wait := p.nextStart.Sub(p.now()); wait > 0 {
		if dl, ok := ctx.Deadline(); ok && !p.now().Add(wait).Before(dl) {
			return fmt.Errorf("plugin %s: restarting after a failure: next attempt in %v (%s)", p.name,
				wait.Round(time.Millisecond), p.stats.LastFailure)
		}
		if err := p.sleep(ctx, wait); err != nil {
			return fmt.Errorf("plugin %s: waiting to restart: %w", p.name, err)
		}
	}
	p.stats.Restarts++
	pr, err := p.start()
	if err != nil {
		return p.fail("restart", err, restartable)
	}
	p.proc, p.st = pr, stateRunning
	p.log.Info("plugin restarted", "restart", p.stats.Restarts, "pid", pr.pid)
	return nil
}

// Act sends the observation to the plugin and returns its action. The call's deadline is
// ctx's (the runner's per-decision deadline), else call_timeout. A crash, a hang past the
// deadline, or an answer that is malformed or has the wrong length fails the decision and
// schedules a restart; an error the plugin returns fails only the decision; a non-finite
// value is returned as an error without a restart.
func (p *Policy) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	restarting := p.st == stateBroken
	if err := p.ready(ctx); err != nil {
		return framework.Action{}, err
	}
	if err := ctx.Err(); err != nil {
		return framework.Action{}, fmt.Errorf("plugin %s: act: %w", p.name, err)
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		cctx, cancel = context.WithTimeout(ctx, p.cfg.CallTimeout)
	}
	defer cancel()
	req := &policyv1.ActRequest{Values: obs.Values, Valid: obs.Valid, TimeUnixNanos: obs.Time.UnixNano()}
	if len(obs.Age) > 0 {
		req.AgeNanos = make([]int64, len(obs.Age))
		for i, a := range obs.Age {
			req.AgeNanos[i] = int64(a)
		}
	}
	resp, err := p.proc.rpc.Act(cctx, req)
	if err != nil {
		if restarting && classify(ctx, cctx, err) == restartable && isDeadline(cctx, err) {
			// The restart used up most of this decision's deadline: a fresh plugin that
			// is slower than what was left is not hung. A hang shows on the next call.
			return framework.Action{}, fmt.Errorf("plugin %s: act: no answer in the time the restart left of the deadline: %w",
				p.name, context.DeadlineExceeded)
		}
		return framework.Action{}, p.callFailed(ctx, cctx, "act", err)
	}
	a := resp.GetAction()
	if len(a) != p.dim {
		return framework.Action{}, p.fail("act", fmt.Errorf("malformed answer: %d action values, the action space has %d", len(a), p.dim),
			restartable)
	}
	p.streak = 0
	for i, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return framework.Action{}, fmt.Errorf("plugin %s: act: action[%d] = %v is not finite", p.name, i, v)
		}
	}
	return framework.Action{Values: a}, nil
}

// callFailed handles an RPC error; the caller holds mu.
func (p *Policy) callFailed(ctx, cctx context.Context, op string, err error) error {
	switch kind := classify(ctx, cctx, err); kind {
	case hostCanceled:
		return fmt.Errorf("plugin %s: %s: %w", p.name, op, ctx.Err())
	case callError:
		p.streak = 0
		return fmt.Errorf("plugin %s: %s: %s", p.name, op, describe(err))
	default:
		cause := errors.New(describe(err))
		switch {
		case isDeadline(cctx, err):
			cause = fmt.Errorf("no answer within the deadline: %w", context.DeadlineExceeded)
		case status.Code(err) == codes.Unavailable && p.proc != nil && p.proc.exited(100*time.Millisecond):
			cause = fmt.Errorf("the plugin process exited (%s)", describe(err))
		}
		return p.fail(op, cause, kind)
	}
}

// Observe forwards the step's reward to a plugin that asked for it. A failure is logged
// (Observe has no error result); a crash or hang schedules a restart.
func (p *Policy) Observe(reward float64, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st != stateRunning || !p.proc.wantsObserve {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CallTimeout)
	defer cancel()
	if _, err := p.proc.rpc.Observe(ctx, &policyv1.ObserveRequest{Reward: reward, Done: done}); err != nil {
		p.log.Warn("plugin observe failed", "error", p.callFailed(context.Background(), ctx, "observe", err))
	}
}

// Reset tells a plugin that asked for it that an episode starts. A failure is logged; a
// crash or hang schedules a restart (a restarted plugin starts with fresh state anyway).
func (p *Policy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st != stateRunning || !p.proc.wantsReset {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CallTimeout)
	defer cancel()
	if _, err := p.proc.rpc.Reset(ctx, &policyv1.ResetRequest{}); err != nil {
		p.log.Warn("plugin reset failed", "error", p.callFailed(context.Background(), ctx, "reset", err))
	}
}

// Close asks the plugin to close, stops the process (killing it if it does not exit within
// a few seconds), waits until every process this policy started is reaped and removes the
// socket directory. It is safe to call more than once.
func (p *Policy) Close() error {
	p.mu.Lock()
	if p.st == stateClosed {
		p.mu.Unlock()
		return nil
	}
	p.st = stateClosed
	pr := p.proc
	p.proc = nil
	p.mu.Unlock()
	defer untrack(p)
	if pr != nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CallTimeout)
		if _, err := pr.rpc.Close(ctx, &policyv1.CloseRequest{}); err != nil {
			p.log.Warn("plugin close call failed", "error", describe(err))
		}
		cancel()
		pr.stop(false)
		p.log.Debug("plugin stopped", "pid", pr.pid)
	}
	p.reapers.Wait()
	if p.launch.sockRoot != "" {
		if err := os.RemoveAll(p.launch.sockRoot); err != nil {
			return fmt.Errorf("plugin %s: remove socket directory: %w", p.name, err)
		}
	}
	return nil
}

// Stats returns the policy's counters.
func (p *Policy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	if p.proc != nil {
		s.PID = p.proc.pid
	}
	return s
}

// live holds every policy not yet closed, for CloseAll.
var live struct {
	sync.Mutex
	m map[*Policy]struct{}
}

func track(p *Policy) {
	live.Lock()
	defer live.Unlock()
	if live.m == nil {
		live.m = map[*Policy]struct{}{}
	}
	live.m[p] = struct{}{}
}

func untrack(p *Policy) {
	live.Lock()
	defer live.Unlock()
	delete(live.m, p)
}

// CloseAll closes every plugin policy of the process that is not closed yet, stopping and
// reaping their processes and removing their sockets. Call it on the way out of a host that
// may exit without closing its policies (cmd/scalelab defers it in main); it is go-plugin's
// CleanupClients for scalelab's plugins.
func CloseAll() {
	live.Lock()
	ps := make([]*Policy, 0, len(live.m))
	for p := range live.m {
		ps = append(ps, p)
	}
	live.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Close()
		}()
	}
	wg.Wait()
}
