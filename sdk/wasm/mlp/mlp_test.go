package mlp

import (
	"errors"
	"math"
	"strings"
	"testing"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

// tiny is a 2→2→3 ReLU network:
//
//	h = relu([a − b, 0.5a + 0.5b − 1]),  out = [h0, h1, −h0 − h1 + 0.5]
func tiny() *Model {
	return &Model{
		Format: Format, Version: Version, Inputs: []string{"a", "b"}, Activation: "relu",
		Layers: []Layer{
			{In: 2, Out: 2, Weights: []float64{1, -1, 0.5, 0.5}, Bias: []float64{0, -1}},
			{In: 2, Out: 3, Weights: []float64{1, 0, 0, 1, -1, -1}, Bias: []float64{0, 0, 0.5}},
		},
		Action: Action{Kind: sdk.KindDiscrete, N: 3},
	}
}

func spec(kind string, features ...string) sdk.Spec {
	s := sdk.Spec{ABIVersion: 1, ActionDesign: "test"}
	for _, f := range features {
		s.Features = append(s.Features, sdk.Feature{Name: f})
	}
	switch kind {
	case sdk.KindDiscrete:
		s.Action = sdk.ActionSpace{Kind: kind, Dim: 1, N: 3}
	case sdk.KindBox:
		s.Action = sdk.ActionSpace{Kind: kind, Dim: 2, Low: []float64{-1, 0}, High: []float64{1, 10}}
	case sdk.KindMultiDiscrete:
		s.Action = sdk.ActionSpace{Kind: kind, Dim: 2, Nvec: []int{2, 3}}
	}
	return s
}

func act(t *testing.T, m *Model, obs []float64, valid []bool, dim int) []float64 {
	t.Helper()
	a := make([]float64, dim)
	if err := m.Act(obs, valid, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDiscreteArgmax(t *testing.T) {
	m := tiny()
	// The spec orders the features differently and has an extra one: inputs map by name.
	if err := m.Init(spec(sdk.KindDiscrete, "x", "b", "a")); err != nil {
		t.Fatal(err)
	}
	all := []bool{true, true, true}
	cases := []struct {
		name  string
		obs   []float64 // x, b, a
		valid []bool
		want  float64
	}{
		// a=3, b=1: h = [2, 1], out = [2, 1, −2.5] → 0.
		{"a large", []float64{9, 1, 3}, all, 0},
		// a=0, b=4: h = [0, 1], out = [0, 1, −0.5] → 1.
		{"b large", []float64{9, 4, 0}, all, 1},
		// a missing (→ 0), b=0: h = [0, 0], out = [0, 0, 0.5] → 2.
		{"a missing", []float64{9, 0, 123}, []bool{true, true, false}, 2},
		// a=NaN marked valid is treated as missing too.
		{"a NaN", []float64{9, 0, math.NaN()}, all, 2},
		// a=1, b=1: h = [0, 0], out = [0, 0, 0.5] → 2.
		{"balanced", []float64{9, 1, 1}, all, 2},
		// a=2, b=2: h = [0, 1], out = [0, 1, −0.5] → 1; ties never arise here.
		{"both 2", []float64{9, 2, 2}, all, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := act(t, m, tc.obs, tc.valid, 1); got[0] != tc.want {
				t.Fatalf("action %v, want %v", got[0], tc.want)
			}
		})
	}
}

func TestTiesPickTheFirstIndex(t *testing.T) {
	m := &Model{Format: Format, Version: Version, Inputs: []string{"a"}, Activation: "tanh",
		Layers: []Layer{{In: 1, Out: 3, Weights: []float64{0, 0, 0}, Bias: []float64{1, 5, 5}}},
		Action: Action{Kind: sdk.KindDiscrete, N: 3}}
	if err := m.Init(spec(sdk.KindDiscrete, "a")); err != nil {
		t.Fatal(err)
	}
	if got := act(t, m, []float64{0}, []bool{true}, 1); got[0] != 1 {
		t.Fatalf("out [1 5 5] → %v, want 1", got[0])
	}
}

func TestNormalizationMaskAndBox(t *testing.T) {
	// One linear layer on [z_a, z_b, m_a, m_b] with z = clip((x − 1)/2, ±1):
	// out0 = z_a + 10·m_b, out1 = z_b − m_a + 5; box bounds [−1, 1] × [0, 10].
	m := &Model{Format: Format, Version: Version, Inputs: []string{"a", "b"}, Activation: "tanh", MaskInput: true,
		Normalize: &Normalization{Mean: []float64{1, 1}, Var: []float64{4, 4}, Epsilon: 0, Clip: 1},
		Layers:    []Layer{{In: 4, Out: 2, Weights: []float64{1, 0, 0, 10, 0, 1, -1, 0}, Bias: []float64{0, 5}}},
		Action:    Action{Kind: sdk.KindBox, Low: []float64{-1, 0}, High: []float64{1, 10}}}
	if err := m.Init(spec(sdk.KindBox, "a", "b")); err != nil {
		t.Fatal(err)
	}
	// a=2, b=0: z = [0.5, −0.5], m = [1, 1]: out = [10.5, 3.5] → clipped [1, 3.5].
	if got := act(t, m, []float64{2, 0}, []bool{true, true}, 2); got[0] != 1 || got[1] != 3.5 {
		t.Fatalf("got %v, want [1 3.5]", got)
	}
	// a=−100 (z clipped to −1), b missing (z 0, m 0): out = [−1, 0 − 1 + 5 = 4].
	if got := act(t, m, []float64{-100, 7}, []bool{true, false}, 2); got[0] != -1 || got[1] != 4 {
		t.Fatalf("got %v, want [-1 4]", got)
	}
}

func TestMultiDiscrete(t *testing.T) {
	// out = bias: block 1 [0, 3] → 1, block 2 [2, −1, 2] → 0 (first of the tie).
	m := &Model{Format: Format, Version: Version, Inputs: []string{"a"}, Activation: "relu",
		Layers: []Layer{{In: 1, Out: 5, Weights: make([]float64, 5), Bias: []float64{0, 3, 2, -1, 2}}},
		Action: Action{Kind: sdk.KindMultiDiscrete, Nvec: []int{2, 3}}}
	if err := m.Init(spec(sdk.KindMultiDiscrete, "a")); err != nil {
		t.Fatal(err)
	}
	if got := act(t, m, []float64{1}, []bool{true}, 2); got[0] != 1 || got[1] != 0 {
		t.Fatalf("got %v, want [1 0]", got)
	}
}

func TestInitRefusals(t *testing.T) {
	if err := tiny().Init(spec(sdk.KindDiscrete, "a")); !errors.Is(err, sdk.ErrUnsupported) || !strings.Contains(err.Error(), `feature "b"`) {
		t.Fatalf("missing feature: %v", err)
	}
	if err := tiny().Init(spec(sdk.KindBox, "a", "b")); !errors.Is(err, sdk.ErrUnsupported) || !strings.Contains(err.Error(), "discrete(3)") {
		t.Fatalf("other action space: %v", err)
	}
}

func TestParseAndCheck(t *testing.T) {
	good := `{"format":"scalelab-mlp","version":1,"inputs":["a"],"activation":"tanh",
	"layers":[{"in":1,"out":2,"weights":[1,2],"bias":[0,0]}],"action":{"kind":"discrete","n":2}}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	bad := []struct{ name, doc, msg string }{
		{"format", `{"format":"onnx","version":1}`, `format "onnx"`},
		{"activation", strings.Replace(good, "tanh", "gelu", 1), `activation "gelu"`},
		{"weights", strings.Replace(good, "[1,2]", "[1]", 1), "has 1 weights and 2 biases, want 2 and 2"},
		{"output width", strings.Replace(good, `"n":2`, `"n":3`, 1), "the last layer has 2 outputs, the discrete action needs 3"},
		{"input width", strings.Replace(good, `"in":1`, `"in":2`, 1), "layer 0 takes 2 inputs, the previous width is 1"},
		{"no inputs", strings.Replace(good, `["a"]`, `[]`, 1), "no inputs"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %q", err, tc.msg)
			}
		})
	}
}
