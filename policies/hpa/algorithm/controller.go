package algorithm

import (
	"errors"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Settings are kube-controller-manager's HPA flags.
type Settings struct {
	// Tolerance is the cluster-wide tolerance (--horizontal-pod-autoscaler-tolerance); a
	// behavior's scaleUp/scaleDown tolerance overrides it per direction.
	Tolerance float64
	// CPUInitializationPeriod is --horizontal-pod-autoscaler-cpu-initialization-period.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay is --horizontal-pod-autoscaler-initial-readiness-delay.
	InitialReadinessDelay time.Duration
	// DownscaleStabilizationWindow is --horizontal-pod-autoscaler-downscale-stabilization.
	DownscaleStabilizationWindow time.Duration
}

// DefaultSettings returns the flags' defaults: tolerance 0.1, CPU initialisation period
// 5 min, initial readiness delay 30 s, downscale stabilisation 5 min.
func DefaultSettings() Settings {
	return Settings{
		Tolerance:                    DefaultTolerance,
		CPUInitializationPeriod:      DefaultCPUInitializationPeriod,
		InitialReadinessDelay:        DefaultInitialReadinessDelay,
		DownscaleStabilizationWindow: DefaultDownscaleStabilizationWindow,
	}
}

// TolerancesFor returns the tolerances of an HPA (upstream's tolerancesForHpa with the
// HPAConfigurableTolerance gate on): the cluster-wide tolerance, overridden per direction by
// behavior.scaleUp.tolerance and behavior.scaleDown.tolerance when set.
func TolerancesFor(behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, clusterTolerance float64) Tolerances {
	t := UniformTolerance(clusterTolerance)
	if behavior == nil {
		return t
	}
	if behavior.ScaleDown != nil && behavior.ScaleDown.Tolerance != nil {
		t.ScaleDown = behavior.ScaleDown.Tolerance.AsApproximateFloat64()
	}
	if behavior.ScaleUp != nil && behavior.ScaleUp.Tolerance != nil {
		t.ScaleUp = behavior.ScaleUp.Tolerance.AsApproximateFloat64()
	}
	return t
}

// Input is what one sync of the controller reads from the cluster.
type Input struct {
	// SpecReplicas is the target's scale.spec.replicas: the count the controller treats as
	// current and normalises against.
	SpecReplicas int32
	// StatusReplicas is scale.status.replicas (used by Object and External AverageValue
	// targets). Zero means: count the active pods of Pods (see ActivePods).
	StatusReplicas int32
	// Pods are the pods the target's selector matches, with their metric samples.
	Pods []PodSample
	// Object returns the current value (milli-units) of an Object metric; nil, or an error,
	// makes that metric fail.
	Object func(described autoscalingv2.CrossVersionObjectReference, metric autoscalingv2.MetricIdentifier) (int64, time.Time, error)
	// External returns the values (milli-units) of the series of an External metric that
	// its selector matches; nil, an error or no series makes that metric fail.
	External func(metric autoscalingv2.MetricIdentifier) ([]int64, time.Time, error)
}

// Result is the outcome of one sync.
type Result struct {
	// Replicas is scale.spec.replicas after the sync: the new count when Rescale, else the
	// current one.
	Replicas int32
	// Rescale is true when the controller changes the replica count.
	Rescale bool
	// MetricReplicas is the largest proposal of the metrics before normalisation (0 when no
	// metric was computed, -1 when the metrics failed or blocked a scale-down).
	MetricReplicas int32
	// Metric describes the metric whose proposal won, as upstream names it (e.g. "cpu
	// resource utilization (percentage of request)").
	Metric string
	// Reason is the rescale reason of upstream's SuccessfulRescale event ("" without one).
	Reason string
	// Status is the HPA status after the sync: current and desired replicas, the current
	// value of every metric (zero entries for failed ones), the conditions (AbleToScale,
	// ScalingActive, ScalingLimited) and the last scale time.
	Status autoscalingv2.HorizontalPodAutoscalerStatus
}

// Controller is one HPA as kube-controller-manager runs it: the defaulted spec, the replica
// calculator, the normaliser's history and the status, synced by calling Sync with an
// explicit now (every 15 s in a faithful emulation). Not safe for concurrent use.
type Controller struct {
	settings Settings
	spec     autoscalingv2.HorizontalPodAutoscalerSpec
	calc     ReplicaCalculator
	norm     *Normalizer
	status   autoscalingv2.HorizontalPodAutoscalerStatus
}

// ErrInvalidSpec wraps validation failures of NewController and SetSpec.
var ErrInvalidSpec = errors.New("invalid HorizontalPodAutoscaler spec")

// NewController defaults and validates spec (an empty scaleTargetRef is allowed) and returns
// a controller with empty history.
func NewController(spec autoscalingv2.HorizontalPodAutoscalerSpec, s Settings) (*Controller, error) {
	c := &Controller{
		settings: s,
		calc:     ReplicaCalculator{CPUInitializationPeriod: s.CPUInitializationPeriod, InitialReadinessDelay: s.InitialReadinessDelay},
		norm:     NewNormalizer(s.DownscaleStabilizationWindow),
	}
	if err := c.SetSpec(spec); err != nil {
		return nil, err
	}
	return c, nil
}

// SetSpec replaces the spec (defaulted and validated) while keeping the recommendation
// history, scale events and conditions, as an update of the HPA object does.
func (c *Controller) SetSpec(spec autoscalingv2.HorizontalPodAutoscalerSpec) error {
	d := DefaultSpec(spec)
	if errs := ValidateSpec(d, field.NewPath("spec"), ValidationOptions{AllowEmptyScaleTargetRef: true}); len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, errs.ToAggregate())
	}
	c.spec = d
	return nil
}

// Spec returns a copy of the defaulted spec in force.
func (c *Controller) Spec() autoscalingv2.HorizontalPodAutoscalerSpec { return *c.spec.DeepCopy() }

// Status returns a copy of the status after the last sync.
func (c *Controller) Status() autoscalingv2.HorizontalPodAutoscalerStatus {
	return *c.status.DeepCopy()
}

// Reset forgets the history and status (a new controller for the same spec).
func (c *Controller) Reset() {
	c.norm.Reset()
	c.status = autoscalingv2.HorizontalPodAutoscalerStatus{}
}

// Sync runs one reconciliation (upstream's reconcileAutoscaler without the API calls): a
// current count outside [min, max] is brought back to the bound; a current count of zero
// disables scaling; otherwise every metric proposes a count, the largest wins, and the
// normaliser stabilises and limits it. Metrics that fail are reported in the returned
// error: when all fail, or some fail and the others would scale down, the controller does
// not scale (Result.Replicas is the current count); when some fail and the others scale up
// or hold, it proceeds and still returns the error. The Result is meaningful in every case.
func (c *Controller) Sync(now time.Time, in Input) (Result, error) {
	c.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")

	currentReplicas := in.SpecReplicas
	statusReplicas := in.StatusReplicas
	if statusReplicas == 0 {
		statusReplicas = ActivePods(in.Pods)
	}
	minReplicas := int32(1)
	if c.spec.MinReplicas != nil {
		minReplicas = *c.spec.MinReplicas
	}

	var (
		res            Result
		metricStatuses []autoscalingv2.MetricStatus
		retErr         error
	)
	desiredReplicas := int32(0)
	rescale := true

	switch {
	case currentReplicas == 0 && minReplicas != 0:
		// Autoscaling is disabled for this resource.
		desiredReplicas = 0
		rescale = false
		c.setCondition(now, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
	case currentReplicas > c.spec.MaxReplicas:
		res.Reason = "Current number of replicas above Spec.MaxReplicas"
		desiredReplicas = c.spec.MaxReplicas
	case currentReplicas < minReplicas:
		res.Reason = "Current number of replicas below Spec.MinReplicas"
		desiredReplicas = minReplicas
	default:
		metricDesiredReplicas, metricName, statuses, err := c.computeReplicasForMetrics(now, currentReplicas, statusReplicas, in)
		metricStatuses = statuses
		res.MetricReplicas = metricDesiredReplicas
		if err != nil && metricDesiredReplicas == -1 {
			c.status.CurrentReplicas = currentReplicas
			c.status.CurrentMetrics = metricStatuses
			res.Replicas = currentReplicas
			res.Status = c.Status()
			return res, fmt.Errorf("failed to compute desired number of replicas based on listed metrics: %w", err)
		}
		if err != nil {
			// Proceed with the metrics that work, but report the error.
			retErr = err
		}
		rescaleMetric := ""
		if metricDesiredReplicas > desiredReplicas {
			desiredReplicas = metricDesiredReplicas
			rescaleMetric = metricName
		}
		res.Metric = metricName
		if desiredReplicas > currentReplicas {
			res.Reason = fmt.Sprintf("%s above target", rescaleMetric)
		}
		if desiredReplicas < currentReplicas {
			res.Reason = "All metrics below target"
		}
		l := c.norm.Normalize(now, c.spec.Behavior, minReplicas, c.spec.MaxReplicas, currentReplicas, desiredReplicas)
		c.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, l.StabilizeReason, l.StabilizeMessage)
		limited := corev1.ConditionFalse
		if l.Limited {
			limited = corev1.ConditionTrue
		}
		c.setCondition(now, autoscalingv2.ScalingLimited, limited, l.LimitReason, l.LimitMessage)
		desiredReplicas = l.Replicas
		rescale = desiredReplicas != currentReplicas
	}

	if rescale {
		c.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", desiredReplicas))
		c.norm.RecordScaleEvent(now, c.spec.Behavior, currentReplicas, desiredReplicas)
	} else {
		desiredReplicas = currentReplicas
		res.Reason = ""
	}

	// setStatus.
	c.status = autoscalingv2.HorizontalPodAutoscalerStatus{
		CurrentReplicas: currentReplicas,
		DesiredReplicas: desiredReplicas,
		LastScaleTime:   c.status.LastScaleTime,
		CurrentMetrics:  metricStatuses,
		Conditions:      c.status.Conditions,
	}
	if rescale {
		t := metav1.NewTime(now)
		c.status.LastScaleTime = &t
	}
	res.Replicas = desiredReplicas
	res.Rescale = rescale
	res.Status = c.Status()
	return res, retErr
}

// Proposal is the outcome of one metric: its replica proposal and name, or the error that
// made it fail.
type Proposal struct {
	Replicas int32
	Metric   string
	Err      error
}

// CombineProposals ports the combination rule of computeReplicasForMetrics: the largest
// proposal of the metrics that worked wins (ties keep the first). If every metric failed,
// or some failed and the winner is below specReplicas (a scale-down), it returns -1 with
// the index of the first failing metric and an error naming how many failed; if some
// failed but the winner scales up or holds, it returns the winner together with that error.
// firstFailed is -1 when no metric failed.
func CombineProposals(specReplicas int32, proposals []Proposal) (replicas int32, metric string, firstFailed int, err error) {
	invalid := 0
	firstFailed = -1
	for i, p := range proposals {
		if p.Err != nil {
			if invalid == 0 {
				firstFailed = i
			}
			invalid++
			continue
		}
		if replicas == 0 || p.Replicas > replicas {
			replicas = p.Replicas
			metric = p.Metric
		}
	}
	if invalid > 0 {
		err = fmt.Errorf("invalid metrics (%v invalid out of %v), first error is: %w", invalid, len(proposals), proposals[firstFailed].Err)
	}
	if invalid >= len(proposals) || (invalid > 0 && replicas < specReplicas) {
		return -1, "", firstFailed, err
	}
	return replicas, metric, firstFailed, err
}

// computeReplicasForMetrics computes every metric's proposal and combines them
// (CombineProposals), setting ScalingActive from the first failing metric when the
// combination fails, else to ValidMetricFound.
func (c *Controller) computeReplicasForMetrics(now time.Time, specReplicas, statusReplicas int32, in Input) (replicas int32, metric string, statuses []autoscalingv2.MetricStatus, err error) {
	statuses = make([]autoscalingv2.MetricStatus, len(c.spec.Metrics))
	proposals := make([]Proposal, len(c.spec.Metrics))
	conditions := make([]autoscalingv2.HorizontalPodAutoscalerCondition, len(c.spec.Metrics))
	for i, metricSpec := range c.spec.Metrics {
		p := &proposals[i]
		p.Replicas, p.Metric, conditions[i], p.Err = c.computeReplicasForMetric(now, metricSpec, specReplicas, statusReplicas, in, &statuses[i])
	}
	replicas, metric, first, err := CombineProposals(specReplicas, proposals)
	if replicas == -1 {
		if first >= 0 {
			cond := conditions[first]
			c.setCondition(now, cond.Type, cond.Status, cond.Reason, cond.Message)
		}
		return -1, "", statuses, err
	}
	c.setCondition(now, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", metric))
	return replicas, metric, statuses, err
}

// unableCondition is upstream's getUnableComputeReplicaCountCondition.
func unableCondition(reason string, err error) autoscalingv2.HorizontalPodAutoscalerCondition {
	return autoscalingv2.HorizontalPodAutoscalerCondition{
		Type:    autoscalingv2.ScalingActive,
		Status:  corev1.ConditionFalse,
		Reason:  reason,
		Message: fmt.Sprintf("the HPA was unable to compute the replica count: %v", err),
	}
}

// computeReplicasForMetric ports computeReplicasForMetric and the computeStatusFor* family.
func (c *Controller) computeReplicasForMetric(now time.Time, spec autoscalingv2.MetricSpec, specReplicas, statusReplicas int32, in Input, status *autoscalingv2.MetricStatus) (int32, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	tol := TolerancesFor(c.spec.Behavior, c.settings.Tolerance)
	switch spec.Type {
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			return 0, "", unableCondition("FailedGetObjectMetric", errMissingSource), fmt.Errorf("failed to get object metric value: %w", errMissingSource)
		}
		r, name, cond, err := c.objectMetric(spec.Object, specReplicas, statusReplicas, tol, in, status)
		if err != nil {
			return 0, "", cond, fmt.Errorf("failed to get object metric value: %w", err)
		}
		return r, name, cond, nil
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil || spec.Pods.Target.AverageValue == nil {
			return 0, "", unableCondition("FailedGetPodsMetric", errMissingSource), fmt.Errorf("failed to get pods metric value: %w", errMissingSource)
		}
		r, usage, _, err := c.calc.GetMetricReplicas(now, specReplicas, spec.Pods.Target.AverageValue.MilliValue(), spec.Pods.Metric.Name, tol, in.Pods)
		if err != nil {
			return 0, "", unableCondition("FailedGetPodsMetric", err), fmt.Errorf("failed to get pods metric value: %w", err)
		}
		*status = autoscalingv2.MetricStatus{
			Type: autoscalingv2.PodsMetricSourceType,
			Pods: &autoscalingv2.PodsMetricStatus{
				Metric:  autoscalingv2.MetricIdentifier{Name: spec.Pods.Metric.Name, Selector: spec.Pods.Metric.Selector},
				Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)},
			},
		}
		return r, fmt.Sprintf("pods metric %s", spec.Pods.Metric.Name), autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			return 0, "", unableCondition("FailedGetResourceMetric", errMissingSource), errMissingSource
		}
		r, value, name, err := c.resourceMetric(now, specReplicas, spec.Resource.Target, spec.Resource.Name, tol, in.Pods)
		if err != nil {
			return 0, "", unableCondition("FailedGetResourceMetric", err), err
		}
		*status = autoscalingv2.MetricStatus{
			Type:     autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: spec.Resource.Name, Current: value},
		}
		return r, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			return 0, "", unableCondition("FailedGetExternalMetric", errMissingSource), errMissingSource
		}
		return c.externalMetric(spec.External, specReplicas, statusReplicas, tol, in, status)
	case autoscalingv2.ContainerResourceMetricSourceType:
		err := fmt.Errorf("failed to get %s container usage: container metrics are not available in pod samples (container %q)", specResourceName(spec), specContainer(spec))
		return 0, "", unableCondition("FailedGetContainerResourceMetric", err), err
	default:
		err := fmt.Errorf("unknown metric source type %q", string(spec.Type))
		return 0, "", unableCondition("InvalidMetricSourceType", err), err
	}
}

// errMissingSource reports a metric whose type names a source that is not set (the API
// server's validation rejects such specs; the controller must not panic on one).
var errMissingSource = errors.New("metric source is not set for its type")

func specResourceName(spec autoscalingv2.MetricSpec) string {
	if spec.ContainerResource == nil {
		return ""
	}
	return string(spec.ContainerResource.Name)
}

func specContainer(spec autoscalingv2.MetricSpec) string {
	if spec.ContainerResource == nil {
		return ""
	}
	return spec.ContainerResource.Container
}

// resourceMetric ports computeStatusForResourceMetricGeneric.
func (c *Controller) resourceMetric(now time.Time, currentReplicas int32, target autoscalingv2.MetricTarget, name corev1.ResourceName, tol Tolerances, pods []PodSample) (int32, autoscalingv2.MetricValueStatus, string, error) {
	if target.AverageValue != nil {
		r, raw, _, err := c.calc.GetRawResourceReplicas(now, currentReplicas, target.AverageValue.MilliValue(), name, tol, pods)
		if err != nil {
			return 0, autoscalingv2.MetricValueStatus{}, "", fmt.Errorf("failed to get %s usage: %w", name, err)
		}
		return r, autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(raw, resource.DecimalSI)}, fmt.Sprintf("%s resource", name), nil
	}
	if target.AverageUtilization == nil {
		return 0, autoscalingv2.MetricValueStatus{}, "", errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	r, pct, raw, _, err := c.calc.GetResourceReplicas(now, currentReplicas, *target.AverageUtilization, name, tol, pods)
	if err != nil {
		return 0, autoscalingv2.MetricValueStatus{}, "", fmt.Errorf("failed to get %s utilization: %w", name, err)
	}
	return r, autoscalingv2.MetricValueStatus{AverageUtilization: &pct, AverageValue: resource.NewMilliQuantity(raw, resource.DecimalSI)},
		fmt.Sprintf("%s resource utilization (percentage of request)", name), nil
}

// objectMetric ports computeStatusForObjectMetric.
func (c *Controller) objectMetric(src *autoscalingv2.ObjectMetricSource, specReplicas, statusReplicas int32, tol Tolerances, in Input, status *autoscalingv2.MetricStatus) (int32, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	get := func() (int64, error) {
		if in.Object == nil {
			return 0, fmt.Errorf("unable to get metric %s on %s %s: no metrics returned from custom metrics API", src.Metric.Name, src.DescribedObject.Kind, src.DescribedObject.Name)
		}
		v, _, err := in.Object(src.DescribedObject, src.Metric)
		if err != nil {
			return 0, fmt.Errorf("unable to get metric %s on %s %s: %w", src.Metric.Name, src.DescribedObject.Kind, src.DescribedObject.Name, err)
		}
		return v, nil
	}
	name := fmt.Sprintf("%s metric %s", src.DescribedObject.Kind, src.Metric.Name)
	switch {
	case src.Target.Type == autoscalingv2.ValueMetricType && src.Target.Value != nil:
		usage, err := get()
		if err == nil {
			var r int32
			r, usage, err = c.calc.GetObjectMetricReplicas(specReplicas, src.Target.Value.MilliValue(), usage, tol, in.Pods)
			if err == nil {
				*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
					DescribedObject: src.DescribedObject,
					Metric:          autoscalingv2.MetricIdentifier{Name: src.Metric.Name, Selector: src.Metric.Selector},
					Current:         autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(usage, resource.DecimalSI)},
				}}
				return r, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
			}
		}
		return 0, "", unableCondition("FailedGetObjectMetric", err), err
	case src.Target.Type == autoscalingv2.AverageValueMetricType && src.Target.AverageValue != nil:
		usage, err := get()
		if err == nil {
			var r int32
			r, usage, err = c.calc.GetObjectPerPodMetricReplicas(statusReplicas, src.Target.AverageValue.MilliValue(), usage, tol)
			if err == nil {
				*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
					DescribedObject: src.DescribedObject,
					Metric:          autoscalingv2.MetricIdentifier{Name: src.Metric.Name, Selector: src.Metric.Selector},
					Current:         autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)},
				}}
				return r, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
			}
		}
		return 0, "", unableCondition("FailedGetObjectMetric", err), err
	}
	err := errors.New("invalid object metric source: neither a value target nor an average value target was set")
	return 0, "", unableCondition("FailedGetObjectMetric", err), err
}

// externalMetric ports computeStatusForExternalMetric.
func (c *Controller) externalMetric(src *autoscalingv2.ExternalMetricSource, specReplicas, statusReplicas int32, tol Tolerances, in Input, status *autoscalingv2.MetricStatus) (int32, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	get := func() ([]int64, error) {
		if in.External == nil {
			return nil, fmt.Errorf("unable to get external metric %s: no metrics returned from external metrics API", src.Metric.Name)
		}
		v, _, err := in.External(src.Metric)
		if err != nil {
			return nil, fmt.Errorf("unable to get external metric %s: %w", src.Metric.Name, err)
		}
		return v, nil
	}
	name := fmt.Sprintf("external metric %s(%+v)", src.Metric.Name, src.Metric.Selector)
	ident := autoscalingv2.MetricIdentifier{Name: src.Metric.Name, Selector: src.Metric.Selector}
	if src.Target.AverageValue != nil {
		values, err := get()
		var r int32
		var usage int64
		if err == nil {
			r, usage, err = c.calc.GetExternalPerPodMetricReplicas(statusReplicas, src.Target.AverageValue.MilliValue(), values, tol)
		}
		if err != nil {
			return 0, "", unableCondition("FailedGetExternalMetric", err), fmt.Errorf("failed to get %s external metric: %w", src.Metric.Name, err)
		}
		*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: ident, Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)},
		}}
		return r, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	}
	if src.Target.Value != nil {
		values, err := get()
		var r int32
		var usage int64
		if err == nil {
			r, usage, err = c.calc.GetExternalMetricReplicas(specReplicas, src.Target.Value.MilliValue(), values, tol, in.Pods)
		}
		if err != nil {
			return 0, "", unableCondition("FailedGetExternalMetric", err), fmt.Errorf("failed to get external metric %s: %w", src.Metric.Name, err)
		}
		*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: ident, Current: autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(usage, resource.DecimalSI)},
		}}
		return r, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	}
	err := errors.New("invalid external metric source: neither a value target nor an average value target was set")
	return 0, "", unableCondition("FailedGetExternalMetric", err), err
}

// setCondition ports setConditionInList: the condition of that type is updated in place
// (or appended); its transition time changes only when its status changes.
func (c *Controller) setCondition(now time.Time, typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string) {
	if typ == "" {
		return
	}
	var existing *autoscalingv2.HorizontalPodAutoscalerCondition
	for i := range c.status.Conditions {
		if c.status.Conditions[i].Type == typ {
			existing = &c.status.Conditions[i]
			break
		}
	}
	if existing == nil {
		c.status.Conditions = append(c.status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{Type: typ})
		existing = &c.status.Conditions[len(c.status.Conditions)-1]
	}
	if existing.Status != status {
		existing.LastTransitionTime = metav1.NewTime(now)
	}
	existing.Status = status
	existing.Reason = reason
	existing.Message = message
}
