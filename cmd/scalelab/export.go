package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scalelab/scalelab/policies/wasm/export"
)

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a trained policy to a portable format",
	}
	cmd.AddCommand(newExportWasmCmd())
	return cmd
}

func newExportWasmCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "wasm CHECKPOINT",
		Short: "Turn a native PPO checkpoint into a self-contained, sandboxed WASM policy",
		Long: `Build a WASM policy module (ABI v1, docs/policy-abi.md) that acts as the checkpoint does —
argmax per discrete dimension, the Gaussian mean clipped to the bounds — with the actor
network and the observation normalisation embedded in the module. Any scalelab host runs it
without the checkpoint file:

  policies:
    shipped:
      type: wasm
      module: policy.wasm

Building needs the go command (Go 1.24 or newer) on PATH; the guest's sources are embedded in
this binary, so no network and no source checkout are needed. The module is written
atomically.`,
		Example: `  scalelab export wasm configs/checkpoints/ppo-seed.json -o ppo-seed.wasm`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				base := strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
				out = base + ".wasm"
			}
			if _, err := os.Stat(args[0]); err != nil {
				return fmt.Errorf("export wasm: checkpoint: %w", err)
			}
			if err := export.Checkpoint(cmd.Context(), args[0], out); err != nil {
				return err
			}
			fi, err := os.Stat(out)
			if err != nil {
				return errors.Join(fmt.Errorf("export wasm: the build reported success but %s is missing", out), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d KiB) from %s\n", out, (fi.Size()+1023)/1024, args[0])
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "output module (default: the checkpoint's name with .wasm, in the current directory)")
	return cmd
}
