package actions

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

func act(v ...float64) framework.Action { return framework.Action{Values: v} }

func viewWith(desired int) framework.ClusterView {
	return framework.ClusterView{Replicas: framework.ReplicaCounts{Desired: desired}}
}

// must returns d, panicking on err: fixtures are valid by construction.
func must[T any](d T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("building design: %v", err))
	}
	return d
}

func TestSpaces(t *testing.T) {
	rd := must(NewReplicaDelta(ReplicaDeltaConfig{MaxStep: 2}))
	rb := must(NewReplicas(ReplicasConfig{}, 1, 4))
	rdisc := must(NewReplicas(ReplicasConfig{Discrete: true}, 1, 4))
	ht := must(NewHPATarget(DefaultHPATargetConfig()))
	bt := must(NewBatching(DefaultBatchingConfig()))
	cr := must(NewCPURequest(DefaultCPURequestConfig()))
	tests := []struct {
		name   string
		design framework.ActionDesign
		want   framework.ActionSpace
	}{
		// 2·max_step+1 = 5 actions.
		{"replica_delta max_step 2", rd, framework.ActionSpace{Kind: framework.Discrete, N: 5, Names: []string{"replica_delta"}}},
		{"replicas box", rb, framework.ActionSpace{Kind: framework.Box, Low: []float64{1}, High: []float64{4}, Names: []string{"replicas"}}},
		// max − min + 1 = 4 actions.
		{"replicas discrete", rdisc, framework.ActionSpace{Kind: framework.Discrete, N: 4, Names: []string{"replicas"}}},
		// 30, 40, …, 90: seven targets.
		{"hpa_target defaults", ht, framework.ActionSpace{Kind: framework.Discrete, N: 7, Names: []string{"hpa_target_percent"}}},
		// six sizes × five delays.
		{"batching defaults", bt, framework.ActionSpace{Kind: framework.MultiDiscrete, Nvec: []int{6, 5}, Names: []string{"max_batch_size", "max_queue_delay"}}},
		{"cpu_request defaults", cr, framework.ActionSpace{Kind: framework.Discrete, N: 6, Names: []string{"cpu_request_milli"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.design.Space(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Space() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReplicaDeltaTranslate(t *testing.T) {
	d := must(NewReplicaDelta(ReplicaDeltaConfig{MaxStep: 2}))
	tests := []struct {
		name    string
		a       framework.Action
		desired int
		want    int
		wantErr string
	}{
		{"index 0 is −max_step", act(0), 3, 1, ""},
		{"index max_step holds", act(2), 3, 3, ""},
		{"index 2·max_step is +max_step", act(4), 3, 5, ""},
		// Not clamped: the runner's guardrails clamp to the bounds and record it.
		{"below zero is left to guardrails", act(0), 1, -1, ""},
		{"index N is outside", act(5), 3, 0, "outside discrete space"},
		{"negative index", act(-1), 3, 0, "outside discrete space"},
		{"fractional index", act(1.5), 3, 0, "outside discrete space"},
		{"NaN", act(math.NaN()), 3, 0, "not finite"},
		{"two values", act(1, 1), 3, 0, "expects 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.Translate(tc.a, viewWith(tc.desired))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr != "" {
				return
			}
			if c.Replicas == nil || *c.Replicas != tc.want {
				t.Fatalf("Replicas = %v, want %d", c.Replicas, tc.want)
			}
			if c.HPATarget != nil || c.Batching != nil || c.CPURequestMilli != nil {
				t.Errorf("command sets more than replicas: %+v", c)
			}
		})
	}
}

func TestReplicasTranslate(t *testing.T) {
	box := must(NewReplicas(ReplicasConfig{}, 1, 4))
	disc := must(NewReplicas(ReplicasConfig{Discrete: true}, 1, 4))
	tests := []struct {
		name    string
		d       *Replicas
		a       framework.Action
		want    int
		wantErr string
	}{
		{"box integer", box, act(3), 3, ""},
		{"box half rounds away from zero", box, act(2.5), 3, ""},
		{"box below half rounds down", box, act(2.49), 2, ""},
		{"box low bound", box, act(1), 1, ""},
		{"box high bound", box, act(4), 4, ""},
		{"box above high", box, act(4.4), 0, "outside [1,4]"},
		{"box below low", box, act(0.6), 0, "outside [1,4]"},
		{"box +Inf", box, act(math.Inf(1)), 0, "not finite"},
		// index = replicas − min, min = 1.
		{"discrete index 0 is min", disc, act(0), 1, ""},
		{"discrete index 3 is max", disc, act(3), 4, ""},
		{"discrete index 4 outside", disc, act(4), 0, "outside discrete space [0,4)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.d.Translate(tc.a, viewWith(2))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && (c.Replicas == nil || *c.Replicas != tc.want) {
				t.Fatalf("Replicas = %v, want %d", c.Replicas, tc.want)
			}
		})
	}
}

func TestNewReplicasBounds(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
		wantErr  string
	}{
		{"ok", 1, 4, ""},
		{"scale to zero allowed", 0, 4, ""},
		{"single replica", 2, 2, ""},
		{"negative min", -1, 4, "workload.min_replicas must be ≥ 0, got -1"},
		{"max below min", 3, 2, "workload.max_replicas must be ≥ 1 and ≥ min_replicas 3, got 2"},
		{"max zero", 0, 0, "got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReplicas(ReplicasConfig{}, tc.min, tc.max)
			checkErr(t, err, tc.wantErr)
		})
	}
}

func TestHPATargetTranslate(t *testing.T) {
	d := must(NewHPATarget(DefaultHPATargetConfig()))
	tests := []struct {
		a       framework.Action
		want    float64
		wantErr string
	}{
		{act(0), 30, ""},
		{act(2), 50, ""},
		{act(6), 90, ""},
		{act(7), 0, "outside discrete space [0,7)"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.a.Values), func(t *testing.T) {
			c, err := d.Translate(tc.a, viewWith(2))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr != "" {
				return
			}
			if c.HPATarget == nil || *c.HPATarget != tc.want {
				t.Fatalf("HPATarget = %v, want %v", c.HPATarget, tc.want)
			}
			if c.Replicas != nil {
				t.Errorf("hpa_target must leave replicas to the HPA, got %d", *c.Replicas)
			}
		})
	}
}

func TestBatchingTranslate(t *testing.T) {
	d := must(NewBatching(DefaultBatchingConfig()))
	view := viewWith(2)
	view.Batching = framework.BatchingSettings{
		MaxBatchSize: 16, PreferredSizes: []int{4, 8, 16}, MaxQueueDelay: 5 * time.Millisecond,
		InstanceCount: 2, MaxQueueSize: 128,
	}
	orig := slices.Clone(view.Batching.PreferredSizes)

	// (3, 2) → sizes[3] = 8, delays[2] = 2 ms; preferred 16 > 8 is dropped; the rest is kept.
	c, err := d.Translate(act(3, 2), view)
	if err != nil {
		t.Fatal(err)
	}
	want := framework.BatchingSettings{
		MaxBatchSize: 8, PreferredSizes: []int{4, 8}, MaxQueueDelay: 2 * time.Millisecond,
		InstanceCount: 2, MaxQueueSize: 128,
	}
	if c.Batching == nil || !reflect.DeepEqual(*c.Batching, want) {
		t.Fatalf("Batching = %+v, want %+v", c.Batching, want)
	}
	if !slices.Equal(view.Batching.PreferredSizes, orig) {
		t.Errorf("Translate modified the view's preferred sizes: %v", view.Batching.PreferredSizes)
	}

	for _, bad := range []framework.Action{act(6, 0), act(0, 5), act(1), act(0.5, 0)} {
		if _, err := d.Translate(bad, view); err == nil {
			t.Errorf("Translate(%v) accepted an action outside MultiDiscrete [6 5]", bad.Values)
		}
	}
}

func TestCPURequestTranslate(t *testing.T) {
	d := must(NewCPURequest(DefaultCPURequestConfig()))
	c, err := d.Translate(act(1), viewWith(2))
	if err != nil {
		t.Fatal(err)
	}
	if c.CPURequestMilli == nil || *c.CPURequestMilli != 1000 {
		t.Fatalf("CPURequestMilli = %v, want 1000", c.CPURequestMilli)
	}
	if _, err := d.Translate(act(6), viewWith(2)); err == nil {
		t.Error("index 6 of 6 requests accepted")
	}
}

func TestHold(t *testing.T) {
	rd := must(NewReplicaDelta(ReplicaDeltaConfig{MaxStep: 3}))
	box := must(NewReplicas(ReplicasConfig{}, 1, 4))
	disc := must(NewReplicas(ReplicasConfig{Discrete: true}, 1, 4))
	ht := must(NewHPATarget(DefaultHPATargetConfig()))
	bt := must(NewBatching(DefaultBatchingConfig()))
	cr := must(NewCPURequest(DefaultCPURequestConfig()))

	hpa := func(target float64) framework.ClusterView { v := viewWith(2); v.HPATarget = target; return v }
	batch := func(size int, delay time.Duration) framework.ClusterView {
		v := viewWith(2)
		v.Batching = framework.BatchingSettings{MaxBatchSize: size, MaxQueueDelay: delay}
		return v
	}
	cpu := func(m int64) framework.ClusterView { v := viewWith(2); v.CPURequestMilli = m; return v }

	tests := []struct {
		name   string
		design framework.ActionDesign
		view   framework.ClusterView
		want   []float64
		wantOK bool
	}{
		{"replica_delta holds at index max_step", rd, viewWith(2), []float64{3}, true},
		{"replicas box holds desired", box, viewWith(3), []float64{3}, true},
		{"replicas box clamps desired above max", box, viewWith(6), []float64{4}, true},
		{"replicas box clamps desired below min", box, viewWith(0), []float64{1}, true},
		{"replicas discrete index = desired − min", disc, viewWith(3), []float64{2}, true},
		{"hpa target in list", ht, hpa(70), []float64{4}, true},
		{"hpa target nearest", ht, hpa(62), []float64{3}, true},
		// 55 is 5 from both 50 and 60: the lower wins.
		{"hpa target tie goes lower", ht, hpa(55), []float64{2}, true},
		{"hpa target above list", ht, hpa(150), []float64{6}, true},
		{"hpa target unknown", ht, hpa(0), nil, false},
		{"batching in list", bt, batch(8, 2*time.Millisecond), []float64{3, 2}, true},
		// 12 is 4 from both 8 and 16 → 8 (index 3); 3 ms is nearest 2 ms (index 2).
		{"batching nearest", bt, batch(12, 3*time.Millisecond), []float64{3, 2}, true},
		{"batching beyond lists", bt, batch(64, time.Second), []float64{5, 4}, true},
		{"batching unknown", bt, batch(0, 0), nil, false},
		{"cpu request in list", cr, cpu(1500), []float64{2}, true},
		{"cpu request nearest", cr, cpu(1200), []float64{1}, true},
		{"cpu request tie goes lower", cr, cpu(2500), []float64{3}, true},
		{"cpu request unknown", cr, cpu(0), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := tc.design.Hold(tc.view)
			if ok != tc.wantOK {
				t.Fatalf("Hold ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if !slices.Equal(a.Values, tc.want) {
				t.Fatalf("Hold = %v, want %v", a.Values, tc.want)
			}
			if err := tc.design.Space().Contains(a); err != nil {
				t.Fatalf("Hold returned an action outside the space: %v", err)
			}
		})
	}
}

// TestHoldKeepsState checks the property the hold fallback relies on: translating Hold's
// action changes nothing when the current value is one of the design's options.
func TestHoldKeepsState(t *testing.T) {
	view := viewWith(3)
	view.HPATarget = 60
	view.CPURequestMilli = 2000
	view.Batching = framework.BatchingSettings{MaxBatchSize: 4, PreferredSizes: []int{2, 4}, MaxQueueDelay: 5 * time.Millisecond, InstanceCount: 1}
	r := framework.NewRegistry()
	Register(r)
	bc := framework.BuildContext{Workload: framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4}}
	for _, typ := range framework.Types(r.Actions) {
		t.Run(typ, func(t *testing.T) {
			f := r.Actions[typ]
			d, err := f.New(bc, f.Defaults())
			if err != nil {
				t.Fatal(err)
			}
			a, ok := d.Hold(view)
			if !ok {
				t.Fatal("Hold found no action for a view whose values are all options")
			}
			c, err := d.Translate(a, view)
			if err != nil {
				t.Fatal(err)
			}
			if c.Replicas != nil && *c.Replicas != view.Replicas.Desired {
				t.Errorf("replicas %d, want %d", *c.Replicas, view.Replicas.Desired)
			}
			if c.HPATarget != nil && *c.HPATarget != view.HPATarget {
				t.Errorf("hpa target %v, want %v", *c.HPATarget, view.HPATarget)
			}
			if c.CPURequestMilli != nil && *c.CPURequestMilli != view.CPURequestMilli {
				t.Errorf("cpu request %d, want %d", *c.CPURequestMilli, view.CPURequestMilli)
			}
			if c.Batching != nil && !reflect.DeepEqual(*c.Batching, view.Batching) {
				t.Errorf("batching %+v, want %+v", *c.Batching, view.Batching)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  interface{ Validate() []error }
		want []string // one substring per expected error, in order
	}{
		{"replica_delta defaults", DefaultReplicaDeltaConfig(), nil},
		{"max_step zero", ReplicaDeltaConfig{MaxStep: 0}, []string{"max_step: must be ≥ 1, got 0"}},
		{"hpa_target defaults", DefaultHPATargetConfig(), nil},
		{"targets empty", HPATargetConfig{}, []string{"targets: must not be empty"}},
		{"targets unsorted and negative", HPATargetConfig{Targets: []float64{50, 40, -5}}, []string{
			"targets: must be strictly increasing, got 40 after 50 at index 1",
			"targets[2]: must be > 0 and finite, got -5",
			"targets: must be strictly increasing, got -5 after 40 at index 2",
		}},
		{"targets duplicate", HPATargetConfig{Targets: []float64{50, 50}}, []string{"got 50 after 50"}},
		{"batching defaults", DefaultBatchingConfig(), nil},
		{"batching both wrong", BatchingConfig{MaxBatchSizes: []int{0, 4}, MaxQueueDelays: []time.Duration{2 * time.Millisecond, time.Millisecond}}, []string{
			"max_batch_sizes[0]: must be ≥ 1, got 0",
			"max_queue_delays: must be strictly increasing, got 1ms after 2ms at index 1",
		}},
		{"batching negative delay", BatchingConfig{MaxBatchSizes: []int{1}, MaxQueueDelays: []time.Duration{-time.Millisecond}}, []string{
			"max_queue_delays[0]: must be ≥ 0s, got -1ms",
		}},
		{"batching empty", BatchingConfig{}, []string{"max_batch_sizes: must not be empty", "max_queue_delays: must not be empty"}},
		{"cpu_request defaults", DefaultCPURequestConfig(), nil},
		{"cpu requests zero", CPURequestConfig{CPURequestsMilli: []int64{0, 1000}}, []string{"cpu_requests_milli[0]: must be ≥ 1, got 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d %q", len(errs), errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	want := []string{TypeBatching, TypeCPURequest, TypeHPATarget, TypeReplicaDelta, TypeReplicas}
	if got := framework.Types(r.Actions); !slices.Equal(got, want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	bc := framework.BuildContext{Workload: framework.WorkloadConfig{MinReplicas: 2, MaxReplicas: 6}}
	for _, typ := range want {
		f := r.Actions[typ]
		if f.Doc == "" || f.Defaults == nil {
			t.Errorf("%s: factory lacks Doc or Defaults", typ)
		}
		d, err := f.New(bc, nil) // nil config means defaults
		if err != nil {
			t.Fatalf("%s: New(nil): %v", typ, err)
		}
		if d.Name() != typ {
			t.Errorf("%s: Name() = %q", typ, d.Name())
		}
	}
	// The replicas design takes its bounds from the build context.
	d, _ := r.Actions[TypeReplicas].New(bc, &ReplicasConfig{Discrete: true})
	if n := d.Space().N; n != 5 { // 6 − 2 + 1
		t.Errorf("replicas discrete over [2,6]: N = %d, want 5", n)
	}
	// An invalid config reaching New (built without the loader) is an error, not a panic.
	if _, err := r.Actions[TypeReplicaDelta].New(bc, &ReplicaDeltaConfig{MaxStep: -1}); err == nil ||
		!strings.Contains(err.Error(), "max_step") {
		t.Errorf("New with max_step -1: err = %v, want one naming max_step", err)
	}
	if _, err := r.Actions[TypeHPATarget].New(bc, &ReplicaDeltaConfig{}); err == nil {
		t.Error("New accepted a config of another design")
	}
}

// TestDefaultTags keeps each config struct's `default` tag in step with its Defaults function
// (the tags document the defaults in docs/configuration.md).
func TestDefaultTags(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	for _, typ := range framework.Types(r.Actions) {
		v := reflect.ValueOf(r.Actions[typ].Defaults()).Elem()
		for i := range v.NumField() {
			f := v.Type().Field(i)
			tag, ok := f.Tag.Lookup("default")
			if !ok || f.Tag.Get("doc") == "" || f.Tag.Get("mapstructure") == "" {
				t.Errorf("%s.%s: needs mapstructure, doc and default tags", typ, f.Name)
				continue
			}
			if got := fmt.Sprint(v.Field(i).Interface()); got != tag {
				t.Errorf("%s.%s: default tag %q, Defaults() gives %q", typ, f.Name, tag, got)
			}
		}
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q, want it to contain %q", err, want)
	}
}
