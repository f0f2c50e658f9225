package wasm

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const specJSON = `{"abi_version":1,"features":[{"name":"a","unit":"u","description":"","low":0,"high":1},{"name":"b","unit":"u","description":"","low":0,"high":1}],
"action":{"kind":"discrete","dim":1,"n":3},"action_design":"replica_delta","interval_seconds":15,"seed":42}`

// recorder is a policy that records its calls and fails on demand.
type recorder struct {
	spec     Spec
	initErr  error
	actErr   error
	panicMsg any
	acts     int
	rewards  []float64
	resets   int
}

func (r *recorder) Init(s Spec) error { r.spec = s; return r.initErr }

func (r *recorder) Act(obs []float64, valid []bool, action []float64) error {
	r.acts++
	if r.panicMsg != nil {
		panic(r.panicMsg)
	}
	if valid[0] {
		action[0] = obs[0]
	} else {
		action[0] = 2
	}
	return r.actErr
}

func (r *recorder) Observe(reward float64, done bool) error {
	r.rewards = append(r.rewards, reward)
	return nil
}

func (r *recorder) Reset() error { r.resets++; return nil }

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec([]byte(specJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Features) != 2 || s.Features[1].Name != "b" || s.Action.N != 3 || s.Action.Dim != 1 ||
		s.ActionDesign != "replica_delta" || s.IntervalSeconds != 15 || s.Seed != 42 {
		t.Fatalf("parsed %+v", s)
	}
	if s.FeatureIndex("b") != 1 || s.FeatureIndex("c") != -1 {
		t.Fatal("FeatureIndex")
	}
	bad := []struct{ name, doc, msg string }{
		{"not JSON", `{`, "not valid JSON"},
		{"other ABI", `{"abi_version":2,"action":{"kind":"discrete","dim":1,"n":1}}`, "abi_version is 2"},
		{"unknown kind", `{"abi_version":1,"action":{"kind":"tree","dim":1}}`, `unknown action kind "tree"`},
		{"wrong dim", `{"abi_version":1,"action":{"kind":"box","dim":1,"low":[0,0],"high":[1,1]}}`, "action dim is 1, the box space implies 2"},
		{"box bounds", `{"abi_version":1,"action":{"kind":"box","dim":2,"low":[0,0],"high":[1]}}`, "2 low and 1 high"},
		{"empty discrete", `{"abi_version":1,"action":{"kind":"discrete","dim":1,"n":0}}`, "n = 0"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.doc))
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want invalid argument saying %q", err, tc.msg)
			}
		})
	}
}

func TestDispatcher(t *testing.T) {
	r := &recorder{}
	d := newDispatcher(r)
	action := []float64{math.NaN()}
	if st := d.act([]float64{1, 2}, []bool{true, true}, action); st != StatusNotInitialized || !strings.Contains(string(d.lastErr), "act before a successful init") {
		t.Fatalf("act before init: %d %q", st, d.lastErr)
	}
	if st := d.init([]byte(specJSON)); st != StatusOK || r.spec.Seed != 42 {
		t.Fatalf("init: %d %q", st, d.lastErr)
	}
	if st := d.act([]float64{1, 2}, []bool{true, true}, action); st != 1 || action[0] != 1 {
		t.Fatalf("act: %d %v", st, action)
	}
	if st := d.act([]float64{1, 2}, []bool{false, true}, action); st != 1 || action[0] != 2 {
		t.Fatalf("act with obs[0] missing: %d %v", st, action)
	}
	if st := d.act([]float64{1}, []bool{true}, action); st != StatusInvalid || !strings.Contains(string(d.lastErr), "1 observation values") {
		t.Fatalf("short obs: %d %q", st, d.lastErr)
	}
	if st := d.act([]float64{1, 2}, []bool{true, true}, make([]float64, 2)); st != StatusInvalid || !strings.Contains(string(d.lastErr), "action buffer of 2 values") {
		t.Fatalf("long action: %d %q", st, d.lastErr)
	}
	if st := d.observe(0.5, false); st != StatusOK || len(r.rewards) != 1 || r.rewards[0] != 0.5 {
		t.Fatalf("observe: %d %v", st, r.rewards)
	}
	if st := d.reset(); st != StatusOK || r.resets != 1 {
		t.Fatalf("reset: %d %d", st, r.resets)
	}
	r.actErr = errors.New("no idea")
	if st := d.act([]float64{1, 2}, []bool{true, true}, action); st != StatusError || string(d.lastErr) != "no idea" {
		t.Fatalf("failing act: %d %q", st, d.lastErr)
	}
	r.actErr = Unsupported("box only")
	if st := d.act([]float64{1, 2}, []bool{true, true}, action); st != StatusUnsupported {
		t.Fatalf("unsupported act: %d", st)
	}
	r.actErr, r.panicMsg = nil, "kaboom"
	if st := d.act([]float64{1, 2}, []bool{true, true}, action); st != StatusError || string(d.lastErr) != "Act panicked: kaboom" {
		t.Fatalf("panicking act: %d %q", st, d.lastErr)
	}
	r.panicMsg = errors.New("wrapped")
	if st := d.act([]float64{1, 2}, []bool{true, true}, action); st != StatusError || string(d.lastErr) != "Act panicked: wrapped" {
		t.Fatalf("panicking act with an error: %d %q", st, d.lastErr)
	}
}

func TestDispatcherInitFailure(t *testing.T) {
	r := &recorder{initErr: Unsupported("no discrete")}
	d := newDispatcher(r)
	if st := d.init([]byte(specJSON)); st != StatusUnsupported || string(d.lastErr) != "unsupported: no discrete" {
		t.Fatalf("init: %d %q", st, d.lastErr)
	}
	if st := d.observe(1, true); st != StatusNotInitialized {
		t.Fatalf("observe after failed init: %d", st)
	}
	if st := d.init([]byte(`{"abi_version":1}`)); st != StatusInvalid {
		t.Fatalf("bad spec: %d", st)
	}
}

// plain implements only Policy: observe and reset are accepted and ignored.
type plain struct{}

func (plain) Init(Spec) error                        { return nil }
func (plain) Act([]float64, []bool, []float64) error { return nil }

func TestOptionalMethods(t *testing.T) {
	d := newDispatcher(plain{})
	if d.init([]byte(specJSON)) != StatusOK || d.observe(1, false) != StatusOK || d.reset() != StatusOK {
		t.Fatal("a policy without Observe/Reset must accept both calls")
	}
}

func TestNoPolicyRegistered(t *testing.T) {
	if registered != nil {
		t.Skip("a policy is registered in this test binary")
	}
	d := current()
	if st := d.init([]byte(specJSON)); st != StatusNotInitialized || !strings.Contains(string(d.lastErr), "call wasm.Register") {
		t.Fatalf("init without a policy: %d %q", st, d.lastErr)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() { registered = nil }()
	Register(plain{})
	defer func() {
		if recover() == nil {
			t.Fatal("a second Register did not panic")
		}
	}()
	Register(plain{})
}

func TestDecodeParams(t *testing.T) {
	type params struct {
		Upper float64 `json:"upper"`
		Name  string  `json:"name"`
	}
	p := params{Upper: 40, Name: "default"}
	s := Spec{Params: []byte(`{"upper": 55}`)}
	if err := s.DecodeParams(&p); err != nil || p.Upper != 55 || p.Name != "default" {
		t.Fatalf("decoded %+v, %v; want upper 55 and the default name kept", p, err)
	}
	if err := (Spec{}).DecodeParams(&p); err != nil {
		t.Fatalf("absent params: %v", err)
	}
	if err := (Spec{Params: []byte(`{"uper": 1}`)}).DecodeParams(&p); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "uper") {
		t.Fatalf("misspelt key: %v", err)
	}
}
