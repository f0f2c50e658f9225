package envs

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/scalelab/scalelab/framework"
)

// CartPole constants, as in gymnasium/envs/classic_control/cartpole.py.
const (
	cartGravity       = 9.8
	cartMassCart      = 1.0
	cartMassPole      = 0.1
	cartTotalMass     = cartMassPole + cartMassCart
	cartLength        = 0.5 // half the pole's length
	cartPoleMassLen   = cartMassPole * cartLength
	cartForceMag      = 10.0
	cartTau           = 0.02 // seconds between state updates
	cartXThreshold    = 2.4
	cartMaxSteps      = 500 // CartPole-v1's TimeLimit
	cartResetBound    = 0.05
	cartThetaDegLimit = 12
)

// cartThetaThreshold is 12·2π/360 rad, computed as Gymnasium does.
var cartThetaThreshold = cartThetaDegLimit * 2 * math.Pi / 360

// CartPole is Gymnasium's CartPole-v1: push a cart left (action 0) or right (action 1) by
// a fixed force to keep a pole upright. The state (x, ẋ, θ, θ̇) is integrated with explicit
// Euler over τ = 0.02 s:
//
//	temp = (F + mₚl·θ̇²·sin θ)/M,   θ̈ = (g·sin θ − cos θ·temp)/(l·(4/3 − mₚcos²θ/M)),
//	ẍ = temp − mₚl·θ̈·cos θ/M,      x ← x + τẋ, ẋ ← ẋ + τẍ, θ ← θ + τθ̇, θ̇ ← θ̇ + τθ̈.
//
// The episode terminates when |x| > 2.4 or |θ| > 12°, and is truncated at 500 steps; every
// step, the terminating one included, earns reward 1. Reset draws each state variable from
// U(−0.05, 0.05).
type CartPole struct {
	state                 [4]float64
	steps                 int
	started, closed       bool
	stepsBeyondTerminated int // −1 while the episode has not terminated
}

var _ framework.Env = (*CartPole)(nil)

// NewCartPole returns a CartPole-v1; call Reset before Step.
func NewCartPole() *CartPole { return &CartPole{stepsBeyondTerminated: -1} }

// Specs returns the four observed features and the two-action discrete space.
func (c *CartPole) Specs() framework.Specs {
	th2 := 2 * cartThetaThreshold
	return framework.Specs{
		Features: []framework.FeatureSpec{
			{Name: "cart_position", Unit: "m", Description: "cart position", Low: -2 * cartXThreshold, High: 2 * cartXThreshold},
			{Name: "cart_velocity", Unit: "m/s", Description: "cart velocity", Low: -float32Max, High: float32Max},
			{Name: "pole_angle", Unit: "rad", Description: "pole angle from upright", Low: -th2, High: th2},
			{Name: "pole_angular_velocity", Unit: "rad/s", Description: "pole angular velocity", Low: -float32Max, High: float32Max},
		},
		Action:       framework.ActionSpace{Kind: framework.Discrete, N: 2, Names: []string{"push_right"}},
		ActionDesign: CartPoleV1,
	}
}

// State returns the full-precision state (x, ẋ, θ, θ̇).
func (c *CartPole) State() [4]float64 { return c.state }

// SetState sets the state (for tests and scripted starts) and starts an episode at step 0.
func (c *CartPole) SetState(s [4]float64) {
	c.state, c.steps, c.started, c.stepsBeyondTerminated = s, 0, true, -1
}

// Reset starts an episode: each state variable from U(−0.05, 0.05) drawn from a PCG
// generator seeded with seed.
func (c *CartPole) Reset(_ context.Context, seed uint64) (framework.Observation, error) {
	if c.closed {
		return framework.Observation{}, errClosed
	}
	rng := rand.New(rand.NewPCG(seed, 0x63617274706f6c65)) // "cartpole"
	for i := range c.state {
		c.state[i] = -cartResetBound + 2*cartResetBound*rng.Float64()
	}
	c.steps, c.started, c.stepsBeyondTerminated = 0, true, -1
	return c.obs(), nil
}

// Step applies action 0 (push left) or 1 (push right) for one τ.
func (c *CartPole) Step(_ context.Context, a framework.Action) (framework.StepResult, error) {
	if c.closed {
		return framework.StepResult{}, errClosed
	}
	if !c.started {
		return framework.StepResult{}, fmt.Errorf("cartpole: Step before Reset")
	}
	if len(a.Values) != 1 || (a.Values[0] != 0 && a.Values[0] != 1) {
		return framework.StepResult{}, fmt.Errorf("cartpole: action %v is not 0 or 1", a.Values)
	}
	x, xDot, theta, thetaDot := c.state[0], c.state[1], c.state[2], c.state[3]
	force := -cartForceMag
	if a.Values[0] == 1 {
		force = cartForceMag
	}
	cosT, sinT := math.Cos(theta), math.Sin(theta)
	temp := (force + cartPoleMassLen*thetaDot*thetaDot*sinT) / cartTotalMass
	thetaAcc := (cartGravity*sinT - cosT*temp) / (cartLength * (4.0/3.0 - cartMassPole*cosT*cosT/cartTotalMass))
	xAcc := temp - cartPoleMassLen*thetaAcc*cosT/cartTotalMass
	// Explicit Euler: positions advance with the old velocities.
	x += cartTau * xDot
	xDot += cartTau * xAcc
	theta += cartTau * thetaDot
	thetaDot += cartTau * thetaAcc
	c.state = [4]float64{x, xDot, theta, thetaDot}
	c.steps++

	terminated := x < -cartXThreshold || x > cartXThreshold || theta < -cartThetaThreshold || theta > cartThetaThreshold
	reward := 1.0
	if terminated {
		c.stepsBeyondTerminated++
		if c.stepsBeyondTerminated > 0 { // stepping an episode that already terminated
			reward = 0
		}
	}
	return framework.StepResult{
		Obs:        c.obs(),
		Reward:     reward,
		Terminated: terminated,
		Truncated:  c.steps >= cartMaxSteps,
	}, nil
}

func (c *CartPole) obs() framework.Observation {
	v := make([]float64, 4)
	for i, s := range c.state {
		v[i] = f32(s)
	}
	return framework.Observation{Values: v, Valid: []bool{true, true, true, true}}
}

// Close marks the environment closed.
func (c *CartPole) Close() error { c.closed = true; return nil }
