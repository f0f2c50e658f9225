package algorithm

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Metric is one metric sample of a pod as a metrics pipeline reports it: the value in
// milli-units (millicores for CPU, milli-bytes for memory, 1000 × the value for a Pods
// metric), the time the sample describes and the window it was averaged over
// (metrics-server reports both; the CPU readiness rules use them).
type Metric struct {
	Value     int64
	Timestamp time.Time
	Window    time.Duration
}

// PodSample is one pod of the scale target as the controller's pod lister and metrics
// clients present it. It carries only what kube-controller-manager reads.
type PodSample struct {
	// Name identifies the pod (unique within one call).
	Name string
	// Phase is status.phase.
	Phase corev1.PodPhase
	// Ready is the status of the pod's Ready condition; "" means the pod has no Ready
	// condition yet.
	Ready corev1.ConditionStatus
	// ReadyTransition is the Ready condition's lastTransitionTime.
	ReadyTransition time.Time
	// StartTime is status.startTime; the zero time means it is not set.
	StartTime time.Time
	// Deleting is true when the pod has a deletion timestamp.
	Deleting bool
	// Requests are the pod's requests in milli-units by resource name (the sum over its
	// containers). A resource absent from the map has no request.
	Requests map[corev1.ResourceName]int64
	// Metrics are the pod's metric samples keyed by resource name ("cpu", "memory") for
	// Resource metrics and by metric name for Pods metrics. A name absent from the map
	// means the pipeline returned no sample for this pod.
	Metrics map[string]Metric
}

// podMetric is one entry of upstream's PodMetricsInfo (keyed by pod name there; here by the
// pod's index in the slice passed to the calculator), kept in pod order.
type podMetric struct {
	idx       int
	value     int64
	timestamp time.Time
	window    time.Duration
}

// podGroups is upstream's groupPods result: pods with usable metrics (the "metrics" map after
// ignored and unready pods are removed) and the indices of unready and missing pods.
type podGroups struct {
	readyPodCount int
	metrics       []podMetric
	unready       []int
	missing       []int
	ignored       int
}

// collectMetrics returns the samples of metricName in pod order, like a metrics client
// listing: every pod that has a sample, whatever its phase.
func collectMetrics(pods []PodSample, metricName string) []podMetric {
	out := make([]podMetric, 0, len(pods))
	for i, p := range pods {
		if m, ok := p.Metrics[metricName]; ok {
			out = append(out, podMetric{idx: i, value: m.Value, timestamp: m.Timestamp, window: m.Window})
		}
	}
	return out
}

// groupPods ports upstream's groupPods: deleting and failed pods are ignored; pending pods
// are unready; pods without a sample are missing; for CPU, a pod is also unready when it has
// no Ready condition or start time, or, within the CPU initialisation period after its start,
// when it is not ready or its sample does not yet cover a full window since the last
// readiness transition, or, after that period, when it is unready and has never been ready
// (its readiness last changed within the initial readiness delay after its start).
func groupPods(now time.Time, pods []PodSample, metrics []podMetric, resource corev1.ResourceName, cpuInitializationPeriod, delayOfInitialReadinessStatus time.Duration) podGroups {
	// metricOf[i] is the index in metrics of pod i's sample, or -1.
	metricOf := make([]int, len(pods))
	for i := range metricOf {
		metricOf[i] = -1
	}
	for j, m := range metrics {
		metricOf[m.idx] = j
	}
	var g podGroups
	drop := make([]bool, len(pods))
	for i, pod := range pods {
		if pod.Deleting || pod.Phase == corev1.PodFailed {
			drop[i] = true
			g.ignored++
			continue
		}
		if pod.Phase == corev1.PodPending {
			drop[i] = true
			g.unready = append(g.unready, i)
			continue
		}
		if metricOf[i] < 0 {
			g.missing = append(g.missing, i)
			continue
		}
		metric := metrics[metricOf[i]]
		if resource == corev1.ResourceCPU {
			var unready bool
			if pod.Ready == "" || pod.StartTime.IsZero() {
				unready = true
			} else if pod.StartTime.Add(cpuInitializationPeriod).After(now) {
				// Ignore the sample if the pod is unready or one window of metric was not
				// collected since the last state transition.
				unready = pod.Ready == corev1.ConditionFalse || metric.timestamp.Before(pod.ReadyTransition.Add(metric.window))
			} else {
				// Ignore the metric if the pod is unready and it has never been ready.
				unready = pod.Ready == corev1.ConditionFalse && pod.StartTime.Add(delayOfInitialReadinessStatus).After(pod.ReadyTransition)
			}
			if unready {
				drop[i] = true
				g.unready = append(g.unready, i)
				continue
			}
		}
		g.readyPodCount++
	}
	g.metrics = make([]podMetric, 0, len(metrics))
	for _, m := range metrics {
		if !drop[m.idx] {
			g.metrics = append(g.metrics, m)
		}
	}
	return g
}

// calculateRequests returns each pod's request for resource, by pod index (upstream's
// calculateRequests with pod-level requests): every pod listed must have one.
func calculateRequests(pods []PodSample, resource corev1.ResourceName) ([]int64, error) {
	requests := make([]int64, len(pods))
	for i, pod := range pods {
		r, ok := pod.Requests[resource]
		if !ok {
			return nil, fmt.Errorf("missing request for %s in Pod %s", resource, pod.Name)
		}
		requests[i] = r
	}
	return requests, nil
}

// readyPodsCount ports getReadyPodsCount: running pods whose Ready condition is True.
func readyPodsCount(pods []PodSample) (int64, error) {
	if len(pods) == 0 {
		return 0, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	var n int64
	for _, p := range pods {
		if p.Phase == corev1.PodRunning && p.Ready == corev1.ConditionTrue {
			n++
		}
	}
	return n, nil
}

// ActivePods counts the pods a Deployment reports as status.replicas: pods that are neither
// deleting nor in a terminal phase (Succeeded, Failed).
func ActivePods(pods []PodSample) int32 {
	var n int32
	for _, p := range pods {
		if !p.Deleting && p.Phase != corev1.PodSucceeded && p.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}

// ceilInt32 is int32(math.Ceil(x)) capped at math.MaxInt32 (upstream caps in the places
// where overflow was reported; capping everywhere only differs for absurd ratios).
func ceilInt32(x float64) int32 {
	c := math.Ceil(x)
	if c > math.MaxInt32 {
		return math.MaxInt32
	}
	if c < math.MinInt32 {
		return math.MinInt32
	}
	return int32(c)
}
