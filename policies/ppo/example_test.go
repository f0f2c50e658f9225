package ppo_test

import (
	"fmt"

	"github.com/scalelab/scalelab/policies/ppo"
)

// A training section decodes over CleanRL's defaults; the budget rounds down to whole
// iterations of num_envs·num_steps steps.
func ExampleDecodeConfig() {
	cfg, err := ppo.DecodeConfig(map[string]any{"type": "ppo", "env": "cartpole-v1", "total_timesteps": 500000})
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Iterations(), "iterations of", cfg.BatchSize(), "steps =", cfg.Iterations()*cfg.BatchSize(), "steps")
	fmt.Println("minibatches of", cfg.MinibatchSize(), "samples, lr", cfg.LearningRate, "annealed:", cfg.AnnealLR)
	// Output:
	// 976 iterations of 512 steps = 499712 steps
	// minibatches of 128 samples, lr 0.00025 annealed: true
}
