package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/kube"
)

// Options configure an agent run.
type Options struct {
	// Config is the experiment config file (backend: kubernetes); Sets are --set overrides.
	Config string
	Sets   []string
	// Policy names the config's policy to run; "" picks the only one.
	Policy string
	// DryRun sends every command with server-side dry run: the API server validates and
	// admits it, nothing changes, and the agent logs what it would do.
	DryRun bool
	// Listen is the address of /metrics and /healthz ("" serves none).
	Listen string
	// LeaderElect makes the agent decide only while it holds the Lease
	// LeaseNamespace/LeaseName (several replicas: one decides, the others stand by).
	LeaderElect    bool
	LeaseName      string
	LeaseNamespace string
	// Identity is this agent's name in the Lease (default: hostname_pid).
	Identity string
	// Decisions stops the agent after this many decisions (0: until stopped).
	Decisions int
	// Duration stops the agent after this long leading (0: until stopped).
	Duration time.Duration
	// MaxStepErrors ends the agent after this many failed steps in a row (default 5).
	MaxStepErrors int
	// Registry holds the components (required).
	Registry *framework.Registry
	// Logger receives the decision log (default slog.Default()).
	Logger *slog.Logger
	// Ready, when set, is called with the address /metrics listens on once it serves.
	Ready func(addr string)
	// Metrics, when set, receives the agent's metrics (they outlive Run); nil makes a new
	// set.
	Metrics *Metrics
}

// lease timings (client-go's usual values for controllers).
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// Run runs the agent until ctx ends (a graceful shutdown: the current step is abandoned,
// the Lease released, the HTTP server drained), Decisions or Duration is reached, or too
// many steps fail in a row. It builds the loop exactly as `scalelab run` does for the
// policy (collector, action design, actuator, reward, guardrails, fallback), attaches the
// kubernetes backend to the live workload (no initial scaling), and steps on the wall
// clock, logging every decision.
func Run(ctx context.Context, o Options) error {
	if o.Registry == nil {
		return errors.New("agent: no component registry")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.MaxStepErrors <= 0 {
		o.MaxStepErrors = 5
	}
	sets := append([]string(nil), o.Sets...)
	if o.DryRun {
		sets = append(sets, "backend.dry_run=true")
	}
	loaded, err := config.Load(o.Config, sets, o.Registry)
	if err != nil {
		return err
	}
	cfg := loaded.Config
	if cfg.Backend.Type != kube.Type {
		return fmt.Errorf("agent: backend.type is %q: the agent drives a real cluster (backend: {type: %s})", cfg.Backend.Type, kube.Type)
	}
	name, err := choosePolicy(cfg, o.Policy)
	if err != nil {
		return err
	}
	b := &experiments.Builder{Loaded: loaded, Registry: o.Registry, Logger: log}
	loop, err := b.Loop(name, cfg.Experiment.Seed)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer loop.Backend.Close()
	if c, ok := loop.Policy.(interface{ Close() error }); ok {
		defer c.Close()
	}
	backend, ok := loop.Backend.(*kube.Backend)
	if !ok {
		return fmt.Errorf("agent: backend is %T, want *kube.Backend", loop.Backend)
	}
	backend.Attach(true)
	if pb, ok := loop.Actuator.(framework.PolicyBinder); ok {
		if err := pb.BindPolicy(loop.Policy); err != nil {
			return fmt.Errorf("agent: bind policy %s: %w", name, err)
		}
	}
	m := o.Metrics
	if m == nil {
		m = NewMetrics(name)
	}
	m.SetDryRun(backend.Config().DryRun)
	specs := loop.Collector.Features()
	var terms []string
	if loop.Reward != nil {
		terms = loop.Reward.Terms()
	}
	loop.Collector = timedCollector{Collector: loop.Collector, m: m}
	loop.Actuator = timedActuator{Actuator: loop.Actuator, m: m}
	loop.Policy = timedPolicy{Policy: loop.Policy, m: m}

	stale := max(3*loop.Interval+loop.Deadline, time.Minute)
	stopHTTP, err := serveHTTP(o, m, stale, log)
	if err != nil {
		return err
	}
	defer stopHTTP()

	ep := framework.Episode{Seed: cfg.Experiment.Seed, Duration: o.Duration, SLO: cfg.SLO.Latency, ClientTimeout: cfg.SLO.ClientTimeout}
	if len(cfg.Experiment.Profiles) > 0 {
		if l, err := b.Profile(cfg.Experiment.Profiles[0]); err == nil {
			ep.Load = l
		}
	}
	log.Info("agent starting", "policy", name, "type", cfg.Policies[name].Type, "workload", backend.Target().Workload.String(),
		"namespace", backend.Target().Namespace, "interval", loop.Interval, "dry_run", backend.Config().DryRun,
		"stands_back", standsBack(loop.Actuator), "leader_elect", o.LeaderElect)

	run := func(ctx context.Context) error {
		m.SetLeader(true, time.Now())
		defer m.SetLeader(false, time.Now())
		return decide(ctx, o, loop, ep, name, specs, terms, m, log)
	}
	if !o.LeaderElect {
		err := run(ctx)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			log.Info("agent stopped", "reason", context.Cause(ctx))
			return nil
		}
		return err
	}
	return elect(ctx, o, backend, run, log)
}

// dryRun reports whether the loop's writes are server-side dry runs (or the guardrails'
// dry run keeps it from acting at all).
func dryRun(loop *framework.Loop) bool {
	if loop.Guard != nil && loop.Guard.DryRun {
		return true
	}
	b, ok := loop.Backend.(*kube.Backend)
	return ok && b.Config().DryRun
}

// standsBack reports whether the actuator leaves replicas to the cluster's HPA.
func standsBack(a framework.Actuator) bool {
	s, ok := a.(interface{ StandsBack() bool })
	if t, isTimed := a.(timedActuator); isTimed {
		s, ok = t.Actuator.(interface{ StandsBack() bool })
	}
	return ok && s.StandsBack()
}

// choosePolicy returns the named policy, or the config's only one.
func choosePolicy(cfg framework.Config, want string) (string, error) {
	names := make([]string, 0, len(cfg.Policies))
	for n := range cfg.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	if want != "" {
		if _, ok := cfg.Policies[want]; !ok {
			return "", fmt.Errorf("agent: --policy %s: the config has policies %s", want, strings.Join(names, ", "))
		}
		return want, nil
	}
	if len(names) != 1 {
		return "", fmt.Errorf("agent: the config has policies %s: choose one with --policy", strings.Join(names, ", "))
	}
	return names[0], nil
}

// decide steps the loop: observe → act → guard → actuate → wait, until ctx ends or a
// limit is reached. A failed step is logged and counted; the agent waits one interval,
// re-observes and goes on, and gives up after MaxStepErrors failures in a row.
func decide(ctx context.Context, o Options, loop *framework.Loop, ep framework.Episode, name string,
	specs []framework.FeatureSpec, terms []string, m *Metrics, log *slog.Logger) error {
	if _, err := loop.Reset(ctx, ep); err != nil {
		return fmt.Errorf("agent: first observation: %w", err)
	}
	failures := 0
	for n := 0; o.Decisions == 0 || n < o.Decisions; {
		if o.Duration > 0 && loop.Elapsed() >= o.Duration {
			log.Info("agent: duration reached", "decisions", n, "elapsed", loop.Elapsed().Round(time.Second))
			return nil
		}
		start := time.Now()
		d, err := loop.Step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failures++
			log.Error("agent: step failed", "policy", name, "consecutive", failures, "err", err)
			if failures >= o.MaxStepErrors {
				return fmt.Errorf("agent: %d steps failed in a row, last: %w", failures, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(loop.Interval):
			}
			if _, err := loop.Reset(ctx, ep); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				log.Error("agent: re-observing after a failed step", "err", err)
			}
			continue
		}
		failures = 0
		n++
		stepTook := time.Since(start) - loop.Interval
		if stepTook > 0 {
			m.ObservePhase("step", stepTook)
		}
		m.Decision(d, specs, terms, time.Now())
		logDecision(log, name, n, d, specs, dryRun(loop))
	}
	log.Info("agent: decisions reached", "decisions", o.Decisions)
	return nil
}

// logDecision writes one line per decision saying what the agent did, or under dry run
// would do.
func logDecision(log *slog.Logger, policy string, n int, d framework.Decision, specs []framework.FeatureSpec, dry bool) {
	attrs := []any{"policy", policy, "n", n, "replicas", d.PrevReplicas, "ready", d.Obs.Cluster.Replicas.Ready,
		"pending", d.Obs.Cluster.Replicas.Pending + d.Obs.Cluster.Replicas.Starting}
	var obs []string
	for i, f := range specs {
		if i < len(d.Obs.Values) {
			if d.Obs.Valid[i] {
				obs = append(obs, f.Name+"="+strconv.FormatFloat(d.Obs.Values[i], 'g', 4, 64))
			} else {
				obs = append(obs, f.Name+"=missing")
			}
		}
	}
	attrs = append(attrs, "obs", strings.Join(obs, " "))
	if d.Action.Values != nil {
		attrs = append(attrs, "action", d.Action.Values)
	}
	what := "hold"
	c := d.Command
	switch {
	case c.Replicas != nil && *c.Replicas != d.PrevReplicas:
		what = fmt.Sprintf("set replicas %d → %d", d.PrevReplicas, *c.Replicas)
	case c.Replicas != nil:
		what = fmt.Sprintf("keep replicas at %d", *c.Replicas)
	}
	if c.HPATarget != nil {
		what = fmt.Sprintf("set the HPA's CPU target to %.0f %%", *c.HPATarget)
	}
	if c.CPURequestMilli != nil {
		what += fmt.Sprintf("; CPU request %dm", *c.CPURequestMilli)
	}
	if c.Batching != nil {
		what += fmt.Sprintf("; batching max %d delay %s", c.Batching.MaxBatchSize, c.Batching.MaxQueueDelay)
	}
	if d.Guard.Clamped || d.Guard.Limited {
		attrs = append(attrs, "guard", d.Guard.Reason, "requested", d.Guard.Requested)
	}
	if d.Fallback {
		attrs = append(attrs, "fallback", d.Reason)
	}
	attrs = append(attrs, "applied_replicas", d.Applied.Replicas, "changed", d.Applied.Changed, "reward", d.Reward)
	if d.Applied.Note != "" {
		attrs = append(attrs, "note", d.Applied.Note)
	}
	msg := "decision: " + what
	if dry || d.Applied.DryRun {
		msg = "dry run: would " + what
	}
	log.Info(msg, attrs...)
}

// serveHTTP starts /metrics and /healthz; the returned function shuts the server down.
func serveHTTP(o Options, m *Metrics, stale time.Duration, log *slog.Logger) (func(), error) {
	if o.Listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent: --listen %s: %w", o.Listen, err)
	}
	srv := &http.Server{Handler: m.Handler(time.Now, stale), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("agent: metrics server", "err", err)
		}
	}()
	log.Info("agent: serving /metrics and /healthz", "addr", ln.Addr().String())
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// elect runs run while holding the Lease; losing it ends the agent (its pod restarts and
// stands by), ctx ending releases it.
func elect(ctx context.Context, o Options, b *kube.Backend, run func(context.Context) error, log *slog.Logger) error {
	id := o.Identity
	if id == "" {
		host, _ := os.Hostname()
		id = host + "_" + strconv.Itoa(os.Getpid())
	}
	ns := o.LeaseNamespace
	if ns == "" {
		ns = b.Target().Namespace
	}
	name := o.LeaseName
	if name == "" {
		name = "scalelab-agent"
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaOf(ns, name),
		Client:     b.Client().CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	var (
		runErr  error
		led     bool
		lostErr error
	)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		ReleaseOnCancel: true,
		Name:            name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				led = true
				log.Info("agent: leading", "lease", ns+"/"+name, "identity", id)
				runErr = run(ctx)
				cancel() // finished (or failed): give the lease up
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil && lctx.Err() == nil {
					lostErr = fmt.Errorf("agent: lost the lease %s/%s", ns, name)
				}
				log.Info("agent: stopped leading", "identity", id)
			},
			OnNewLeader: func(current string) {
				if current != id {
					log.Info("agent: standing by", "leader", current)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("agent: leader election: %w", err)
	}
	le.Run(lctx)
	if lostErr != nil {
		return lostErr
	}
	if led && runErr != nil && !(errors.Is(runErr, context.Canceled) && ctx.Err() != nil) {
		return runErr
	}
	if ctx.Err() != nil {
		log.Info("agent stopped", "reason", context.Cause(ctx))
	}
	return nil
}
