//go:build unix

package plugin

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/scalelab/scalelab/sdk/plugin"
)

// Binaries built once per test run by TestMain: the plugin-target example (unchanged, as a
// user builds it) and testdata/faulty (the same policy with injectable faults).
var (
	targetBin string
	faultyBin string
)

// envHost makes the test binary act as a plugin host for TestHostKilled (see hostMain).
const envHost = "SCALELAB_PLUGIN_TEST_HOST"

func TestMain(m *testing.M) {
	if bin := os.Getenv(envHost); bin != "" {
		hostMain(bin)
		return
	}
	// Quiet the in-process runs of the example policy (sdk/plugin's Logger); the plugin
	// processes get their level from the host's logger instead.
	os.Setenv(sdk.EnvLogLevel, "warn")
	dir, err := os.MkdirTemp("", "plugin-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	func() {
		defer os.RemoveAll(dir)
		targetBin, faultyBin = filepath.Join(dir, "plugin-target"), filepath.Join(dir, "faulty")
		cmd := exec.Command(goTool(), "build", "-o", dir+string(filepath.Separator),
			"github.com/scalelab/scalelab/sdk/examples/plugin-target", "./testdata/faulty")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the test plugins:", err)
			return
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// goTool finds the go command: on PATH, else in $GOROOT/bin or /usr/local/go/bin.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, root := range []string{os.Getenv("GOROOT"), "/usr/local/go"} {
		if p := filepath.Join(root, "bin", "go"); root != "" && fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// hostMain is a minimal plugin host: it starts the plugin at bin, prints its pid and blocks
// until killed. TestHostKilled kills it with SIGKILL and checks that the plugin goes too.
func hostMain(bin string) {
	p, err := New(testBuildContext("orphan"), Config{Command: bin, CallTimeout: defaultCfg().CallTimeout,
		StartTimeout: defaultCfg().StartTimeout, SocketDir: os.Getenv(envHost + "_SOCKETS")})
	if err == nil {
		err = p.Init(replicasSpecs())
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("pid", p.Stats().PID)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // block until the test kills us
	os.Exit(0)
}

// trimLines splits s into non-empty trimmed lines.
func trimLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
