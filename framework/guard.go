package framework

import "time"

// Guardrails clamp the replica target of a command before it is applied. Bounds always
// apply; MaxStep, cooldowns and dry-run apply to learned and third-party policies only
// (built-in baselines carry their own behaviour and get only the bounds).
//
// Cooldowns are measured from the last applied scale event in the same direction:
//
//	scale-up allowed   ⇔ now − lastUp   ≥ UpCooldown
//	scale-down allowed ⇔ now − lastDown ≥ DownCooldown
type Guardrails struct {
	Min, Max     int
	MaxStep      int
	UpCooldown   time.Duration
	DownCooldown time.Duration
	DryRun       bool
	// BoundsOnly restricts the guard to Min/Max (built-in baselines).
	BoundsOnly bool

	lastUp, lastDown time.Time
	hasUp, hasDown   bool
}

// GuardResult says what the guard did to a replica target.
type GuardResult struct {
	Requested int
	Allowed   int
	Clamped   bool   // the bounds changed the target
	Limited   bool   // max step or a cooldown changed the target
	Reason    string // which rule acted
}

// Reset forgets past scale events (new episode).
func (g *Guardrails) Reset() { g.hasUp, g.hasDown = false, false }

// Check applies the guard to a requested replica target given the current desired replicas.
func (g *Guardrails) Check(now time.Time, current, requested int) GuardResult {
	r := GuardResult{Requested: requested, Allowed: requested}
	if !g.BoundsOnly {
		if g.MaxStep > 0 {
			if r.Allowed > current+g.MaxStep {
				r.Allowed, r.Limited, r.Reason = current+g.MaxStep, true, "max_step"
			} else if r.Allowed < current-g.MaxStep {
				r.Allowed, r.Limited, r.Reason = current-g.MaxStep, true, "max_step"
			}
		}
		if r.Allowed > current && g.hasUp && now.Sub(g.lastUp) < g.UpCooldown {
			r.Allowed, r.Limited, r.Reason = current, true, "up_cooldown"
		}
		if r.Allowed < current && g.hasDown && now.Sub(g.lastDown) < g.DownCooldown {
			r.Allowed, r.Limited, r.Reason = current, true, "down_cooldown"
		}
	}
	if r.Allowed < g.Min {
		r.Allowed, r.Clamped, r.Reason = g.Min, true, "min_replicas"
	}
	if r.Allowed > g.Max {
		r.Allowed, r.Clamped, r.Reason = g.Max, true, "max_replicas"
	}
	return r
}

// Commit records that a scale from current to applied happened at now (for cooldowns).
func (g *Guardrails) Commit(now time.Time, current, applied int) {
	switch {
	case applied > current:
		g.lastUp, g.hasUp = now, true
	case applied < current:
		g.lastDown, g.hasDown = now, true
	}
}
