package k8stest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// skipReason is why Main did not start a control plane ("" when it did).
var skipReason string

// Required reports whether a missing control plane must fail the tests rather than skip
// them: in CI (CI=true) or with SCALELAB_REQUIRE_K8S=1.
func Required() bool {
	return os.Getenv("SCALELAB_REQUIRE_K8S") == "1" || strings.EqualFold(os.Getenv("CI"), "true")
}

// Main starts one control plane for a test package, stores it in *env, runs the tests and
// stops it; it returns the exit code for os.Exit. Use it from TestMain. In -short mode, or
// when the binaries are missing and Required is false, it runs the tests with *env nil (the
// integration tests then skip through Require). Set SCALELAB_K8S_VERBOSE=1 to see start-up
// progress.
func Main(m *testing.M, opts Options, env **Env) int {
	flag.Parse()
	if testing.Short() {
		skipReason = "short mode: the test control plane is not started"
		return m.Run()
	}
	if _, err := BinDir(); err != nil {
		if Required() {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
			return 1
		}
		skipReason = err.Error()
		fmt.Fprintf(os.Stderr, "k8stest: integration tests skip: %v\n", err)
		return m.Run()
	}
	if opts.Log == nil && os.Getenv("SCALELAB_K8S_VERBOSE") == "1" {
		opts.Log = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start the test control plane: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "k8stest: %v\n", err)
	}
	return code
}

// Require returns the package's control plane, or skips the test when Main did not start
// one (short mode, or binaries missing outside CI), saying why.
func Require(t testing.TB, env *Env) *Env {
	t.Helper()
	if env == nil {
		if skipReason == "" {
			skipReason = "no control plane: start it with k8stest.Main in TestMain"
		}
		t.Skip(skipReason)
	}
	if err := env.Check(); err != nil {
		t.Fatal(err)
	}
	return env
}
