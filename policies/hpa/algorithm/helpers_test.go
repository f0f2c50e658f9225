package algorithm

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// t0 is the "now" of most tests.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// pod is a builder for PodSample: a running pod, ready for 9 minutes, started 10 minutes
// before t0 (past the 5-minute CPU initialisation period), with a CPU request of 1000m.
type pod PodSample

func newPod(name string) *pod {
	return &pod{
		Name:            name,
		Phase:           corev1.PodRunning,
		Ready:           corev1.ConditionTrue,
		ReadyTransition: t0.Add(-9 * time.Minute),
		StartTime:       t0.Add(-10 * time.Minute),
		Requests:        map[corev1.ResourceName]int64{corev1.ResourceCPU: 1000},
		Metrics:         map[string]Metric{},
	}
}

// cpu sets the CPU usage in millicores (sample at t0, 30 s window).
func (p *pod) cpu(milli int64) *pod { return p.metric("cpu", milli) }

func (p *pod) metric(name string, milli int64) *pod {
	p.Metrics[name] = Metric{Value: milli, Timestamp: t0, Window: 30 * time.Second}
	return p
}

func (p *pod) request(r corev1.ResourceName, milli int64) *pod {
	p.Requests[r] = milli
	return p
}

func (p *pod) phase(ph corev1.PodPhase) *pod { p.Phase = ph; return p }

func (p *pod) ready(s corev1.ConditionStatus, transition time.Time) *pod {
	p.Ready, p.ReadyTransition = s, transition
	return p
}

func (p *pod) started(t time.Time) *pod { p.StartTime = t; return p }

func (p *pod) deleting() *pod { p.Deleting = true; return p }

func (p *pod) sample() PodSample { return PodSample(*p) }

// pods builds n pods named prefix-i with the given CPU usage each.
func cpuPods(usages ...int64) []PodSample {
	out := make([]PodSample, len(usages))
	for i, u := range usages {
		out[i] = newPod(podName(i)).cpu(u).sample()
	}
	return out
}

func podName(i int) string { return "p" + string(rune('a'+i)) }

func join(groups ...[]PodSample) []PodSample {
	var out []PodSample
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func one(p *pod) []PodSample { return []PodSample{p.sample()} }
