package calibrate

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/scalelab/scalelab/sim"
)

// Scenario returns the calibration as a scenario override map: base (a built-in scenario),
// name, description, and the model keys the calibration measured (t_min, t_fixed,
// t_per_image, jitter, jitter_cv, and cpu_per_request when the CPU was measured). It loads
// with sim.ScenarioFromMap; every other key comes from the base.
func (r Result) Scenario(base, name string) map[string]any {
	s := r.Service
	mdl := map[string]any{
		"t_min":       durString(s.TMin),
		"t_fixed":     durString(s.TFixed),
		"t_per_image": durString(s.TPerImage),
		"jitter":      sim.JitterLognormal,
		"jitter_cv":   round(s.JitterCV, 4),
	}
	if r.CPU != nil {
		mdl["cpu_per_request"] = durString(r.CPU.CPUPerImage)
	}
	return map[string]any{"base": base, "name": name,
		"description": fmt.Sprintf("%s with the service model of %s calibrated by scalelab calibrate (%s) on %s.",
			base, r.Model, r.Source, r.When.Format("2006-01-02")),
		"model": mdl}
}

// WriteScenario writes the calibration as a scenario YAML file over base: the fitted keys,
// and as comments the fit's residuals and notes. The file loads with sim.LoadScenario.
func (r Result) WriteScenario(w io.Writer, base, name string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Calibrated by `scalelab calibrate` (%s) against %s, model %s, %s.\n", r.Source, r.Endpoint, r.Model, r.When.Format(time.RFC3339))
	s := r.Service
	form := "t(b) = t_fixed + t_per_image·b (no floor: F = %.1f ≤ %d)"
	if s.Floor {
		form = "t(b) = max(t_min, t_fixed + t_per_image·b) (floor kept: F = %.1f > %d)"
	}
	fmt.Fprintf(&b, "# GPU service time: "+form+", fitted to %d requests; jitter CV %.4f.\n", s.FStat, FloorFThreshold, s.Samples, s.JitterCV)
	b.WriteString("# Residuals (measured mean − fitted), per batch size:\n")
	for _, res := range s.Residuals {
		fmt.Fprintf(&b, "#   b = %-3v n = %-5d measured %9.1f µs  fitted %9.1f µs  residual %+8.1f µs (%+.2f %%)\n",
			res.X, res.N, res.Measured, res.Fitted, res.Measured-res.Fitted, 100*res.Rel())
	}
	if r.CPU != nil {
		fmt.Fprintf(&b, "# CPU: %.1f µs per image, idle %.4f cores; residuals per step (cores at the served image rate):\n",
			float64(r.CPU.CPUPerImage)/1e3, r.CPU.IdleCores)
		for _, res := range r.CPU.Residuals {
			fmt.Fprintf(&b, "#   %8.1f images/s  measured %.4f  fitted %.4f  residual %+.4f cores\n", res.X, res.Measured, res.Fitted, res.Measured-res.Fitted)
		}
	} else {
		b.WriteString("# CPU per request: not measured; the base scenario's value is kept.\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "# Note: %s\n", n)
	}
	sc := r.Scenario(base, name)
	mdl := sc["model"].(map[string]any)
	fmt.Fprintf(&b, "base: %s\nname: %s\ndescription: >-\n  %s\nmodel:\n", base, quoteYAML(name), sc["description"])
	for _, k := range []string{"t_min", "t_fixed", "t_per_image", "jitter", "jitter_cv", "cpu_per_request"} {
		if v, ok := mdl[k]; ok {
			fmt.Fprintf(&b, "  %s: %v\n", k, v)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// durString writes a duration as the scenario loader reads it, in microseconds with
// nanosecond precision ("157.3us"), or "0s".
func durString(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return fmt.Sprintf("%gus", float64(d)/1e3)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func quoteYAML(s string) string {
	if s == "" || strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
