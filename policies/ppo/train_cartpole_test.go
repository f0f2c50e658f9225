package ppo

import (
	"context"
	"testing"
)

func TestScratchCartPole(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TotalTimesteps = 100000
	cfg.EnvWorkers = 1
	s, err := TrainValidation(context.Background(), cfg, "cartpole-v1", t.TempDir(), ValidationOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean %v eval %v sps %v wall %v", *s.MeanReturn, *s.EvalMeanReturn, s.StepsPerSecond, s.WallSeconds)
}
