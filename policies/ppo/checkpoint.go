package ppo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/scalelab/scalelab/framework"
)

// Checkpoint file identification.
const (
	// CheckpointFormat is the value of a checkpoint's "format" field.
	CheckpointFormat = "scalelab-ppo-checkpoint"
	// CheckpointVersion is the version this package writes and reads.
	CheckpointVersion = 1
)

// ErrSpecsMismatch is returned (wrapped) when a checkpoint's observation features or action
// space differ from the configured state and action design.
var ErrSpecsMismatch = errors.New("checkpoint does not match the configured state/action design")

// Checkpoint is a versioned PPO checkpoint: the network, the specs it was trained for, the
// observation normalisation statistics, the config hash and, for resumable checkpoints,
// the optimiser, normaliser and random-generator state. It is stored as JSON; float64
// values survive the round trip exactly (encoding/json writes the shortest representation
// that parses back to the same bits).
type Checkpoint struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	ConfigHash string          `json:"config_hash"`
	Env        string          `json:"env,omitempty"`
	Specs      framework.Specs `json:"specs"`
	Network    NetworkSpec     `json:"network"`
	Params     []float64       `json:"params"`
	// ObsNorm are the observation statistics the policy normalises with (norm_obs): the
	// per-environment statistics of training merged into one.
	ObsNorm    *RunningMeanStd `json:"obs_norm,omitempty"`
	Iteration  int             `json:"iteration"`
	Iterations int             `json:"iterations"`
	GlobalStep int64           `json:"global_step"`
	// Train is present in resumable checkpoints only.
	Train *TrainState `json:"train,omitempty"`
}

// NetworkSpec describes the network a checkpoint's parameters belong to.
type NetworkSpec struct {
	ObsDim      int     `json:"obs_dim"`
	HiddenSizes []int   `json:"hidden_sizes"`
	Activation  string  `json:"activation"`
	MaskInput   bool    `json:"mask_input"`
	NormObs     bool    `json:"norm_obs"`
	ObsClip     float64 `json:"obs_clip"`
	NumParams   int     `json:"num_params"`
}

// TrainState is what resuming needs beyond the network.
type TrainState struct {
	AdamM        []float64           `json:"adam_m"`
	AdamV        []float64           `json:"adam_v"`
	AdamT        int                 `json:"adam_t"`
	ObsNorm      []*RunningMeanStd   `json:"obs_norm,omitempty"`
	RewardNorm   []*rewardNormalizer `json:"reward_norm,omitempty"`
	ActRNG       []byte              `json:"act_rng"`
	ShuffleRNG   []byte              `json:"shuffle_rng"`
	EnvEpisodes  []uint64            `json:"env_episodes"`
	EpisodeCount int                 `json:"episode_count"`
	Recent       []float64           `json:"recent_returns"`
	// Monitor is the convergence monitor's state (probes, plateau and stability runs,
	// the best validated policy, a stop); absent in checkpoints written before it existed.
	Monitor *MonitorState `json:"monitor,omitempty"`
}

// network rebuilds the network the checkpoint's parameters belong to.
func (c *Checkpoint) network() (*net, error) {
	act, err := parseActivation(c.Network.Activation)
	if err != nil {
		return nil, err
	}
	n, err := newNet(inputDim(c.Network.ObsDim, c.Network.MaskInput), c.Network.HiddenSizes, act, c.Specs.Action)
	if err != nil {
		return nil, err
	}
	if n.n != len(c.Params) || c.Network.NumParams != len(c.Params) {
		return nil, fmt.Errorf("has %d parameters (header says %d), the network needs %d", len(c.Params), c.Network.NumParams, n.n)
	}
	return n, nil
}

// model returns the checkpoint's policy.
func (c *Checkpoint) model() (*model, error) {
	n, err := c.network()
	if err != nil {
		return nil, err
	}
	var norm *RunningMeanStd
	if c.Network.NormObs {
		if c.ObsNorm == nil || len(c.ObsNorm.Mean) != c.Network.ObsDim || len(c.ObsNorm.Var) != c.Network.ObsDim {
			return nil, fmt.Errorf("norm_obs is set but the observation statistics are missing or the wrong size")
		}
		norm = c.ObsNorm.Clone()
	}
	return newModel(n, slices.Clone(c.Params), c.Network.ObsDim, norm, c.Network.ObsClip, c.Network.MaskInput, c.Specs.Action), nil
}

// CheckSpecs returns an error wrapping ErrSpecsMismatch that names the difference when s
// (the configured state and action design) differs from the checkpoint's: feature names
// in order, action space kind, sizes and bounds. The decision interval and the action
// design's name are not compared.
func (c *Checkpoint) CheckSpecs(s framework.Specs) error {
	return specsMatch(c.Specs, s)
}

func specsMatch(want, got framework.Specs) error {
	names := func(fs []framework.FeatureSpec) []string {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = f.Name
		}
		return out
	}
	if w, g := names(want.Features), names(got.Features); !slices.Equal(w, g) {
		return fmt.Errorf("%w: checkpoint observes [%s], configured state design is [%s]", ErrSpecsMismatch, strings.Join(w, " "), strings.Join(g, " "))
	}
	wa, ga := want.Action, got.Action
	if wa.Kind != ga.Kind || wa.N != ga.N || !slices.Equal(wa.Nvec, ga.Nvec) || !slices.Equal(wa.Low, ga.Low) || !slices.Equal(wa.High, ga.High) {
		return fmt.Errorf("%w: checkpoint acts in %s, configured action design (%s) acts in %s", ErrSpecsMismatch, spaceString(wa), got.ActionDesign, spaceString(ga))
	}
	return nil
}

func spaceString(s framework.ActionSpace) string {
	switch s.Kind {
	case framework.Discrete:
		return fmt.Sprintf("discrete(%d)", s.N)
	case framework.MultiDiscrete:
		return fmt.Sprintf("multi_discrete%v", s.Nvec)
	default:
		return fmt.Sprintf("box(low=%v, high=%v)", s.Low, s.High)
	}
}

// WriteCheckpoint writes c to path atomically (temporary file and rename), as compact
// JSON.
func WriteCheckpoint(path string, c *Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return framework.WriteFileAtomic(path, append(b, '\n'))
}

// ReadCheckpoint reads and checks a checkpoint file: format, version and that its
// parameters fit the network it describes.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if c.Format != CheckpointFormat {
		return nil, fmt.Errorf("checkpoint %s: format %q is not %q", path, c.Format, CheckpointFormat)
	}
	if c.Version != CheckpointVersion {
		return nil, fmt.Errorf("checkpoint %s: version %d, this scalelab reads version %d", path, c.Version, CheckpointVersion)
	}
	if _, err := c.network(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return &c, nil
}
