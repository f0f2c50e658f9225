package algorithm

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestTolerancesIsWithin(t *testing.T) {
	tests := []struct {
		name  string
		tol   Tolerances
		ratio float64
		want  bool
	}{
		// The band is [1 − down, 1 + up], bounds included.
		{"upper bound included", UniformTolerance(0.1), 1.1, true},
		{"just above", UniformTolerance(0.1), 1.1000001, false},
		{"lower bound included", UniformTolerance(0.1), 0.9, true},
		{"just below", UniformTolerance(0.1), 0.8999999, false},
		{"zero tolerance: only 1", UniformTolerance(0), 1.0, true},
		{"zero tolerance: 1.01 scales", UniformTolerance(0), 1.01, false},
		{"asymmetric: 1.15 within up 0.2", Tolerances{ScaleDown: 0.05, ScaleUp: 0.2}, 1.15, true},
		{"asymmetric: 0.92 outside down 0.05", Tolerances{ScaleDown: 0.05, ScaleUp: 0.2}, 0.92, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tol.IsWithin(tt.ratio); got != tt.want {
				t.Errorf("IsWithin(%v) with %v = %v, want %v", tt.ratio, tt.tol, got, tt.want)
			}
		})
	}
}

func TestGetResourceReplicas(t *testing.T) {
	calc := NewReplicaCalculator()
	tol := UniformTolerance(0.1)
	tests := []struct {
		name     string
		current  int32
		target   int32
		tol      Tolerances
		pods     []PodSample
		want     int32
		wantUtil int32
		wantRaw  int64
	}{
		{
			// util = 2700·100/3000 = 90 %, ratio 90/50 = 1.8, ceil(1.8 × 3) = ceil(5.4) = 6.
			name: "scale up, all ready", current: 3, target: 50, tol: tol,
			pods: cpuPods(900, 900, 900), want: 6, wantUtil: 90, wantRaw: 900,
		},
		{
			// util 20 %, ratio 0.4, ceil(0.4 × 4) = ceil(1.6) = 2.
			name: "scale down, all ready", current: 4, target: 50, tol: tol,
			pods: cpuPods(200, 200, 200, 200), want: 2, wantUtil: 20, wantRaw: 200,
		},
		{
			// util 55 %, ratio 1.1 = 1 + 0.1: within tolerance (bound included) → current 3.
			name: "tolerance upper edge holds", current: 3, target: 50, tol: tol,
			pods: cpuPods(550, 550, 550), want: 3, wantUtil: 55, wantRaw: 550,
		},
		{
			// util 56 %, ratio 1.12 > 1.1, ceil(1.12 × 3) = ceil(3.36) = 4.
			name: "just past upper edge scales", current: 3, target: 50, tol: tol,
			pods: cpuPods(560, 560, 560), want: 4, wantUtil: 56, wantRaw: 560,
		},
		{
			// util 45 %, ratio 0.9 = 1 − 0.1: within → current 10.
			name: "tolerance lower edge holds", current: 10, target: 50, tol: tol,
			pods: cpuPods(450, 450, 450, 450, 450, 450, 450, 450, 450, 450), want: 10, wantUtil: 45, wantRaw: 450,
		},
		{
			// util 44 %, ratio 0.88, ceil(0.88 × 10) = ceil(8.8) = 9.
			name: "just past lower edge scales", current: 10, target: 50, tol: tol,
			pods: cpuPods(440, 440, 440, 440, 440, 440, 440, 440, 440, 440), want: 9, wantUtil: 44, wantRaw: 440,
		},
		{
			// util 58 %, ratio 1.16: within up 0.2 → hold.
			name: "per-direction tolerance: up 0.2 holds 1.16", current: 3, target: 50, tol: Tolerances{ScaleDown: 0.05, ScaleUp: 0.2},
			pods: cpuPods(580, 580, 580), want: 3, wantUtil: 58, wantRaw: 580,
		},
		{
			// util 47 %, ratio 0.94 < 1 − 0.05: scales down to ceil(0.94 × 10) = ceil(9.4) = 10 —
			// that equals current; use 20 pods: ceil(0.94 × 20) = ceil(18.8) = 19.
			name: "per-direction tolerance: down 0.05 scales 0.94", current: 20, target: 50, tol: Tolerances{ScaleDown: 0.05, ScaleUp: 0.2},
			pods: cpuPods(470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470, 470),
			want: 19, wantUtil: 47, wantRaw: 470,
		},
		{
			// Utilisation is truncated: 1010·100/2000 = 50.5 → 50 %, ratio exactly 1.0, within a
			// zero tolerance → current 2 (the exact 50.5 % would give ceil(1.01 × 2) = 3).
			name: "utilisation truncates", current: 2, target: 50, tol: UniformTolerance(0),
			pods: cpuPods(505, 505), want: 2, wantUtil: 50, wantRaw: 505,
		},
		{
			// Ready pods: 3 at 900 → util 90 %, ratio 1.8 > 1; the missing pod counts as 0 %:
			// util' = 2700·100/4000 = 67 %, ratio' 1.34, ceil(1.34 × 4) = ceil(5.36) = 6.
			name: "missing pod counts 0 % on scale-up", current: 4, target: 50, tol: tol,
			pods: join(cpuPods(900, 900, 900), one(newPod("x"))), want: 6, wantUtil: 90, wantRaw: 900,
		},
		{
			// Ready: 3 at 100 → util 10 %, ratio 0.2; the missing pod counts as 100 % of its
			// 1000m request: util' = 1300·100/4000 = 32 %, ratio' 0.64, ceil(0.64 × 4) = 3.
			name: "missing pod counts 100 % on scale-down", current: 4, target: 50, tol: tol,
			pods: join(cpuPods(100, 100, 100), one(newPod("x"))), want: 3, wantUtil: 10, wantRaw: 100,
		},
		{
			// Target 200 %: ready 3 at 1000 → util 100 %, ratio 0.5; the missing pod counts as
			// max(100, 200) = 200 % → 2000m: util' = 5000·100/4000 = 125 %, ratio' 0.625,
			// ceil(0.625 × 4) = ceil(2.5) = 3 (counting it at 100 % would give 2).
			name: "missing pod counts the target above 100 %", current: 4, target: 200, tol: tol,
			pods: join(cpuPods(1000, 1000, 1000), one(newPod("x"))), want: 3, wantUtil: 100, wantRaw: 1000,
		},
		{
			// Ready 1 at 1500 → util 150 %, ratio 1.5; three missing pods at 0 % give
			// util' = 1500·100/4000 = 37 %, ratio' 0.37 < 1: the direction flips → current 4.
			name: "missing pods reversing the direction hold", current: 4, target: 100, tol: tol,
			pods: join(cpuPods(1500), one(newPod("x")), one(newPod("y")), one(newPod("z"))), want: 4, wantUtil: 150, wantRaw: 1500,
		},
		{
			// Ready 1 at 1000 → util 100 %, ratio 2.0; the missing pod at 0 %: util' 50 %,
			// ratio' 1.0 within tolerance → current 2.
			name: "rebalanced ratio within tolerance holds", current: 2, target: 50, tol: tol,
			pods: join(cpuPods(1000), one(newPod("x"))), want: 2, wantUtil: 100, wantRaw: 1000,
		},
		{
			// Ready 1 at 550 → util 55 %, ratio 1.1 (within tolerance, but unready pods exist on
			// a scale-up so the first check is skipped); 3 pending pods at 0 %:
			// util' = 550·100/4000 = 13 %, ratio' 0.26 < 1 reverses → current 4.
			name: "pending pods on scale-up are counted at 0 %", current: 4, target: 50, tol: tol,
			pods: join(cpuPods(550), one(newPod("x").phase(corev1.PodPending)), one(newPod("y").phase(corev1.PodPending)), one(newPod("z").phase(corev1.PodPending))),
			want: 4, wantUtil: 55, wantRaw: 550,
		},
		{
			// Ready 2 at 100 → util 10 %, ratio 0.2 < 1. The pending pod and the initialising
			// unready pod are set aside and, on a scale-down, not brought back:
			// ceil(0.2 × 2) = ceil(0.4) = 1.
			name: "unready pods are ignored on scale-down", current: 4, target: 50, tol: tol,
			pods: join(cpuPods(100, 100), one(newPod("x").phase(corev1.PodPending)), one(newPod("y").ready(corev1.ConditionFalse, t0.Add(-time.Minute)).started(t0.Add(-2*time.Minute)).cpu(0))),
			want: 1, wantUtil: 10, wantRaw: 100,
		},
		{
			// The deleting and the failed pod are ignored entirely (their samples too):
			// util = 1800·100/2000 = 90 %, ratio 1.8, ceil(1.8 × 2) = 4.
			name: "deleting and failed pods are ignored", current: 4, target: 50, tol: tol,
			pods: join(cpuPods(900, 900), one(newPod("x").deleting().cpu(0)), one(newPod("y").phase(corev1.PodFailed))),
			want: 4, wantUtil: 90, wantRaw: 900,
		},
		{
			// Upstream does not special-case Succeeded pods: without a sample this one is
			// missing, counted at 100 % on the scale-down: util 10 % → ratio 0.2;
			// util' = 1200·100/3000 = 40 %, ratio' 0.8, ceil(0.8 × 3) = ceil(2.4) = 3 = current.
			name: "a succeeded pod without metrics is missing", current: 3, target: 50, tol: tol,
			pods: join(cpuPods(100, 100), one(newPod("x").phase(corev1.PodSucceeded))), want: 3, wantUtil: 10, wantRaw: 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, util, raw, ts, err := calc.GetResourceReplicas(t0, tt.current, tt.target, corev1.ResourceCPU, tt.tol, tt.pods)
			if err != nil {
				t.Fatalf("GetResourceReplicas: %v", err)
			}
			if got != tt.want || util != tt.wantUtil || raw != tt.wantRaw {
				t.Errorf("got (replicas %d, util %d, raw %d), want (%d, %d, %d)", got, util, raw, tt.want, tt.wantUtil, tt.wantRaw)
			}
			if !ts.Equal(t0) {
				t.Errorf("timestamp %v, want %v", ts, t0)
			}
		})
	}
}

func TestGroupPodsCPUReadiness(t *testing.T) {
	const (
		ready   = "ready"
		unready = "unready"
		missing = "missing"
		ignored = "ignored"
	)
	tests := []struct {
		name     string
		pod      *pod
		resource corev1.ResourceName
		want     string
	}{
		{"running and ready", newPod("a").cpu(1), corev1.ResourceCPU, ready},
		{"no Ready condition", newPod("a").cpu(1).ready("", time.Time{}), corev1.ResourceCPU, unready},
		{"no start time", newPod("a").cpu(1).started(time.Time{}), corev1.ResourceCPU, unready},
		// Started 1 min ago (inside the 5 min period), ready since 10 s: the sample (t0, 30 s
		// window) does not cover a full window after the transition (t0 < t0−10 s+30 s).
		{"initialising, ready 10 s, sample too early", newPod("a").cpu(1).started(t0.Add(-time.Minute)).ready(corev1.ConditionTrue, t0.Add(-10*time.Second)), corev1.ResourceCPU, unready},
		// Ready since 30 s: t0 is not before t0−30 s+30 s = t0 → usable.
		{"initialising, ready exactly one window", newPod("a").cpu(1).started(t0.Add(-time.Minute)).ready(corev1.ConditionTrue, t0.Add(-30*time.Second)), corev1.ResourceCPU, ready},
		{"initialising and not ready", newPod("a").cpu(1).started(t0.Add(-time.Minute)).ready(corev1.ConditionFalse, t0.Add(-50*time.Second)), corev1.ResourceCPU, unready},
		// Started 4 min 59 s ago: still inside the period (start + 5 min is after t0).
		{"initialisation period edge, inside", newPod("a").cpu(1).started(t0.Add(-5*time.Minute+time.Second)).ready(corev1.ConditionTrue, t0.Add(-10*time.Second)), corev1.ResourceCPU, unready},
		// Started exactly 5 min ago: start + 5 min = t0 is not after t0 → past the period.
		{"initialisation period edge, past", newPod("a").cpu(1).started(t0.Add(-5*time.Minute)).ready(corev1.ConditionTrue, t0.Add(-10*time.Second)), corev1.ResourceCPU, ready},
		// Past the period, unready, last transition 20 s after start (< 30 s delay): never ready.
		{"never became ready", newPod("a").cpu(1).ready(corev1.ConditionFalse, t0.Add(-10*time.Minute+20*time.Second)), corev1.ResourceCPU, unready},
		// Past the period, unready since a transition 5 min after start: it was ready once,
		// so its sample counts.
		{"became unready later", newPod("a").cpu(1).ready(corev1.ConditionFalse, t0.Add(-5*time.Minute)), corev1.ResourceCPU, ready},
		{"unknown readiness counts as ready", newPod("a").cpu(1).ready(corev1.ConditionUnknown, t0.Add(-time.Minute)), corev1.ResourceCPU, ready},
		// The readiness rules are CPU-only.
		{"memory: initialising unready pod still counts", newPod("a").metric("memory", 1).started(t0.Add(-time.Minute)).ready(corev1.ConditionFalse, t0.Add(-10*time.Second)), corev1.ResourceMemory, ready},
		{"pending", newPod("a").cpu(1).phase(corev1.PodPending), corev1.ResourceCPU, unready},
		{"pending, memory", newPod("a").metric("memory", 1).phase(corev1.PodPending), corev1.ResourceMemory, unready},
		{"no sample", newPod("a"), corev1.ResourceCPU, missing},
		{"deleting", newPod("a").cpu(1).deleting(), corev1.ResourceCPU, ignored},
		{"failed", newPod("a").cpu(1).phase(corev1.PodFailed), corev1.ResourceCPU, ignored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods := one(tt.pod)
			g := groupPods(t0, pods, collectMetrics(pods, string(tt.resource)), tt.resource, DefaultCPUInitializationPeriod, DefaultInitialReadinessDelay)
			var got string
			switch {
			case g.readyPodCount == 1:
				got = ready
			case len(g.unready) == 1:
				got = unready
			case len(g.missing) == 1:
				got = missing
			case g.ignored == 1:
				got = ignored
			}
			if got != tt.want {
				t.Errorf("pod grouped as %q, want %q", got, tt.want)
			}
			if got != ready && len(g.metrics) != 0 {
				t.Errorf("a %s pod kept its sample", got)
			}
		})
	}
}

func TestGetResourceReplicasErrors(t *testing.T) {
	calc := NewReplicaCalculator()
	tests := []struct {
		name string
		pods []PodSample
		want string
	}{
		{"no samples at all", join(one(newPod("a")), one(newPod("b"))), "unable to get metrics for resource cpu: no metrics returned from resource metrics API"},
		{"only unready pods report", one(newPod("a").cpu(500).ready("", time.Time{})), "did not receive metrics for targeted pods (pods might be unready)"},
		{"a pod without request", join(cpuPods(500), one(&pod{Name: "x", Phase: corev1.PodRunning})), "missing request for cpu in Pod x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, _, err := calc.GetResourceReplicas(t0, 2, 50, corev1.ResourceCPU, UniformTolerance(0.1), tt.pods)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestGetRawResourceReplicas(t *testing.T) {
	calc := NewReplicaCalculator()
	const mi = 1 << 20 * 1000 // one MiB in milli-bytes
	mem := func(name string, usageMi int64) *pod {
		return newPod(name).request(corev1.ResourceMemory, 512*mi).metric("memory", usageMi*mi)
	}
	tests := []struct {
		name      string
		current   int32
		pods      []PodSample
		want      int32
		wantUsage int64
	}{
		// Average 600 MiB over a 400 MiB target: ratio 1.5, ceil(1.5 × 3) = ceil(4.5) = 5.
		{"scale up", 3, join(one(mem("a", 600)), one(mem("b", 600)), one(mem("c", 600))), 5, 600 * mi},
		// Average 100 MiB: ratio 0.25; the missing pod counts as the target (400 MiB):
		// avg' = (200 + 400)/3 = 200 MiB, ratio' 0.5, ceil(0.5 × 3) = ceil(1.5) = 2.
		{"missing pod counts the target on scale-down", 3, join(one(mem("a", 100)), one(mem("b", 100)), one(newPod("x").request(corev1.ResourceMemory, 512*mi))), 2, 100 * mi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, usage, _, err := calc.GetRawResourceReplicas(t0, tt.current, 400*mi, corev1.ResourceMemory, UniformTolerance(0.1), tt.pods)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || usage != tt.wantUsage {
				t.Errorf("got (%d, %d), want (%d, %d)", got, usage, tt.want, tt.wantUsage)
			}
		})
	}
}

func TestGetMetricReplicas(t *testing.T) {
	calc := NewReplicaCalculator()
	q := func(name string, milli int64) *pod { return newPod(name).metric("queue_ms", milli) }
	tests := []struct {
		name      string
		current   int32
		pods      []PodSample
		want      int32
		wantUsage int64
	}{
		// Average (30 + 10 + 20)/3 = 20 ms over a 10 ms target: ratio 2, ceil(2 × 3) = 6.
		{"scale up", 3, join(one(q("a", 30000)), one(q("b", 10000)), one(q("c", 20000))), 6, 20000},
		// Average 2 ms: ratio 0.2; the missing pod counts as the target 10 ms:
		// avg' = 14000/3 = 4666 (integer), ratio' 0.4666, ceil(0.4666 × 3) = ceil(1.4) = 2.
		{"missing pod counts the target on scale-down", 3, join(one(q("a", 2000)), one(q("b", 2000)), one(newPod("x"))), 2, 2000},
		// Average 20 ms (ratio 2) with one pending pod at 0: avg' = 40000/3 = 13333,
		// ratio' 1.3333, ceil(1.3333 × 3) = 4 (the Pods metric ignores CPU readiness but not
		// the pending phase).
		{"pending pod counts 0 on scale-up", 3, join(one(q("a", 20000)), one(q("b", 20000)), one(q("x", 90000).phase(corev1.PodPending))), 4, 20000},
		// A pod that is not ready still counts for a Pods metric: avg (20 + 20)/2 = 20 ms,
		// ratio 2, ceil(2 × 2) = 4.
		{"readiness does not matter", 2, join(one(q("a", 20000)), one(q("b", 20000).ready(corev1.ConditionFalse, t0))), 4, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, usage, _, err := calc.GetMetricReplicas(t0, tt.current, 10000, "queue_ms", UniformTolerance(0.1), tt.pods)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || usage != tt.wantUsage {
				t.Errorf("got (%d, %d), want (%d, %d)", got, usage, tt.want, tt.wantUsage)
			}
		})
	}
	if _, _, _, err := calc.GetMetricReplicas(t0, 1, 10000, "inflight", UniformTolerance(0.1), cpuPods(1)); err == nil ||
		err.Error() != "unable to get metric inflight: no metrics returned from custom metrics API" {
		t.Errorf("error %v", err)
	}
}

func TestObjectAndExternalReplicas(t *testing.T) {
	calc := NewReplicaCalculator()
	tol := UniformTolerance(0.1)
	// Two ready pods and one pending (not counted by getReadyPodsCount).
	pods := join(cpuPods(1, 1), one(newPod("x").phase(corev1.PodPending)))

	// Value 30 over target 10: ratio 3, ceil(3 × 2 ready) = 6.
	if r, u, err := calc.GetObjectMetricReplicas(3, 10000, 30000, tol, pods); err != nil || r != 6 || u != 30000 {
		t.Errorf("object value: got (%d, %d, %v), want (6, 30000, nil)", r, u, err)
	}
	// Value 10.5 over 10: ratio 1.05 within tolerance → current 3.
	if r, _, _ := calc.GetObjectMetricReplicas(3, 10000, 10500, tol, pods); r != 3 {
		t.Errorf("object value within tolerance: got %d, want 3", r)
	}
	// currentReplicas 0: ceil(ratio) = ceil(2.5) = 3, without tolerance or pods.
	if r, _, _ := calc.GetObjectMetricReplicas(0, 10000, 25000, tol, nil); r != 3 {
		t.Errorf("object value from zero: got %d, want 3", r)
	}
	if _, _, err := calc.GetObjectMetricReplicas(3, 10000, 30000, tol, nil); err == nil ||
		!strings.Contains(err.Error(), "unable to calculate ready pods: no pods returned by selector") {
		t.Errorf("object without pods: error %v", err)
	}
	// Average value: 30 over (10 × 2 status replicas): ratio 1.5 → ceil(30/10) = 3; per pod ceil(30/2) = 15.
	if r, u, _ := calc.GetObjectPerPodMetricReplicas(2, 10000, 30000, tol); r != 3 || u != 15000 {
		t.Errorf("object average: got (%d, %d), want (3, 15000)", r, u)
	}
	// 21 over (10 × 2): ratio 1.05 within → status replicas 2.
	if r, _, _ := calc.GetObjectPerPodMetricReplicas(2, 10000, 21000, tol); r != 2 {
		t.Errorf("object average within tolerance: got %d, want 2", r)
	}
	// External value: series 10 + 20 = 30 over 10: ratio 3 × 2 ready = 6.
	if r, u, err := calc.GetExternalMetricReplicas(3, 10000, []int64{10000, 20000}, tol, pods); err != nil || r != 6 || u != 30000 {
		t.Errorf("external value: got (%d, %d, %v), want (6, 30000, nil)", r, u, err)
	}
	// External average: 95 queued over 10 per pod with 4 replicas: ratio 95/40 = 2.375 →
	// ceil(95/10) = 10; per pod 95/4 = 23.75 → 23750 milli.
	if r, u, _ := calc.GetExternalPerPodMetricReplicas(4, 10000, []int64{95000}, tol); r != 10 || u != 23750 {
		t.Errorf("external average: got (%d, %d), want (10, 23750)", r, u)
	}
	if _, _, err := calc.GetExternalMetricReplicas(3, 10000, nil, tol, pods); err == nil {
		t.Error("external value without series: no error")
	}
}
