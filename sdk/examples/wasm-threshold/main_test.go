package main

import (
	"encoding/json"
	"errors"
	"testing"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

func spec(design string, n int, params string) sdk.Spec {
	return sdk.Spec{
		ABIVersion: 1, ActionDesign: design,
		Features: []sdk.Feature{{Name: "request_rate"}, {Name: "p95_latency_ms"}},
		Action:   sdk.ActionSpace{Kind: sdk.KindDiscrete, Dim: 1, N: n},
		Params:   json.RawMessage(params),
	}
}

func TestThreshold(t *testing.T) {
	var p Threshold
	if err := p.Init(spec("replica_delta", 3, `{"upper": 40, "lower": 15}`)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		p95   float64
		valid bool
		want  float64 // index: 0 = −1 replica, 1 = hold, 2 = +1
	}{
		{50, true, 2}, {40, true, 1}, {20, true, 1}, {15, true, 1}, {10, true, 0}, {50, false, 1},
	}
	for _, c := range cases {
		a := []float64{-1}
		if err := p.Act([]float64{100, c.p95}, []bool{true, c.valid}, a); err != nil || a[0] != c.want {
			t.Errorf("p95 %v (valid %v): %v %v, want %v", c.p95, c.valid, a[0], err, c.want)
		}
	}
	// max_step 2: hold is index 2, up 3, down 1.
	if err := p.Init(spec("replica_delta", 5, `{}`)); err != nil {
		t.Fatal(err)
	}
	a := []float64{-1}
	p.Act([]float64{0, 41}, []bool{true, true}, a)
	if a[0] != 3 {
		t.Fatalf("n=5, p95 41: %v, want 3", a[0])
	}
}

func TestThresholdRefuses(t *testing.T) {
	var p Threshold
	if err := p.Init(spec("replicas", 4, `{}`)); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("replicas design: %v", err)
	}
	if err := p.Init(spec("replica_delta", 3, `{"feature": "gpu_util"}`)); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("missing feature: %v", err)
	}
	if err := p.Init(spec("replica_delta", 3, `{"uper": 3}`)); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("misspelt param: %v", err)
	}
	if err := p.Init(spec("replica_delta", 3, `{"upper": 3, "lower": 5}`)); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("lower above upper: %v", err)
	}
}
