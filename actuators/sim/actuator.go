package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/hpa/algorithm"
	"github.com/scalelab/scalelab/sim"
)

var _ framework.Actuator = (*Actuator)(nil)

// Actuator applies commands to a simulator.
type Actuator struct {
	sim                      *sim.Sim
	minReplicas, maxReplicas int
	logger                   *slog.Logger
	hpa                      *internalHPA
}

// internalHPA is the HPA controller the actuator runs for HPA-target commands.
type internalHPA struct {
	ctl     *algorithm.Controller
	target  int32
	episode uint64
	cancel  func()
	lastErr error
}

// New returns an actuator for s; minReplicas and maxReplicas bound the internal HPA.
func New(s *sim.Sim, minReplicas, maxReplicas int, logger *slog.Logger) (*Actuator, error) {
	if s == nil {
		return nil, errors.New("actuator sim: nil simulator")
	}
	if minReplicas < 1 || maxReplicas < minReplicas {
		return nil, fmt.Errorf("actuator sim: workload replicas must satisfy 1 ≤ min_replicas ≤ max_replicas, got %d and %d", minReplicas, maxReplicas)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Actuator{sim: s, minReplicas: minReplicas, maxReplicas: maxReplicas, logger: logger}, nil
}

// Apply carries out c. Replicas set the Deployment's scale at once (and stop an internal HPA
// unless the same command sets an HPA target); Batching and CPURequestMilli take effect
// with the delays of the real system (model reload, rolling update), as Applied.Note says;
// HPATarget (percent CPU utilisation) starts or retargets the internal HPA, which acts at
// its next 15 s sync. Applied.Replicas is the desired count after the command.
func (a *Actuator) Apply(ctx context.Context, c framework.Command) (framework.Applied, error) {
	if err := ctx.Err(); err != nil {
		return framework.Applied{}, err
	}
	var notes []string
	changed := false
	if c.Batching != nil {
		before := a.sim.Batching()
		if err := a.sim.SetBatching(*c.Batching); err != nil {
			return a.applied(changed, notes), fmt.Errorf("actuator sim: %w", err)
		}
		if !sameSettings(before, a.sim.Batching()) {
			changed = true
			notes = append(notes, "batching takes effect after each pod's model reload")
		}
	}
	if c.CPURequestMilli != nil {
		before := a.sim.CPURequestMilli()
		if err := a.sim.SetCPURequest(*c.CPURequestMilli); err != nil {
			return a.applied(changed, notes), fmt.Errorf("actuator sim: %w", err)
		}
		if before != *c.CPURequestMilli {
			changed = true
			notes = append(notes, fmt.Sprintf("cpu request %dm → %dm by rolling update", before, *c.CPURequestMilli))
		}
	}
	if c.HPATarget != nil {
		ch, err := a.setHPATarget(*c.HPATarget)
		if err != nil {
			return a.applied(changed, notes), fmt.Errorf("actuator sim: %w", err)
		}
		if ch {
			changed = true
			notes = append(notes, fmt.Sprintf("HPA target %d %% CPU from the next 15 s sync", a.hpa.target))
		}
	} else if c.Replicas != nil {
		if a.hpa != nil {
			a.stopHPA()
			notes = append(notes, "explicit replicas stop the internal HPA")
			changed = true
		}
		n := *c.Replicas
		if n < 0 {
			return a.applied(changed, notes), fmt.Errorf("actuator sim: replicas must be ≥ 0, got %d", n)
		}
		if n != a.sim.Desired() {
			a.sim.SetReplicas(n)
			changed = true
		}
	}
	return a.applied(changed, notes), nil
}

func (a *Actuator) applied(changed bool, notes []string) framework.Applied {
	return framework.Applied{Replicas: a.sim.Desired(), Changed: changed, Note: strings.Join(notes, "; ")}
}

func sameSettings(x, y framework.BatchingSettings) bool {
	if x.MaxBatchSize != y.MaxBatchSize || x.MaxQueueDelay != y.MaxQueueDelay || x.InstanceCount != y.InstanceCount ||
		x.MaxQueueSize != y.MaxQueueSize || len(x.PreferredSizes) != len(y.PreferredSizes) {
		return false
	}
	for i := range x.PreferredSizes {
		if x.PreferredSizes[i] != y.PreferredSizes[i] {
			return false
		}
	}
	return true
}

// setHPATarget starts the internal HPA or changes its target; it reports a change.
func (a *Actuator) setHPATarget(percent float64) (bool, error) {
	if math.IsNaN(percent) || percent < 1 || percent > 1000 {
		return false, fmt.Errorf("hpa_target: must be a CPU utilisation in [1, 1000] percent, got %v", percent)
	}
	target := int32(math.Round(percent))
	spec := algorithm.CPUUtilizationSpec(int32(a.minReplicas), int32(a.maxReplicas), target)
	if a.hpa == nil {
		ctl, err := algorithm.NewController(spec, algorithm.DefaultSettings())
		if err != nil {
			return false, fmt.Errorf("hpa_target: %w", err)
		}
		a.hpa = &internalHPA{ctl: ctl, target: target, episode: a.sim.Episode()}
		a.hpa.cancel = a.sim.Every(algorithm.DefaultSyncPeriod, a.sync)
		a.sim.SetHPATarget(float64(target))
		return true, nil
	}
	if target == a.hpa.target {
		return false, nil
	}
	if err := a.hpa.ctl.SetSpec(spec); err != nil {
		return false, fmt.Errorf("hpa_target: %w", err)
	}
	a.hpa.target = target
	a.sim.SetHPATarget(float64(target))
	return true, nil
}

func (a *Actuator) stopHPA() {
	a.hpa.cancel()
	a.hpa = nil
	a.sim.SetHPATarget(0)
}

// HPATarget returns the internal HPA's target in percent and whether it runs.
func (a *Actuator) HPATarget() (int32, bool) {
	if a.hpa == nil {
		return 0, false
	}
	return a.hpa.target, true
}

// sync is one HPA reconciliation on the virtual clock.
func (a *Actuator) sync(now time.Time) {
	h := a.hpa
	if h == nil {
		return
	}
	if ep := a.sim.Episode(); ep != h.episode {
		h.ctl.Reset()
		h.episode = ep
	}
	view := a.sim.ClusterView(0, a.minReplicas, a.maxReplicas)
	in := algorithm.Input{SpecReplicas: int32(view.Replicas.Desired), Pods: cpuSamples(view)}
	res, err := h.ctl.Sync(now, in)
	if err != nil && (h.lastErr == nil || err.Error() != h.lastErr.Error()) {
		a.logger.Debug("internal HPA sync", "time", now, "err", err)
	}
	h.lastErr = err
	if int(res.Replicas) != view.Replicas.Desired {
		a.sim.SetReplicas(int(res.Replicas))
	}
}

// cpuSamples presents the view's pods as the HPA controller's pod lister and the
// metrics-server client would: phase, Ready condition (absent until the first transition),
// start time, CPU request and the "cpu" sample in millicores.
func cpuSamples(v framework.ClusterView) []algorithm.PodSample {
	out := make([]algorithm.PodSample, 0, len(v.Pods))
	for _, p := range v.Pods {
		s := algorithm.PodSample{
			Name:            p.Name,
			Phase:           corev1.PodPhase(p.Phase),
			ReadyTransition: p.ReadyTransition,
			StartTime:       p.StartTime,
			Deleting:        p.Deleting,
			Requests:        map[corev1.ResourceName]int64{corev1.ResourceCPU: p.CPURequestMilli},
			Metrics:         map[string]algorithm.Metric{},
		}
		switch {
		case p.Ready:
			s.Ready = corev1.ConditionTrue
		case !p.ReadyTransition.IsZero():
			s.Ready = corev1.ConditionFalse
		}
		if m, ok := p.Metrics["cpu"]; ok {
			s.Metrics["cpu"] = algorithm.Metric{Value: int64(math.Round(m.Value)), Timestamp: m.Timestamp, Window: m.Window}
		}
		out = append(out, s)
	}
	return out
}

// Register adds the simulator's actuator (type "sim") to r.
func Register(r *framework.Registry) {
	r.RegisterActuator(framework.Factory[framework.Actuator]{
		Type: "sim",
		Doc:  "applies replicas, batching, CPU request and HPA-target commands to the embedded simulator",
		New: func(bc framework.BuildContext, _ any) (framework.Actuator, error) {
			s, ok := bc.Backend.(*sim.Sim)
			if !ok {
				return nil, fmt.Errorf("actuator sim: needs the sim backend (*sim.Sim), got %T", bc.Backend)
			}
			return New(s, bc.Workload.MinReplicas, bc.Workload.MaxReplicas, bc.Logger)
		},
	})
}
