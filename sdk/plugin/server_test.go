package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

func discreteInit(n int64, features ...string) *policyv1.InitRequest {
	r := &policyv1.InitRequest{
		Action:        &policyv1.ActionSpace{Kind: KindDiscrete, N: n, Dim: 1},
		ActionDesign:  "replica_delta",
		IntervalNanos: int64(15 * time.Second),
		Seed:          99,
		PolicyName:    "p",
	}
	for _, f := range features {
		r.Features = append(r.Features, &policyv1.FeatureSpec{Name: f, Unit: "u", Low: 0, High: 1})
	}
	return r
}

func TestSpecFromProto(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action *policyv1.ActionSpace
		want   string // error substring, "" for success
	}{
		{"discrete", &policyv1.ActionSpace{Kind: KindDiscrete, N: 3, Dim: 1}, ""},
		{"multi discrete", &policyv1.ActionSpace{Kind: KindMultiDiscrete, Nvec: []int64{3, 2}, Dim: 2}, ""},
		{"box", &policyv1.ActionSpace{Kind: KindBox, Low: []float64{1, 0}, High: []float64{4, 1}, Dim: 2}, ""},
		{"empty discrete", &policyv1.ActionSpace{Kind: KindDiscrete, N: 0, Dim: 1}, "discrete action space with n = 0"},
		{"dim mismatch", &policyv1.ActionSpace{Kind: KindMultiDiscrete, Nvec: []int64{3, 2}, Dim: 1}, "action dim is 1, the multi_discrete space implies 2"},
		{"box bounds", &policyv1.ActionSpace{Kind: KindBox, Low: []float64{1}, High: []float64{}, Dim: 1}, "box action space with 1 low and 0 high bounds"},
		{"unknown kind", &policyv1.ActionSpace{Kind: "tuple", Dim: 1}, `unknown action kind "tuple"`},
		{"no action", nil, `unknown action kind ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := discreteInit(3, "cpu_util", "replicas_desired")
			r.Action = tc.action
			s, err := SpecFromProto(r)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("err = %v, want ErrInvalidArgument mentioning %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Action.Dim != int(tc.action.Dim) || s.IntervalSeconds != 15 || s.Seed != 99 || s.PolicyName != "p" ||
				s.ActionDesign != "replica_delta" || s.FeatureIndex("replicas_desired") != 1 || s.FeatureIndex("x") != -1 {
				t.Errorf("spec %+v", s)
			}
			if tc.action.Kind == KindMultiDiscrete && fmt.Sprint(s.Action.Nvec) != "[3 2]" {
				t.Errorf("nvec %v", s.Action.Nvec)
			}
		})
	}
}

// scripted is a test policy whose Act does what its fields say.
type scripted struct {
	initErr error
	actErr  error
	panics  bool
	write   []float64 // written into action (nothing when nil)
	seen    []string
}

func (p *scripted) Init(s Spec) error {
	p.seen = append(p.seen, fmt.Sprintf("init %d", len(s.Features)))
	return p.initErr
}

func (p *scripted) Act(obs []float64, valid []bool, action []float64) error {
	p.seen = append(p.seen, fmt.Sprintf("act %v %v %d", obs, valid, len(action)))
	if p.panics {
		panic("boom")
	}
	copy(action, p.write)
	return p.actErr
}

// observing adds Observer, Resetter and Closer.
type observing struct{ scripted }

func (p *observing) Observe(r float64, done bool) error {
	p.seen = append(p.seen, fmt.Sprintf("observe %g %t", r, done))
	return nil
}

func (p *observing) Reset() error { p.seen = append(p.seen, "reset"); return nil }

func (p *observing) Close() error { p.seen = append(p.seen, "close"); return nil }

func codeOf(err error) codes.Code { return status.Code(err) }

func TestServerCalls(t *testing.T) {
	ctx := context.Background()
	p := &scripted{write: []float64{2}}
	s := NewServer(p)
	if _, err := s.Act(ctx, &policyv1.ActRequest{}); codeOf(err) != codes.FailedPrecondition {
		t.Fatalf("Act before Init: %v, want FailedPrecondition", err)
	}
	if _, err := s.Init(ctx, &policyv1.InitRequest{}); codeOf(err) != codes.InvalidArgument {
		t.Fatalf("Init without an action space: %v, want InvalidArgument", err)
	}
	resp, err := s.Init(ctx, discreteInit(3, "a", "b"))
	if err != nil || resp.GetWantsObserve() || resp.GetWantsReset() {
		t.Fatalf("Init: %v %v; a plain policy wants neither observe nor reset", resp, err)
	}
	a, err := s.Act(ctx, &policyv1.ActRequest{Values: []float64{0.5, math.NaN()}, Valid: []bool{true, false}})
	if err != nil || fmt.Sprint(a.GetAction()) != "[2]" {
		t.Fatalf("Act = %v, %v; want [2]", a.GetAction(), err)
	}
	if _, err := s.Act(ctx, &policyv1.ActRequest{Values: []float64{1}, Valid: []bool{true}}); codeOf(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "1 observation values and 1 validity flags, the spec has 2 features") {
		t.Fatalf("short observation: %v", err)
	}
	if _, err := s.Act(ctx, &policyv1.ActRequest{Values: []float64{1, 2}, Valid: []bool{true}}); codeOf(err) != codes.InvalidArgument {
		t.Fatalf("short mask: %v", err)
	}
	// Observe and Reset are accepted and ignored for a policy without them.
	if _, err := s.Observe(ctx, &policyv1.ObserveRequest{Reward: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reset(ctx, &policyv1.ResetRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Close(ctx, &policyv1.CloseRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Act(ctx, &policyv1.ActRequest{Values: []float64{1, 2}, Valid: []bool{true, true}}); codeOf(err) != codes.FailedPrecondition {
		t.Fatalf("Act after Close: %v, want FailedPrecondition", err)
	}
	want := []string{"init 2", "act [0.5 NaN] [true false] 1"}
	if fmt.Sprint(p.seen) != fmt.Sprint(want) {
		t.Errorf("policy saw %q, want %q", p.seen, want)
	}
}

// An action value the policy does not write stays NaN, so the host rejects it.
func TestUnwrittenActionIsNaN(t *testing.T) {
	s := NewServer(&scripted{})
	if _, err := s.Init(context.Background(), discreteInit(3)); err != nil {
		t.Fatal(err)
	}
	a, err := s.Act(context.Background(), &policyv1.ActRequest{})
	if err != nil || len(a.GetAction()) != 1 || !math.IsNaN(a.GetAction()[0]) {
		t.Fatalf("Act = %v, %v; want one NaN", a.GetAction(), err)
	}
}

func TestServerErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want codes.Code
	}{
		{"plain", errors.New("model not loaded"), codes.Unknown},
		{"invalid", fmt.Errorf("%w: negative queue", ErrInvalidArgument), codes.InvalidArgument},
		{"unsupported", Unsupported("box spaces"), codes.Unimplemented},
		{"not initialised", ErrNotInitialized, codes.FailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(&scripted{actErr: tc.err})
			if _, err := s.Init(context.Background(), discreteInit(3)); err != nil {
				t.Fatal(err)
			}
			_, err := s.Act(context.Background(), &policyv1.ActRequest{})
			if codeOf(err) != tc.want || !strings.Contains(err.Error(), tc.err.Error()) {
				t.Errorf("err = %v, want code %v with %q", err, tc.want, tc.err)
			}
		})
	}
	s := NewServer(&scripted{initErr: Unsupported("only box spaces")})
	if _, err := s.Init(context.Background(), discreteInit(3)); codeOf(err) != codes.Unimplemented {
		t.Errorf("refused Init: %v, want Unimplemented", err)
	}
	if _, err := s.Act(context.Background(), &policyv1.ActRequest{}); codeOf(err) != codes.FailedPrecondition {
		t.Errorf("Act after a refused Init: %v, want FailedPrecondition", err)
	}
}

// A panic is reported as Aborted (the host restarts the plugin) and poisons the server:
// later calls are refused rather than run on state the panic may have broken.
func TestServerPanic(t *testing.T) {
	s := NewServer(&scripted{panics: true})
	if _, err := s.Init(context.Background(), discreteInit(3)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Act(context.Background(), &policyv1.ActRequest{})
	if codeOf(err) != codes.Aborted || !strings.Contains(err.Error(), "Act panicked: boom") {
		t.Fatalf("Act: %v, want Aborted with the panic", err)
	}
	_, err = s.Act(context.Background(), &policyv1.ActRequest{})
	if codeOf(err) != codes.Aborted || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Act after a panic: %v, want Aborted refusal", err)
	}
}

func TestServerObserverResetterCloser(t *testing.T) {
	ctx := context.Background()
	p := &observing{}
	s := NewServer(p)
	if _, err := s.Observe(ctx, &policyv1.ObserveRequest{}); codeOf(err) != codes.FailedPrecondition {
		t.Fatalf("Observe before Init: %v", err)
	}
	resp, err := s.Init(ctx, discreteInit(3))
	if err != nil || !resp.GetWantsObserve() || !resp.GetWantsReset() {
		t.Fatalf("Init = %v, %v; want wants_observe and wants_reset", resp, err)
	}
	_, _ = s.Reset(ctx, &policyv1.ResetRequest{})
	_, _ = s.Observe(ctx, &policyv1.ObserveRequest{Reward: -0.25, Done: true})
	_, _ = s.Close(ctx, &policyv1.CloseRequest{})
	_, _ = s.Close(ctx, &policyv1.CloseRequest{})
	want := []string{"init 0", "reset", "observe -0.25 true", "close"}
	if fmt.Sprint(p.seen) != fmt.Sprint(want) {
		t.Errorf("policy saw %q, want %q (Close once)", p.seen, want)
	}
}

// Logger's lines are hclog JSON: @level, @message, @timestamp and the attributes.
func TestLineHandlerFormat(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(newLineHandler(&buf, slog.LevelDebug))
	l.Warn("slow model", "ms", 12.5)
	l.Debug("detail")
	var lines []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["@level"] != "warn" || lines[0]["@message"] != "slow model" || lines[0]["ms"] != 12.5 ||
		lines[1]["@level"] != "debug" {
		t.Fatalf("lines %v", lines)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", lines[0]["@timestamp"].(string)); err != nil {
		t.Errorf("@timestamp: %v", err)
	}
	buf.Reset()
	slog.New(newLineHandler(&buf, slog.LevelInfo)).Debug("dropped")
	if buf.Len() != 0 {
		t.Errorf("a debug record passed an info handler: %q", buf.String())
	}
}

func TestLogLevelFromEnv(t *testing.T) {
	for env, want := range map[string]slog.Level{"debug": slog.LevelDebug, "warn": slog.LevelWarn, "": slog.LevelInfo, "loud": slog.LevelInfo} {
		t.Setenv(EnvLogLevel, env)
		if got := logLevel(); got != want {
			t.Errorf("%s=%q: level %v, want %v", EnvLogLevel, env, got, want)
		}
	}
}

func TestWatchParent(t *testing.T) {
	gone := make(chan struct{})
	go watchParent(-5+1, time.Millisecond, func() { close(gone) }) // ppid ≤ 1: nothing to watch
	done := make(chan struct{})
	go func() {
		// A parent pid that is not ours is reported gone at the first poll.
		watchParent(1<<30, time.Millisecond, func() { close(done) })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a changed parent was not noticed")
	}
	select {
	case <-gone:
		t.Fatal("watchParent with no parent called gone")
	default:
	}
}
