package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

func TestBuiltinScenarios(t *testing.T) {
	names := BuiltinScenarioNames()
	if len(names) != 2 || names[0] != "edge-2node-rtx3080" || names[1] != DefaultScenario {
		t.Fatalf("built-ins %v", names)
	}
	sc, ok := BuiltinScenario(DefaultScenario)
	if !ok {
		t.Fatal("default missing")
	}
	// The documented calibration (docs/simulator.md).
	if sc.Model.TPerImage != 157*time.Microsecond || sc.Model.TFixed != time.Millisecond ||
		sc.Model.CPUPerRequest != 400*time.Microsecond || sc.Workload.CPURequest != 500 || sc.Workload.CPULimit != 500 {
		t.Fatalf("default model/workload changed: %+v %+v", sc.Model, sc.Workload)
	}
	if sc.Shares() != 4 || sc.Nodes[0].GPUs[0].Memory != 10*(1<<30) || sc.Nodes[0].CPU != 8000 {
		t.Fatalf("default cluster changed: %+v", sc.Nodes)
	}
	two, ok := BuiltinScenario("edge-2node-rtx3080")
	if !ok || two.Shares() != 8 || two.Model != sc.Model {
		t.Fatalf("two-node scenario: %v %+v", ok, two)
	}
	if _, ok := BuiltinScenario("nope"); ok {
		t.Fatal("unknown built-in accepted")
	}
}

func TestLoadScenario(t *testing.T) {
	sc, err := LoadScenario("testdata/custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "edge-rtx3080-small-model" || sc.Model.TPerImage != 55*time.Microsecond || sc.Model.TFixed != time.Millisecond ||
		sc.Serving.MaxBatchSize != 16 || len(sc.Serving.PreferredBatchSizes) != 2 || sc.Nodes[0].GPUs[0].TimeSlicingReplicas != 4 {
		t.Fatalf("merged scenario wrong: %+v", sc)
	}
	for _, tc := range []struct{ file, want string }{
		{"testdata/unknown-key.yaml", "serving.max_batch_szie: unknown key"},
		{"testdata/invalid.yaml", "workload.cpu_request: must be > 0"},
		{"testdata/invalid.yaml", "serving.max_batch_size: must be ≥ 1"},
		{"testdata/invalid.yaml", "routing: must be random, round_robin or least_outstanding"},
		{"testdata/missing.yaml", "missing.yaml"},
	} {
		_, err := LoadScenario(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to contain %q", tc.file, err, tc.want)
		}
	}
}

func TestScenarioDecodeErrors(t *testing.T) {
	_, err := ScenarioFromMap(map[string]any{
		"base":    DefaultScenario,
		"model":   map[string]any{"t_fixed": 5, "cpu_per_request": "fast"},
		"serving": map[string]any{"max_batch_size": "many"},
		"nodes":   []any{map[string]any{"cpu": "lots"}},
	})
	for _, want := range []string{
		`model.t_fixed: duration 5 needs a unit`,
		`model.cpu_per_request: invalid duration "fast"`,
		`nodes[0].cpu: invalid quantity "lots"`,
		`serving.max_batch_size: expected type 'int'`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestQuantities(t *testing.T) {
	tests := []struct {
		in      any
		cpu     Millicores
		mem     Bytes
		wantErr bool
	}{
		{in: "500m", cpu: 500, mem: 1},
		{in: "2", cpu: 2000, mem: 2},
		{in: 2, cpu: 2000, mem: 2},
		{in: 0.5, cpu: 500, mem: 1},
		{in: "10Gi", cpu: 10737418240000, mem: 10737418240},
		{in: "1.5G", cpu: 1500000000000, mem: 1500000000},
		{in: "lots", wantErr: true},
	}
	for _, tc := range tests {
		var v struct {
			C Millicores `mapstructure:"c"`
			M Bytes      `mapstructure:"m"`
		}
		err := decodeStrict(map[string]any{"c": tc.in, "m": tc.in}, &v)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%v: no error", tc.in)
			}
			continue
		}
		if err != nil || v.C != tc.cpu || v.M != tc.mem {
			t.Errorf("%v: got %d m, %d B, %v; want %d m, %d B", tc.in, v.C, v.M, err, tc.cpu, tc.mem)
		}
	}
}

func TestBackendFactory(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	f := r.Backends["sim"]
	cfg := f.Defaults().(*BackendConfig)
	cfg.Overrides = map[string]any{"serving": map[string]any{"max_batch_size": 4}}
	b, err := f.New(framework.BuildContext{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.(*Sim).Scenario().Serving.MaxBatchSize; got != 4 {
		t.Fatalf("override not applied: max_batch_size %d", got)
	}
	if errs := f.Check(framework.BuildContext{Workload: framework.WorkloadConfig{MaxReplicas: 6}}, cfg); len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), "workload.max_replicas: 6 exceeds the 4 nvidia.com/gpu shares") {
		t.Fatalf("Check: %v", errs)
	}
	bad := &BackendConfig{Scenario: "edge-h100"}
	if _, err := f.New(framework.BuildContext{}, bad); err == nil || !strings.Contains(err.Error(), "edge-h100") {
		t.Fatalf("unknown scenario: %v", err)
	}
	file := &BackendConfig{ScenarioFile: "custom.yaml", Overrides: map[string]any{"routing": "least_outstanding"}}
	b, err = f.New(framework.BuildContext{BaseDir: "testdata"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if sc := b.(*Sim).Scenario(); sc.Routing != RoutingLeastOutstanding || sc.Model.TPerImage != 55*time.Microsecond {
		t.Fatalf("file + overrides: %+v", sc)
	}
	if files := f.Files("testdata", file); len(files) != 1 || files[0] != "testdata/custom.yaml" {
		t.Fatalf("Files: %v", files)
	}
}
