package envs

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/scalelab/scalelab/framework"
)

// Pendulum constants, as in gymnasium/envs/classic_control/pendulum.py (g's default).
const (
	pendMaxSpeed  = 8.0
	pendMaxTorque = 2.0
	pendDt        = 0.05
	pendG         = 10.0
	pendM         = 1.0
	pendL         = 1.0
	pendMaxSteps  = 200 // Pendulum-v1's TimeLimit
)

// Pendulum is Gymnasium's Pendulum-v1: swing a pendulum up and keep it upright with a
// torque u ∈ [−2, 2]. With θ measured from upright, one step of dt = 0.05 s is
// semi-implicit Euler — the new velocity is used for the new angle:
//
//	θ̇' = clip(θ̇ + (3g/(2l)·sin θ + 3/(ml²)·u)·dt, −8, 8),   θ' = θ + θ̇'·dt
//
// and the reward of the step is −(norm(θ)² + 0.1·θ̇² + 0.001·u²), evaluated at the state
// before the step, where norm wraps the angle to [−π, π) with a floor modulo
// ((θ + π) mod 2π) − π (Python's %, not Go's truncating math.Mod). The observation is
// (cos θ, sin θ, θ̇). Reset draws θ ∈ U(−π, π) and θ̇ ∈ U(−1, 1). Episodes never
// terminate; they are truncated at 200 steps.
type Pendulum struct {
	theta, thetaDot float64
	steps           int
	started, closed bool
}

var _ framework.Env = (*Pendulum)(nil)

// NewPendulum returns a Pendulum-v1; call Reset before Step.
func NewPendulum() *Pendulum { return &Pendulum{} }

// Specs returns the three observed features and the one-dimensional torque box.
func (p *Pendulum) Specs() framework.Specs {
	return framework.Specs{
		Features: []framework.FeatureSpec{
			{Name: "cos_theta", Unit: "", Description: "cosine of the angle from upright", Low: -1, High: 1},
			{Name: "sin_theta", Unit: "", Description: "sine of the angle from upright", Low: -1, High: 1},
			{Name: "angular_velocity", Unit: "rad/s", Description: "angular velocity", Low: -pendMaxSpeed, High: pendMaxSpeed},
		},
		Action:       framework.ActionSpace{Kind: framework.Box, Low: []float64{-pendMaxTorque}, High: []float64{pendMaxTorque}, Names: []string{"torque"}},
		ActionDesign: PendulumV1,
	}
}

// State returns (θ, θ̇).
func (p *Pendulum) State() (theta, thetaDot float64) { return p.theta, p.thetaDot }

// SetState sets (θ, θ̇) (for tests and scripted starts) and starts an episode at step 0.
func (p *Pendulum) SetState(theta, thetaDot float64) {
	p.theta, p.thetaDot, p.steps, p.started = theta, thetaDot, 0, true
}

// Reset starts an episode: θ from U(−π, π) then θ̇ from U(−1, 1), drawn from a PCG
// generator seeded with seed.
func (p *Pendulum) Reset(_ context.Context, seed uint64) (framework.Observation, error) {
	if p.closed {
		return framework.Observation{}, errClosed
	}
	rng := rand.New(rand.NewPCG(seed, 0x70656e64756c756d)) // "pendulum"
	p.theta = -math.Pi + 2*math.Pi*rng.Float64()
	p.thetaDot = -1 + 2*rng.Float64()
	p.steps, p.started = 0, true
	return p.obs(), nil
}

// Step applies torque a.Values[0], clipped to [−2, 2].
func (p *Pendulum) Step(_ context.Context, a framework.Action) (framework.StepResult, error) {
	if p.closed {
		return framework.StepResult{}, errClosed
	}
	if !p.started {
		return framework.StepResult{}, fmt.Errorf("pendulum: Step before Reset")
	}
	if len(a.Values) != 1 || math.IsNaN(a.Values[0]) {
		return framework.StepResult{}, fmt.Errorf("pendulum: action %v is not one torque value", a.Values)
	}
	u := min(max(a.Values[0], -pendMaxTorque), pendMaxTorque)
	th, thdot := p.theta, p.thetaDot
	an := AngleNormalize(th)
	costs := an*an + 0.1*thdot*thdot + 0.001*(u*u)
	newThdot := thdot + (3*pendG/(2*pendL)*math.Sin(th)+3.0/(pendM*pendL*pendL)*u)*pendDt
	newThdot = min(max(newThdot, -pendMaxSpeed), pendMaxSpeed)
	p.theta = th + newThdot*pendDt
	p.thetaDot = newThdot
	p.steps++
	return framework.StepResult{Obs: p.obs(), Reward: -costs, Truncated: p.steps >= pendMaxSteps}, nil
}

func (p *Pendulum) obs() framework.Observation {
	return framework.Observation{
		Values: []float64{f32(math.Cos(p.theta)), f32(math.Sin(p.theta)), f32(p.thetaDot)},
		Valid:  []bool{true, true, true},
	}
}

// Close marks the environment closed.
func (p *Pendulum) Close() error { p.closed = true; return nil }

// AngleNormalize is Gymnasium's angle_normalize: ((x + π) mod 2π) − π with Python's
// floor modulo (the result of mod has the divisor's sign), so the angle lands in [−π, π).
func AngleNormalize(x float64) float64 {
	return floorMod(x+math.Pi, 2*math.Pi) - math.Pi
}

// floorMod is Python's / NumPy's float modulo: fmod, then shifted by the divisor when the
// remainder's sign differs from the divisor's.
func floorMod(a, b float64) float64 {
	m := math.Mod(a, b)
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}
