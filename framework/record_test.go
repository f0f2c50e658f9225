package framework

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sameFloat is equality with NaN equal to NaN.
func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// equalKPIs compares two records field by field, NaN equal to NaN.
func equalKPIs(t *testing.T, got, want KPIs) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i), wv.Field(i)
		switch g.Kind() {
		case reflect.Float64:
			if !sameFloat(g.Float(), w.Float()) {
				t.Errorf("%s = %v, want %v", name, g.Float(), w.Float())
			}
		case reflect.Map:
			gm, wm := got.RewardTerms, want.RewardTerms
			if len(gm) != len(wm) {
				t.Errorf("RewardTerms = %v, want %v", gm, wm)
			}
			for k, wv := range wm {
				if gv, ok := gm[k]; !ok || !sameFloat(gv, wv) {
					t.Errorf("RewardTerms[%q] = %v (present %v), want %v", k, gv, ok, wv)
				}
			}
		default:
			if !reflect.DeepEqual(g.Interface(), w.Interface()) {
				t.Errorf("%s = %v, want %v", name, g.Interface(), w.Interface())
			}
		}
	}
}

// fullKPIs returns a record with every field set to a distinct value.
func fullKPIs() KPIs {
	var k KPIs
	v := reflect.ValueOf(&k).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Float64:
			f.SetFloat(float64(i) + 1.0/3) // not exactly representable in decimal
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1000 + i))
		case reflect.Bool:
			f.SetBool(true)
		}
	}
	k.RewardTerms = map[string]float64{"latency": -0.1, "cost": -12.75, "gpu": 3e-7}
	return k
}

func TestWriteReadKPIsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		kpis  func() KPIs
		nulls []string // keys expected as JSON null
	}{
		{"every field set", fullKPIs, nil},
		{"undefined values", func() KPIs {
			k := fullKPIs()
			// A run with no completions: latency percentiles are undefined (NaN), as is
			// a term averaged over nothing; the file says null and reading gives NaN back.
			k.MeanLatencyMS, k.P50LatencyMS, k.P95LatencyMS, k.P99LatencyMS = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			k.GPUUtil = math.Inf(1) // ±Inf is undefined too and is written as null → NaN
			k.RewardTotal = math.NaN()
			k.RewardTerms["latency"] = math.NaN()
			return k
		}, []string{"mean_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "gpu_util", "reward_total"}},
		{"zero record", func() KPIs { return KPIs{RewardTerms: map[string]float64{}, DisabledAtS: -1} }, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "kpis"+string(rune('a'+i))+".json")
			in := tc.kpis()
			if err := WriteKPIs(path, in); err != nil {
				t.Fatalf("WriteKPIs: %v", err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("KPI file is not JSON: %v\n%s", err, raw)
			}
			for _, n := range tc.nulls {
				if v, ok := m[n]; !ok || v != nil {
					t.Errorf("%s written as %v (present %v), want null", n, v, ok)
				}
			}
			out, err := ReadKPIs(path)
			if err != nil {
				t.Fatalf("ReadKPIs: %v", err)
			}
			want := in
			if math.IsInf(want.GPUUtil, 0) {
				want.GPUUtil = math.NaN()
			}
			equalKPIs(t, out, want)
		})
	}
}

// TestWriteKPIsByteStable checks that the same record gives the same bytes (map keys are
// sorted), so reruns can be compared with cmp.
func TestWriteKPIsByteStable(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	k := fullKPIs()
	for i := 0; i < 20; i++ {
		k.RewardTerms[string(rune('a'+i))+"_term"] = float64(i)
	}
	if err := WriteKPIs(a, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteKPIs(b, k); err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if string(ba) != string(bb) {
		t.Errorf("two writes of one record differ:\n%s\n---\n%s", ba, bb)
	}
}

func TestReadKPIsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadKPIs(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("ReadKPIs of a missing file: nil error")
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"p95_latency_ms": "fast"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadKPIs(bad)
	if err == nil || !strings.Contains(err.Error(), "p95_latency_ms") || !strings.Contains(err.Error(), bad) {
		t.Errorf("ReadKPIs of a bad value: %v, want an error naming the file and the key", err)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := WriteFileAtomic(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("second")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "second" {
		t.Fatalf("content %q (%v), want %q", b, err, "second")
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"out.json"}) {
		t.Errorf("directory holds %v, want only out.json (no temporary files)", got)
	}
	// Results are meant to be read by others (shared results directories, containers):
	// the file gets the usual 0644, not os.CreateTemp's 0600.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want -rw-r--r--", st.Mode().Perm())
	}
}

// TestWriteFileAtomicFailureKeepsOld makes the final rename fail (the target is a
// non-empty directory, which rename cannot replace even as root) and checks that the
// target is untouched and no temporary file is left behind.
func TestWriteFileAtomicFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "kpis.json")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(target, []byte("new"))
	if err == nil || !strings.Contains(err.Error(), target) {
		t.Fatalf("WriteFileAtomic onto a directory: %v, want an error naming %s", err, target)
	}
	if b, err := os.ReadFile(filepath.Join(target, "keep")); err != nil || string(b) != "old" {
		t.Errorf("old content %q (%v), want intact", b, err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"kpis.json"}) {
		t.Errorf("directory holds %v after the failed write, want only kpis.json", got)
	}
	// A missing parent directory fails before anything is created.
	if err := WriteFileAtomic(filepath.Join(dir, "nope", "x.json"), []byte("x")); err == nil {
		t.Error("WriteFileAtomic into a missing directory: nil error")
	}
}

func TestWriteJSONAtomicRejectsNaN(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.json")
	if err := WriteJSONAtomic(path, map[string]float64{"x": math.NaN()}); err == nil {
		t.Fatal("WriteJSONAtomic of NaN: nil error (JSON has no NaN)")
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("failed encode left %v", got)
	}
}

func trajectoryDecision(at time.Duration) Decision {
	h := NewHistogram()
	for i := 1; i <= 20; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	return Decision{
		Time: t0.Add(at),
		Obs: Observation{Values: []float64{12.5, math.NaN()}, Valid: []bool{true, false},
			Age: []time.Duration{1500 * time.Millisecond, 0}},
		Action:  Action{Values: []float64{3}},
		Command: Command{Replicas: IntPtr(3)},
		Applied: Applied{Replicas: 3, Changed: true},
		Guard:   GuardResult{Requested: 5, Allowed: 3, Limited: true, Reason: "max_step"},
		Windows: []Window{{Start: t0.Add(at), End: t0.Add(at + 15*time.Second),
			Totals: Totals{Arrivals: 25, Completions: 20, Drops: 3, Failures: 2, SLOViolations: 4}, Latency: h}},
		Terms:  []float64{-0.5, 0.25},
		Reward: -0.25,
		Next:   Observation{Cluster: ClusterView{Replicas: ReplicaCounts{Desired: 3, Ready: 2, Pending: 0, Starting: 1}}},
	}
}

func TestTrajectoryWriter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trajectory.csv")
	feats := []FeatureSpec{{Name: "request_rate"}, {Name: "cpu_util"}}
	w, err := NewTrajectoryWriter(path, feats, 1, []string{"cost", "gpu"})
	if err != nil {
		t.Fatal(err)
	}
	fail := trajectoryDecision(15 * time.Second)
	fail.Action = Action{}
	fail.Fallback, fail.Deadline, fail.Reason = true, true, "decision exceeded its deadline of 20ms"
	for i, d := range []Decision{trajectoryDecision(0), fail} {
		if err := w.Write(d, float64(i)*15); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("trajectory visible before Close (stat err %v): readers could see a partial file", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"trajectory.csv"}) {
		t.Errorf("directory holds %v, want only trajectory.csv", got)
	}
	if st, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("trajectory mode %v, want -rw-r--r--", st.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want header + 2", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"time_s", "request_rate", "request_rate_valid", "request_rate_age_s", "cpu_util",
		"cpu_util_valid", "action_0", "requested_replicas", "applied_replicas", "fallback", "deadline",
		"disabled", "clamped", "limited", "guard_reason", "reason", "replicas_desired", "replicas_ready",
		"replicas_pending", "arrivals", "completions", "drops", "slo_violations", "window_p95_ms", "reward",
		"reward_cost", "reward_gpu"} {
		if _, ok := col[h]; !ok {
			t.Errorf("header lacks %q: %v", h, rows[0])
		}
	}
	get := func(r int, h string) string { return rows[r][col[h]] }
	want1 := map[string]string{
		"time_s": "0", "request_rate": "12.5", "request_rate_valid": "1", "request_rate_age_s": "1.5",
		"cpu_util": "", "cpu_util_valid": "0", // a missing value is empty, never 0
		"action_0": "3", "requested_replicas": "5", "applied_replicas": "3", "fallback": "0", "deadline": "0",
		"limited": "1", "clamped": "0", "guard_reason": "max_step", "replicas_desired": "3", "replicas_ready": "2",
		"replicas_pending": "1", "arrivals": "25", "completions": "20", "drops": "5", "slo_violations": "4",
		"reward": "-0.25", "reward_cost": "-0.5", "reward_gpu": "0.25",
	}
	for h, v := range want1 {
		if got := get(1, h); got != v {
			t.Errorf("row 1 %s = %q, want %q", h, got, v)
		}
	}
	// Window p95 of 1..20 ms: rank round(0.95·20) = 19 → 19 ms (+ < 0.1 %).
	if p95 := get(1, "window_p95_ms"); !strings.HasPrefix(p95, "19.0") {
		t.Errorf("window_p95_ms = %q, want ≈19", p95)
	}
	want2 := map[string]string{"time_s": "15", "action_0": "", "fallback": "1", "deadline": "1",
		"reason": "decision exceeded its deadline of 20ms"}
	for h, v := range want2 {
		if got := get(2, h); got != v {
			t.Errorf("row 2 %s = %q, want %q", h, got, v)
		}
	}
}

// TestTrajectoryWriterAbort checks that an aborted run leaves neither the trajectory nor a
// temporary file.
func TestTrajectoryWriterAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trajectory.csv")
	w, err := NewTrajectoryWriter(path, nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(trajectoryDecision(0), 0); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], ".trajectory.csv.tmp-") {
		t.Fatalf("while writing the directory holds %v, want one hidden temporary file", got)
	}
	w.Abort()
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("after Abort the directory holds %v, want nothing", got)
	}
}

func TestTrajectoryWriterMissingDir(t *testing.T) {
	if _, err := NewTrajectoryWriter(filepath.Join(t.TempDir(), "no", "t.csv"), nil, 0, nil); err == nil {
		t.Error("NewTrajectoryWriter in a missing directory: nil error")
	}
}
