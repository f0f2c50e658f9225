package main

import (
	"encoding/json"
	"errors"
	"testing"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

func deltaSpec(params string) sdk.Spec {
	return sdk.Spec{
		ABIVersion: 1, ActionDesign: "replica_delta",
		Features: []sdk.Feature{{Name: "p95_latency_ms"}, {Name: "replicas_desired"}},
		Action:   sdk.ActionSpace{Kind: sdk.KindDiscrete, Dim: 1, N: 3},
		Params:   json.RawMessage(params),
	}
}

func step(t *testing.T, c *PI, p95, desired float64) float64 {
	t.Helper()
	a := []float64{-1}
	if err := c.Act([]float64{p95, desired}, []bool{true, true}, a); err != nil {
		t.Fatal(err)
	}
	return a[0]
}

func TestPIDelta(t *testing.T) {
	var c PI
	if err := c.Init(deltaSpec(`{"feature": "p95_latency_ms", "target": 30, "kp": 1, "ki": 0.5, "max_replicas": 4}`)); err != nil {
		t.Fatal(err)
	}
	// Step 1: u0 = 2, e = (45−30)/30 = 0.5: u = 2 + 1·(0.5 − 0) + 0.5·0.5 = 2.75 → 3: delta +1 → index 2.
	if got := step(t, &c, 45, 2); got != 2 || c.u != 2.75 {
		t.Fatalf("step 1: index %v, u %v; want 2, 2.75", got, c.u)
	}
	// Step 2: e = 0.5 again: u = 2.75 + 0 + 0.25 = 3.0 → 3; desired now 3: delta 0 → index 1.
	if got := step(t, &c, 45, 3); got != 1 || c.u != 3 {
		t.Fatalf("step 2: index %v, u %v; want 1, 3", got, c.u)
	}
	// Step 3: e = (15−30)/30 = −0.5: u = 3 + 1·(−1) + 0.5·(−0.5) = 1.75 → 2: delta −1 → index 0.
	if got := step(t, &c, 15, 3); got != 0 || c.u != 1.75 {
		t.Fatalf("step 3: index %v, u %v; want 0, 1.75", got, c.u)
	}
	// A huge error (e = 99) is clipped to max_error 1: u = 1.75 + 1·(1 + 0.5) + 0.5·1 = 3.75
	// → 4 replicas wanted from 2, limited to +1 (max_step) → index 2.
	if got := step(t, &c, 3000, 2); got != 2 || c.u != 3.75 {
		t.Fatalf("burst: index %v, u %v; want 2, 3.75", got, c.u)
	}
	// e = 1 again: u = 3.75 + 0 + 0.5 = 4.25, clamped at max_replicas 4 (anti-windup).
	if got := step(t, &c, 3000, 3); got != 2 || c.u != 4 {
		t.Fatalf("saturated: index %v, u %v; want 2, 4", got, c.u)
	}
	// A missing measurement holds.
	a := []float64{-1}
	c.Act([]float64{0, 4}, []bool{false, true}, a)
	if a[0] != 1 || c.u != 4 {
		t.Fatalf("missing p95: index %v, u %v; want 1, 4", a[0], c.u)
	}
	// Reset restarts from the observed replicas: u0 = 1, e = 0: u = 1 + 1·(0 − 0) + 0 = 1.
	c.Reset()
	if got := step(t, &c, 30, 1); got != 1 || c.u != 1 {
		t.Fatalf("after reset: index %v, u %v; want 1, 1", got, c.u)
	}
}

func TestPIBox(t *testing.T) {
	var c PI
	s := deltaSpec(`{"feature": "p95_latency_ms", "target": 30, "kp": 2, "ki": 0}`)
	s.ActionDesign = "replicas"
	s.Action = sdk.ActionSpace{Kind: sdk.KindBox, Dim: 1, Low: []float64{1}, High: []float64{4}}
	if err := c.Init(s); err != nil {
		t.Fatal(err)
	}
	// u0 = 2, e = 1: u = 2 + 2·1 = 4 → 4 replicas.
	if got := step(t, &c, 60, 2); got != 4 {
		t.Fatalf("box action %v, want 4", got)
	}
}

func TestPIRefuses(t *testing.T) {
	var c PI
	s := deltaSpec(`{"feature": "p95_latency_ms"}`)
	s.Features = s.Features[:1]
	if err := c.Init(s); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("without replicas_desired: %v", err)
	}
	if err := c.Init(deltaSpec(`{"feature": "p95_latency_ms", "target": 0}`)); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("zero target: %v", err)
	}
	if err := c.Init(deltaSpec(`{}`)); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("default feature cpu_util missing from the state design: %v", err)
	}
}
