package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportWasmCommand: `scalelab export wasm` turns the committed seed checkpoint into a
// WebAssembly module (magic "\0asm", version 1) at -o, and a missing checkpoint is an error
// naming it without writing anything. (policies/wasm/export's tests check the module acts
// as the native checkpoint does.)
func TestExportWasmCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go wasm module (a few seconds warm); run without -short")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "seed.wasm")
	msg, err := runCLI(t, "export", "wasm", "../../configs/checkpoints/ppo-seed.json", "-o", out)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}) {
		t.Errorf("%s is not a WebAssembly v1 binary (first bytes % x)", out, b[:min(8, len(b))])
	}
	if !strings.Contains(msg, "seed.wasm") {
		t.Errorf("output %q does not name the module", msg)
	}

	missing := filepath.Join(dir, "nope.json")
	bad := filepath.Join(dir, "bad.wasm")
	if _, err := runCLI(t, "export", "wasm", missing, "-o", bad); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing checkpoint: err = %v, want an error naming nope.json", err)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("a failed export wrote %s", bad)
	}
}
