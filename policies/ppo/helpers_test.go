package ppo

import (
	"math/rand/v2"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// randomCheckpoint returns a checkpoint of a freshly initialised network for env's specs.
func randomCheckpoint(tb testing.TB, cfg Config, specs framework.Specs) *Checkpoint {
	tb.Helper()
	act, err := parseActivation(cfg.Activation)
	if err != nil {
		tb.Fatal(err)
	}
	obsDim := len(specs.Features)
	n, err := newNet(inputDim(obsDim, cfg.MaskInput), cfg.HiddenSizes, act, specs.Action)
	if err != nil {
		tb.Fatal(err)
	}
	c := &Checkpoint{
		Format: CheckpointFormat, Version: CheckpointVersion, ConfigHash: cfg.Hash(), Specs: specs,
		Network: NetworkSpec{ObsDim: obsDim, HiddenSizes: cfg.HiddenSizes, Activation: cfg.Activation, MaskInput: cfg.MaskInput,
			NormObs: cfg.NormObs, ObsClip: cfg.ObsClip, NumParams: n.n},
		Params: initParams(n, rand.New(rand.NewPCG(cfg.Seed, 7))),
	}
	if cfg.NormObs {
		c.ObsNorm = NewRunningMeanStd(obsDim)
	}
	return c
}

// trainedTestPolicy returns a policy acting with a random network for env's specs.
func trainedTestPolicy(tb testing.TB, cfg Config, env framework.Env) *Policy {
	tb.Helper()
	p, err := NewPolicy(cfg, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.adopt(randomCheckpoint(tb, cfg, env.Specs()), "test"); err != nil {
		tb.Fatal(err)
	}
	return p
}
