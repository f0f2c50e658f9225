package ppo

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestGAEHandWorked works GAE out by hand for one environment, γ = λ = 0.5 (γλ = 0.25),
// rewards (1, 2, 3, 4), values all 1, V(s₄) = 10, and the episode ending at step 1:
//
//	t=3: δ = 4 + 0.5·10 − 1 = 8                 A = 8
//	t=2: δ = 3 + 0.5·1 − 1 = 2.5                A = 2.5 + 0.25·8 = 4.5
//	t=1: ends → δ = 2 − 1 = 1                   A = 1 (A₂ is the next episode's)
//	t=0: δ = 1 + 0.5·1 − 1 = 0.5                A = 0.5 + 0.25·1 = 0.75
//
// Truncation at t=1 is the same unless bootstrapping with V(final obs) = 4:
// t=1: δ = 2 + 0.5·4 − 1 = 3, A = 3; t=0: A = 0.5 + 0.25·3 = 1.25.
func TestGAEHandWorked(t *testing.T) {
	tests := []struct {
		name      string
		term      bool
		bootstrap bool
		want      []float64
	}{
		{"termination", true, false, []float64{0.75, 1, 4.5, 8}},
		{"termination ignores bootstrap", true, true, []float64{0.75, 1, 4.5, 8}},
		{"truncation as termination (CleanRL)", false, false, []float64{0.75, 1, 4.5, 8}},
		{"truncation bootstrapped", false, true, []float64{1.25, 3, 4.5, 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := gaeInput{
				T: 4, N: 1,
				rewards:     []float64{1, 2, 3, 4},
				values:      []float64{1, 1, 1, 1},
				ended:       []bool{false, true, false, false},
				terminated:  []bool{false, tc.term, false, false},
				finalValues: []float64{0, 4, 0, 0},
				nextValues:  []float64{10},
				bootstrap:   tc.bootstrap,
			}
			adv, ret := make([]float64, 4), make([]float64, 4)
			gae(in, 0.5, 0.5, adv, ret)
			for i := range adv {
				if !near(adv[i], tc.want[i], 1e-15) || !near(ret[i], tc.want[i]+1, 1e-15) {
					t.Fatalf("advantages %v returns %v, want %v and +1", adv, ret, tc.want)
				}
			}
		})
	}
}

// cleanrlGAE is CleanRL ppo.py's loop transcribed literally: dones[t] flags that the
// observation at t starts a new episode (the previous step ended), next_done the same
// for the observation after the rollout.
func cleanrlGAE(T, N int, gamma, lam float64, rewards, values, dones, nextDone, nextValue []float64) []float64 {
	adv := make([]float64, T*N)
	for e := 0; e < N; e++ {
		last := 0.0
		for t := T - 1; t >= 0; t-- {
			var nnt, nv float64
			if t == T-1 {
				nnt, nv = 1-nextDone[e], nextValue[e]
			} else {
				nnt, nv = 1-dones[(t+1)*N+e], values[(t+1)*N+e]
			}
			delta := rewards[t*N+e] + gamma*nv*nnt - values[t*N+e]
			last = delta + gamma*lam*nnt*last
			adv[t*N+e] = last
		}
	}
	return adv
}

// TestGAEMatchesCleanRL compares with CleanRL's loop on random rollouts (3 envs, episodes
// ending at random steps), where its done flags are ours shifted by one step.
func TestGAEMatchesCleanRL(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const T, N = 17, 3
	rew, val := make([]float64, T*N), make([]float64, T*N)
	ended, dones := make([]bool, T*N), make([]float64, T*N)
	next, nextDone := make([]float64, N), make([]float64, N)
	for i := range rew {
		rew[i], val[i] = rng.NormFloat64(), rng.NormFloat64()
		ended[i] = rng.Float64() < 0.2
	}
	for e := 0; e < N; e++ {
		next[e] = rng.NormFloat64()
		for t := 1; t < T; t++ {
			if ended[(t-1)*N+e] {
				dones[t*N+e] = 1
			}
		}
		if ended[(T-1)*N+e] {
			nextDone[e] = 1
		}
	}
	adv, ret := make([]float64, T*N), make([]float64, T*N)
	gae(gaeInput{T: T, N: N, rewards: rew, values: val, ended: ended, terminated: ended, finalValues: make([]float64, T*N), nextValues: next}, 0.99, 0.95, adv, ret)
	want := cleanrlGAE(T, N, 0.99, 0.95, rew, val, dones, nextDone, next)
	for i := range adv {
		if !near(adv[i], want[i], 1e-12) {
			t.Fatalf("index %d: advantage %v, CleanRL %v", i, adv[i], want[i])
		}
	}
}

// TestPGTerm checks the clipped surrogate max(−A·r, −A·clip(r, 0.8, 1.2)) and its
// derivative w.r.t. r in each region (ε = 0.2).
func TestPGTerm(t *testing.T) {
	tests := []struct {
		name         string
		A, r         float64
		loss, dlossR float64
	}{
		{"A>0 r above: clipped, no gradient", 1, 1.5, -1.2, 0},
		{"A>0 r below: unclipped", 1, 0.5, -0.5, -1},
		{"A<0 r above: unclipped", -1, 1.5, 1.5, 1},
		{"A<0 r below: clipped, no gradient", -1, 0.5, 0.8, 0},
		{"inside the trust region", 2, 1.1, -2.2, -2},
		{"on the upper bound (tie, clamp passes)", 2, 1.2, -2.4, -2},
		{"zero advantage", 0, 1.7, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, d := pgTerm(tc.A, tc.r, 0.2)
			if !near(l, tc.loss, 1e-15) || !near(d, tc.dlossR, 1e-15) {
				t.Fatalf("pgTerm(%v, %v) = %v, %v; want %v, %v", tc.A, tc.r, l, d, tc.loss, tc.dlossR)
			}
		})
	}
}

// TestVTerm checks the value error with V_old = 1, R = 2, ε = 0.2.
func TestVTerm(t *testing.T) {
	tests := []struct {
		name    string
		v       float64
		clipped bool
		loss, d float64
	}{
		// V = 1.5: clipped value 1.2; (1.5−2)² = 0.25 < (1.2−2)² = 0.64 → the clipped error,
		// whose clamp is saturated → no gradient.
		{"clipped side wins", 1.5, true, 0.64, 0},
		// V = 0.5: clipped value 0.8; 2.25 > 1.44 → unclipped, gradient 2(V − R) = −3.
		{"unclipped side wins", 0.5, true, 2.25, -3},
		// V = 1.1: inside the clip, both sides equal → full gradient 2(1.1 − 2) = −1.8.
		{"inside the clip", 1.1, true, 0.81, -1.8},
		{"no clipping", 1.5, false, 0.25, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, d := vTerm(tc.v, 1, 2, 0.2, tc.clipped)
			if !near(l, tc.loss, 1e-12) || !near(d, tc.d, 1e-12) {
				t.Fatalf("vTerm(%v) = %v, %v; want %v, %v", tc.v, l, d, tc.loss, tc.d)
			}
		})
	}
}

// TestKLEstimators: for log-ratios ln 2, ln ½, 0 the ratios are 2, ½, 1, so
// approx_kl = mean((r − 1) − log r) = ((1 − ln 2) + (−½ + ln 2) + 0)/3 = 1/6 and
// old_approx_kl = mean(−log r) = 0.
func TestKLEstimators(t *testing.T) {
	var old, kl float64
	for _, lr := range []float64{math.Ln2, -math.Ln2, 0} {
		_, o, k := klTerms(lr)
		old += o / 3
		kl += k / 3
	}
	if !near(kl, 1.0/6, 1e-15) || !near(old, 0, 1e-15) {
		t.Fatalf("approx_kl %v old_approx_kl %v, want 1/6 and 0", kl, old)
	}
	// (r − 1) − log r ≥ 0 for every r (log r ≤ r − 1).
	for _, lr := range []float64{-3, -0.1, 0.01, 2} {
		if _, _, k := klTerms(lr); k < 0 {
			t.Fatalf("approx_kl term %v < 0 at log r = %v", k, lr)
		}
	}
}

// TestAnnealedLR: CleanRL sets lr·(1 − (i−1)/N) at the start of iteration i.
func TestAnnealedLR(t *testing.T) {
	const lr, n = 2.5e-4, 976
	tests := []struct {
		i    int
		want float64
	}{
		{1, lr},
		{2, lr * 975 / 976},
		{489, lr * 488 / 976}, // half way: lr/2
		{976, lr / 976},       // the last iteration: never zero
	}
	for _, tc := range tests {
		if got := annealedLR(lr, tc.i, n); !near(got, tc.want, 1e-18) {
			t.Errorf("iteration %d: %v, want %v", tc.i, got, tc.want)
		}
	}
	if c := DefaultConfig(); c.Iterations() != 976 || int64(c.Iterations()*c.BatchSize()) != 499712 {
		t.Fatalf("CleanRL defaults give %d iterations", c.Iterations())
	}
}

// TestAdam works two PyTorch Adam steps by hand with lr 0.1, ε 1e-5, g = 2 then −1:
//
//	t=1: m = 0.2, v = 0.004, m̂ = 0.2/0.1 = 2, √v̂ = √(0.004/0.001) = 2 → Δ = 0.1·2/(2 + 1e-5)
//	t=2: m = 0.18 − 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996,
//	     Δ = 0.1/(1 − 0.81) · 0.08 / (√0.004996/√(1 − 0.998001) + 1e-5)
func TestAdam(t *testing.T) {
	a := newAdam(1, 1e-5)
	p := []float64{1}
	a.step(p, []float64{2}, 0.1)
	want := 1 - 0.1*2/(2+1e-5)
	if !near(p[0], want, 1e-15) {
		t.Fatalf("after step 1: %v, want %v", p[0], want)
	}
	a.step(p, []float64{-1}, 0.1)
	want -= 0.1 / (1 - 0.81) * 0.08 / (math.Sqrt(0.004996)/math.Sqrt(1-0.998001) + 1e-5)
	if !near(p[0], want, 1e-12) {
		t.Fatalf("after step 2: %v, want %v", p[0], want)
	}
}

// TestClipGradNorm: (3, 4) has norm 5; clipping to 0.5 scales by 0.5/(5 + 1e-6).
func TestClipGradNorm(t *testing.T) {
	g := []float64{3, 4}
	if n := clipGradNorm(g, 0.5); n != 5 {
		t.Fatalf("norm %v, want 5", n)
	}
	s := 0.5 / (5 + 1e-6)
	if !near(g[0], 3*s, 1e-15) || !near(g[1], 4*s, 1e-15) {
		t.Fatalf("clipped %v", g)
	}
	g = []float64{0.3, 0.4} // norm exactly 0.5: PyTorch still scales by 0.5/(0.5 + 1e-6)
	clipGradNorm(g, 0.5)
	if s := 0.5 / (0.5 + 1e-6); !near(g[0], 0.3*s, 1e-16) {
		t.Fatalf("gradient at the limit: %v", g)
	}
	g = []float64{0.24, 0.32} // norm 0.4: coefficient 0.5/0.400001 > 1, unchanged
	clipGradNorm(g, 0.5)
	if g[0] != 0.24 || g[1] != 0.32 {
		t.Fatalf("gradient under the limit changed: %v", g)
	}
	g = []float64{30, 40}
	clipGradNorm(g, 0) // disabled
	if g[0] != 30 {
		t.Fatal("max_grad_norm 0 clipped")
	}
}

// TestExplainedVariance: y = (1, 2, 3, 4) has population variance 1.25; predictions off
// by (0, 0, 0, 1) leave residuals with variance 0.1875 → 1 − 0.1875/1.25 = 0.85.
func TestExplainedVariance(t *testing.T) {
	if ev := explainedVariance([]float64{1, 2, 3, 3}, []float64{1, 2, 3, 4}); !near(ev, 0.85, 1e-15) {
		t.Fatalf("explained variance %v, want 0.85", ev)
	}
	if ev := explainedVariance([]float64{1, 2}, []float64{3, 3}); !math.IsNaN(ev) {
		t.Fatalf("constant targets: %v, want NaN", ev)
	}
}

// TestRunningMeanStd: Gymnasium's statistics start as a pseudo-batch of count ε = 1e-4,
// mean 0, variance 1. Folding samples x₁…xₙ in one at a time with the parallel formula is
// exact, so the result is the pooled moments of that pseudo-batch and the samples:
//
//	μ = Σx/(n + ε),   σ² = (ε·1 + ε·μ² + Σ(x − μ)²)/(n + ε).
func TestRunningMeanStd(t *testing.T) {
	xs := []float64{1, 3, 5, -2}
	r := NewRunningMeanStd(1)
	for _, x := range xs {
		r.Update([]float64{x}, nil)
	}
	const eps = 1e-4
	n := float64(len(xs))
	mu := (1 + 3 + 5 - 2) / (n + eps)
	ss := 0.0
	for _, x := range xs {
		ss += (x - mu) * (x - mu)
	}
	v := (eps + eps*mu*mu + ss) / (n + eps)
	if !near(r.Mean[0], mu, 1e-12) || !near(r.Var[0], v, 1e-12) || !near(r.Count[0], n+eps, 1e-12) {
		t.Fatalf("mean %v var %v count %v, want %v %v %v", r.Mean[0], r.Var[0], r.Count[0], mu, v, n+eps)
	}
	out := []float64{0}
	r.Normalize([]float64{10}, out, 10)
	if want := (10 - mu) / math.Sqrt(v+1e-8); !near(out[0], want, 1e-12) {
		t.Fatalf("normalised %v, want %v", out[0], want)
	}
	r.Normalize([]float64{1e6}, out, 10)
	if out[0] != 10 {
		t.Fatalf("clip: %v, want 10", out[0])
	}
	// Invalid entries do not move their feature's statistics.
	r2 := NewRunningMeanStd(2)
	r2.Update([]float64{5, 7}, []bool{true, false})
	if r2.Count[1] != 1e-4 || r2.Mean[1] != 0 || r2.Count[0] != 1+1e-4 {
		t.Fatalf("masked update: %+v", r2)
	}
	// Merging two halves equals feeding everything into one.
	a, b, all := NewRunningMeanStd(1), NewRunningMeanStd(1), NewRunningMeanStd(1)
	for i, x := range xs {
		all.Update([]float64{x}, nil)
		if i < 2 {
			a.Update([]float64{x}, nil)
		} else {
			b.Update([]float64{x}, nil)
		}
	}
	a.Merge(b)
	// a's prior and b's prior each count ε (mean 0, var 1): the pooled result equals the
	// single stream with a doubled prior.
	mu2 := (1 + 3 + 5 - 2) / (n + 2*eps)
	ss2 := 0.0
	for _, x := range xs {
		ss2 += (x - mu2) * (x - mu2)
	}
	if !near(a.Mean[0], mu2, 1e-12) || !near(a.Var[0], (2*eps+2*eps*mu2*mu2+ss2)/(n+2*eps), 1e-12) {
		t.Fatalf("merged mean %v var %v", a.Mean[0], a.Var[0])
	}
}

// TestRewardNormalizer: with γ = 0.5 and rewards 1, 1, 1, the second step terminating,
// Gymnasium 0.29 tracks G = γ·G·(1 − terminated) + r: G = 1, then 1 (the termination
// resets before adding), then 1.5; each reward is divided by √(var(G) + 1e-8) with the
// statistics including the current G, then clipped to ±10 (CleanRL's TransformReward).
// The first two returns are equal (1, 1), so the variance is tiny (≈ ε-prior only) and
// those rewards are clipped (1/√(≈2e-4) ≈ 70.7 → 10); the third sees var(1, 1, 1.5) ≈ 0.056
// and is 1/√0.056 ≈ 4.2.
func TestRewardNormalizer(t *testing.T) {
	n := newRewardNormalizer(0.5, 10)
	gs := []float64{1, 1, 1.5}
	terms := []bool{false, true, false}
	ref := NewRunningMeanStd(1)
	for i, g := range gs {
		got := n.normalize(1, terms[i])
		if !near(n.Return, g, 1e-15) {
			t.Fatalf("step %d: return %v, want %v", i, n.Return, g)
		}
		ref.Update([]float64{g}, nil)
		want := min(1/math.Sqrt(ref.Var[0]+1e-8), 10)
		if (i < 2) != (want == 10) {
			t.Fatalf("step %d: the clip should bind exactly at the first two steps (%v)", i, want)
		}
		if !near(got, want, 1e-12) {
			t.Fatalf("step %d: reward %v, want %v", i, got, want)
		}
	}
	// The clip: a huge reward relative to a tiny variance is clipped to ±10.
	c := newRewardNormalizer(0.99, 10)
	for i := 0; i < 100; i++ {
		c.normalize(0, false)
	}
	if got := c.normalize(-1e6, false); got != -10 {
		t.Fatalf("clipped reward %v, want −10", got)
	}
}

func TestTranspose(t *testing.T) {
	for _, s := range [][2]int{{1, 1}, {3, 17}, {128, 64}, {9, 8}, {8, 9}} {
		m, n := s[0], s[1]
		a, tr := make([]float64, m*n), make([]float64, m*n)
		for i := range a {
			a[i] = float64(i)
		}
		transpose(m, n, a, tr)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				if tr[j*m+i] != a[i*n+j] {
					t.Fatalf("%d×%d: t[%d][%d] = %v, want %v", m, n, j, i, tr[j*m+i], a[i*n+j])
				}
			}
		}
	}
}

// TestGemmNT checks the kernel against the definition C[i][j] = bias[j] + Σₖ A[i][k]·B[j][k]
// on shapes that exercise both paths (k below and from dotMinK), the four-column blocks
// and the remainder columns.
func TestGemmNT(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 8, 2}, {2, 6, 64}, {3, 9, 15}, {5, 7, 16}} {
		m, n, k := s[0], s[1], s[2]
		a, b, bias, c := make([]float64, m*k), make([]float64, n*k), make([]float64, n), make([]float64, m*n)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		for i := range bias {
			bias[i] = rng.NormFloat64()
		}
		for _, withBias := range []bool{false, true} {
			var bb []float64
			if withBias {
				bb = bias
			}
			gemmNT(m, n, k, a, b, c, bb)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					want := 0.0
					if withBias {
						want = bias[j]
					}
					for p := 0; p < k; p++ {
						want += a[i*k+p] * b[j*k+p]
					}
					if !near(c[i*n+j], want, 1e-12) {
						t.Fatalf("%v bias %v: C[%d][%d] = %v, want %v", s, withBias, i, j, c[i*n+j], want)
					}
				}
			}
		}
	}
}
