// Package realtimetest serializes wall-clock-sensitive tests across test binaries. `go test
// ./...` runs several packages' tests at once; tests that pace real HTTP load (loadgen's rate
// tests, the emulator, calibration sweeps, the Prometheus integration test) measure timing
// and would disturb each other on a small machine. Each calls Exclusive first: an exclusive
// lock on a file in the temporary directory, held until the test ends.
package realtimetest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// LockFile is the lock's path.
var LockFile = filepath.Join(os.TempDir(), "scalelab-realtime-tests.lock")

// Exclusive blocks until no other real-time test (in any process) runs, and holds the lock
// until t ends. It logs how long it waited.
func Exclusive(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(LockFile, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("realtimetest: %v", err)
	}
	start := time.Now()
	if err := lock(f); err != nil {
		f.Close()
		t.Fatalf("realtimetest: locking %s: %v", LockFile, err)
	}
	if w := time.Since(start); w > 100*time.Millisecond {
		t.Logf("waited %v for other real-time tests", w.Round(time.Millisecond))
	}
	t.Cleanup(func() {
		_ = unlock(f)
		_ = f.Close()
	})
}
