// Package export turns a trained PPO checkpoint (policies/ppo, format
// "scalelab-ppo-checkpoint" version 1) into a self-contained WASM policy module: the
// checkpoint's actor network and observation normalisation become an sdk/wasm/mlp model,
// which is embedded in a generated guest and built with the Go toolchain. The module acts
// as the native checkpoint does (argmax per discrete dimension, the Gaussian mean clipped
// to the bounds for a box), sandboxed, in any scalelab host, without the checkpoint file.
//
// It is what `scalelab export wasm CHECKPOINT -o policy.wasm` runs. Building needs the go
// command (Go 1.24 or newer); without it, Build returns an error wrapping
// gobuild.ErrNoToolchain that says so. The guest is built from the SDK sources embedded in
// this binary (sdk/wasm.Sources), so no network and no source checkout are needed.
//
// The checkpoint is read through its JSON form rather than by importing policies/ppo, so
// this package depends on the file format only (components do not import each other);
// the tests check the result against the native policy.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/wasm/gobuild"
	sdk "github.com/scalelab/scalelab/sdk/wasm"
	"github.com/scalelab/scalelab/sdk/wasm/mlp"
)

// The checkpoint format this package reads.
const (
	checkpointFormat  = "scalelab-ppo-checkpoint"
	checkpointVersion = 1
	// normEps is the ε of PPO's observation normalisation (Gymnasium's).
	normEps = 1e-8
)

// checkpoint is the part of a PPO checkpoint the export uses.
type checkpoint struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	ConfigHash string          `json:"config_hash"`
	Specs      framework.Specs `json:"specs"`
	Network    struct {
		ObsDim      int     `json:"obs_dim"`
		HiddenSizes []int   `json:"hidden_sizes"`
		Activation  string  `json:"activation"`
		MaskInput   bool    `json:"mask_input"`
		NormObs     bool    `json:"norm_obs"`
		ObsClip     float64 `json:"obs_clip"`
		NumParams   int     `json:"num_params"`
	} `json:"network"`
	Params  []float64 `json:"params"`
	ObsNorm *struct {
		Mean []float64 `json:"mean"`
		Var  []float64 `json:"var"`
	} `json:"obs_norm"`
	Iteration  int   `json:"iteration"`
	GlobalStep int64 `json:"global_step"`
}

// ModelFromCheckpoint converts a PPO checkpoint file's contents into an MLP model.
//
// The checkpoint's parameters are one flat vector: the actor's layers first, each as its
// weights (out×in, row-major) followed by its biases, from the input width (the feature
// count, doubled with mask_input) through the hidden sizes to the action head's width
// (n for discrete, Σ nvec for multi-discrete, the dimension for a box); then the critic
// and, for a box, the log-std, which acting does not use.
func ModelFromCheckpoint(data []byte, name string) (*mlp.Model, error) {
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if c.Format != checkpointFormat || c.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s: format %q version %d; this export reads %q version %d",
			name, c.Format, c.Version, checkpointFormat, checkpointVersion)
	}
	n := c.Network
	if n.ObsDim != len(c.Specs.Features) {
		return nil, fmt.Errorf("checkpoint %s: obs_dim %d but %d features", name, n.ObsDim, len(c.Specs.Features))
	}
	act := strings.ToLower(n.Activation)
	m := &mlp.Model{
		Format: mlp.Format, Version: mlp.Version, Activation: act, MaskInput: n.MaskInput,
		Description: fmt.Sprintf("exported from PPO checkpoint %s (sha256 %x, config_hash %s, iteration %d, global_step %d)",
			filepath.Base(name), sha256.Sum256(data), c.ConfigHash, c.Iteration, c.GlobalStep),
	}
	for _, f := range c.Specs.Features {
		m.Inputs = append(m.Inputs, f.Name)
	}
	s := c.Specs.Action
	m.Action = mlp.Action{Kind: string(s.Kind), N: s.N, Nvec: s.Nvec, Low: s.Low, High: s.High}
	var out int
	switch s.Kind {
	case framework.Discrete:
		out = s.N
	case framework.MultiDiscrete:
		for _, k := range s.Nvec {
			out += k
		}
	case framework.Box:
		out = len(s.Low)
	default:
		return nil, fmt.Errorf("checkpoint %s: action kind %q", name, s.Kind)
	}
	if n.NormObs {
		if c.ObsNorm == nil || len(c.ObsNorm.Mean) != n.ObsDim || len(c.ObsNorm.Var) != n.ObsDim {
			return nil, fmt.Errorf("checkpoint %s: norm_obs is set but the observation statistics are missing or the wrong size", name)
		}
		m.Normalize = &mlp.Normalization{Mean: c.ObsNorm.Mean, Var: c.ObsNorm.Var, Epsilon: normEps, Clip: n.ObsClip}
	}
	in := n.ObsDim
	if n.MaskInput {
		in *= 2
	}
	off := 0
	for _, h := range append(append([]int(nil), n.HiddenSizes...), out) {
		end := off + h*in + h
		if h < 1 || end > len(c.Params) {
			return nil, fmt.Errorf("checkpoint %s: %d parameters do not hold the actor layer %d→%d", name, len(c.Params), in, h)
		}
		m.Layers = append(m.Layers, mlp.Layer{
			In: in, Out: h,
			Weights: append([]float64(nil), c.Params[off:off+h*in]...),
			Bias:    append([]float64(nil), c.Params[off+h*in:end]...),
		})
		off, in = end, h
	}
	if len(c.Params) != n.NumParams {
		return nil, fmt.Errorf("checkpoint %s: %d parameters, the header says %d", name, len(c.Params), n.NumParams)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return m, nil
}

// mainGo is the generated guest: the model embedded and registered.
const mainGo = `// Code generated by scalelab export wasm. DO NOT EDIT.

// Command policy is a PPO policy exported from a scalelab checkpoint: an sdk/wasm/mlp
// model (model.json) embedded in a WASM policy module (ABI v1).
package main

import (
	_ "embed"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
	"github.com/scalelab/scalelab/sdk/wasm/mlp"
)

//go:embed model.json
var model []byte

func init() { sdk.Register(mlp.MustParse(model)) }

func main() {}
`

// Build writes the model and the SDK sources into a temporary module and builds the
// policy module at out (atomically).
func Build(ctx context.Context, m *mlp.Model, out string) error {
	if err := m.Check(); err != nil {
		return err
	}
	model, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "scalelab-export-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{
		"go.mod":            []byte("module github.com/scalelab/scalelab\n\ngo 1.24\n"),
		"policy/main.go":    []byte(mainGo),
		"policy/model.json": model,
	}
	err = fs.WalkDir(sdk.Sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := sdk.Sources.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.Join("sdk", "wasm", p)] = b
		return nil
	})
	if err != nil {
		return fmt.Errorf("export: SDK sources: %w", err)
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	if err := gobuild.Build(ctx, filepath.Join(dir, "policy"), out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// Checkpoint exports the PPO checkpoint at path as the WASM policy module out.
func Checkpoint(ctx context.Context, path, out string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	m, err := ModelFromCheckpoint(data, path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return Build(ctx, m, out)
}
