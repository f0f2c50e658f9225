package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/sim"
)

// Simulate five minutes of the low profile on two replicas of the default scenario, then
// read the ground truth of the last minute.
func Example() {
	sc, _ := sim.BuiltinScenario(sim.DefaultScenario)
	s, err := sim.New(sc)
	if err != nil {
		panic(err)
	}
	low, _ := load.Builtin("low")
	ctx := context.Background()
	err = s.Reset(ctx, framework.Episode{Seed: 1, Load: load.Load{Name: "low", Profile: low},
		InitialReplicas: 2, SLO: 50 * time.Millisecond, ClientTimeout: time.Second})
	if err != nil {
		panic(err)
	}
	_ = s.Advance(ctx, 4*time.Minute)
	s.Cut() // discard the first four minutes
	_ = s.Advance(ctx, time.Minute)
	w := s.Accounting().Cut()
	fmt.Println("window:", w.Duration())
	fmt.Println("ready replicas:", s.Replicas().Ready)
	fmt.Println("everything served:", w.Totals.Drops == 0 && w.Totals.Failures == 0)
	fmt.Println("p99 under the SLO:", w.Latency.QuantileMS(0.99) < 50)
	// Output:
	// window: 1m0s
	// ready replicas: 2
	// everything served: true
	// p99 under the SLO: true
}
