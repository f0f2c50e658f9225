package envs_test

import (
	"context"
	"fmt"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

// Pushing the cart right from rest tilts the pole left: θ̇ = 0.02·θ̈ = 0.02·(−600/41).
func ExampleCartPole() {
	env, _ := envs.New("cartpole-v1")
	cp := env.(*envs.CartPole)
	cp.SetState([4]float64{})
	res, _ := env.Step(context.Background(), framework.Action{Values: []float64{1}})
	fmt.Printf("obs %.5f reward %v terminated %v\n", res.Obs.Values, res.Reward, res.Terminated)
	// Output:
	// obs [0.00000 0.19512 0.00000 -0.29268] reward 1 terminated false
}
