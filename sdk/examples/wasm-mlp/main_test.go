package main

import (
	"testing"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
	"github.com/scalelab/scalelab/sdk/wasm/mlp"
)

func TestHandSetModel(t *testing.T) {
	m := mlp.MustParse(model)
	spec := sdk.Spec{
		ABIVersion: 1, ActionDesign: "replica_delta",
		Features: []sdk.Feature{{Name: "request_rate"}, {Name: "p95_latency_ms"}, {Name: "queue_length"}, {Name: "cpu_util"}},
		Action:   sdk.ActionSpace{Kind: sdk.KindDiscrete, Dim: 1, N: 3},
	}
	if err := m.Init(spec); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name            string
		p95, queue, cpu float64
		want            float64
	}{
		// Nominal: z = 0, h = [0, tanh(−1) ≈ −0.76]: logits [−1.52, 0.5, −0.5] → hold.
		{"nominal", 30, 5, 0.6, 1},
		// Overload: z = [2, 2, 1], h0 = tanh(4.5) ≈ 1: up logit ≈ 1.5 > 0.5 → up.
		{"overload", 70, 15, 0.8, 2},
		// Idle: z = [−1, −1, −1.5], h1 = tanh(1 + 1.5 − 1) = tanh(1.5) ≈ 0.905: down ≈ 1.81 → down.
		{"idle", 10, 0, 0.3, 0},
	}
	for _, c := range cases {
		a := []float64{-1}
		if err := m.Act([]float64{100, c.p95, c.queue, c.cpu}, []bool{true, true, true, true}, a); err != nil || a[0] != c.want {
			t.Errorf("%s: action %v %v, want %v", c.name, a[0], err, c.want)
		}
	}
}
