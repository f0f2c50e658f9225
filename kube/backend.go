package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/scalelab/scalelab/framework"
)

// Options are the parts of a Backend that are not config: injected clients and plugs.
type Options struct {
	// Client and REST connect to the cluster; nil builds them from the config.
	Client kubernetes.Interface
	REST   *rest.Config
	// Load offers the episode's load and accounts for it client-side (nil: none; the load
	// comes from elsewhere and the windows carry no arrivals or latencies).
	Load LoadDriver
	// Usage measures usage integrals (nil: those Totals fields stay 0).
	Usage UsageSource
	// Logger receives the backend's logs (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Backend is the real-cluster framework.Backend: wall-clock time over a Kubernetes
// workload.
type Backend struct {
	cfg      Config
	workload framework.WorkloadConfig
	client   kubernetes.Interface
	rest     *rest.Config
	target   *Target
	watcher  *Watcher
	acct     *Accounting
	load     LoadDriver
	log      *slog.Logger
	now      func() time.Time

	episode atomic.Uint64

	mu       sync.Mutex
	deadline time.Time // the end of the last Advance: decisions keep to Reset + k·Δ
	running  bool      // the load driver runs
	closed   bool
	attached bool          // Reset joins the workload as it is (the agent)
	holding  chan struct{} // the workload's lock while this backend holds it
}

// workloadLocks serialise the backends of one process that drive the same workload: two
// runs scaling one Deployment at once would measure each other (experiment.workers > 1 on
// a real cluster). A backend takes its workload's lock at its first Reset and keeps it
// until Close.
var workloadLocks sync.Map // "namespace/Kind/name" → chan struct{} (capacity 1)

// lock takes the workload's lock, waiting (and saying so) while another backend holds it.
func (b *Backend) lock(ctx context.Context) error {
	b.mu.Lock()
	held := b.holding != nil
	b.mu.Unlock()
	if held {
		return nil
	}
	key := b.target.Namespace + "/" + b.target.Workload.String()
	v, _ := workloadLocks.LoadOrStore(key, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
	default:
		b.log.Info("kubernetes backend: another run drives the workload; waiting for it to finish", "workload", key)
		select {
		case ch <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", key, ctx.Err())
		}
	}
	b.mu.Lock()
	b.holding = ch
	b.mu.Unlock()
	return nil
}

var _ framework.Backend = (*Backend)(nil)

// New connects to the cluster, checks that the workload exists and starts watching it.
func New(ctx context.Context, cfg *Config, w framework.WorkloadConfig, o Options) (*Backend, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("kubernetes backend: %w", errors.Join(errs...))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	client, rc := o.Client, o.REST
	if client == nil {
		var err error
		if client, rc, err = cfg.Clientset(); err != nil {
			return nil, fmt.Errorf("kubernetes backend: %w", err)
		}
	}
	b := &Backend{cfg: *cfg, workload: w, client: client, rest: rc, load: o.Load, log: o.Logger, now: o.Now}
	b.target = NewTarget(client, cfg, o.Logger)
	watcher, err := StartWatcher(ctx, b.target)
	if err != nil {
		return nil, fmt.Errorf("kubernetes backend: %w", err)
	}
	b.watcher = watcher
	b.acct = NewAccounting(o.Now, o.Load, o.Usage, o.Logger)
	b.acct.Observe(LevelsOf(watcher.Pods()))
	watcher.OnChange(func() { b.acct.Observe(LevelsOf(watcher.Pods())) })
	b.deadline = o.Now()
	return b, nil
}

// Config returns the backend's config.
func (b *Backend) Config() Config { return b.cfg }

// Workload returns the workload bounds the backend was built with.
func (b *Backend) Workload() framework.WorkloadConfig { return b.workload }

// Client returns the clientset.
func (b *Backend) Client() kubernetes.Interface { return b.client }

// RESTConfig returns the REST config (nil when the backend was given only a clientset).
func (b *Backend) RESTConfig() *rest.Config { return b.rest }

// Target returns the workload target (scale subresource, HPAs).
func (b *Backend) Target() *Target { return b.target }

// Watcher returns the informer caches of the workload and its pods.
func (b *Backend) Watcher() *Watcher { return b.watcher }

// Logger returns the backend's logger.
func (b *Backend) Logger() *slog.Logger { return b.log }

// Episode returns the number of Resets so far (the current episode).
func (b *Backend) Episode() uint64 { return b.episode.Load() }

// Now is the wall clock.
func (b *Backend) Now() time.Time { return b.now() }

// Attach makes later Resets join the workload as it is: no HPA removal, no scaling, no
// wait — only the load (if any) starts and the decision clock restarts. The in-cluster
// agent runs this way: it takes over a live workload instead of starting an experiment.
func (b *Backend) Attach(on bool) {
	b.mu.Lock()
	b.attached = on
	b.mu.Unlock()
}

// Reset starts an episode: it stops the previous episode's load, deletes the HPAs
// scalelab created for the workload, sets the initial replicas (refused with
// ErrHPAConflict when another HPA controls the workload, unless manage_hpa), waits until
// the workload is steady, and starts the load. Under dry_run nothing is written and the
// workload is awaited at its current replicas.
func (b *Backend) Reset(ctx context.Context, ep framework.Episode) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errors.New("kubernetes backend: closed")
	}
	attached := b.attached
	b.mu.Unlock()
	if err := b.lock(ctx); err != nil {
		return fmt.Errorf("kubernetes backend: reset: %w", err)
	}
	b.episode.Add(1)
	if err := b.stopLoad(); err != nil {
		b.log.Warn("kubernetes backend: stopping the previous load", "err", err)
	}
	if attached {
		b.log.Info("kubernetes backend: attached to the workload as it is", "workload", b.target.Workload.String(), "namespace", b.target.Namespace)
		return b.startEpisode(ctx, ep)
	}
	deleted, err := b.target.DeleteScalelabHPAs(ctx)
	if err != nil {
		return fmt.Errorf("kubernetes backend: reset: %w", err)
	}
	if len(deleted) > 0 {
		b.log.Info("kubernetes backend: removed HPAs scalelab created earlier", "hpas", deleted)
	}
	n := ep.InitialReplicas
	if n <= 0 {
		n = b.workload.InitialReplicas
	}
	prev, note, err := b.target.ScaleTo(ctx, n, b.cfg.ManageHPA)
	if err != nil {
		return fmt.Errorf("kubernetes backend: reset: initial replicas: %w", err)
	}
	if b.cfg.DryRun {
		n = prev
	}
	b.log.Info("kubernetes backend: reset", "workload", b.target.Workload.String(), "namespace", b.target.Namespace,
		"replicas_before", prev, "replicas", n, "hpa", note, "dry_run", b.cfg.DryRun)
	start := b.now()
	if err := b.WaitSteady(ctx, n, b.cfg.SteadyTimeout); err != nil {
		return fmt.Errorf("kubernetes backend: reset: %w", err)
	}
	b.log.Info("kubernetes backend: workload steady", "replicas", n, "waited", b.now().Sub(start).Round(time.Millisecond))
	return b.startEpisode(ctx, ep)
}

// startEpisode starts the load and the decision clock.
func (b *Backend) startEpisode(ctx context.Context, ep framework.Episode) error {
	if b.load != nil {
		if err := b.load.Start(ctx, ep); err != nil {
			return fmt.Errorf("kubernetes backend: reset: start the load: %w", err)
		}
		b.mu.Lock()
		b.running = true
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.deadline = b.now()
	b.mu.Unlock()
	return nil
}

// WaitSteady waits until the workload has n desired replicas, its controller has observed
// its spec, and its pods are steady (see Steady) on fresh scheduling verdicts, or until
// timeout. An Unschedulable pod counts as settled only when the verdict is not older than
// the last time a pod of the workload released its node's resources (the scheduler then
// retries it, and a pod that fits is bound a moment later): such a verdict is trusted once
// the pod has changed or RescheduleWindow has passed (Watcher.StaleVerdicts).
func (b *Backend) WaitSteady(ctx context.Context, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wake, stop := b.watcher.Notify()
	defer stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ws, ok := b.watcher.Workload()
		pods := b.watcher.Pods()
		stale, until := b.watcher.StaleVerdicts(pods)
		if ok && ws.Desired == n && ws.Settled && Steady(pods, n) && stale == 0 {
			return nil
		}
		var (
			recheck <-chan time.Time
			timer   *time.Timer
		)
		if stale > 0 {
			timer = time.NewTimer(time.Until(until))
			recheck = timer.C
		}
		select {
		case <-ctx.Done():
			rc := Counts(pods, ws.Desired)
			return fmt.Errorf("%s not steady at %d replicas within %s (desired %d, ready %d, pending %d, starting %d, terminating %d, unschedulable on a stale verdict %d): %w",
				b.target.Workload, n, timeout, rc.Desired, rc.Ready, rc.Pending, rc.Starting, rc.Terminating, stale, context.Cause(ctx))
		case <-wake:
		case <-recheck:
		case <-tick.C:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Advance waits until d after the previous decision time (the end of the last Advance, or
// Reset), so decisions keep to Reset + k·Δ on the wall clock whatever the time spent
// observing and acting; it returns at once when that time has passed.
func (b *Backend) Advance(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("kubernetes backend: advance by %v", d)
	}
	b.mu.Lock()
	b.deadline = b.deadline.Add(d)
	until := b.deadline
	b.mu.Unlock()
	wait := until.Sub(b.now())
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Accounting returns the ground-truth accounting.
func (b *Backend) Accounting() framework.Accounting { return b.acct }

func (b *Backend) stopLoad() error {
	b.mu.Lock()
	running := b.running
	b.running = false
	b.mu.Unlock()
	if running && b.load != nil {
		return b.load.Stop()
	}
	return nil
}

// Close stops the load and the watcher. It is safe to call twice.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	err := b.stopLoad()
	if c, ok := b.load.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	b.watcher.Stop()
	b.mu.Lock()
	if b.holding != nil {
		<-b.holding
		b.holding = nil
	}
	b.mu.Unlock()
	return err
}
