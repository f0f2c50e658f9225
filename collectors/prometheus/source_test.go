package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// fakeProm answers instant queries from a table: a value (NaN allowed), several series,
// or a bad_data error. Unknown queries give an empty vector. It records every query.
type fakeProm struct {
	mu      sync.Mutex
	answers map[string]any // float64, []float64 (several series), or error
	asked   []string
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	f.mu.Lock()
	f.asked = append(f.asked, q)
	a, ok := f.answers[q]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	ts := r.Form.Get("time")
	sample := func(v float64) string {
		s := fmt.Sprint(v)
		if math.IsNaN(v) {
			s = "NaN"
		}
		return fmt.Sprintf(`{"metric":{},"value":[%s,"%s"]}`, ts, s)
	}
	var result []string
	switch x := a.(type) {
	case error:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":%q}`, x.Error())
		return
	case float64:
		result = append(result, sample(x))
	case []float64:
		for _, v := range x {
			result = append(result, sample(v))
		}
	}
	if !ok {
		result = nil
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[%s]}}`, strings.Join(result, ","))
}

func specs(names ...string) []framework.FeatureSpec {
	var out []framework.FeatureSpec
	for _, n := range names {
		f, err := framework.LookupFeature(n)
		if err != nil {
			panic(err)
		}
		out = append(out, f)
	}
	return out
}

func newSource(t *testing.T, f *fakeProm, mod func(*Config)) *Source {
	t.Helper()
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	cfg := Defaults()
	cfg.Address = hs.URL
	cfg.Timeout = 2 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlaceholders(t *testing.T) {
	c := Defaults()
	c.Container = "triton"
	got := c.Expand(`rate(x{$containers}[$window]) / y{$pods} + z{$triton} + l{$loadgen} + g{$gpu} + d{$deployment}`)
	want := `rate(x{namespace="default",pod=~"mobilenetv4-.+",container="triton",container!="",image!=""}[30s]) / ` +
		`y{namespace="default",pod=~"mobilenetv4-.+",container="triton"} + ` +
		`z{namespace="default",pod=~"mobilenetv4-.+",container="triton",model="mobilenetv4"} + ` +
		`l{model="mobilenetv4"} + g{job=~".*"} + d{namespace="default",deployment="mobilenetv4"}`
	if got != want {
		t.Errorf("expanded\n got %s\nwant %s", got, want)
	}
	c.PodRegex = `triton-\d+`
	c.Window = 90 * time.Second
	if got := c.Expand(`{$pods}[$window]`); got != `{namespace="default",pod=~"triton-\\d+",container="triton"}[1m30s]` {
		t.Errorf("regex quoting: %s", got)
	}
}

func TestDCGMHostnameMatchesBothLabels(t *testing.T) {
	c := Defaults()
	c.GPUHostname = "edge"
	qs, _ := c.QueriesFor("gpu_util")
	for _, want := range []string{`Hostname=~"edge"`, `hostname=~"edge"`, " or "} {
		if !strings.Contains(qs[0].Expr, want) || !strings.Contains(qs[0].Freshness, want) {
			t.Errorf("gpu_util query %q / freshness %q lacks %s", qs[0].Expr, qs[0].Freshness, want)
		}
	}
}

func TestCollectValuesAgesAndMissing(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := Defaults()
	q := func(feature string, i int) Query {
		qs, err := c.QueriesFor(feature)
		if err != nil {
			t.Fatal(err)
		}
		return qs[i]
	}
	secs := func(d time.Duration) float64 { return float64(now.Add(-d).UnixNano()) / 1e9 }
	f := &fakeProm{answers: map[string]any{
		// request_rate from the load generator, newest sample 7 s old.
		q("request_rate", 0).Expr:      412.5,
		q("request_rate", 0).Freshness: secs(7 * time.Second),
		// p95: the load generator has no data (empty), Triton's summary does.
		q("p95_latency_ms", 1).Expr:      12.0,
		q("p95_latency_ms", 1).Freshness: secs(3 * time.Second),
		// mean_queue_ms: 0/0 over a window without requests is NaN → missing, not 0.
		q("mean_queue_ms", 0).Expr:      math.NaN(),
		q("mean_queue_ms", 0).Freshness: secs(time.Second),
		// gpu_util: DCGM's value is 5 minutes old (beyond max_age 2m): Triton's is used.
		q("gpu_util", 0).Expr:      0.9,
		q("gpu_util", 0).Freshness: secs(5 * time.Minute),
		q("gpu_util", 1).Expr:      0.4,
		q("gpu_util", 1).Freshness: secs(2 * time.Second),
		// cpu_util: only a stale value.
		q("cpu_util", 0).Expr:      0.3,
		q("cpu_util", 0).Freshness: secs(3 * time.Minute),
	}}
	s := newSource(t, f, nil)
	names := []string{"request_rate", "p95_latency_ms", "mean_queue_ms", "gpu_util", "cpu_util", "queue_length"}
	v, ok, age, err := s.Collect(context.Background(), now, specs(names...))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		v   float64
		ok  bool
		age time.Duration
	}{
		{412.5, true, 7 * time.Second},
		{12, true, 3 * time.Second},
		{math.NaN(), false, 0},
		{0.4, true, 2 * time.Second},
		{math.NaN(), false, 3 * time.Minute},
		{math.NaN(), false, 0}, // no data at all
	}
	for i, w := range want {
		same := v[i] == w.v || (math.IsNaN(v[i]) && math.IsNaN(w.v))
		if !same || ok[i] != w.ok || (age[i]-w.age).Abs() > time.Millisecond {
			t.Errorf("%s = %v valid %v age %v, want %v %v %v", names[i], v[i], ok[i], age[i], w.v, w.ok, w.age)
		}
	}
}

func TestOverridesAndConfigErrors(t *testing.T) {
	f := &fakeProm{answers: map[string]any{
		`sum(my_rate{model="mobilenetv4"})`: 3.0,
		`max(timestamp(my_rate))`:           0.0,
		`sum by (pod) (rate(x[30s]))`:       []float64{1, 2},
		`broken(`:                           fmt.Errorf("parse error: unexpected end of input"),
		`sum(nv_inference_pending_request_count{namespace="default",pod=~"mobilenetv4-.+",model="mobilenetv4"})`: 4.0,
	}}
	s := newSource(t, f, func(c *Config) {
		c.Queries = map[string]string{"request_rate": `sum(my_rate{$loadgen})`, "cpu_util": `sum by (pod) (rate(x[$window]))`, "gpu_util": "broken("}
		c.Freshness = map[string]string{"request_rate": `max(timestamp(my_rate))`}
		c.MaxAge = 0
	})
	now := time.Unix(100, 0)
	v, ok, age, err := s.Collect(context.Background(), now, specs("request_rate", "queue_length"))
	if err != nil || v[0] != 3 || !ok[0] || age[0] != 100*time.Second || v[1] != 4 {
		t.Errorf("override: %v %v %v %v", v, ok, age, err)
	}
	_, _, _, err = s.Collect(context.Background(), now, specs("cpu_util"))
	if err == nil || !strings.Contains(err.Error(), "2 series") {
		t.Errorf("several series: error %v", err)
	}
	_, _, _, err = s.Collect(context.Background(), now, specs("gpu_util"))
	if err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("malformed query: error %v", err)
	}
	// Validation names keys.
	bad := Defaults()
	bad.Queries = map[string]string{"latency": "x"}
	bad.Freshness = map[string]string{"cpu_util": "y"}
	bad.Address = "localhost:9090"
	var msgs []string
	for _, e := range bad.Validate() {
		msgs = append(msgs, e.Error())
	}
	for _, key := range []string{"queries.latency", "freshness.cpu_util", "address"} {
		if !strings.Contains(strings.Join(msgs, "\n"), key) {
			t.Errorf("validation does not name %s: %v", key, msgs)
		}
	}
}

func TestUnreachableServerIsAnError(t *testing.T) {
	cfg := Defaults()
	cfg.Address = "http://127.0.0.1:1"
	cfg.Timeout = time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, ok, _, err := s.Collect(context.Background(), time.Now(), specs("request_rate", "gpu_util"))
	if err == nil || ok[0] || ok[1] {
		t.Errorf("unreachable server: error %v, valid %v", err, ok)
	}
}

func TestCollectorObservation(t *testing.T) {
	f := &fakeProm{answers: map[string]any{}}
	s := newSource(t, f, nil)
	now := time.Unix(5000, 0)
	c, err := NewCollector(s, specs("queue_length", "avg_batch_size"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	obs, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !obs.Time.Equal(now) || len(obs.Values) != 2 || obs.Valid[0] || !math.IsNaN(obs.Values[0]) {
		b, _ := json.Marshal(obs.Valid)
		t.Errorf("observation %v valid %s", obs.Values, b)
	}
}
