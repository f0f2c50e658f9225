//go:build unix

package plugin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The Python example (sdk/examples/plugin-python) serves the contract from its
// documentation alone. The test needs python3 with grpc and grpc_tools and protoc (Debian:
// python3-grpcio python3-grpc-tools protobuf-compiler), and skips without them.
func TestPythonPlugin(t *testing.T) {
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import grpc, grpc_tools").Run() == nil {
			py = path
			break
		}
	}
	protoc, err := exec.LookPath("protoc")
	if py == "" || err != nil {
		t.Skip("needs python3 with grpc and grpc_tools, and protoc")
	}
	dir := t.TempDir()
	src, err := filepath.Abs("../../sdk/examples/plugin-python/hold.py")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// Run it with the interpreter that has grpc, whatever "python3" on PATH is.
	script = append([]byte("#!"+py+"\n"), script[len("#!/usr/bin/env python3\n"):]...)
	if err := os.WriteFile(filepath.Join(dir, "hold.py"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	proto, _ := filepath.Abs("../../sdk/proto")
	for _, cmd := range []*exec.Cmd{
		exec.Command(protoc, "-I", proto, "--python_out="+dir, "policy/v1/policy.proto"),
		exec.Command(py, "-m", "grpc_tools.protoc", "-I", proto, "--grpc_python_out="+dir, "policy/v1/policy.proto"),
	} {
		cmd.Dir = proto
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
	}
	c := defaultCfg()
	c.Command = filepath.Join(dir, "hold.py")
	c.StartTimeout = 20 * time.Second
	p, rec := startPolicy(t, c, deltaSpecs())
	for k := 0; k < 50; k++ {
		a, err := p.Act(context.Background(), obsAt(k, 2))
		// deltaSpecs is replica_delta with N = 5: the middle index is 2.
		if err != nil || len(a.Values) != 1 || a.Values[0] != 2 {
			t.Fatalf("decision %d: %v, %v; want [2]", k, a.Values, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if r, ok := rec.find("hold.py initialised"); !ok || r.Attrs["features"] != "3" {
		t.Errorf("the plugin's JSON log line did not reach the log with its attributes: %+v", r)
	}
}
