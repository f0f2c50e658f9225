//go:build unix

package plugin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/sdk/examples/plugin-target/target"
	sdk "github.com/scalelab/scalelab/sdk/plugin"
)

func defaultCfg() Config { return *Defaults() }

// logRecorder is an slog.Handler that keeps every record with its attributes flattened to
// strings, for tests that check what reached the structured log.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]logRec
	attrs []slog.Attr
}

type logRec struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, recs: &[]logRec{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, logRec{Level: r.Level, Msg: r.Message, Attrs: m})
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

func (h *logRecorder) records() []logRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRec(nil), *h.recs...)
}

// find returns the first record whose message is msg.
func (h *logRecorder) find(msg string) (logRec, bool) {
	for _, r := range h.records() {
		if r.Msg == msg {
			return r, true
		}
	}
	return logRec{}, false
}

func testBuildContext(name string) framework.BuildContext {
	return framework.BuildContext{Name: name, Seed: 7, Logger: slog.New(slog.DiscardHandler)}
}

// replicasSpecs is a state design of three features and the absolute replicas design as a
// Box [1, 4].
func replicasSpecs() framework.Specs {
	var feats []framework.FeatureSpec
	for _, n := range []string{"cpu_util", "replicas_desired", "replicas_ready"} {
		f, err := framework.LookupFeature(n)
		if err != nil {
			panic(err)
		}
		feats = append(feats, f)
	}
	return framework.Specs{
		Features: feats,
		Action: framework.ActionSpace{Kind: framework.Box, Low: []float64{1}, High: []float64{4},
			Names: []string{"replicas"}},
		ActionDesign: "replicas",
		Interval:     15 * time.Second,
	}
}

// deltaSpecs is the same state design with replica_delta, max_step 2 (Discrete N = 5).
func deltaSpecs() framework.Specs {
	s := replicasSpecs()
	s.Action = framework.ActionSpace{Kind: framework.Discrete, N: 5, Names: []string{"replica_delta"}}
	s.ActionDesign = "replica_delta"
	return s
}

// sdkSpec is what the plugin's SDK decodes from s (for running the same policy in-process).
func sdkSpec(s framework.Specs, seed uint64, name string) sdk.Spec {
	spec, err := sdk.SpecFromProto(initRequest(s, seed, name))
	if err != nil {
		panic(err)
	}
	return spec
}

// nativeAct runs the target policy in-process on one observation.
func nativeAct(t *testing.T, p *target.Policy, dim int, obs framework.Observation) []float64 {
	t.Helper()
	a := make([]float64, dim)
	for i := range a {
		a[i] = math.NaN()
	}
	if err := p.Act(obs.Values, obs.Valid, a); err != nil {
		t.Fatalf("native act: %v", err)
	}
	return a
}

// startPolicy builds and initialises a plugin policy; Cleanup closes it and checks that
// every process it started is gone and its socket directory removed.
func startPolicy(t *testing.T, c Config, specs framework.Specs) (*Policy, *logRecorder) {
	t.Helper()
	rec := newLogRecorder()
	bc := testBuildContext("test")
	bc.Logger = slog.New(rec)
	if c.SocketDir == "" {
		c.SocketDir = shortTempDir(t)
	}
	p, err := New(bc, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pids := &pidLog{}
	p.onStart = pids.add
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids.all() {
			if pidAlive(pid) {
				t.Errorf("plugin process %d still exists after Close", pid)
			}
		}
		if left := dirEntries(t, c.SocketDir); len(left) > 0 {
			t.Errorf("socket_dir %s not empty after Close: %v", c.SocketDir, left)
		}
	})
	if err := p.Init(specs); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return p, rec
}

// pidLog collects the pids of the processes a policy started.
type pidLog struct {
	mu   sync.Mutex
	pids []int
}

func (l *pidLog) add(pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pids = append(l.pids, pid)
}

func (l *pidLog) all() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.pids...)
}

// pidAlive reports whether a process with this pid exists (a zombie counts: it has not been
// reaped).
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes (for events in another process:
// reaping, exiting).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// obsAt is a deterministic observation for step k over replicasSpecs' features: a CPU
// utilisation swinging between 0.2 and 1.4 on a 17-step cycle, some missing values.
func obsAt(k, replicas int) framework.Observation {
	cpu := 0.8 + 0.6*math.Sin(2*math.Pi*float64(k)/17)
	o := framework.Observation{
		Time:   framework.SimEpoch.Add(time.Duration(k) * 15 * time.Second),
		Values: []float64{cpu, float64(replicas), float64(replicas)},
		Valid:  []bool{true, true, true},
		Age:    []time.Duration{2 * time.Second, 0, 0},
	}
	if k%11 == 5 {
		o.Values[0], o.Valid[0] = math.NaN(), false
	}
	return o
}

func fmtAction(a []float64) string { return fmt.Sprint(a) }

func execCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(data)), nil
}

// shortTempDir is a temporary directory with a short path (t.TempDir's include the test
// name, which can make a socket path too long).
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "pt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
