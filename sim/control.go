package sim

import (
	"errors"
	"fmt"
	"time"
)

// SetReplicas sets the Deployment's desired replica count (negative counts as 0). The
// controllers react at once: new pods are created and scheduled (or stay Pending), surplus
// pods are deleted in the ReplicaSet controller's victim order.
func (s *Sim) SetReplicas(n int) {
	if n < 0 {
		n = 0
	}
	if n == s.desired {
		return
	}
	s.integrateLevels()
	s.desired = n
	s.reconcile()
}

// Desired returns the Deployment's desired replica count.
func (s *Sim) Desired() int { return s.desired }

// Batching returns the serving settings in the current model configuration (pods still
// reloading may serve with older ones).
func (s *Sim) Batching() batching {
	b := s.serving
	b.PreferredSizes = append([]int(nil), b.PreferredSizes...)
	return b
}

// SetBatching changes the model configuration's batching settings. As with Triton polling a
// changed config.pbtxt, each running pod reloads the model — taking a model_load draw — and
// keeps serving with its old settings until the reload completes; pods starting later load
// the new settings. A reload that would exceed the GPU's memory (more instances) fails and
// the pod keeps its old settings (counted in Stats.FailedReloads). Unchanged settings are a
// no-op.
func (s *Sim) SetBatching(b batching) error {
	if errs := validateBatching("batching", b); len(errs) > 0 {
		return errors.Join(errs...)
	}
	b.PreferredSizes = append([]int(nil), b.PreferredSizes...)
	if sameBatching(b, s.serving) {
		return nil
	}
	s.serving = b
	for _, p := range s.pods {
		if p.deleting || p.state < psLoading || p.state > psReady {
			continue
		}
		p.pending, p.hasPend = b, true
		if !p.reloadT.armed() {
			s.schedule(&p.reloadT, s.now+s.sampleDist(s.sc.Workload.ModelLoad))
		}
	}
	return nil
}

func sameBatching(a, b batching) bool {
	if a.MaxBatchSize != b.MaxBatchSize || a.MaxQueueDelay != b.MaxQueueDelay || a.InstanceCount != b.InstanceCount ||
		a.MaxQueueSize != b.MaxQueueSize || len(a.PreferredSizes) != len(b.PreferredSizes) {
		return false
	}
	for i := range a.PreferredSizes {
		if a.PreferredSizes[i] != b.PreferredSizes[i] {
			return false
		}
	}
	return true
}

// SetHPATarget records the target CPU utilisation (percent) of the HPA that drives the
// workload — as a cluster's HorizontalPodAutoscaler object would hold it — so that the
// cluster view reports it (ClusterView.HPATarget); 0 means no HPA. The simulator does not
// run an HPA itself: actuators/sim does, and records its target here. It persists across
// Reset, as the actuator's HPA does.
func (s *Sim) SetHPATarget(percent float64) { s.hpaTarget = percent }

// HPATarget returns the recorded HPA target in percent (0: none).
func (s *Sim) HPATarget() float64 { return s.hpaTarget }

// CPURequestMilli returns the pod template's CPU request in millicores.
func (s *Sim) CPURequestMilli() int64 { return s.cpuReq }

// SetCPURequest changes the pod template's CPU request (the limit keeps the scenario's
// limit/request ratio; no limit stays none). Like patching a Deployment's template, this
// starts a rolling update: new pods with the new resources are created within maxSurge,
// old ones deleted as new ones become ready within maxUnavailable. It errors on a request
// ≤ 0 or one that fits on no node.
func (s *Sim) SetCPURequest(milli int64) error {
	if milli <= 0 {
		return fmt.Errorf("cpu_request: must be > 0 millicores, got %d", milli)
	}
	fits := false
	for _, n := range s.nodes {
		if milli <= n.cpuAlloc {
			fits = true
		}
	}
	if !fits {
		return fmt.Errorf("cpu_request: %dm fits on no node", milli)
	}
	if milli == s.cpuReq {
		return nil
	}
	s.cpuReq = milli
	s.cpuLim = 0
	if s.limRat > 0 {
		s.cpuLim = int64(float64(milli)*s.limRat + 0.5)
	}
	s.rev++
	s.reconcile()
	return nil
}

// Every registers fn to run every period of virtual time, at period, 2·period, ... from the
// start of each episode, during Advance. Registrations survive Reset. fn may call the
// control methods. The returned function cancels the registration.
func (s *Sim) Every(period time.Duration, fn func(now time.Time)) (cancel func()) {
	if period <= 0 {
		panic("sim: Every needs a positive period")
	}
	per := &periodic{period: int64(period), fn: fn, active: true}
	per.t = timer{idx: -1, kind: tkPeriodic, per: per}
	s.periodics = append(s.periodics, per)
	if s.load.Profile != nil {
		s.schedule(&per.t, (s.now/per.period+1)*per.period)
	}
	return func() {
		per.active = false
		s.cancel(&per.t)
		for i, q := range s.periodics {
			if q == per {
				s.periodics = append(s.periodics[:i], s.periodics[i+1:]...)
				break
			}
		}
	}
}
