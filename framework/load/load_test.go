package load

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestProfileRates(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		at   time.Duration
		want float64
	}{
		{"constant", Constant{RPS: 7}, time.Hour, 7},
		{"step before first change", NewStep(5, []Change{{At: time.Minute, RPS: 9}, {At: 30 * time.Second, RPS: 8}}), 10 * time.Second, 5},
		{"step sorted changes", NewStep(5, []Change{{At: time.Minute, RPS: 9}, {At: 30 * time.Second, RPS: 8}}), 45 * time.Second, 8},
		{"step last", NewStep(5, []Change{{At: time.Minute, RPS: 9}, {At: 30 * time.Second, RPS: 8}}), time.Hour, 9},
		// Ramp 10 → 30 over [60 s, 160 s]: at 110 s half-way, 20.
		{"ramp middle", Ramp{From: 10, To: 30, Start: time.Minute, Length: 100 * time.Second}, 110 * time.Second, 20},
		{"ramp before", Ramp{From: 10, To: 30, Start: time.Minute, Length: 100 * time.Second}, 0, 10},
		{"ramp after", Ramp{From: 10, To: 30, Start: time.Minute, Length: 100 * time.Second}, time.Hour, 30},
		// Sine mean 100 ± 50, period 4 min: a quarter period in, sin = 1 → 150.
		{"sine crest", Sine{Mean: 100, Amplitude: 50, Period: 4 * time.Minute}, time.Minute, 150},
		{"sine clipped at 0", Sine{Mean: 10, Amplitude: 50, Period: 4 * time.Minute}, 3 * time.Minute, 0},
		{"spike inside second", Spike{Base: 1, Peak: 9, At: time.Minute, Length: 10 * time.Second, Every: time.Minute}, 125 * time.Second, 9},
		{"spike between", Spike{Base: 1, Peak: 9, At: time.Minute, Length: 10 * time.Second, Every: time.Minute}, 115 * time.Second, 1},
		{"spike before", Spike{Base: 1, Peak: 9, At: time.Minute, Length: 10 * time.Second}, 5 * time.Second, 1},
		{"sequence second part sees its own offset", NewSequence([]Part{
			{Profile: Constant{RPS: 1}, Length: time.Minute},
			{Profile: Ramp{From: 0, To: 60, Length: time.Minute}, Length: time.Minute},
		}, false), 90 * time.Second, 30},
		{"sequence holds last part", NewSequence([]Part{
			{Profile: Constant{RPS: 1}, Length: time.Minute},
			{Profile: Constant{RPS: 4}, Length: time.Minute},
		}, false), time.Hour, 4},
		{"sequence loops", NewSequence([]Part{
			{Profile: Constant{RPS: 1}, Length: time.Minute},
			{Profile: Constant{RPS: 4}, Length: time.Minute},
		}, true), 130 * time.Second, 1},
		// Linear trace (0,100) (60,300): at 30 s, 200.
		{"trace linear", NewTrace([]float64{0, 60, 120}, []float64{100, 300, 200}, Linear, false), 30 * time.Second, 200},
		{"trace step", NewTrace([]float64{0, 60, 120}, []float64{100, 300, 200}, Hold, false), 90 * time.Second, 300},
		{"trace on a point", NewTrace([]float64{0, 60, 120}, []float64{100, 300, 200}, Linear, false), 60 * time.Second, 300},
		{"trace after end", NewTrace([]float64{0, 60, 120}, []float64{100, 300, 200}, Linear, false), time.Hour, 200},
		{"trace loop", NewTrace([]float64{0, 60, 120}, []float64{100, 300, 200}, Linear, true), 150 * time.Second, 200},
		{"sum", Sum{Constant{RPS: 2}, Constant{RPS: 3}}, 0, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Rate(tc.at); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("Rate(%s) = %v, want %v", tc.at, got, tc.want)
			}
			if got := tc.p.Rate(tc.at); got > tc.p.MaxRate()+1e-9 {
				t.Fatalf("Rate %v above MaxRate %v", got, tc.p.MaxRate())
			}
		})
	}
}

func TestIntegral(t *testing.T) {
	// A step 10 → 30 req/s at 60 s over [0, 120 s]: 10·60 + 30·60 = 2400 requests.
	p := NewStep(10, []Change{{At: time.Minute, RPS: 30}})
	if got := Integral(p, 0, 2*time.Minute); math.Abs(got-2400) > 1e-6 {
		t.Fatalf("Integral = %v, want 2400", got)
	}
	// A full sine period integrates to mean·period = 100·240 = 24000.
	s := Sine{Mean: 100, Amplitude: 50, Period: 4 * time.Minute}
	if got := Integral(s, 0, 4*time.Minute); math.Abs(got-24000) > 1e-3 {
		t.Fatalf("sine Integral = %v, want 24000", got)
	}
}

func TestFromConfig(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		params  map[string]any
		at      time.Duration
		want    float64
		wantErr string
	}{
		{name: "constant", typ: "constant", params: map[string]any{"rate": 12}, want: 12},
		{name: "constant float", typ: "constant", params: map[string]any{"rate": 12.5}, want: 12.5},
		{name: "unknown key", typ: "constant", params: map[string]any{"rate": 1, "rtae": 2}, wantErr: "unknown key(s) rtae"},
		{name: "negative rate", typ: "constant", params: map[string]any{"rate": -1}, wantErr: "rate: must be"},
		{name: "unknown type", typ: "wave", params: nil, wantErr: "unknown profile type"},
		{name: "step", typ: "step", params: map[string]any{"initial": 1, "steps": []any{
			map[string]any{"at": "1m", "rate": 5}}}, at: 2 * time.Minute, want: 5},
		{name: "step bad nested key", typ: "step", params: map[string]any{"steps": []any{
			map[string]any{"at": "1m", "rat": 5}}}, wantErr: "rat"},
		{name: "duration without unit", typ: "ramp", params: map[string]any{"from": 1, "to": 2, "duration": 600}, wantErr: "needs a unit"},
		{name: "bad duration", typ: "ramp", params: map[string]any{"duration": "10 minutes"}, wantErr: "invalid duration"},
		{name: "ramp", typ: "ramp", params: map[string]any{"from": 0, "to": 100, "duration": "100s"}, at: 25 * time.Second, want: 25},
		{name: "sine default period 24h", typ: "sine", params: map[string]any{"mean": 10, "amplitude": 5}, at: 6 * time.Hour, want: 15},
		{name: "sine zero period", typ: "sine", params: map[string]any{"mean": 10, "period": "0s"}, wantErr: "period: must be > 0"},
		{name: "spike", typ: "spike", params: map[string]any{"base": 1, "peak": 3, "at": "10s", "duration": "5s"}, at: 12 * time.Second, want: 3},
		{name: "spike every shorter than duration", typ: "spike", params: map[string]any{"duration": "5s", "every": "2s"}, wantErr: "every: must be"},
		{name: "sequence", typ: "sequence", params: map[string]any{"parts": []any{
			map[string]any{"duration": "1m", "profile": map[string]any{"type": "constant", "rate": 1}},
			map[string]any{"duration": "1m", "profile": map[string]any{"type": "ramp", "from": 0, "to": 60, "duration": "1m"}},
		}}, at: 80 * time.Second, want: 20},
		{name: "sequence part without duration", typ: "sequence", params: map[string]any{"parts": []any{
			map[string]any{"profile": map[string]any{"type": "constant", "rate": 1}},
		}}, wantErr: "parts[0]: duration: must be > 0"},
		{name: "sequence nested error names path", typ: "sequence", params: map[string]any{"parts": []any{
			map[string]any{"duration": "1m", "profile": map[string]any{"type": "constant", "rate": -3}},
		}}, wantErr: "parts[0]: profile (type \"constant\"): rate: must be"},
		{name: "trace", typ: "trace", params: map[string]any{"file": "diurnal.csv"}, at: 90 * time.Second, want: 250},
		{name: "trace scaled", typ: "trace", params: map[string]any{"file": "diurnal.csv", "scale": 2, "time_scale": 2, "interpolation": "step"}, at: 90 * time.Second, want: 200},
		{name: "trace bad row names file and line", typ: "trace", params: map[string]any{"file": "badrow.csv"}, wantErr: "badrow.csv line 3: rate \"abc\" is not a number"},
		{name: "trace decreasing time", typ: "trace", params: map[string]any{"file": "decreasing.csv"}, wantErr: "decreasing.csv line 3: time 30 is not after"},
		{name: "trace missing file", typ: "trace", params: map[string]any{"file": "nope.csv"}, wantErr: "nope.csv"},
		{name: "trace bad interpolation", typ: "trace", params: map[string]any{"file": "diurnal.csv", "interpolation": "cubic"}, wantErr: "interpolation: must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromConfig(tc.typ, tc.params, "testdata")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Rate(tc.at); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("Rate(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestTraceFiles(t *testing.T) {
	got := TraceFiles("sequence", map[string]any{"parts": []any{
		map[string]any{"duration": "1m", "profile": map[string]any{"type": "trace", "file": "a.csv"}},
		map[string]any{"duration": "1m", "profile": map[string]any{"type": "constant", "rate": 1}},
	}}, "/cfg")
	if len(got) != 1 || got[0] != "/cfg/a.csv" {
		t.Fatalf("TraceFiles = %v", got)
	}
}

func TestReadTraceHeaderOnlyFirst(t *testing.T) {
	_, _, err := ReadTrace(strings.NewReader("0,1\ntime,rate\n"), "x.csv")
	if err == nil || !strings.Contains(err.Error(), "x.csv line 2") {
		t.Fatalf("a header after data must be an error naming line 2, got %v", err)
	}
}

// interArrivalStats draws n arrivals and returns the mean rate and the CV of the gaps.
func interArrivalStats(t *testing.T, l Load, n int) (rate, cv float64) {
	t.Helper()
	src := l.NewSource(rand.New(rand.NewPCG(1, 2)))
	var prev time.Duration
	var sum, sum2 float64
	for i := 0; i < n; i++ {
		at, ok := src.Next()
		if !ok {
			t.Fatalf("source ended after %d arrivals", i)
		}
		g := (at - prev).Seconds()
		prev = at
		sum += g
		sum2 += g * g
	}
	m := sum / float64(n)
	sd := math.Sqrt(sum2/float64(n) - m*m)
	return 1 / m, sd / m
}

func TestSourceStatistics(t *testing.T) {
	const n = 200_000
	tests := []struct {
		name     string
		arrivals Arrivals
		wantCV   float64
	}{
		// Poisson: exponential gaps, CV 1. Standard error of the rate over 2·10⁵ gaps is
		// 1/√n ≈ 0.22 %; tolerances of 1 % (rate) and 2 % (CV) are > 4 σ.
		{"poisson", Arrivals{Kind: Poisson}, 1},
		{"deterministic", Arrivals{Kind: Deterministic}, 0},
		{"gamma cv 2", Arrivals{Kind: Gamma, CV: 2}, 2},
		{"gamma cv 0.5", Arrivals{Kind: Gamma, CV: 0.5}, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rate, cv := interArrivalStats(t, Load{Profile: Constant{RPS: 250}, Arrivals: tc.arrivals}, n)
			tol := 0.01
			if tc.wantCV > 1 {
				// Gap variance converges slower for CV 2 (std of the rate ≈ CV/√n ≈ 0.45 %).
				tol = 0.02
			}
			if math.Abs(rate/250-1) > tol {
				t.Errorf("rate = %v, want 250 ± %.0f%%", rate, tol*100)
			}
			if math.Abs(cv-tc.wantCV) > 0.03*math.Max(tc.wantCV, 1) {
				t.Errorf("CV = %v, want %v", cv, tc.wantCV)
			}
		})
	}
}

func TestSourceFollowsProfile(t *testing.T) {
	// A step 100 → 400 req/s at 100 s: expected counts 100·100 = 10,000 in [0,100 s) and
	// 400·100 = 40,000 in [100 s, 200 s). Poisson count std is √N (1 % and 0.5 %); allow 4 %.
	p := NewStep(100, []Change{{At: 100 * time.Second, RPS: 400}})
	for _, kind := range []ArrivalKind{Poisson, Deterministic, Gamma} {
		t.Run(string(kind), func(t *testing.T) {
			src := Load{Profile: p, Arrivals: Arrivals{Kind: kind, CV: 1.5}}.NewSource(rand.New(rand.NewPCG(3, 4)))
			src.SetHorizon(200 * time.Second)
			var first, second int
			for {
				at, ok := src.Next()
				if !ok {
					break
				}
				if at < 100*time.Second {
					first++
				} else {
					second++
				}
			}
			if math.Abs(float64(first)/10000-1) > 0.04 || math.Abs(float64(second)/40000-1) > 0.04 {
				t.Fatalf("counts %d, %d; want ≈ 10000, 40000", first, second)
			}
		})
	}
}

func TestSourceSineRate(t *testing.T) {
	// Sine 500 ± 400 req/s, period 100 s: over 10 periods expect 500·1000 = 500,000 arrivals;
	// in the crest half-period [0, 50 s) of each cycle ∫(500 + 400·sin(2πt/100)) dt =
	// 500·50 + 400·100/π = 37,732.4, so 377,324 over the 10 cycles.
	p := Sine{Mean: 500, Amplitude: 400, Period: 100 * time.Second}
	for _, kind := range []ArrivalKind{Poisson, Deterministic} {
		src := Load{Profile: p, Arrivals: Arrivals{Kind: kind}}.NewSource(rand.New(rand.NewPCG(5, 6)))
		src.SetHorizon(1000 * time.Second)
		var total, crest int
		for {
			at, ok := src.Next()
			if !ok {
				break
			}
			total++
			if at%(100*time.Second) < 50*time.Second {
				crest++
			}
		}
		if math.Abs(float64(total)/500000-1) > 0.01 || math.Abs(float64(crest)/377324-1) > 0.01 {
			t.Errorf("%s: total %d crest %d, want ≈ 500000 and 377324", kind, total, crest)
		}
	}
}

func TestSourceChunkIndependent(t *testing.T) {
	// Callers advancing in different chunks must see the same arrivals (common random numbers).
	p := NewSequence([]Part{
		{Profile: Constant{RPS: 50}, Length: 20 * time.Second},
		{Profile: Constant{RPS: 0}, Length: 20 * time.Second},
		{Profile: Sine{Mean: 80, Amplitude: 60, Period: 30 * time.Second}, Length: time.Minute},
	}, false)
	for _, kind := range []ArrivalKind{Poisson, Deterministic, Gamma} {
		l := Load{Profile: p, Arrivals: Arrivals{Kind: kind, CV: 2}}
		a := l.NewSource(rand.New(rand.NewPCG(9, 9)))
		a.SetHorizon(100 * time.Second)
		var want []time.Duration
		for {
			at, ok := a.Next()
			if !ok {
				break
			}
			want = append(want, at)
		}
		for _, chunk := range []time.Duration{time.Millisecond, 15 * time.Second, 7 * time.Second} {
			b := l.NewSource(rand.New(rand.NewPCG(9, 9)))
			var got []time.Duration
			for limit := chunk; limit <= 100*time.Second+chunk; limit += chunk {
				for {
					at, ok := b.NextBefore(min(limit, 100*time.Second))
					if !ok {
						break
					}
					got = append(got, at)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s chunk %s: %d arrivals, want %d", kind, chunk, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s chunk %s: arrival %d at %s, want %s", kind, chunk, i, got[i], want[i])
				}
			}
		}
	}
}

func TestSourceNoRate(t *testing.T) {
	src := Load{Profile: Constant{RPS: 0}}.NewSource(rand.New(rand.NewPCG(1, 1)))
	if _, ok := src.Next(); ok {
		t.Fatal("a zero-rate profile produced an arrival")
	}
}

func TestSourceAllocationFree(t *testing.T) {
	for _, kind := range []ArrivalKind{Poisson, Deterministic, Gamma} {
		src := Load{Profile: builtinProfile("mixed"), Arrivals: Arrivals{Kind: kind, CV: 1.5}}.NewSource(rand.New(rand.NewPCG(1, 1)))
		allocs := testing.AllocsPerRun(10000, func() {
			if _, ok := src.Next(); !ok {
				t.Fatal("no arrival")
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per arrival, want 0", kind, allocs)
		}
	}
}

func builtinProfile(name string) Profile {
	p, _ := Builtin(name)
	return p
}

func TestBuiltin(t *testing.T) {
	for _, name := range BuiltinNames() {
		if _, ok := Builtin(name); !ok {
			t.Fatalf("Builtin(%q) missing", name)
		}
	}
	if _, ok := Builtin("medium"); ok {
		t.Fatal("unknown built-in accepted")
	}
	mixed := builtinProfile("mixed")
	// Starts at the trough: 1200 − 900 = 300 req/s; crest at 6 min: 2100; burst at 7 min 20 s
	// adds 1500 to the sine's 1200 + 900·sin(2π·(440−180)/720) = 1200 + 900·sin(2.2689) ≈ 1893.
	if got := mixed.Rate(0); math.Abs(got-300) > 1e-6 {
		t.Errorf("mixed at 0 = %v, want 300", got)
	}
	if got := mixed.Rate(6 * time.Minute); math.Abs(got-2100) > 1e-6 {
		t.Errorf("mixed at 6m = %v, want 2100", got)
	}
	want := 1200 + 900*math.Sin(2*math.Pi*(440-180)/720.0) + 1500
	if got := mixed.Rate(7*time.Minute + 20*time.Second); math.Abs(got-want) > 1e-6 {
		t.Errorf("mixed at 7m20s = %v, want %v", got, want)
	}
	// Over 24 minutes (two cycles) the mean is 1200 + 1500·45/720 = 1293.75 req/s.
	if got := mean(mixed, 24*time.Minute); math.Abs(got-1293.75) > 0.5 {
		t.Errorf("mixed mean = %v, want 1293.75", got)
	}
}

func BenchmarkSourcePoisson(b *testing.B) {
	src := Load{Profile: builtinProfile("high")}.NewSource(rand.New(rand.NewPCG(1, 1)))
	for b.Loop() {
		src.Next()
	}
}

func BenchmarkSourceGammaMixed(b *testing.B) {
	src := Load{Profile: builtinProfile("mixed"), Arrivals: Arrivals{Kind: Gamma, CV: 2}}.NewSource(rand.New(rand.NewPCG(1, 1)))
	for b.Loop() {
		src.Next()
	}
}

// TestMaxRateIn checks every profile's interval bound against a fine scan of its rate: the
// bound must never be below the rate anywhere in the interval (thinning would then be
// wrong), and for these profiles it is attained up to the scan's resolution.
func TestMaxRateIn(t *testing.T) {
	profiles := map[string]Profile{
		"constant":   Constant{RPS: 5},
		"step":       NewStep(5, []Change{{At: 10 * time.Second, RPS: 9}, {At: 20 * time.Second, RPS: 2}}),
		"ramp":       Ramp{From: 10, To: 2, Start: 5 * time.Second, Length: 20 * time.Second},
		"sine":       Sine{Mean: 10, Amplitude: 8, Period: 17 * time.Second, Phase: 3 * time.Second},
		"sine neg":   Sine{Mean: 10, Amplitude: -8, Period: 13 * time.Second},
		"spike":      Spike{Base: 1, Peak: 9, At: 7 * time.Second, Length: 1500 * time.Millisecond, Every: 11 * time.Second},
		"spike once": Spike{Base: 1, Peak: 9, At: 7 * time.Second, Length: 500 * time.Millisecond},
		"sequence": NewSequence([]Part{
			{Profile: Constant{RPS: 3}, Length: 5 * time.Second},
			{Profile: Sine{Mean: 6, Amplitude: 4, Period: 4 * time.Second}, Length: 6 * time.Second},
		}, true),
		"trace": NewTrace([]float64{0, 3, 7, 12}, []float64{1, 8, 2, 5}, Linear, true),
		"mixed": builtinProfile("mixed"),
	}
	r := rand.New(rand.NewPCG(7, 7))
	for name, p := range profiles {
		for i := 0; i < 2000; i++ {
			from := time.Duration(r.Float64() * 60e9)
			to := from + time.Duration(r.Float64()*3e9)
			if name == "mixed" {
				from, to = from*30, from*30+to-from
			}
			bound := MaxRateIn(p, from, to)
			var scan float64
			for k := 0; k <= 200; k++ {
				x := from + (to-from)*time.Duration(k)/200
				scan = math.Max(scan, p.Rate(x))
			}
			if bound < scan-1e-9 {
				t.Fatalf("%s: MaxRateIn(%s, %s) = %v below the rate %v inside", name, from, to, bound, scan)
			}
			if bound > p.MaxRate()+1e-9 {
				t.Fatalf("%s: MaxRateIn %v above MaxRate %v", name, bound, p.MaxRate())
			}
		}
	}
}

func BenchmarkSourcePoissonMixed(b *testing.B) {
	src := Load{Profile: builtinProfile("mixed")}.NewSource(rand.New(rand.NewPCG(1, 1)))
	for b.Loop() {
		src.Next()
	}
}
