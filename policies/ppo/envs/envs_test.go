package envs

import (
	"context"
	"math"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

var ctx = context.Background()

func act(v float64) framework.Action { return framework.Action{Values: []float64{v}} }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestCartPoleFirstStepsFromRest derives two steps from the upright rest state by hand.
// With θ = θ̇ = 0 and force +10: sin θ = 0, cos θ = 1, so
//
//	temp = F/M = 10/1.1 = 100/11
//	θ̈ = (0 − temp)/(l·(4/3 − mₚ/M)) = −(100/11)/(0.5·41/33) = −600/41
//	ẍ = temp − mₚl·θ̈/M = 100/11 + 0.05·(600/41)/1.1 = 4400/451
//
// Explicit Euler moves positions with the old velocities: after step 1
// (x, ẋ, θ, θ̇) = (0, 0.02·4400/451, 0, 0.02·(−600/41)) = (0, 88/451, 0, −12/41).
// θ is still 0 after step 1, so step 2 has the same accelerations:
// (0.02·88/451, 176/451, 0.02·(−12/41), −24/41).
func TestCartPoleFirstStepsFromRest(t *testing.T) {
	c := NewCartPole()
	c.SetState([4]float64{})
	want := [][4]float64{
		{0, 88.0 / 451, 0, -12.0 / 41},
		{0.02 * 88 / 451, 176.0 / 451, 0.02 * -12 / 41, -24.0 / 41},
	}
	for i, w := range want {
		res, err := c.Step(ctx, act(1))
		if err != nil {
			t.Fatal(err)
		}
		s := c.State()
		for k := range s {
			if !near(s[k], w[k], 1e-14) {
				t.Errorf("step %d state[%d] = %v, want %v", i+1, k, s[k], w[k])
			}
			if res.Obs.Values[k] != float64(float32(w[k])) {
				t.Errorf("step %d obs[%d] = %v, want float32(%v)", i+1, k, res.Obs.Values[k], w[k])
			}
		}
		if res.Reward != 1 || res.Terminated || res.Truncated {
			t.Errorf("step %d: reward %v terminated %v truncated %v, want 1 false false", i+1, res.Reward, res.Terminated, res.Truncated)
		}
	}
}

// TestCartPoleTiltedSteps checks a state with every term non-zero against Gymnasium's
// step written out in plain Python floats (cartpole.py's formulas, same operation
// order): from (0.01, −0.2, 0.05, 0.3) push left, then right.
func TestCartPoleTiltedSteps(t *testing.T) {
	c := NewCartPole()
	c.SetState([4]float64{0.01, -0.2, 0.05, 0.3})
	steps := []struct {
		a    float64
		want [4]float64
	}{
		{0, [4]float64{0.006, -0.3957976546439626, 0.056, 0.6080233136061515}},
		{1, [4]float64{-0.0019159530928792527, -0.20150149737148554, 0.06816046627212304, 0.33349133901171724}},
	}
	for i, s := range steps {
		if _, err := c.Step(ctx, act(s.a)); err != nil {
			t.Fatal(err)
		}
		got := c.State()
		for k := range got {
			if !near(got[k], s.want[k], 1e-13) {
				t.Errorf("step %d state[%d] = %v, want %v", i+1, k, got[k], s.want[k])
			}
		}
	}
}

func TestCartPoleTermination(t *testing.T) {
	th := 12 * 2 * math.Pi / 360 // 0.20943951… rad
	tests := []struct {
		name  string
		state [4]float64
		term  bool
	}{
		// x' = x + 0.02·ẋ.
		{"cart leaves right", [4]float64{2.39, 1, 0, 0}, true},  // x' = 2.41 > 2.4
		{"cart leaves left", [4]float64{-2.39, -1, 0, 0}, true}, // x' = −2.41
		{"cart stays", [4]float64{2.39, 0.25, 0, 0}, false},     // x' = 2.395
		{"pole falls", [4]float64{0, 0, th - 0.001, 0.1}, true}, // θ' = θmax + 0.001
		{"pole falls left", [4]float64{0, 0, -th + 0.001, -0.1}, true},
		{"pole holds", [4]float64{0, 0, th - 0.01, 0.1}, false}, // θ' = θmax − 0.008
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCartPole()
			c.SetState(tc.state)
			res, err := c.Step(ctx, act(1))
			if err != nil {
				t.Fatal(err)
			}
			if res.Terminated != tc.term || res.Truncated {
				t.Fatalf("terminated %v truncated %v, want %v false", res.Terminated, res.Truncated, tc.term)
			}
			if res.Reward != 1 {
				t.Fatalf("reward %v, want 1 (the terminating step earns 1 too)", res.Reward)
			}
		})
	}
}

// TestCartPoleStepAfterTermination: Gymnasium gives reward 0 for steps taken after the
// episode terminated (while the state stays out of bounds).
func TestCartPoleStepAfterTermination(t *testing.T) {
	c := NewCartPole()
	c.SetState([4]float64{2.39, 1, 0, 0})
	for i, want := range []float64{1, 0, 0} { // x = 2.41, 2.43, 2.45…
		res, err := c.Step(ctx, act(1))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Terminated || res.Reward != want {
			t.Fatalf("step %d: terminated %v reward %v, want true %v", i+1, res.Terminated, res.Reward, want)
		}
	}
}

// TestCartPoleTruncatesAt500 balances the pole with a simple controller (push towards
// where the pole falls) and checks the time limit: truncated exactly at step 500.
func TestCartPoleTruncatesAt500(t *testing.T) {
	c := NewCartPole()
	obs, err := c.Reset(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 500; step++ {
		a := 0.0
		if obs.Values[2]+0.5*obs.Values[3]+0.05*obs.Values[0]+0.1*obs.Values[1] > 0 {
			a = 1
		}
		res, err := c.Step(ctx, act(a))
		if err != nil {
			t.Fatal(err)
		}
		if res.Terminated {
			t.Fatalf("controller failed at step %d", step)
		}
		if res.Truncated != (step == 500) {
			t.Fatalf("step %d truncated = %v", step, res.Truncated)
		}
		obs = res.Obs
	}
}

func TestCartPoleReset(t *testing.T) {
	c := NewCartPole()
	a, _ := c.Reset(ctx, 42)
	b, _ := NewCartPole().Reset(ctx, 42)
	d, _ := c.Reset(ctx, 43)
	same := true
	for i := range a.Values {
		if a.Values[i] != b.Values[i] {
			t.Fatalf("same seed, different reset: %v vs %v", a.Values, b.Values)
		}
		same = same && a.Values[i] == d.Values[i]
	}
	if same {
		t.Fatal("seeds 42 and 43 gave the same reset state")
	}
	// U(−0.05, 0.05) per variable over many seeds: within bounds, mean ≈ 0, var ≈ 0.1²/12.
	const n = 4000
	sum, sq := 0.0, 0.0
	for s := uint64(0); s < n; s++ {
		o, _ := c.Reset(ctx, s)
		for _, v := range o.Values {
			if v < -0.05 || v > 0.05 {
				t.Fatalf("reset value %v outside ±0.05", v)
			}
			sum += v
			sq += v * v
		}
	}
	m, v := sum/(4*n), sq/(4*n)
	if math.Abs(m) > 0.002 || math.Abs(v-0.01/12) > 0.0001 {
		t.Fatalf("reset mean %v var %v, want ≈ 0 and %v", m, v, 0.01/12)
	}
}

func TestCartPoleRejectsBadUse(t *testing.T) {
	c := NewCartPole()
	if _, err := c.Step(ctx, act(1)); err == nil {
		t.Fatal("Step before Reset succeeded")
	}
	c.Reset(ctx, 1)
	for _, a := range []framework.Action{act(2), act(0.5), act(-1), {Values: []float64{0, 1}}} {
		if _, err := c.Step(ctx, a); err == nil {
			t.Fatalf("action %v accepted", a.Values)
		}
	}
	c.Close()
	if _, err := c.Reset(ctx, 1); err == nil {
		t.Fatal("Reset after Close succeeded")
	}
}

// TestPendulumSteps derives steps by hand (g = 10, m = l = 1, dt = 0.05, so
// θ̇' = θ̇ + (15·sin θ + 3u)·0.05 and θ' = θ + θ̇'·0.05; reward −(norm(θ)² + 0.1θ̇² + 0.001u²)).
func TestPendulumSteps(t *testing.T) {
	tests := []struct {
		name               string
		th, thd, u         float64
		wantTh, wantThd, r float64
	}{
		// Upright at rest, u = 2: θ̇' = 6·0.05 = 0.3, θ' = 0.015, r = −0.001·4.
		{"upright push", 0, 0, 2, 0.015, 0.3, -0.004},
		// θ = π/2, θ̇ = 1, u = −1: θ̇' = 1 + (15 − 3)·0.05 = 1.6, θ' = π/2 + 0.08,
		// r = −((π/2)² + 0.1 + 0.001).
		{"horizontal", math.Pi / 2, 1, -1, math.Pi/2 + 0.08, 1.6, -(math.Pi*math.Pi/4 + 0.101)},
		// The torque is clipped to 2 before it enters dynamics and cost.
		{"torque clip", 0, 0, 5, 0.015, 0.3, -0.004},
		// θ̇' = 7.9 + (15 + 6)·0.05 = 8.95 → clipped to 8; θ' = π/2 + 8·0.05.
		{"speed clip", math.Pi / 2, 7.9, 2, math.Pi/2 + 0.4, 8, -(math.Pi*math.Pi/4 + 0.1*7.9*7.9 + 0.004)},
		// Gymnasium's formulas in plain Python floats: θ = 3 (< π, so norm(θ) = 3).
		{"python reference", 3.0, -2.5, 0.7, 2.885542000302245, -2.2891599939550997, -9.62549},
		// θ = −4 wraps: norm(−4) = −4 + 2π; speed clipped at +8.
		{"python reference wrap", -4.0, 7.9, -2.0, -3.6, 8, -11.457935146920741},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPendulum()
			p.SetState(tc.th, tc.thd)
			res, err := p.Step(ctx, act(tc.u))
			if err != nil {
				t.Fatal(err)
			}
			th, thd := p.State()
			if !near(th, tc.wantTh, 1e-13) || !near(thd, tc.wantThd, 1e-13) || !near(res.Reward, tc.r, 1e-12) {
				t.Fatalf("θ %v θ̇ %v r %v, want %v %v %v", th, thd, res.Reward, tc.wantTh, tc.wantThd, tc.r)
			}
			wantObs := []float64{float64(float32(math.Cos(tc.wantTh))), float64(float32(math.Sin(tc.wantTh))), float64(float32(tc.wantThd))}
			for i := range wantObs {
				if !near(res.Obs.Values[i], wantObs[i], 1e-7) {
					t.Fatalf("obs %v, want %v", res.Obs.Values, wantObs)
				}
			}
			if res.Terminated || res.Truncated {
				t.Fatal("pendulum ended after one step")
			}
		})
	}
}

func TestPendulumTruncatesAt200(t *testing.T) {
	p := NewPendulum()
	p.Reset(ctx, 9)
	for step := 1; step <= 200; step++ {
		res, err := p.Step(ctx, act(0))
		if err != nil {
			t.Fatal(err)
		}
		if res.Terminated || res.Truncated != (step == 200) {
			t.Fatalf("step %d: terminated %v truncated %v", step, res.Terminated, res.Truncated)
		}
	}
}

func TestPendulumReset(t *testing.T) {
	p := NewPendulum()
	const n = 4000
	var sTh, sThd float64
	for s := uint64(0); s < n; s++ {
		o, _ := p.Reset(ctx, s)
		th, thd := p.State()
		if th < -math.Pi || th > math.Pi || thd < -1 || thd > 1 {
			t.Fatalf("reset state (%v, %v) out of U(−π,π)×U(−1,1)", th, thd)
		}
		if o.Values[0] != float64(float32(math.Cos(th))) || o.Values[2] != float64(float32(thd)) {
			t.Fatalf("observation %v does not match state (%v, %v)", o.Values, th, thd)
		}
		sTh += th * th
		sThd += thd * thd
	}
	// E[θ²] = π²/3 for U(−π, π); E[θ̇²] = 1/3 for U(−1, 1).
	if math.Abs(sTh/n-math.Pi*math.Pi/3) > 0.15 || math.Abs(sThd/n-1.0/3) > 0.02 {
		t.Fatalf("second moments %v %v, want ≈ %v %v", sTh/n, sThd/n, math.Pi*math.Pi/3, 1.0/3)
	}
}

// TestAngleNormalize checks the floor modulo: ((x + π) mod 2π) − π lands in [−π, π).
// Go's math.Mod truncates towards zero and would give −7 for −7 (−7 + π = −3.858…,
// truncated mod keeps the sign), where Python's % gives −7 + 2π.
func TestAngleNormalize(t *testing.T) {
	tests := []struct{ x, want float64 }{
		{0, 0},
		{1, 1},
		{math.Pi / 2, math.Pi / 2},
		{3 * math.Pi / 2, -math.Pi / 2},
		{-3 * math.Pi / 2, math.Pi / 2},
		{math.Pi, -math.Pi}, // (2π mod 2π) − π
		{-math.Pi, -math.Pi},
		{7, 7 - 2*math.Pi},
		{-7, -7 + 2*math.Pi},
		{-7, -0.7168146928204138}, // Python: ((-7 + math.pi) % (2*math.pi)) - math.pi
		{20 * math.Pi, 0},
	}
	for _, tc := range tests {
		if got := AngleNormalize(tc.x); !near(got, tc.want, 1e-12) {
			t.Errorf("AngleNormalize(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, name := range []string{"cartpole-v1", "CartPole-v1", "pendulum-v1", "Pendulum-v1"} {
		e, err := New(name)
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		s := e.Specs()
		if len(s.Features) == 0 || s.Action.Dim() != 1 {
			t.Fatalf("%s specs %+v", name, s)
		}
	}
	if _, err := New("mountaincar-v0"); err == nil {
		t.Fatal("unknown name accepted")
	}
	if got := Names(); len(got) != 2 || got[0] != CartPoleV1 || got[1] != PendulumV1 {
		t.Fatalf("Names() = %v", got)
	}
}
