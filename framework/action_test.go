package framework

import (
	"math"
	"strings"
	"testing"
)

func TestActionSpaceContains(t *testing.T) {
	discrete := ActionSpace{Kind: Discrete, N: 5}
	multi := ActionSpace{Kind: MultiDiscrete, Nvec: []int{3, 2}}
	box := ActionSpace{Kind: Box, Low: []float64{1, -0.5}, High: []float64{4, 0.5}}
	tests := []struct {
		name    string
		space   ActionSpace
		values  []float64
		wantErr string // "" = member of the space
	}{
		{"discrete lowest", discrete, []float64{0}, ""},
		{"discrete highest", discrete, []float64{4}, ""},
		{"discrete N is outside", discrete, []float64{5}, "outside discrete space"},
		{"discrete negative", discrete, []float64{-1}, "outside discrete space"},
		{"discrete fractional", discrete, []float64{2.5}, "outside discrete space"},
		// 1e19 is integral and finite but does not fit an int: converting it before the
		// comparison used to wrap it to a negative number and let it in.
		{"discrete huge", discrete, []float64{1e19}, "outside discrete space"},
		{"discrete NaN", discrete, []float64{math.NaN()}, "not finite"},
		{"discrete +Inf", discrete, []float64{math.Inf(1)}, "not finite"},
		{"discrete two values", discrete, []float64{1, 2}, "has 2 values, space discrete expects 1"},
		{"discrete empty", discrete, nil, "has 0 values"},
		{"multi ok", multi, []float64{2, 1}, ""},
		{"multi second out", multi, []float64{2, 2}, "action[1]=2 outside [0,2)"},
		{"multi huge", multi, []float64{1e300, 0}, "action[0]=1e+300 outside [0,3)"},
		{"multi fractional", multi, []float64{0.5, 0}, "outside"},
		{"multi short", multi, []float64{1}, "has 1 values, space multi_discrete expects 2"},
		{"box bounds inclusive", box, []float64{1, 0.5}, ""},
		{"box inside", box, []float64{2.7, 0}, ""},
		{"box below", box, []float64{0.999, 0}, "action[0]=0.999 outside [1,4]"},
		{"box above second", box, []float64{2, 0.51}, "action[1]=0.51 outside [-0.5,0.5]"},
		{"box -Inf", box, []float64{math.Inf(-1), 0}, "not finite"},
		{"box NaN second", box, []float64{2, math.NaN()}, "not finite"},
		{"box wrong length", box, []float64{2}, "has 1 values, space box expects 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.space.Contains(Action{Values: tc.values})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Contains(%v) = %v, want member", tc.values, err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Contains(%v) = nil, want error containing %q", tc.values, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("Contains(%v) = %q, want it to contain %q", tc.values, err, tc.wantErr)
			}
		})
	}
}

func TestActionSpaceDim(t *testing.T) {
	tests := []struct {
		space ActionSpace
		want  int
	}{
		{ActionSpace{Kind: Discrete, N: 7}, 1},
		{ActionSpace{Kind: MultiDiscrete, Nvec: []int{2, 3, 4}}, 3},
		{ActionSpace{Kind: Box, Low: []float64{0, 0}, High: []float64{1, 1}}, 2},
	}
	for _, tc := range tests {
		if got := tc.space.Dim(); got != tc.want {
			t.Errorf("%s Dim() = %d, want %d", tc.space.Kind, got, tc.want)
		}
	}
}

func TestFinite(t *testing.T) {
	tests := []struct {
		xs   []float64
		want bool
	}{
		{nil, true},
		{[]float64{0, -1, 1e308}, true},
		{[]float64{1, math.NaN()}, false},
		{[]float64{math.Inf(-1)}, false},
	}
	for _, tc := range tests {
		if got := Finite(tc.xs); got != tc.want {
			t.Errorf("Finite(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}
