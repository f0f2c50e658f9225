package report

import "testing"

func TestTickLabel(t *testing.T) {
	tests := []struct {
		v, step, big float64
		want         string
	}{
		{3000, 1000, 3000, "3000"},
		{0.5, 0.5, 1, "0.5"},
		{0.0016, 0.0012, 0.0028, "0.0016"},
		{1.944, 0.001, 1.944, "1.944"},
		{-25, 50, 225, "-25"},
		{0.75, 0.25, 1, "0.75"},
		{1e-17, 0.2, 1, "0.0"},
		{2e-5, 1e-5, 3e-5, "2e-05"},
	}
	for _, tt := range tests {
		if got := tickLabel(tt.v, tt.step, tt.big); got != tt.want {
			t.Errorf("tickLabel(%v, step %v) = %q, want %q", tt.v, tt.step, got, tt.want)
		}
	}
}
