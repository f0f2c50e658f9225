package kube

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/scalelab/scalelab/framework"
)

// GPUResource is the extended resource the NVIDIA device plugin advertises (one per
// time-sliced replica of a GPU).
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// PodReady reports the pod's Ready condition and its last transition time (zero when the
// condition is absent).
func PodReady(p *corev1.Pod) (bool, time.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

// Unschedulable reports whether the scheduler could not place the pod (PodScheduled False
// with reason Unschedulable, e.g. "Insufficient nvidia.com/gpu").
func Unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// finished reports whether the pod has terminated (it holds no resources).
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// Requests sums the pod's effective requests the way the scheduler does: the containers'
// sum, or the largest init container's when larger. CPU in millicores, memory in bytes,
// GPUs in nvidia.com/gpu units.
func Requests(p *corev1.Pod) (cpuMilli, memBytes, gpus int64) {
	for _, c := range p.Spec.Containers {
		cpuMilli += c.Resources.Requests.Cpu().MilliValue()
		memBytes += c.Resources.Requests.Memory().Value()
		if q, ok := c.Resources.Requests[GPUResource]; ok {
			gpus += q.Value()
		} else if q, ok := c.Resources.Limits[GPUResource]; ok {
			gpus += q.Value() // extended resources: the request defaults to the limit
		}
	}
	for _, c := range p.Spec.InitContainers {
		cpuMilli = max(cpuMilli, c.Resources.Requests.Cpu().MilliValue())
		memBytes = max(memBytes, c.Resources.Requests.Memory().Value())
	}
	return cpuMilli, memBytes, gpus
}

// PodView converts a pod into the framework's view of it (without metric samples).
func PodView(p *corev1.Pod) framework.PodView {
	ready, trans := PodReady(p)
	cpu, mem, _ := Requests(p)
	v := framework.PodView{
		Name:            p.Name,
		Phase:           framework.PodPhase(p.Status.Phase),
		Ready:           ready && p.DeletionTimestamp == nil,
		ReadyTransition: trans,
		Deleting:        p.DeletionTimestamp != nil,
		CPURequestMilli: cpu,
		MemRequestBytes: mem,
	}
	if v.Phase == "" {
		v.Phase = framework.PodPending
	}
	if p.Status.StartTime != nil {
		v.StartTime = p.Status.StartTime.Time
	}
	return v
}

// Counts classifies the workload's pods as the Deployment controller and the scheduler
// see them: Ready (Ready and not terminating), Pending (not yet bound to a node), Starting
// (bound, not Ready), Terminating (deletion requested). Finished pods are not counted.
func Counts(pods []*corev1.Pod, desired int) framework.ReplicaCounts {
	rc := framework.ReplicaCounts{Desired: desired}
	for _, p := range pods {
		switch {
		case finished(p):
		case p.DeletionTimestamp != nil:
			rc.Terminating++
		case p.Spec.NodeName == "":
			rc.Pending++
		default:
			if ok, _ := PodReady(p); ok {
				rc.Ready++
			} else {
				rc.Starting++
			}
		}
	}
	return rc
}

// Levels are the instantaneous quantities the backend integrates over time.
type Levels struct {
	// Replicas counts pods that exist and are not terminating (Pending included).
	Replicas int
	// Ready counts Ready pods that are not terminating.
	Ready int
	// GPUs, CPURequestMilli and MemRequestBytes sum the requests of pods bound to a node
	// that have not finished (terminating pods hold their resources until gone).
	GPUs            int64
	CPURequestMilli int64
	MemRequestBytes int64
}

// LevelsOf computes the levels of a set of pods.
func LevelsOf(pods []*corev1.Pod) Levels {
	var l Levels
	for _, p := range pods {
		if finished(p) {
			continue
		}
		if p.DeletionTimestamp == nil {
			l.Replicas++
			if ok, _ := PodReady(p); ok {
				l.Ready++
			}
		}
		if p.Spec.NodeName != "" {
			cpu, mem, gpu := Requests(p)
			l.GPUs += gpu
			l.CPURequestMilli += cpu
			l.MemRequestBytes += mem
		}
	}
	return l
}

// Steady reports whether a workload at desired replicas has settled: no pod terminating,
// exactly desired pods, each Ready or unschedulable (pods beyond the GPU capacity wait
// forever; they do not make the workload unsteady).
func Steady(pods []*corev1.Pod, desired int) bool {
	n := 0
	for _, p := range pods {
		if finished(p) {
			continue
		}
		if p.DeletionTimestamp != nil {
			return false
		}
		n++
		if ok, _ := PodReady(p); !ok && !Unschedulable(p) {
			return false
		}
	}
	return n == desired
}
