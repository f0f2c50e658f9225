package gobuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAtLeast(t *testing.T) {
	cases := []struct {
		v    string
		want bool
	}{
		{"go1.24", true}, {"go1.24.3", true}, {"go1.26.8", true}, {"go1.23.9", false}, {"go2.0", true},
		{"go1.9", false}, {"devel go1.27-abcdef", true}, {"gccgo", false},
	}
	for _, c := range cases {
		if got := atLeast(c.v, 1, 24); got != c.want {
			t.Errorf("atLeast(%q, 1.24) = %v, want %v", c.v, got, c.want)
		}
	}
}

// writeGuest writes a minimal main package (no dependencies) into a new directory.
func writeGuest(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/guest\n\ngo 1.24\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(body), 0o644)
	return dir
}

func TestBuildAndKey(t *testing.T) {
	ctx := context.Background()
	if _, _, err := Toolchain(ctx); err != nil {
		t.Skip(err)
	}
	dir := writeGuest(t, "package main\n\n//go:wasmexport answer\nfunc answer() int32 { return 42 }\n\nfunc main() {}\n")
	k1, err := Key(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := Key(ctx, dir); k2 != k1 {
		t.Fatal("the key of unchanged sources changed")
	}
	out, err := Cached(ctx, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), "\x00asm") {
		t.Fatalf("built %s: not a WebAssembly module (%v)", out, err)
	}
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	if k3, _ := Key(ctx, dir); k3 == k1 {
		t.Fatal("changed sources kept the key")
	}
}

func TestBuildErrorShowsCompilerOutput(t *testing.T) {
	ctx := context.Background()
	if _, _, err := Toolchain(ctx); err != nil {
		t.Skip(err)
	}
	dir := writeGuest(t, "package main\n\nfunc main() { undefinedThing() }\n")
	out := filepath.Join(t.TempDir(), "p.wasm")
	err := Build(ctx, dir, out)
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Fatalf("error %v, want the compiler's message", err)
	}
	if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Fatal("a failed build left an output file")
	}
}

func TestNoToolchain(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOROOT", "")
	if _, _, err := Toolchain(context.Background()); !errors.Is(err, ErrNoToolchain) {
		t.Fatalf("error %v, want ErrNoToolchain", err)
	}
}
