package algorithm

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// Legacy scale-up limit (no behavior): max(scaleUpLimitFactor × current, scaleUpLimitMinimum).
const (
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

type timestampedRecommendation struct {
	recommendation int32
	timestamp      time.Time
}

type timestampedScaleEvent struct {
	replicaChange int32 // absolute value of the change
	timestamp     time.Time
	outdated      bool
}

// Limit is the outcome of one normalisation: the replicas to set and the reasons upstream
// records in the AbleToScale and ScalingLimited conditions.
type Limit struct {
	// Replicas is the normalised replica count.
	Replicas int32
	// Stabilized is true when the stabilisation window changed the recommendation.
	Stabilized bool
	// StabilizeReason and StabilizeMessage describe the AbleToScale condition
	// ("ScaleUpStabilized", "ScaleDownStabilized" or "ReadyForNewScale").
	StabilizeReason, StabilizeMessage string
	// Limited is true when the bounds or rate limits changed the stabilised recommendation.
	Limited bool
	// LimitReason and LimitMessage describe the ScalingLimited condition ("DesiredWithinRange",
	// "ScaleUpLimit", "ScaleDownLimit", "TooManyReplicas", "TooFewReplicas").
	LimitReason, LimitMessage string
}

// Normalizer is the controller's per-HPA memory and normalisation step (upstream's
// normalizeDesiredReplicas and normalizeDesiredReplicasWithBehaviors): the recommendation
// history for stabilisation windows and the past scale events that rate policies count.
// The zero value is not ready: use NewNormalizer. A Normalizer is not safe for concurrent use.
type Normalizer struct {
	// DownscaleStabilizationWindow is the controller's downscale stabilisation: the legacy
	// window and the default of behavior.scaleDown.stabilizationWindowSeconds.
	DownscaleStabilizationWindow time.Duration

	recommendations []timestampedRecommendation
	scaleUpEvents   []timestampedScaleEvent
	scaleDownEvents []timestampedScaleEvent
}

// NewNormalizer returns an empty Normalizer with the given downscale stabilisation window.
func NewNormalizer(downscaleStabilizationWindow time.Duration) *Normalizer {
	return &Normalizer{DownscaleStabilizationWindow: downscaleStabilizationWindow}
}

// Reset forgets every recommendation and scale event (a fresh controller, or a deleted HPA).
func (n *Normalizer) Reset() {
	n.recommendations = n.recommendations[:0]
	n.scaleUpEvents = n.scaleUpEvents[:0]
	n.scaleDownEvents = n.scaleDownEvents[:0]
}

// Normalize turns the metrics' proposal (recommended) into the replicas to set, and records
// the recommendation in the history. With behavior == nil it takes the legacy path: the
// highest recommendation over the downscale stabilisation window, then the bounds
// [minReplicas, max(2 × current, 4) capped at maxReplicas]. With a behavior (defaulted or not:
// nil parts are resolved as the API server would) it stabilises the recommendation between
// the lowest recommendation of the scale-up window and the highest of the scale-down
// window, then limits the change by the policies over their periods (counting past scale
// events recorded with RecordScaleEvent), selectPolicy choosing among them, and the bounds.
// currentReplicas is expected within [minReplicas, maxReplicas] as the controller ensures.
func (n *Normalizer) Normalize(now time.Time, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, minReplicas, maxReplicas, currentReplicas, recommended int32) Limit {
	if behavior == nil {
		return n.normalizeLegacy(now, minReplicas, maxReplicas, currentReplicas, recommended)
	}
	return n.normalizeWithBehaviors(now, n.resolve(behavior), minReplicas, maxReplicas, currentReplicas, recommended)
}

// resolve fills nil parts of a behavior (API defaults, and the controller's downscale
// stabilisation window for an unset scale-down window: maybeInitScaleDownStabilizationWindow).
func (n *Normalizer) resolve(b *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	out := &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   GenerateScaleUpRules(b.ScaleUp),
		ScaleDown: GenerateScaleDownRules(b.ScaleDown),
	}
	if out.ScaleDown.StabilizationWindowSeconds == nil {
		w := int32(n.DownscaleStabilizationWindow.Seconds())
		out.ScaleDown.StabilizationWindowSeconds = &w
	}
	return out
}

// normalizeLegacy ports normalizeDesiredReplicas.
func (n *Normalizer) normalizeLegacy(now time.Time, minReplicas, maxReplicas, currentReplicas, recommended int32) Limit {
	var l Limit
	stabilized := n.stabilizeRecommendation(now, recommended)
	if stabilized != recommended {
		l.Stabilized = true
		l.StabilizeReason = "ScaleDownStabilized"
		l.StabilizeMessage = "recent recommendations were higher than current one, applying the highest recent recommendation"
	} else {
		l.StabilizeReason = "ReadyForNewScale"
		l.StabilizeMessage = "recommended size matches current size"
	}
	l.Replicas, l.LimitReason, l.LimitMessage = convertDesiredReplicasWithRules(currentReplicas, stabilized, minReplicas, maxReplicas)
	l.Limited = l.Replicas != stabilized
	return l
}

// stabilizeRecommendation ports the legacy stabilisation: the maximum of the current and
// the recommendations not older than the window; the oldest-found outdated slot is reused.
func (n *Normalizer) stabilizeRecommendation(now time.Time, prenormalized int32) int32 {
	maxRecommendation := prenormalized
	foundOldSample := false
	oldSampleIndex := 0
	cutoff := now.Add(-n.DownscaleStabilizationWindow)
	for i, rec := range n.recommendations {
		if rec.timestamp.Before(cutoff) {
			foundOldSample = true
			oldSampleIndex = i
		} else if rec.recommendation > maxRecommendation {
			maxRecommendation = rec.recommendation
		}
	}
	n.record(foundOldSample, oldSampleIndex, timestampedRecommendation{prenormalized, now})
	return maxRecommendation
}

func (n *Normalizer) record(foundOldSample bool, oldSampleIndex int, rec timestampedRecommendation) {
	if foundOldSample {
		n.recommendations[oldSampleIndex] = rec
	} else {
		n.recommendations = append(n.recommendations, rec)
	}
}

// convertDesiredReplicasWithRules ports the legacy bounds: minReplicas below, and above the
// smaller of maxReplicas and max(2 × current, 4).
func convertDesiredReplicasWithRules(currentReplicas, desiredReplicas, hpaMinReplicas, hpaMaxReplicas int32) (int32, string, string) {
	var maximumAllowedReplicas int32
	var possibleLimitingCondition, possibleLimitingReason string
	minimumAllowedReplicas := hpaMinReplicas

	// Do not scale up too much, to prevent a rapid increase caused by a bogus usage report.
	scaleUpLimit := calculateScaleUpLimit(currentReplicas)
	if hpaMaxReplicas > scaleUpLimit {
		maximumAllowedReplicas = scaleUpLimit
		possibleLimitingCondition = "ScaleUpLimit"
		possibleLimitingReason = "the desired replica count is increasing faster than the maximum scale rate"
	} else {
		maximumAllowedReplicas = hpaMaxReplicas
		possibleLimitingCondition = "TooManyReplicas"
		possibleLimitingReason = "the desired replica count is more than the maximum replica count"
	}
	if desiredReplicas < minimumAllowedReplicas {
		return minimumAllowedReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	} else if desiredReplicas > maximumAllowedReplicas {
		return maximumAllowedReplicas, possibleLimitingCondition, possibleLimitingReason
	}
	return desiredReplicas, "DesiredWithinRange", "the desired count is within the acceptable range"
}

func calculateScaleUpLimit(currentReplicas int32) int32 {
	return int32(math.Max(scaleUpLimitFactor*float64(currentReplicas), scaleUpLimitMinimum))
}

// normalizeWithBehaviors ports normalizeDesiredReplicasWithBehaviors (behavior resolved).
func (n *Normalizer) normalizeWithBehaviors(now time.Time, b *autoscalingv2.HorizontalPodAutoscalerBehavior, minReplicas, maxReplicas, currentReplicas, recommended int32) Limit {
	var l Limit
	stabilized, reason, message := n.stabilizeRecommendationWithBehaviors(now, b, currentReplicas, recommended)
	if stabilized != recommended {
		l.Stabilized = true
		l.StabilizeReason, l.StabilizeMessage = reason, message
	} else {
		l.StabilizeReason = "ReadyForNewScale"
		l.StabilizeMessage = "recommended size matches current size"
	}
	l.Replicas, l.LimitReason, l.LimitMessage = n.convertDesiredReplicasWithBehaviorRate(now, b, minReplicas, maxReplicas, currentReplicas, stabilized)
	l.Limited = l.Replicas != stabilized
	return l
}

// stabilizeRecommendationWithBehaviors ports the two-sided stabilisation: the recommendation
// is raised to at least the lowest recommendation of the scale-up window (so a scale-up
// happens only when every recent recommendation asked for it) and lowered to at most the
// highest of the scale-down window, starting from the current replicas. Recommendations
// strictly after now − window count; a slot older than both windows is reused.
func (n *Normalizer) stabilizeRecommendationWithBehaviors(now time.Time, b *autoscalingv2.HorizontalPodAutoscalerBehavior, currentReplicas, desired int32) (int32, string, string) {
	foundOldSample := false
	oldSampleIndex := 0

	upRecommendation := desired
	upCutoff := now.Add(-time.Second * time.Duration(*b.ScaleUp.StabilizationWindowSeconds))
	downRecommendation := desired
	downCutoff := now.Add(-time.Second * time.Duration(*b.ScaleDown.StabilizationWindowSeconds))

	for i, rec := range n.recommendations {
		if rec.timestamp.After(upCutoff) {
			upRecommendation = min(rec.recommendation, upRecommendation)
		}
		if rec.timestamp.After(downCutoff) {
			downRecommendation = max(rec.recommendation, downRecommendation)
		}
		if rec.timestamp.Before(upCutoff) && rec.timestamp.Before(downCutoff) {
			foundOldSample = true
			oldSampleIndex = i
		}
	}

	// Bring the recommendation within the upper and lower limits (stabilise).
	recommendation := currentReplicas
	if recommendation < upRecommendation {
		recommendation = upRecommendation
	}
	if recommendation > downRecommendation {
		recommendation = downRecommendation
	}

	// Record the unstabilised recommendation.
	n.record(foundOldSample, oldSampleIndex, timestampedRecommendation{desired, now})

	if desired >= currentReplicas {
		return recommendation, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return recommendation, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

// convertDesiredReplicasWithBehaviorRate ports the rate limiting of behaviors.
func (n *Normalizer) convertDesiredReplicasWithBehaviorRate(now time.Time, b *autoscalingv2.HorizontalPodAutoscalerBehavior, minReplicas, maxReplicas, currentReplicas, desired int32) (int32, string, string) {
	var possibleLimitingReason, possibleLimitingMessage string
	if desired > currentReplicas {
		scaleUpLimit := calculateScaleUpLimitWithScalingRules(now, currentReplicas, n.scaleUpEvents, n.scaleDownEvents, b.ScaleUp)
		if scaleUpLimit < currentReplicas {
			// Do not scale up further until the scale-up events age out.
			scaleUpLimit = currentReplicas
		}
		maximumAllowedReplicas := maxReplicas
		if maximumAllowedReplicas > scaleUpLimit {
			maximumAllowedReplicas = scaleUpLimit
			possibleLimitingReason = "ScaleUpLimit"
			possibleLimitingMessage = "the desired replica count is increasing faster than the maximum scale rate"
		} else {
			possibleLimitingReason = "TooManyReplicas"
			possibleLimitingMessage = "the desired replica count is more than the maximum replica count"
		}
		if desired > maximumAllowedReplicas {
			return maximumAllowedReplicas, possibleLimitingReason, possibleLimitingMessage
		}
	} else if desired < currentReplicas {
		scaleDownLimit := calculateScaleDownLimitWithBehaviors(now, currentReplicas, n.scaleUpEvents, n.scaleDownEvents, b.ScaleDown)
		if scaleDownLimit > currentReplicas {
			// Do not scale down further until the scale-down events age out.
			scaleDownLimit = currentReplicas
		}
		minimumAllowedReplicas := minReplicas
		if minimumAllowedReplicas < scaleDownLimit {
			minimumAllowedReplicas = scaleDownLimit
			possibleLimitingReason = "ScaleDownLimit"
			possibleLimitingMessage = "the desired replica count is decreasing faster than the maximum scale rate"
		} else {
			possibleLimitingMessage = "the desired replica count is less than the minimum replica count"
			possibleLimitingReason = "TooFewReplicas"
		}
		if desired < minimumAllowedReplicas {
			return minimumAllowedReplicas, possibleLimitingReason, possibleLimitingMessage
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// getReplicasChangePerPeriod sums the changes of the events strictly after now − period.
func getReplicasChangePerPeriod(now time.Time, periodSeconds int32, events []timestampedScaleEvent) int32 {
	cutoff := now.Add(-time.Second * time.Duration(periodSeconds))
	var replicas int32
	for _, rec := range events {
		if rec.timestamp.After(cutoff) {
			replicas += rec.replicaChange
		}
	}
	return replicas
}

// calculateScaleUpLimitWithScalingRules returns the highest replica count the scale-up
// policies allow: for each policy, the replicas at the start of its period (current minus
// additions plus removals within the period) plus Value pods, or times (1 + Value %) rounded
// up; selectPolicy Max takes the largest, Min the smallest, Disabled forbids scaling up.
func calculateScaleUpLimitWithScalingRules(now time.Time, currentReplicas int32, scaleUpEvents, scaleDownEvents []timestampedScaleEvent, rules *autoscalingv2.HPAScalingRules) int32 {
	var result, proposed int32
	var selectPolicyFn func(int32, int32) int32
	switch *rules.SelectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return currentReplicas // scaling is disabled
	case autoscalingv2.MinChangePolicySelect:
		result = math.MaxInt32
		selectPolicyFn = minInt32 // for scaling up, the lowest change produces the minimum value
	default:
		result = math.MinInt32
		selectPolicyFn = maxInt32 // the highest possible change
	}
	for _, policy := range rules.Policies {
		replicasAddedInCurrentPeriod := getReplicasChangePerPeriod(now, policy.PeriodSeconds, scaleUpEvents)
		replicasDeletedInCurrentPeriod := getReplicasChangePerPeriod(now, policy.PeriodSeconds, scaleDownEvents)
		periodStartReplicas := currentReplicas - replicasAddedInCurrentPeriod + replicasDeletedInCurrentPeriod
		switch policy.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = periodStartReplicas + policy.Value
		case autoscalingv2.PercentScalingPolicy:
			// Rounded up, so that a small percentage still allows one more pod.
			proposed = int32(math.Ceil(float64(periodStartReplicas) * (1 + float64(policy.Value)/100)))
		}
		result = selectPolicyFn(result, proposed)
	}
	return result
}

// calculateScaleDownLimitWithBehaviors returns the lowest replica count the scale-down
// policies allow: period-start replicas minus Value pods, or times (1 − Value %) truncated;
// selectPolicy Max takes the smallest count (largest change), Min the largest, Disabled
// forbids scaling down.
func calculateScaleDownLimitWithBehaviors(now time.Time, currentReplicas int32, scaleUpEvents, scaleDownEvents []timestampedScaleEvent, rules *autoscalingv2.HPAScalingRules) int32 {
	var result, proposed int32
	var selectPolicyFn func(int32, int32) int32
	switch *rules.SelectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return currentReplicas
	case autoscalingv2.MinChangePolicySelect:
		result = math.MinInt32
		selectPolicyFn = maxInt32 // for scaling down, the lowest change produces the maximum value
	default:
		result = math.MaxInt32
		selectPolicyFn = minInt32
	}
	for _, policy := range rules.Policies {
		replicasAddedInCurrentPeriod := getReplicasChangePerPeriod(now, policy.PeriodSeconds, scaleUpEvents)
		replicasDeletedInCurrentPeriod := getReplicasChangePerPeriod(now, policy.PeriodSeconds, scaleDownEvents)
		periodStartReplicas := currentReplicas - replicasAddedInCurrentPeriod + replicasDeletedInCurrentPeriod
		switch policy.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = periodStartReplicas - policy.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(periodStartReplicas) * (1 - float64(policy.Value)/100))
		}
		result = selectPolicyFn(result, proposed)
	}
	return result
}

func minInt32(a, b int32) int32 { return min(a, b) }
func maxInt32(a, b int32) int32 { return max(a, b) }

// RecordScaleEvent stores a scale from prevReplicas to newReplicas made at now, for the
// behavior's rate policies (upstream's storeScaleEvent). With behavior == nil nothing is
// stored (the legacy path has no rate policies). Events older than the longest policy
// period of their direction are marked outdated and their slots reused.
func (n *Normalizer) RecordScaleEvent(now time.Time, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, prevReplicas, newReplicas int32) {
	if behavior == nil || prevReplicas == newReplicas {
		return
	}
	b := n.resolve(behavior)
	if newReplicas > prevReplicas {
		n.scaleUpEvents = storeEvent(now, n.scaleUpEvents, getLongestPolicyPeriod(b.ScaleUp), newReplicas-prevReplicas)
	} else {
		n.scaleDownEvents = storeEvent(now, n.scaleDownEvents, getLongestPolicyPeriod(b.ScaleDown), prevReplicas-newReplicas)
	}
}

func storeEvent(now time.Time, events []timestampedScaleEvent, longestPolicyPeriod int32, change int32) []timestampedScaleEvent {
	cutoff := now.Add(-time.Second * time.Duration(longestPolicyPeriod))
	foundOldSample := false
	oldSampleIndex := 0
	for i := range events {
		if events[i].timestamp.Before(cutoff) {
			// Outdated scale events are marked for later reuse.
			events[i].outdated = true
		}
		if events[i].outdated {
			foundOldSample = true
			oldSampleIndex = i
		}
	}
	ev := timestampedScaleEvent{replicaChange: change, timestamp: now}
	if foundOldSample {
		events[oldSampleIndex] = ev
		return events
	}
	return append(events, ev)
}

func getLongestPolicyPeriod(rules *autoscalingv2.HPAScalingRules) int32 {
	var longest int32
	for _, policy := range rules.Policies {
		if policy.PeriodSeconds > longest {
			longest = policy.PeriodSeconds
		}
	}
	return longest
}
