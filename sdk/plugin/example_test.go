package plugin_test

import (
	"context"
	"fmt"

	sdk "github.com/scalelab/scalelab/sdk/plugin"
	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

// threshold scales up when p95 latency is above 40 ms and down below 15 ms, in the
// replica_delta design (index 0 = −1, 1 = hold, 2 = +1 for max_step 1).
type threshold struct{ p95 int }

func (p *threshold) Init(s sdk.Spec) error {
	if s.ActionDesign != "replica_delta" || s.Action.N != 3 {
		return sdk.Unsupported("needs replica_delta with max_step 1")
	}
	if p.p95 = s.FeatureIndex("p95_latency_ms"); p.p95 < 0 {
		return sdk.Unsupported("needs the feature p95_latency_ms")
	}
	return nil
}

func (p *threshold) Act(obs []float64, valid []bool, action []float64) error {
	action[0] = 1 // hold, also when the value is missing
	if valid[p.p95] && obs[p.p95] > 40 {
		action[0] = 2
	} else if valid[p.p95] && obs[p.p95] < 15 {
		action[0] = 0
	}
	return nil
}

// A plugin's main is sdk.Serve(&threshold{}). Here the service NewServer builds for it is
// called directly, as the host would call it over gRPC.
func Example() {
	s := sdk.NewServer(&threshold{})
	ctx := context.Background()
	_, err := s.Init(ctx, &policyv1.InitRequest{
		Features:     []*policyv1.FeatureSpec{{Name: "request_rate"}, {Name: "p95_latency_ms"}},
		Action:       &policyv1.ActionSpace{Kind: sdk.KindDiscrete, N: 3, Dim: 1},
		ActionDesign: "replica_delta",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p95 := range []float64{55, 20, 9} {
		a, err := s.Act(ctx, &policyv1.ActRequest{Values: []float64{100, p95}, Valid: []bool{true, true}})
		fmt.Println(p95, a.GetAction(), err)
	}
	// Output:
	// 55 [2] <nil>
	// 20 [1] <nil>
	// 9 [0] <nil>
}
