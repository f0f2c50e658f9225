package algorithm

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

func ptr[T any](v T) *T { return &v }

func secs(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// step is one sync: at t0+at seconds, with current replicas and the metrics' proposal,
// the normaliser must return want; applied changes are recorded as scale events.
type step struct {
	at          int
	current     int32
	recommended int32
	want        int32
	wantReason  string // ScalingLimited reason, checked when not ""
}

func runSteps(t *testing.T, n *Normalizer, b *autoscalingv2.HorizontalPodAutoscalerBehavior, minR, maxR int32, steps []step) {
	t.Helper()
	for i, s := range steps {
		l := n.Normalize(secs(s.at), b, minR, maxR, s.current, s.recommended)
		if l.Replicas != s.want {
			t.Fatalf("step %d (t0+%ds, current %d, recommended %d): got %d, want %d (%s: %s)", i, s.at, s.current, s.recommended, l.Replicas, s.want, l.LimitReason, l.LimitMessage)
		}
		if s.wantReason != "" && l.LimitReason != s.wantReason {
			t.Errorf("step %d: limit reason %q, want %q", i, l.LimitReason, s.wantReason)
		}
		n.RecordScaleEvent(secs(s.at), b, s.current, l.Replicas)
	}
}

func TestNormalizeLegacy(t *testing.T) {
	tests := []struct {
		name     string
		min, max int32
		steps    []step
	}{
		// Scale-up limit max(2 × current, 4): from 3 at most 6; from 1 at most 4.
		{"scale-up limit doubles", 1, 20, []step{{0, 3, 10, 6, "ScaleUpLimit"}}},
		{"scale-up limit at least 4", 1, 20, []step{{0, 1, 10, 4, "ScaleUpLimit"}}},
		// max 5 is below the limit 6: TooManyReplicas.
		{"max below the limit", 1, 5, []step{{0, 3, 10, 5, "TooManyReplicas"}}},
		{"below min", 2, 10, []step{{0, 3, 1, 2, "TooFewReplicas"}}},
		{"within range", 1, 10, []step{{0, 3, 5, 5, "DesiredWithinRange"}}},
		// 300 s stabilisation: the highest recommendation of the window wins. The sample at
		// t0 (5) is in the window while t − 300 s ≤ t0, i.e. up to t0+300 s inclusive.
		{"downscale stabilisation window", 1, 10, []step{
			{0, 5, 5, 5, ""},
			{60, 5, 2, 5, ""},
			{299, 5, 2, 5, ""},
			{300, 5, 2, 5, ""}, // boundary: t0 is not before the cutoff t0 → still counted
			{301, 5, 2, 2, ""}, // t0 is now outdated; the window holds 2, 2, 2
		}},
		// Scale-ups are not stabilised on the legacy path.
		{"scale-up immediate", 1, 10, []step{{0, 2, 2, 2, ""}, {15, 2, 3, 3, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, NewNormalizer(5*time.Minute), nil, tt.min, tt.max, tt.steps)
		})
	}
}

func TestNormalizeWithBehaviors(t *testing.T) {
	pods := autoscalingv2.PodsScalingPolicy
	pct := autoscalingv2.PercentScalingPolicy
	rules := func(sel autoscalingv2.ScalingPolicySelect, window int32, ps ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
		return &autoscalingv2.HPAScalingRules{SelectPolicy: &sel, StabilizationWindowSeconds: &window, Policies: ps}
	}
	pol := func(typ autoscalingv2.HPAScalingPolicyType, v, period int32) autoscalingv2.HPAScalingPolicy {
		return autoscalingv2.HPAScalingPolicy{Type: typ, Value: v, PeriodSeconds: period}
	}
	maxSel, minSel, disabled := autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect
	noDown := rules(maxSel, 0, pol(pct, 100, 15))

	tests := []struct {
		name     string
		behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
		min, max int32
		steps    []step
	}{
		{
			// API defaults: scale-up Max(4 pods, 100 %) per 15 s. From 2: max(2+4, 2×2) = 6.
			// At t0+10 s the +4 event is inside 15 s: start 2 → limit 6 = current → hold 6.
			// At t0+15 s the event at t0 is not after the cutoff t0: start 6 → max(10, 12) = 12.
			name: "default scale-up policies", behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
			min: 1, max: 100, steps: []step{
				{0, 2, 20, 6, "ScaleUpLimit"},
				{10, 6, 20, 6, "ScaleUpLimit"},
				{15, 6, 20, 12, "ScaleUpLimit"},
				{30, 12, 20, 20, "DesiredWithinRange"}, // max(16, 24) ≥ 20
			},
		},
		{
			// Pods policy: 2 pods per 60 s. 3 → 5; at +30 s start 3 → 5 (hold); at +61 s the
			// event aged out: 5 → 7.
			name:     "Pods policy counts events in its period",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(maxSel, 0, pol(pods, 2, 60)), ScaleDown: noDown},
			min:      1, max: 20, steps: []step{
				{0, 3, 10, 5, "ScaleUpLimit"},
				{30, 5, 10, 5, "ScaleUpLimit"},
				{61, 5, 10, 7, "ScaleUpLimit"},
			},
		},
		{
			// Percent policy on scale-down: 10 % per 60 s truncates the count that stays:
			// 80 → floor(72.0) = 72; at +30 s start 80 → 72 = current: hold; at +61 s
			// start 72 → floor(64.8) = 64.
			name:     "Percent scale-down truncates",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(maxSel, 0, pol(pct, 10, 60))},
			min:      1, max: 100, steps: []step{
				{0, 80, 10, 72, "ScaleDownLimit"},
				{30, 72, 10, 72, "ScaleDownLimit"},
				{61, 72, 10, 64, "ScaleDownLimit"},
			},
		},
		{
			// Percent scale-up rounds up: 10 % of 3 → ceil(3.3) = 4.
			name:     "Percent scale-up rounds up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(maxSel, 0, pol(pct, 10, 60))},
			min:      1, max: 100, steps: []step{{0, 3, 10, 4, "ScaleUpLimit"}},
		},
		{
			// From 10: Pods 4 → 14, Percent 100 → 20. Max picks 20, Min picks 14.
			name:     "selectPolicy Max on scale-up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(maxSel, 0, pol(pods, 4, 15), pol(pct, 100, 15))},
			min:      1, max: 100, steps: []step{{0, 10, 50, 20, "ScaleUpLimit"}},
		},
		{
			name:     "selectPolicy Min on scale-up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(minSel, 0, pol(pods, 4, 15), pol(pct, 100, 15))},
			min:      1, max: 100, steps: []step{{0, 10, 50, 14, "ScaleUpLimit"}},
		},
		{
			// From 10: Pods 2 → 8, Percent 50 → 5. Max (largest change) picks 5, Min picks 8.
			name:     "selectPolicy Max on scale-down",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(maxSel, 0, pol(pods, 2, 15), pol(pct, 50, 15))},
			min:      1, max: 100, steps: []step{{0, 10, 1, 5, "ScaleDownLimit"}},
		},
		{
			name:     "selectPolicy Min on scale-down",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(minSel, 0, pol(pods, 2, 15), pol(pct, 50, 15))},
			min:      1, max: 100, steps: []step{{0, 10, 1, 8, "ScaleDownLimit"}},
		},
		{
			name:     "selectPolicy Disabled on scale-down",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(disabled, 0, pol(pct, 100, 15))},
			min:      1, max: 100, steps: []step{{0, 5, 1, 5, "ScaleDownLimit"}, {60, 5, 1, 5, "ScaleDownLimit"}},
		},
		{
			name:     "selectPolicy Disabled on scale-up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(disabled, 0, pol(pct, 100, 15))},
			min:      1, max: 100, steps: []step{{0, 5, 9, 5, "ScaleUpLimit"}},
		},
		{
			// Bounds still apply: the policy allows 10 → 20 but max is 12.
			name:     "max bound with policies",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(maxSel, 0, pol(pct, 100, 15))},
			min:      1, max: 12, steps: []step{{0, 10, 30, 12, "TooManyReplicas"}},
		},
		{
			name:     "min bound with policies",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(maxSel, 0, pol(pct, 100, 15))},
			min:      3, max: 12, steps: []step{{0, 10, 1, 3, "TooFewReplicas"}},
		},
		{
			// Scale-up window 60 s: the recommendation is raised only to the lowest
			// recommendation of the window. t0: 3 → 3. t0+15: window holds 3 and 6 → min 3 → 3.
			// t0+60: t0 is not after t0+60−60 = t0, so only 6 and 6 count → 6.
			name:     "scale-up stabilisation window",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(maxSel, 60, pol(pods, 10, 15)), ScaleDown: noDown},
			min:      1, max: 20, steps: []step{
				{0, 3, 3, 3, ""},
				{15, 3, 6, 3, ""},
				{60, 3, 6, 6, ""},
			},
		},
		{
			// The scale-down window is strict: at exactly t0+120 the t0 sample (5) is out.
			// A behavior without a scale-down window takes the controller's (here 120 s).
			name:     "scale-down window from the controller setting",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{}},
			min:      1, max: 20, steps: []step{
				{0, 5, 5, 5, ""},
				{60, 5, 2, 5, ""},
				{119, 5, 2, 5, ""},
				{120, 5, 2, 2, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, NewNormalizer(120*time.Second), tt.behavior, tt.min, tt.max, tt.steps)
		})
	}
}

func TestNormalizeStabilizationReasons(t *testing.T) {
	n := NewNormalizer(5 * time.Minute)
	n.Normalize(t0, nil, 1, 10, 5, 5)
	l := n.Normalize(secs(15), nil, 1, 10, 5, 2)
	if !l.Stabilized || l.StabilizeReason != "ScaleDownStabilized" || l.Replicas != 5 {
		t.Errorf("legacy: got %+v, want ScaleDownStabilized at 5", l)
	}
	b := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr[int32](60)}}
	n = NewNormalizer(5 * time.Minute)
	n.Normalize(t0, b, 1, 10, 3, 3)
	l = n.Normalize(secs(15), b, 1, 10, 3, 6)
	if !l.Stabilized || l.StabilizeReason != "ScaleUpStabilized" || l.Replicas != 3 {
		t.Errorf("behavior: got %+v, want ScaleUpStabilized at 3", l)
	}
}

func TestNormalizerReusesHistorySlots(t *testing.T) {
	// A sync every 15 s for an hour must not grow the history beyond the window's samples.
	n := NewNormalizer(5 * time.Minute)
	b := &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	cur := int32(5)
	for s := 0; s < 3600; s += 15 {
		want := int32(2 + (s/15)%7)
		r := n.Normalize(secs(s), b, 1, 10, cur, want).Replicas
		n.RecordScaleEvent(secs(s), b, cur, r)
		cur = r
	}
	// 300 s / 15 s = 20 samples in the window, plus one: at most 22 slots.
	if len(n.recommendations) > 22 {
		t.Errorf("history holds %d recommendations", len(n.recommendations))
	}
	if len(n.scaleUpEvents) > 3 || len(n.scaleDownEvents) > 3 {
		t.Errorf("events: %d up, %d down", len(n.scaleUpEvents), len(n.scaleDownEvents))
	}
}
