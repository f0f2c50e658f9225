package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestScratchKeepModule(t *testing.T) {
	path := writeCheckpoint(t, cases[0], 1)
	out := "/tmp/mlp64.wasm"
	if err := Checkpoint(context.Background(), path, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile("/tmp/mlp64-ckpt.json", b, 0o644)
	_ = filepath.Join
	_ = time.Now
}
