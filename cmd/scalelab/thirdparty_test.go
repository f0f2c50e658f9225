package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/policies/wasm/gobuild"
)

// seedWith writes a copy of configs/seed.yaml into dir whose hpa policy is kept as the
// baseline and whose other baselines are replaced by entry (a third-party policy): the
// "only a config change" of issues 7 and 8.
func seedWith(t *testing.T, dir, entry string) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "  # Over-provisioning bound")
	if i < 0 {
		t.Fatal("seed.yaml layout changed: cannot find the baselines after hpa")
	}
	s = s[:i] + entry
	p := filepath.Join(dir, "seed-thirdparty.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkRan(t *testing.T, out, root, policy string) {
	t.Helper()
	if !strings.Contains(out, policy) {
		t.Errorf("summary lacks %s:\n%s", policy, out)
	}
	md, err := os.ReadFile(filepath.Join(root, "summary.md"))
	if err != nil || !strings.Contains(string(md), "| "+policy+" |") {
		t.Errorf("summary.md lacks a %s row (%v)", policy, err)
	}
}

// TestWASMPolicyInSeedExperiment builds the SDK's threshold example with the Go toolchain and
// runs it in the seed experiment beside the HPA with only a config entry.
func TestWASMPolicyInSeedExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WASM guest")
	}
	dir := t.TempDir()
	mod, err := gobuild.Cached(context.Background(), "../../sdk/examples/wasm-threshold", gobuild.DefaultCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := seedWith(t, dir, "  wasm-threshold:\n    type: wasm\n    module: "+mod+"\n    params: {feature: p95_latency_ms, upper: 40, lower: 15}\n")
	root := filepath.Join(dir, "out")
	out, err := runCLI(t, append([]string{"run", cfg, "--out", root, "--set", "experiment.profiles=[high]"}, quick...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkRan(t, out, root, "wasm-threshold")
}

// TestPluginPolicyInSeedExperiment builds the go-plugin example and runs it in the seed
// experiment beside the HPA with only a config entry.
func TestPluginPolicyInSeedExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "plugin-target")
	build := exec.Command("go", "build", "-o", bin, "../../sdk/examples/plugin-target")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	cfg := seedWith(t, dir, "  plugin-target:\n    type: plugin\n    command: "+bin+"\n    args: [-feature=cpu_util, -target=0.7]\n")
	root := filepath.Join(dir, "out")
	out, err := runCLI(t, append([]string{"run", cfg, "--out", root, "--set", "experiment.profiles=[high]"}, quick...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkRan(t, out, root, "plugin-target")
}
