package sweep

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/scalelab/scalelab/experiments/internal/fakes"
	"github.com/scalelab/scalelab/framework"
)

func fakeRegistry(f *fakes.Record) *framework.Registry { return fakes.Registry(f) }

// writeSweep writes a sweep file into dir whose base is testdata/base.yaml.
func writeSweep(t *testing.T, dir, body string) string {
	t.Helper()
	base, err := filepath.Abs("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(p, []byte("base: "+base+"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, path string, f *fakes.Record, root string, sets ...string) *Sweep {
	t.Helper()
	s, err := Open(path, Options{Registry: fakeRegistry(f), Root: root, Env: []string{}, Sets: sets, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
