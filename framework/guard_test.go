package framework

import (
	"testing"
	"time"
)

var t0 = SimEpoch

// TestGuardrailsCheck runs each case as a sequence of decisions in time order; every
// decision's allowed target is committed (as the Loop does after a successful apply), so the
// cooldowns see the scale events of earlier decisions.
func TestGuardrailsCheck(t *testing.T) {
	type step struct {
		at                 time.Duration // offset from t0
		current, requested int
		allowed            int
		clamped, limited   bool
		reason             string
	}
	tests := []struct {
		name  string
		guard Guardrails
		steps []step
	}{
		{
			name:  "within bounds passes unchanged",
			guard: Guardrails{Min: 1, Max: 4},
			steps: []step{
				{0, 2, 3, 3, false, false, ""},
				{time.Second, 3, 3, 3, false, false, ""},
				{2 * time.Second, 3, 1, 1, false, false, ""},
			},
		},
		{
			name:  "min and max clamp are recorded",
			guard: Guardrails{Min: 1, Max: 4},
			steps: []step{
				{0, 2, 9, 4, true, false, "max_replicas"},
				{0, 4, 0, 1, true, false, "min_replicas"},
				{0, 1, -3, 1, true, false, "min_replicas"},
			},
		},
		{
			name:  "max step limits both directions",
			guard: Guardrails{Min: 1, Max: 10, MaxStep: 2},
			steps: []step{
				{0, 3, 8, 5, false, true, "max_step"},           // +5 → +2
				{time.Minute, 5, 1, 3, false, true, "max_step"}, // −4 → −2
				{2 * time.Minute, 3, 5, 5, false, false, ""},    // +2 is allowed
				{3 * time.Minute, 5, 3, 3, false, false, ""},    // −2 is allowed
			},
		},
		{
			name:  "max step then max bound",
			guard: Guardrails{Min: 1, Max: 4, MaxStep: 3},
			// 9 → 2+3 = 5 by the step limit → 4 by the bound; both rules acted, the bound last.
			steps: []step{{0, 2, 9, 4, true, true, "max_replicas"}},
		},
		{
			name:  "up cooldown blocks only scale-up",
			guard: Guardrails{Min: 1, Max: 10, UpCooldown: time.Minute},
			steps: []step{
				{0, 2, 4, 4, false, false, ""},                          // the first scale-up is free
				{30 * time.Second, 4, 6, 4, false, true, "up_cooldown"}, // 30 s < 60 s: hold
				{40 * time.Second, 4, 3, 3, false, false, ""},           // scale-down unaffected
				{59 * time.Second, 3, 5, 3, false, true, "up_cooldown"}, // 59 s < 60 s
				{60 * time.Second, 3, 5, 5, false, false, ""},           // 60 s ≥ 60 s: allowed
				{61 * time.Second, 5, 6, 5, false, true, "up_cooldown"}, // measured from the last scale-up (60 s)
			},
		},
		{
			name:  "down cooldown blocks only scale-down",
			guard: Guardrails{Min: 1, Max: 10, DownCooldown: 5 * time.Minute},
			steps: []step{
				{0, 6, 4, 4, false, false, ""},
				{time.Minute, 4, 2, 4, false, true, "down_cooldown"},
				{2 * time.Minute, 4, 8, 8, false, false, ""}, // scale-up unaffected
				{4 * time.Minute, 8, 7, 8, false, true, "down_cooldown"},
				{5 * time.Minute, 8, 7, 7, false, false, ""}, // 5 min since the scale-down at 0
			},
		},
		{
			name:  "separate up and down cooldowns",
			guard: Guardrails{Min: 1, Max: 10, UpCooldown: 15 * time.Second, DownCooldown: 5 * time.Minute},
			steps: []step{
				{0, 5, 3, 3, false, false, ""},                            // down at 0
				{15 * time.Second, 3, 4, 4, false, false, ""},             // up at 15 s (no earlier up)
				{30 * time.Second, 4, 6, 6, false, false, ""},             // 15 s since the last up
				{40 * time.Second, 6, 7, 6, false, true, "up_cooldown"},   // 10 s since the last up
				{45 * time.Second, 6, 2, 6, false, true, "down_cooldown"}, // 45 s since the last down
				{5 * time.Minute, 6, 2, 2, false, false, ""},              // 5 min since the last down
			},
		},
		{
			name:  "cooldown with max step",
			guard: Guardrails{Min: 1, Max: 10, MaxStep: 1, UpCooldown: time.Minute},
			steps: []step{
				{0, 1, 5, 2, false, true, "max_step"},
				{10 * time.Second, 2, 5, 2, false, true, "up_cooldown"},
			},
		},
		{
			name:  "bounds win over a cooldown",
			guard: Guardrails{Min: 3, Max: 10, UpCooldown: time.Minute},
			steps: []step{
				{0, 3, 4, 4, false, false, ""}, // up at 0
				// The workload sits below min (say after a config change); the cooldown holds
				// 1, then the min bound lifts it to 3.
				{10 * time.Second, 1, 2, 3, true, true, "min_replicas"},
			},
		},
		{
			name: "bounds only ignores max step and cooldowns",
			guard: Guardrails{Min: 1, Max: 4, MaxStep: 1, UpCooldown: time.Hour, DownCooldown: time.Hour,
				BoundsOnly: true},
			steps: []step{
				{0, 1, 4, 4, false, false, ""},
				{time.Second, 4, 1, 1, false, false, ""},
				{2 * time.Second, 1, 3, 3, false, false, ""},
				{3 * time.Second, 3, 7, 4, true, false, "max_replicas"},
				{4 * time.Second, 4, 0, 1, true, false, "min_replicas"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.guard
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				got := g.Check(now, s.current, s.requested)
				want := GuardResult{Requested: s.requested, Allowed: s.allowed, Clamped: s.clamped,
					Limited: s.limited, Reason: s.reason}
				if got != want {
					t.Fatalf("step %d (t=%v, %d→%d): got %+v, want %+v", i, s.at, s.current, s.requested, got, want)
				}
				g.Commit(now, s.current, got.Allowed)
			}
		})
	}
}

func TestGuardrailsResetForgetsScaleEvents(t *testing.T) {
	g := Guardrails{Min: 1, Max: 10, UpCooldown: time.Hour, DownCooldown: time.Hour}
	g.Commit(t0, 2, 3) // up
	g.Commit(t0, 3, 2) // down
	if r := g.Check(t0.Add(time.Second), 2, 3); r.Allowed != 2 || r.Reason != "up_cooldown" {
		t.Fatalf("before Reset: %+v, want up_cooldown hold", r)
	}
	if r := g.Check(t0.Add(time.Second), 2, 1); r.Allowed != 2 || r.Reason != "down_cooldown" {
		t.Fatalf("before Reset: %+v, want down_cooldown hold", r)
	}
	g.Reset()
	if r := g.Check(t0.Add(time.Second), 2, 3); r.Allowed != 3 || r.Limited {
		t.Errorf("after Reset scale-up: %+v, want allowed", r)
	}
	if r := g.Check(t0.Add(time.Second), 2, 1); r.Allowed != 1 || r.Limited {
		t.Errorf("after Reset scale-down: %+v, want allowed", r)
	}
}

// TestGuardrailsCommitNoChange checks that a decision that changed nothing does not start a
// cooldown.
func TestGuardrailsCommitNoChange(t *testing.T) {
	g := Guardrails{Min: 1, Max: 10, UpCooldown: time.Hour, DownCooldown: time.Hour}
	g.Commit(t0, 3, 3)
	if r := g.Check(t0.Add(time.Second), 3, 5); r.Allowed != 5 {
		t.Errorf("scale-up after a no-op commit: %+v, want allowed", r)
	}
	if r := g.Check(t0.Add(time.Second), 3, 1); r.Allowed != 1 {
		t.Errorf("scale-down after a no-op commit: %+v, want allowed", r)
	}
}
