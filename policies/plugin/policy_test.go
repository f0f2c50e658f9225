//go:build unix

package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/sdk/examples/plugin-target/target"
)

// The example plugin answers exactly what the same policy answers in-process, decision by
// decision, over many decisions and both action designs, including missing values.
func TestActMatchesInProcess(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs framework.Specs
	}{
		{"replicas", replicasSpecs()},
		{"replica_delta", deltaSpecs()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCfg()
			c.Command = targetBin
			c.Args = []string{"-feature=cpu_util", "-target=0.7"}
			p, _ := startPolicy(t, c, tc.specs)
			native := target.New(target.Config{Feature: "cpu_util", Target: 0.7, Tolerance: 0.1})
			if err := native.Init(sdkSpec(tc.specs, 7, "test")); err != nil {
				t.Fatal(err)
			}
			replicas := 1
			for k := 0; k < 500; k++ {
				obs := obsAt(k, replicas)
				a, err := p.Act(context.Background(), obs)
				if err != nil {
					t.Fatalf("decision %d: %v", k, err)
				}
				want := nativeAct(t, native, tc.specs.Action.Dim(), obs)
				if fmtAction(a.Values) != fmtAction(want) {
					t.Fatalf("decision %d: plugin %v, in-process %v", k, a.Values, want)
				}
				if err := tc.specs.Action.Contains(a); err != nil {
					t.Fatalf("decision %d: %v", k, err)
				}
				// Follow the action so the observations cover every replica count.
				if tc.specs.ActionDesign == "replicas" {
					replicas = int(a.Values[0])
				} else {
					replicas = min(4, max(1, replicas+int(a.Values[0])-2))
				}
			}
			if s := p.Stats(); s.Starts != 1 || s.Failures != 0 || s.Restarts != 0 {
				t.Errorf("stats %+v, want one start and no failures", s)
			}
		})
	}
}

// Killing the plugin from outside makes the next decision fail; the one after is served by
// a restarted process.
func TestKilledPluginRestarts(t *testing.T) {
	c := defaultCfg()
	c.Command = targetBin
	c.RestartBackoff = 10 * time.Millisecond
	p, rec := startPolicy(t, c, replicasSpecs())
	for k := 0; k < 5; k++ {
		if _, err := p.Act(context.Background(), obsAt(k, 2)); err != nil {
			t.Fatalf("decision %d: %v", k, err)
		}
	}
	old := p.Stats().PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the killed plugin to be reaped", func() bool { return !pidAlive(old) })
	_, err := p.Act(context.Background(), obsAt(5, 2))
	if err == nil || !strings.Contains(err.Error(), "restart 1 of 5") {
		t.Fatalf("decision after the kill: err = %v, want a failure announcing restart 1 of 5", err)
	}
	a, err := p.Act(context.Background(), obsAt(6, 2))
	if err != nil {
		t.Fatalf("decision after the restart: %v", err)
	}
	if len(a.Values) != 1 {
		t.Fatalf("action %v", a.Values)
	}
	s := p.Stats()
	if s.Restarts != 1 || s.Failures != 1 || s.Starts != 2 || s.PID == old || s.PID == 0 {
		t.Errorf("stats %+v, want 1 restart, 1 failure, 2 starts and a new pid (old %d)", s, old)
	}
	if _, ok := rec.find("plugin restarted"); !ok {
		t.Error(`no "plugin restarted" record in the log`)
	}
}

// A plugin that fails on every first decision is restarted max_restarts times and then
// disabled: every later call returns ErrDisabled at once, without starting a process.
func TestRepeatedFailuresDisable(t *testing.T) {
	c := defaultCfg()
	c.Command = faultyBin
	c.Args = []string{"-fault=exit", "-at=1"}
	c.MaxRestarts = 2
	c.RestartBackoff = time.Millisecond
	p, rec := startPolicy(t, c, replicasSpecs())
	// Call 1: crash → restart 1 scheduled. Call 2: restart 1, crash → restart 2 scheduled.
	// Call 3: restart 2, crash; restarts (2) = max_restarts (2) → disabled. Call 4: disabled.
	for i, want := range []string{"restart 1 of 2", "restart 2 of 2", "disabled", "disabled"} {
		_, err := p.Act(context.Background(), obsAt(i, 1))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("call %d: err = %v, want it to mention %q", i+1, err, want)
		}
		if want == "disabled" && !errors.Is(err, ErrDisabled) {
			t.Fatalf("call %d: %v does not wrap ErrDisabled", i+1, err)
		}
	}
	s := p.Stats()
	if s.Starts != 3 || s.Restarts != 2 || s.Failures != 3 || !s.Disabled || s.PID != 0 {
		t.Errorf("stats %+v, want 3 starts, 2 restarts, 3 failures, disabled, no process", s)
	}
	if !strings.Contains(s.LastFailure, "exited") {
		t.Errorf("last failure %q does not say the process exited", s.LastFailure)
	}
	if _, ok := rec.find("plugin disabled for the rest of the run"); !ok {
		t.Error("disabling was not logged")
	}
	if err := p.Init(replicasSpecs()); !errors.Is(err, ErrDisabled) {
		t.Errorf("Init after disabling: %v, want ErrDisabled", err)
	}
}

// Faults that mean the process can no longer be trusted fail the decision and restart the
// plugin; faults that are plain bad answers fail only the decision.
func TestFaultsPerDecision(t *testing.T) {
	for _, tc := range []struct {
		fault   string
		want    string // in the failed decision's error
		restart bool
	}{
		{"exit", "process exited", true},
		{"hang", "no answer within the deadline", true},
		{"wrong-length", "malformed answer: 2 action values, the action space has 1", true},
		{"garbage", "Internal", true},
		{"panic", "injected panic", true},
		{"nan", "is not finite", false},
		{"error", "injected error at call 3", false},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			c := defaultCfg()
			c.Command = faultyBin
			c.Args = []string{"-fault=" + tc.fault, "-at=3", "-once=" + filepath.Join(t.TempDir(), "fired"),
				"-feature=cpu_util", "-target=0.7"}
			c.RestartBackoff = 5 * time.Millisecond
			c.CallTimeout = 300 * time.Millisecond
			p, _ := startPolicy(t, c, replicasSpecs())
			pid := p.Stats().PID
			for k := 0; k < 8; k++ {
				_, err := p.Act(context.Background(), obsAt(k, 2))
				switch {
				case k == 2 && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Fatalf("decision %d: err = %v, want it to mention %q", k, err, tc.want)
				case k != 2 && err != nil:
					t.Fatalf("decision %d: %v", k, err)
				}
			}
			s := p.Stats()
			if tc.restart {
				if s.Restarts != 1 || s.Failures != 1 || s.PID == pid {
					t.Errorf("stats %+v: want 1 restart, 1 failure and a new process (old pid %d)", s, pid)
				}
				waitFor(t, 10*time.Second, "the failed process to be reaped", func() bool { return !pidAlive(pid) })
			} else if s.Restarts != 0 || s.Failures != 0 || s.PID != pid {
				t.Errorf("stats %+v: want the same process (pid %d), no restart", s, pid)
			}
		})
	}
}

// A restarted plugin that is slower than what the restart left of the decision's deadline
// fails that decision but is not taken for hung: it is kept, and answers the next one.
func TestSlowAfterRestartIsNotAHang(t *testing.T) {
	c := defaultCfg()
	c.Command = faultyBin
	c.Args = []string{"-fault=exit", "-at=2", "-once=" + filepath.Join(t.TempDir(), "fired"), "-slow-after-fault=1300ms"}
	c.RestartBackoff = time.Millisecond
	p, _ := startPolicy(t, c, replicasSpecs())
	act := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := p.Act(ctx, obsAt(0, 2))
		return err
	}
	if err := act(); err != nil {
		t.Fatalf("decision 1: %v", err)
	}
	if err := act(); err == nil || !strings.Contains(err.Error(), "process exited") {
		t.Fatalf("decision 2: %v, want the crash", err)
	}
	pid := 0
	// Decision 3 restarts the plugin, whose first answer takes 1.3 s of a 1 s deadline.
	if err := act(); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("decision 3: %v, want a deadline error", err)
	}
	pid = p.Stats().PID
	// Decision 4 waits for the slow first answer to finish (0.3–0.5 s) and is answered.
	if err := act(); err != nil {
		t.Fatalf("decision 4: %v", err)
	}
	if s := p.Stats(); s.Restarts != 1 || s.Failures != 1 || s.PID != pid || pid == 0 {
		t.Errorf("stats %+v: want 1 restart, 1 failure, and the restarted process (pid %d) kept", s, pid)
	}
}

// Start-up failures are reported by Init (or New) with their cause and leave nothing behind.
func TestStartFailures(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		command string
		args    []string
		sum     string
		newErr  string // expected New error, else ""
		initErr string // expected Init error
	}{
		{name: "missing", command: "/nonexistent/plugin", newErr: "command: stat /nonexistent/plugin: no such file"},
		{name: "not executable", command: notExec, newErr: "is not executable"},
		{name: "checksum mismatch", command: targetBin, sum: strings.Repeat("ab", 32), newErr: "checksum: "},
		{name: "exit at start", command: faultyBin, args: []string{"-fault=exit-at-start"}, initErr: "the plugin exited during start-up (exit status 4"},
		{name: "bad handshake", command: faultyBin, args: []string{"-fault=bad-handshake"}, initErr: "Unrecognized remote plugin message"},
		{name: "refuses spec", command: faultyBin, args: []string{"-fault=refuse-init"}, initErr: "init: Unimplemented: Init: unsupported: this plugin refuses every spec"},
		{name: "not a plugin", command: "/bin/true", initErr: "the plugin exited during start-up (exit status 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCfg()
			c.Command, c.Args, c.Checksum = tc.command, tc.args, tc.sum
			c.SocketDir = shortTempDir(t)
			c.StartTimeout = 5 * time.Second
			p, err := New(testBuildContext("bad"), c)
			if tc.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.newErr) {
					t.Fatalf("New: err = %v, want it to mention %q", err, tc.newErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			err = p.Init(replicasSpecs())
			if err == nil || !strings.Contains(err.Error(), tc.initErr) {
				t.Fatalf("Init: err = %v, want it to mention %q", err, tc.initErr)
			}
			// Nothing is left even if the caller never calls Close.
			if left := dirEntries(t, c.SocketDir); len(left) > 0 {
				t.Errorf("socket_dir not empty after the failed Init: %v", left)
			}
			if _, err := p.Act(context.Background(), obsAt(0, 1)); !errors.Is(err, ErrNotInitialized) {
				t.Errorf("Act after a failed Init: %v, want ErrNotInitialized", err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if left := dirEntries(t, c.SocketDir); len(left) > 0 {
				t.Errorf("socket_dir not empty after Close: %v", left)
			}
		})
	}
}

// A correct checksum lets the plugin start; it is accepted with or without "sha256:".
func TestChecksumAccepted(t *testing.T) {
	sum, err := fileSHA256(targetBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{sum, "sha256:" + strings.ToUpper(sum)} {
		c := defaultCfg()
		c.Command, c.Checksum = targetBin, s
		p, _ := startPolicy(t, c, replicasSpecs())
		if _, err := p.Act(context.Background(), obsAt(0, 1)); err != nil {
			t.Fatalf("checksum %q: %v", s, err)
		}
	}
}

// Observe and Reset reach a plugin that implements them, in order, and Close reaches it
// before the process stops.
func TestObserveResetClose(t *testing.T) {
	record := filepath.Join(t.TempDir(), "calls")
	c := defaultCfg()
	c.Command = faultyBin
	c.Args = []string{"-record=" + record}
	p, _ := startPolicy(t, c, deltaSpecs())
	p.Reset()
	if _, err := p.Act(context.Background(), obsAt(0, 1)); err != nil {
		t.Fatal(err)
	}
	p.Observe(1.5, false)
	p.Observe(-2, true)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"init replica_delta 3 test", "reset", "observe 1.5 false", "observe -2 true", "close"}
	if got := trimLines(string(data)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("plugin saw %q, want %q", got, want)
	}
	if _, err := p.Act(context.Background(), obsAt(1, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Act after Close: %v, want ErrClosed", err)
	}
}

// The plugin's log lines reach the host's structured log with their level and attributes,
// tagged with the policy, stream and pid; a panic's report is logged as an error.
func TestPluginLogsReachSlog(t *testing.T) {
	c := defaultCfg()
	c.Command = faultyBin
	c.Args = []string{"-fault=panic", "-at=1"}
	c.MaxRestarts = 0
	p, rec := startPolicy(t, c, replicasSpecs())
	pid := fmt.Sprint(p.Stats().PID)
	if _, err := p.Act(context.Background(), obsAt(0, 1)); !errors.Is(err, ErrDisabled) {
		t.Fatalf("Act: %v, want ErrDisabled (max_restarts 0)", err)
	}
	p.Close() // flushes the log writers
	r, ok := rec.find("faulty plugin starting")
	if !ok {
		t.Fatalf("the plugin's start-up record is not in the log: %+v", rec.records())
	}
	if r.Level != 0 || r.Attrs["fault"] != "panic" || r.Attrs["policy"] != "test" || r.Attrs["stream"] != "stderr" {
		t.Errorf("record %+v: want level INFO with fault=panic, policy=test, stream=stderr", r)
	}
	r, ok = rec.find("policy panicked; the host will restart the plugin")
	if !ok || r.Level.String() != "ERROR" || r.Attrs["pid"] != pid || !strings.Contains(r.Attrs["stack"], "main.(*policy).Act") {
		t.Errorf("panic record %+v (found %t): want an ERROR with pid %s and the stack", r, ok, pid)
	}
}

func TestCloseAll(t *testing.T) {
	var ps []*Policy
	var pids []int
	for range 2 {
		c := defaultCfg()
		c.Command = targetBin
		c.SocketDir = shortTempDir(t)
		p, err := New(testBuildContext("all"), c)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Init(replicasSpecs()); err != nil {
			t.Fatal(err)
		}
		ps, pids = append(ps, p), append(pids, p.Stats().PID)
	}
	CloseAll()
	for i, p := range ps {
		if pidAlive(pids[i]) {
			t.Errorf("plugin %d (pid %d) alive after CloseAll", i, pids[i])
		}
		if _, err := p.Act(context.Background(), obsAt(0, 1)); !errors.Is(err, ErrClosed) {
			t.Errorf("plugin %d: Act after CloseAll: %v", i, err)
		}
	}
}

// By default the host puts the plugin's socket in a private directory under the system
// temporary directory and removes it: nothing is left in TMPDIR.
func TestNoSocketLeftInTmp(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c := defaultCfg()
	c.Command = targetBin
	p, err := New(testBuildContext("tmp"), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Init(replicasSpecs()); err != nil {
		t.Fatal(err)
	}
	var sock string
	_ = filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSocket != 0 {
			sock = path
		}
		return nil
	})
	if sock == "" || !strings.HasPrefix(sock, filepath.Join(tmp, "sl-plugin-")) {
		t.Errorf("socket %q, want one under %s/sl-plugin-*", sock, tmp)
	}
	pid := p.Stats().PID
	// Kill the plugin so that it cannot remove its own socket: the host must.
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if left := dirEntries(t, tmp); len(left) > 0 {
		t.Errorf("TMPDIR not empty after Close: %v", left)
	}
}

// A plugin whose host is killed (no chance to stop it) exits too.
func TestHostKilled(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := execCommand(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envHost+"="+targetBin, envHost+"_SOCKETS="+shortTempDir(t))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscanf(out, "pid %d\n", &pid); err != nil || pid <= 0 {
		_ = cmd.Process.Kill()
		t.Fatalf("host did not report a plugin pid: %v", err)
	}
	if !pidAlive(pid) {
		t.Fatalf("plugin %d not running", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The plugin is re-parented and reaped by init (or the nearest subreaper) after it dies.
	waitFor(t, 10*time.Second, "the orphaned plugin to exit", func() bool { return !pidAlive(pid) })
}

// The restart backoff doubles per consecutive failure up to 32 times restart_backoff.
func TestBackoff(t *testing.T) {
	p := &Policy{cfg: Config{RestartBackoff: 100 * time.Millisecond}}
	// restart_backoff × 2^(streak−1), capped at × 32.
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 3200, 3200}
	for i, w := range want {
		p.streak = i + 1
		if got := p.backoff(); got != w*time.Millisecond {
			t.Errorf("streak %d: backoff %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

// A restart that is due after the decision's deadline is not waited for: the decision fails
// at once; one due before the deadline is waited for with the injected clock.
func TestRestartWaitsOnlyWithinDeadline(t *testing.T) {
	c := defaultCfg()
	c.Command = targetBin
	p, _ := startPolicy(t, c, replicasSpecs())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	p.now = func() time.Time { return now }
	p.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		now = now.Add(d)
		return nil
	}
	p.mu.Lock()
	p.stopAsync(p.proc, true)
	p.proc, p.st, p.nextStart, p.stats.LastFailure = nil, stateBroken, now.Add(time.Second), "act: test"
	p.mu.Unlock()

	ctx, cancel := context.WithDeadline(context.Background(), now.Add(500*time.Millisecond))
	_, err := p.Act(ctx, obsAt(0, 1))
	cancel()
	if err == nil || !strings.Contains(err.Error(), "next attempt in 1s") || len(slept) != 0 {
		t.Fatalf("deadline before the restart: err = %v, slept %v; want an immediate failure", err, slept)
	}
	if _, err := p.Act(context.Background(), obsAt(0, 1)); err != nil {
		t.Fatalf("no deadline: %v", err)
	}
	if len(slept) != 1 || slept[0] != time.Second || p.Stats().Restarts != 1 {
		t.Errorf("slept %v, restarts %d; want one wait of 1s and one restart", slept, p.Stats().Restarts)
	}
}
