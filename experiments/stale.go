package experiments

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/scalelab/scalelab/framework"
)

// TrainedHasher is implemented by learners that record the training hash of the config they
// were trained from in their checkpoint (see TrainHash).
type TrainedHasher interface {
	TrainedHash() string
}

// CheckpointKey is the key path, relative to a policy, that names where a learner's
// checkpoint is written; it is left out of the training hash (the checkpoint is the
// training's output, not its input).
const CheckpointKey = "checkpoint"

// StaleLearners returns the learning policies that must be trained before the experiment
// runs: those with no trained model, and those whose checkpoint was trained from a config
// whose training hash differs from the current one (the state, action or reward design,
// the scenario or the policy's hyper-parameters changed).
func (b *Builder) StaleLearners() (map[string]string, error) {
	out := map[string]string{}
	for _, n := range b.PolicyNames() {
		p, err := b.BuildPolicy(n)
		if err != nil {
			return nil, err
		}
		_, learns := p.(framework.Trainer)
		var have string
		if h, ok := p.(TrainedHasher); ok {
			have = h.TrainedHash()
		} else if r, ok := p.(TrainedReporter); ok && r.Trained() {
			have = "trained"
		}
		closePolicy(p)
		if !learns {
			continue
		}
		want, err := b.TrainHash(n, "policies."+n+"."+CheckpointKey)
		if err != nil {
			return nil, err
		}
		if have != want && have != "trained" {
			out[n] = want
		}
	}
	return out, nil
}

// TrainStale trains every stale learner (StaleLearners) into <root>/train/<policy>, each
// stamped with its training hash, and returns the names trained.
func (b *Builder) TrainStale(ctx context.Context, root string, progress func(string, framework.TrainProgress)) ([]string, error) {
	stale, err := b.StaleLearners()
	if err != nil {
		return nil, err
	}
	var done []string
	for _, n := range b.PolicyNames() {
		hash, ok := stale[n]
		if !ok {
			continue
		}
		pr := func(p framework.TrainProgress) {
			if progress != nil {
				progress(n, p)
			}
		}
		if err := b.TrainPolicy(ctx, n, filepath.Join(root, "train", n), hash, pr); err != nil {
			return done, fmt.Errorf("train %s before the runs: %w", n, err)
		}
		done = append(done, n)
	}
	return done, nil
}
