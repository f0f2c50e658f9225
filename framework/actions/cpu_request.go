package actions

import (
	"math"
	"slices"
	"strconv"

	"github.com/scalelab/scalelab/framework"
)

// CPURequestConfig configures the cpu_request design.
type CPURequestConfig struct {
	// CPURequestsMilli are the pod CPU requests to choose from, in millicores.
	CPURequestsMilli []int64 `mapstructure:"cpu_requests_milli" doc:"pod CPU requests in millicores to choose from, strictly increasing, each ≥ 1" default:"[500 1000 1500 2000 3000 4000]"`
}

// DefaultCPURequestConfig returns the defaults: 0.5 to 4 cores.
func DefaultCPURequestConfig() CPURequestConfig {
	return CPURequestConfig{CPURequestsMilli: []int64{500, 1000, 1500, 2000, 3000, 4000}}
}

// Validate reports every problem of the list.
func (c CPURequestConfig) Validate() []error {
	return checkIncreasing("cpu_requests_milli", c.CPURequestsMilli,
		func(m int64) bool { return m >= 1 }, "≥ 1",
		func(m int64) string { return strconv.FormatInt(m, 10) })
}

// CPURequest is the cpu_request design: a Discrete space over pod CPU requests; index i sets
// Command.CPURequestMilli = cpu_requests_milli[i]. The backend applies it with the delay the
// real system has (a rolling restart or an in-place resize).
type CPURequest struct {
	requests []int64
}

var _ framework.ActionDesign = (*CPURequest)(nil)

// NewCPURequest builds the design from a validated config.
func NewCPURequest(c CPURequestConfig) (*CPURequest, error) {
	if err := framework.ValidationError("action design "+TypeCPURequest, c.Validate()); err != nil {
		return nil, err
	}
	return &CPURequest{requests: slices.Clone(c.CPURequestsMilli)}, nil
}

// Name returns "cpu_request".
func (d *CPURequest) Name() string { return TypeCPURequest }

// Space is Discrete with N = len(cpu_requests_milli).
func (d *CPURequest) Space() framework.ActionSpace {
	return framework.ActionSpace{Kind: framework.Discrete, N: len(d.requests), Names: []string{"cpu_request_milli"}}
}

// Translate sets the pods' CPU request to cpu_requests_milli[i].
func (d *CPURequest) Translate(a framework.Action, _ framework.ClusterView) (framework.Command, error) {
	i, err := discreteIndex(TypeCPURequest, d.Space(), a)
	if err != nil {
		return framework.Command{}, err
	}
	return framework.Command{CPURequestMilli: framework.Int64Ptr(d.requests[i])}, nil
}

// Hold returns the request nearest to the one in force (ties go to the smaller request). ok
// is false when the view reports no CPU request (0).
func (d *CPURequest) Hold(view framework.ClusterView) (framework.Action, bool) {
	cur := view.CPURequestMilli
	if cur <= 0 {
		return framework.Action{}, false
	}
	return index(nearest(d.requests, func(m int64) float64 { return math.Abs(float64(m - cur)) })), true
}
