package algorithm

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Default controller settings, as kube-controller-manager's flags default them.
const (
	// DefaultTolerance is --horizontal-pod-autoscaler-tolerance.
	DefaultTolerance = 0.1
	// DefaultCPUInitializationPeriod is --horizontal-pod-autoscaler-cpu-initialization-period.
	DefaultCPUInitializationPeriod = 5 * time.Minute
	// DefaultInitialReadinessDelay is --horizontal-pod-autoscaler-initial-readiness-delay.
	DefaultInitialReadinessDelay = 30 * time.Second
	// DefaultDownscaleStabilizationWindow is --horizontal-pod-autoscaler-downscale-stabilization.
	DefaultDownscaleStabilizationWindow = 5 * time.Minute
	// DefaultSyncPeriod is --horizontal-pod-autoscaler-sync-period.
	DefaultSyncPeriod = 15 * time.Second
)

// Tolerances are the usage-ratio tolerances of one HPA: no scaling happens while
// 1 − ScaleDown ≤ ratio ≤ 1 + ScaleUp.
type Tolerances struct {
	ScaleDown float64
	ScaleUp   float64
}

// UniformTolerance returns the same tolerance in both directions (the cluster-wide flag).
func UniformTolerance(t float64) Tolerances { return Tolerances{ScaleDown: t, ScaleUp: t} }

// IsWithin reports whether the usage ratio lies inside the tolerance band (bounds included).
func (t Tolerances) IsWithin(usageRatio float64) bool {
	return (1.0-t.ScaleDown) <= usageRatio && usageRatio <= (1.0+t.ScaleUp)
}

// String formats the tolerances as upstream logs them.
func (t Tolerances) String() string {
	return fmt.Sprintf("[down:%.1f%%, up:%.1f%%]", t.ScaleDown*100., t.ScaleUp*100.)
}

// ReplicaCalculator computes replica proposals for one metric (upstream's ReplicaCalculator,
// with the pod lister and metrics clients replaced by the pod samples passed to each call and
// time.Now replaced by an explicit now).
type ReplicaCalculator struct {
	// CPUInitializationPeriod is the time after a pod's start during which its CPU samples
	// are used only if it is ready and a full metric window has passed since it became ready.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay is the time after a pod's start during which a readiness
	// transition counts as the initial one (an unready pod that never was ready is ignored).
	InitialReadinessDelay time.Duration
}

// NewReplicaCalculator returns a calculator with kube-controller-manager's default periods.
func NewReplicaCalculator() ReplicaCalculator {
	return ReplicaCalculator{CPUInitializationPeriod: DefaultCPUInitializationPeriod, InitialReadinessDelay: DefaultInitialReadinessDelay}
}

// GetResourceReplicas proposes a replica count for a Resource metric with a target average
// utilisation (percent of request). It returns the proposal, the observed utilisation
// (percent, truncated), the raw average usage in milli-units, and the samples' timestamp.
//
// With every pod ready and reporting, the proposal is ceil(ratio × ready pods) unless the
// ratio is within tolerance (then currentReplicas). Otherwise pods without samples count
// as using 0 % on a scale-up and max(100 %, target) of their request on a scale-down,
// unready pods count as 0 % on a scale-up, the ratio is recomputed, and the proposal is
// kept at currentReplicas when the recomputed ratio is within tolerance or reverses the
// direction of the change.
func (c ReplicaCalculator) GetResourceReplicas(now time.Time, currentReplicas int32, targetUtilization int32, resource corev1.ResourceName, tolerances Tolerances, pods []PodSample) (replicaCount int32, utilization int32, rawUtilization int64, timestamp time.Time, err error) {
	all := collectMetrics(pods, string(resource))
	if len(all) == 0 {
		return 0, 0, 0, time.Time{}, fmt.Errorf("unable to get metrics for resource %s: no metrics returned from resource metrics API", resource)
	}
	timestamp = all[0].timestamp
	if len(pods) == 0 {
		return 0, 0, 0, time.Time{}, fmt.Errorf("no pods returned by selector while calculating replica count")
	}

	g := groupPods(now, pods, all, resource, c.CPUInitializationPeriod, c.InitialReadinessDelay)
	if len(g.metrics) == 0 {
		return 0, 0, 0, time.Time{}, fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")
	}

	requests, err := calculateRequests(pods, resource)
	if err != nil {
		return 0, 0, 0, time.Time{}, err
	}

	usageRatio, utilization, rawUtilization, err := resourceUtilizationRatio(g.metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, time.Time{}, err
	}

	scaleUpWithUnready := len(g.unready) > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && len(g.missing) == 0 {
		if tolerances.IsWithin(usageRatio) {
			// Return the current replicas if the change would be too small.
			return currentReplicas, utilization, rawUtilization, timestamp, nil
		}
		// With no unready or missing pods the new replica count can be computed now.
		return ceilInt32(usageRatio * float64(g.readyPodCount)), utilization, rawUtilization, timestamp, nil
	}

	metrics := append([]podMetric(nil), g.metrics...)
	if len(g.missing) > 0 {
		if usageRatio < 1.0 {
			// On a scale-down, treat missing pods as using 100 % (all) of the resource
			// request, or the utilisation target for targets higher than 100 %.
			fallbackUtilization := int64(max(100, targetUtilization))
			for _, i := range g.missing {
				metrics = append(metrics, podMetric{idx: i, value: requests[i] * fallbackUtilization / 100})
			}
		} else if usageRatio > 1.0 {
			// On a scale-up, treat missing pods as using 0 % of the resource request.
			for _, i := range g.missing {
				metrics = append(metrics, podMetric{idx: i})
			}
		}
	}
	if scaleUpWithUnready {
		// On a scale-up, treat unready pods as using 0 % of the resource request.
		for _, i := range g.unready {
			metrics = append(metrics, podMetric{idx: i})
		}
	}

	// Re-run the utilisation calculation with the new numbers.
	newUsageRatio, _, _, err := resourceUtilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, utilization, rawUtilization, time.Time{}, err
	}
	if tolerances.IsWithin(newUsageRatio) || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0) {
		// The change would be too small, or the new ratio would reverse the direction.
		return currentReplicas, utilization, rawUtilization, timestamp, nil
	}
	newReplicas := ceilInt32(newUsageRatio * float64(len(metrics)))
	if (newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas) {
		// The number of pods counted would reverse the direction of the change.
		return currentReplicas, utilization, rawUtilization, timestamp, nil
	}
	// The result counts however many pods factored into the calculation.
	return newReplicas, utilization, rawUtilization, timestamp, nil
}

// GetRawResourceReplicas proposes a replica count for a Resource metric with a target
// average value (milli-units per pod). It returns the proposal, the observed average usage
// in milli-units and the samples' timestamp. Missing pods count as using the target on a
// scale-down and 0 on a scale-up; for CPU the readiness rules of GetResourceReplicas apply.
func (c ReplicaCalculator) GetRawResourceReplicas(now time.Time, currentReplicas int32, targetUsage int64, resource corev1.ResourceName, tolerances Tolerances, pods []PodSample) (replicaCount int32, usage int64, timestamp time.Time, err error) {
	all := collectMetrics(pods, string(resource))
	if len(all) == 0 {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get metrics for resource %s: no metrics returned from resource metrics API", resource)
	}
	replicaCount, usage, err = c.calcPlainMetricReplicas(now, all, currentReplicas, targetUsage, tolerances, pods, resource)
	return replicaCount, usage, all[0].timestamp, err
}

// GetMetricReplicas proposes a replica count for a Pods metric (metricName in each pod's
// Metrics) with a target average value in milli-units. It returns the proposal, the
// observed average in milli-units and the samples' timestamp. The CPU readiness rules do
// not apply to Pods metrics; pending pods are still set aside.
func (c ReplicaCalculator) GetMetricReplicas(now time.Time, currentReplicas int32, targetUsage int64, metricName string, tolerances Tolerances, pods []PodSample) (replicaCount int32, usage int64, timestamp time.Time, err error) {
	all := collectMetrics(pods, metricName)
	if len(all) == 0 {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get metric %s: no metrics returned from custom metrics API", metricName)
	}
	replicaCount, usage, err = c.calcPlainMetricReplicas(now, all, currentReplicas, targetUsage, tolerances, pods, "")
	return replicaCount, usage, all[0].timestamp, err
}

// calcPlainMetricReplicas ports upstream's calcPlainMetricReplicas (non-percentage metrics).
func (c ReplicaCalculator) calcPlainMetricReplicas(now time.Time, all []podMetric, currentReplicas int32, targetUsage int64, tolerances Tolerances, pods []PodSample, resource corev1.ResourceName) (replicaCount int32, usage int64, err error) {
	if len(pods) == 0 {
		return 0, 0, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	g := groupPods(now, pods, all, resource, c.CPUInitializationPeriod, c.InitialReadinessDelay)
	if len(g.metrics) == 0 {
		return 0, 0, fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")
	}

	usageRatio, usage := metricUsageRatio(g.metrics, targetUsage)
	scaleUpWithUnready := len(g.unready) > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && len(g.missing) == 0 {
		if tolerances.IsWithin(usageRatio) {
			return currentReplicas, usage, nil
		}
		return ceilInt32(usageRatio * float64(g.readyPodCount)), usage, nil
	}

	metrics := append([]podMetric(nil), g.metrics...)
	if len(g.missing) > 0 {
		if usageRatio < 1.0 {
			// On a scale-down, treat missing pods as using exactly the target amount.
			for _, i := range g.missing {
				metrics = append(metrics, podMetric{idx: i, value: targetUsage})
			}
		} else if usageRatio > 1.0 {
			// On a scale-up, treat missing pods as using 0.
			for _, i := range g.missing {
				metrics = append(metrics, podMetric{idx: i})
			}
		}
	}
	if scaleUpWithUnready {
		for _, i := range g.unready {
			metrics = append(metrics, podMetric{idx: i})
		}
	}

	newUsageRatio, _ := metricUsageRatio(metrics, targetUsage)
	if tolerances.IsWithin(newUsageRatio) || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0) {
		return currentReplicas, usage, nil
	}
	newReplicas := ceilInt32(newUsageRatio * float64(len(metrics)))
	if (newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas) {
		return currentReplicas, usage, nil
	}
	return newReplicas, usage, nil
}

// GetObjectMetricReplicas proposes a replica count for an Object metric with a Value
// target: ratio = usage / target; within tolerance the proposal is currentReplicas, else
// ceil(ratio × ready pods). With currentReplicas = 0 (scale-to-zero) it is ceil(ratio). It
// returns the proposal and the usage (milli-units).
func (c ReplicaCalculator) GetObjectMetricReplicas(currentReplicas int32, targetUsage, usage int64, tolerances Tolerances, pods []PodSample) (replicaCount int32, usageOut int64, err error) {
	usageRatio := float64(usage) / float64(targetUsage)
	replicaCount, err = usageRatioReplicaCount(currentReplicas, usageRatio, tolerances, pods)
	return replicaCount, usage, err
}

// usageRatioReplicaCount ports getUsageRatioReplicaCount.
func usageRatioReplicaCount(currentReplicas int32, usageRatio float64, tolerances Tolerances, pods []PodSample) (int32, error) {
	if currentReplicas != 0 {
		if tolerances.IsWithin(usageRatio) {
			return currentReplicas, nil
		}
		ready, err := readyPodsCount(pods)
		if err != nil {
			return 0, fmt.Errorf("unable to calculate ready pods: %s", err)
		}
		return ceilInt32(usageRatio * float64(ready)), nil
	}
	// Scale to zero or n pods depending on the usage ratio.
	return ceilInt32(usageRatio), nil
}

// GetObjectPerPodMetricReplicas proposes a replica count for an Object metric with an
// AverageValue target: ratio = usage / (target × statusReplicas); outside tolerance the
// proposal is ceil(usage / target), else statusReplicas. It returns the proposal and the
// per-pod usage ceil(usage / statusReplicas) in milli-units.
func (c ReplicaCalculator) GetObjectPerPodMetricReplicas(statusReplicas int32, targetAverageUsage, usage int64, tolerances Tolerances) (replicaCount int32, usagePerPod int64, err error) {
	replicaCount = statusReplicas
	usageRatio := float64(usage) / (float64(targetAverageUsage) * float64(replicaCount))
	if !tolerances.IsWithin(usageRatio) {
		replicaCount = ceilInt32(float64(usage) / float64(targetAverageUsage))
	}
	usagePerPod = usage
	if statusReplicas > 0 {
		usagePerPod = int64(math.Ceil(float64(usage) / float64(statusReplicas)))
	}
	return replicaCount, usagePerPod, nil
}

// GetExternalMetricReplicas proposes a replica count for an External metric with a Value
// target: the usage is the sum of the series' values (milli-units), then as
// GetObjectMetricReplicas. It returns the proposal and the summed usage.
func (c ReplicaCalculator) GetExternalMetricReplicas(currentReplicas int32, targetUsage int64, values []int64, tolerances Tolerances, pods []PodSample) (replicaCount int32, usage int64, err error) {
	if len(values) == 0 {
		return 0, 0, fmt.Errorf("no metrics returned from external metrics API")
	}
	for _, v := range values {
		// Cap at MaxInt64 for positive overflow.
		if v > 0 && usage > math.MaxInt64-v {
			usage = math.MaxInt64
			break
		}
		usage += v
	}
	usageRatio := float64(usage) / float64(targetUsage)
	replicaCount, err = usageRatioReplicaCount(currentReplicas, usageRatio, tolerances, pods)
	return replicaCount, usage, err
}

// GetExternalPerPodMetricReplicas proposes a replica count for an External metric with an
// AverageValue target: ratio = Σvalues / (target × statusReplicas); outside tolerance the
// proposal is ceil(Σvalues / target), else statusReplicas. It returns the proposal and the
// per-pod usage ceil(Σvalues / statusReplicas).
func (c ReplicaCalculator) GetExternalPerPodMetricReplicas(statusReplicas int32, targetUsagePerPod int64, values []int64, tolerances Tolerances) (replicaCount int32, usagePerPod int64, err error) {
	if len(values) == 0 {
		return 0, 0, fmt.Errorf("no metrics returned from external metrics API")
	}
	var usage int64
	for _, v := range values {
		usage += v
		if usage < 0 {
			// The only way to get here is an int64 overflow.
			usage = math.MaxInt64
			break
		}
	}
	replicaCount = statusReplicas
	usageRatio := float64(usage) / (float64(targetUsagePerPod) * float64(replicaCount))
	if !tolerances.IsWithin(usageRatio) {
		replicaCount = ceilInt32(float64(usage) / float64(targetUsagePerPod))
	}
	if float64(usage) >= float64(math.MaxInt64) {
		usagePerPod = math.MaxInt64
	} else if statusReplicas <= 0 {
		usagePerPod = usage
	} else {
		usagePerPod = int64(math.Ceil(float64(usage) / float64(statusReplicas)))
	}
	return replicaCount, usagePerPod, nil
}

// resourceUtilizationRatio ports metrics.GetResourceUtilizationRatio: utilisation is
// Σusage × 100 / Σrequest over pods with both (integer division, so truncated), the ratio
// is utilisation / target, and the raw average is Σusage / entries.
func resourceUtilizationRatio(metrics []podMetric, requests []int64, targetUtilization int32) (utilizationRatio float64, currentUtilization int32, rawAverageValue int64, err error) {
	var metricsTotal, requestsTotal int64
	numEntries := 0
	for _, m := range metrics {
		// Every listed pod has a request (calculateRequests checked); upstream skips samples
		// of unknown pods, which cannot occur here.
		request := requests[m.idx]
		metricsTotal += m.value
		requestsTotal += request
		numEntries++
	}
	// If the set of requests is disjoint from the set of metrics, the total is zero.
	if requestsTotal == 0 {
		return 0, 0, 0, fmt.Errorf("no metrics returned matched known pods")
	}
	currentUtilization = int32((metricsTotal * 100) / requestsTotal)
	return float64(currentUtilization) / float64(targetUtilization), currentUtilization, metricsTotal / int64(numEntries), nil
}

// metricUsageRatio ports metrics.GetMetricUsageRatio: the average is Σvalue / entries
// (integer division) and the ratio is average / target.
func metricUsageRatio(metrics []podMetric, targetUsage int64) (usageRatio float64, currentUsage int64) {
	var metricsTotal int64
	for _, m := range metrics {
		metricsTotal += m.value
	}
	currentUsage = metricsTotal / int64(len(metrics))
	return float64(currentUsage) / float64(targetUsage), currentUsage
}
