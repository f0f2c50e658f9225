package loadgen

import (
	"bytes"
	"context"
	"image/jpeg"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/kserve"
	"github.com/scalelab/scalelab/serve"
	"github.com/scalelab/scalelab/sim"
)

func decodePayload(t *testing.T, p Payload) kserve.Tensor {
	t.Helper()
	hl, _ := strconv.Atoi(p.Header.Get(kserve.HeaderContentLength))
	req, err := kserve.DecodeRequest(p.Body, hl)
	if err != nil {
		t.Fatal(err)
	}
	return req.Inputs[0]
}

func TestPayloadSizesAndLayouts(t *testing.T) {
	base := Defaults()
	fp := base
	p, err := BuildPayload(fp)
	if err != nil {
		t.Fatal(err)
	}
	in := decodePayload(t, p)
	// 3 × 224 × 224 FP32 = 150,528 elements × 4 bytes = 602,112 bytes.
	if in.Datatype != kserve.FP32 || len(in.Data) != 602_112 || in.Shape[0] != 1 {
		t.Fatalf("fp32 payload: %s %v, %d bytes", in.Datatype, in.Shape, len(in.Data))
	}
	hl, _ := strconv.Atoi(p.Header.Get(kserve.HeaderContentLength))
	if len(p.Body)-hl != 602_112 {
		t.Errorf("binary part %d bytes, want 602,112", len(p.Body)-hl)
	}

	u8 := base
	u8.Payload = PayloadUINT8
	pu, _ := BuildPayload(u8)
	iu := decodePayload(t, pu)
	if iu.Datatype != kserve.UINT8 || len(iu.Data) != 150_528 {
		t.Fatalf("uint8 payload: %s, %d bytes", iu.Datatype, len(iu.Data))
	}
	// The FP32 tensor is the UINT8 one normalised per channel: element 0 is channel 0 (red).
	f, _ := kserve.FP32Values(in.Data)
	if want := float32((float64(iu.Data[0])/255 - 0.485) / 0.229); f[0] != want {
		t.Errorf("fp32[0] = %v, want (u8[0]/255 − 0.485)/0.229 = %v", f[0], want)
	}

	// NHWC holds the same pixels: element (y, x, c) of NHWC is element (c, y, x) of NCHW.
	nhwc := u8
	nhwc.Shape = []int64{224, 224, 3}
	pn, _ := BuildPayload(nhwc)
	in2 := decodePayload(t, pn)
	y, x, c := 17, 101, 2
	if a, b := in2.Data[(y*224+x)*3+c], iu.Data[c*224*224+y*224+x]; a != b {
		t.Errorf("NHWC pixel %d, NCHW pixel %d", a, b)
	}

	// JSON encoding carries the same values.
	js := base
	js.Encoding = EncodingJSON
	js.Shape = []int64{3, 16, 16}
	pj, _ := BuildPayload(js)
	if pj.Header.Get(kserve.HeaderContentLength) != "" || pj.Header.Get("Content-Type") != kserve.ContentTypeJSON {
		t.Errorf("json payload headers %v", pj.Header)
	}
	bin := js
	bin.Encoding = EncodingBinary
	pb, _ := BuildPayload(bin)
	if !bytes.Equal(decodePayload(t, pj).Data, decodePayload(t, pb).Data) {
		t.Error("JSON and binary encodings carry different data")
	}

	img := base
	img.Payload = PayloadImage
	img.Batch = 2
	pi, err := BuildPayload(img)
	if err != nil {
		t.Fatal(err)
	}
	ii := decodePayload(t, pi)
	elems, _ := kserve.BytesElements(ii.Data)
	if ii.Datatype != kserve.BYTES || len(elems) != 2 {
		t.Fatalf("image payload %s with %d elements", ii.Datatype, len(elems))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(elems[1]))
	if err != nil || cfg.Width != 224 || cfg.Height != 224 {
		t.Errorf("image element: %v %+v", err, cfg)
	}
	if bytes.Equal(elems[0], elems[1]) {
		t.Error("the two images of a batch are identical")
	}
}

func TestConfigValidation(t *testing.T) {
	c := Defaults()
	c.Payload = PayloadImage
	c.Encoding = EncodingJSON
	c.Shape = []int64{224, 224, 4}
	c.URL = "localhost:8000"
	c.Batch = 0
	var msgs []string
	for _, e := range c.Validate() {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, key := range []string{"encoding:", "shape:", "url:", "batch:"} {
		if !strings.Contains(all, key) {
			t.Errorf("no error names %s in:\n%s", key, all)
		}
	}
}

func TestPacerFollowsTheArrivalProcess(t *testing.T) {
	// Deterministic arrivals at 100 req/s are spaced 10 ms, the first after one gap.
	p := NewPacer(load.Load{Profile: load.Constant{RPS: 100}, Arrivals: load.Arrivals{Kind: load.Deterministic}}, 1, time.Second)
	wait, stop := p.Pace(0, 0)
	if stop || wait != 10*time.Millisecond {
		t.Fatalf("first wait %v stop %v, want 10ms", wait, stop)
	}
	// Running 5 ms late for hit 3 (due at 40 ms): no wait.
	if wait, _ := p.Pace(45*time.Millisecond, 3); wait != -5*time.Millisecond {
		t.Errorf("late hit: wait %v, want −5ms (send now)", wait)
	}
	// 99 arrivals lie before the 1 s horizon (10 ms … 990 ms) and the 100th at 1 s does not.
	if _, stop := p.Pace(0, 99); !stop {
		t.Error("hit 99: the pacer should stop at the horizon")
	}
	if r := p.Rate(3 * time.Second); r != 100 {
		t.Errorf("Rate = %v", r)
	}
}

// TestPacerArrivalsMatchSimulator checks the claim that a seed gives the simulator's
// arrivals: per-second arrival counts of the simulator's accounting equal the pacer's.
func TestPacerArrivalsMatchSimulator(t *testing.T) {
	l := load.Load{Profile: load.Sine{Mean: 300, Amplitude: 200, Period: 20 * time.Second}}
	const seed = 42
	sc, _ := sim.BuiltinScenario(sim.DefaultScenario)
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(context.Background(), framework.Episode{Seed: seed, Load: l, InitialReplicas: 1}); err != nil {
		t.Fatal(err)
	}
	p := NewPacer(l, seed, 20*time.Second)
	var hits uint64
	for sec := 1; sec <= 20; sec++ {
		if err := s.Advance(context.Background(), time.Second); err != nil {
			t.Fatal(err)
		}
		simCount := s.Cut().Totals.Arrivals
		n := int64(0)
		for {
			wait, stop := p.Pace(0, hits)
			if stop || wait >= time.Duration(sec)*time.Second {
				break
			}
			hits++
			n++
		}
		if n != simCount {
			t.Fatalf("second %d: pacer %d arrivals, simulator %d", sec, n, simCount)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		res    vegeta.Result
		want   Outcome
		reason string
	}{
		{vegeta.Result{Code: 200}, Completed, "200"},
		{vegeta.Result{Code: 503, Error: "503 Service Unavailable"}, Dropped, "503"},
		{vegeta.Result{Code: 429}, Dropped, "429"},
		{vegeta.Result{Code: 400, Error: "400 Bad Request"}, Failed, "400"},
		{vegeta.Result{Code: 500}, Failed, "500"},
		{vegeta.Result{Error: `Post "http://x/infer": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`}, Dropped, "timeout"},
		{vegeta.Result{Error: "dial tcp 127.0.0.1:1: connect: connection refused"}, Dropped, "refused"},
		{vegeta.Result{Error: "read: connection reset by peer"}, Dropped, "reset"},
		{vegeta.Result{Error: "something odd"}, Failed, "error"},
	}
	for _, c := range cases {
		o, r := Classify(&c.res)
		if o != c.want || r != c.reason {
			t.Errorf("%+v: %v/%s, want %v/%s", c.res, o, r, c.want, c.reason)
		}
	}
}

func TestRecorderWindowsAndKPIs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRecorder(nil, 50*time.Millisecond, load.Constant{RPS: 10}, t0)
	// Window 1 (0, 1 s]: 4 sent; 2 completed (10 ms, 80 ms: one over the SLO), 1 dropped.
	for i := 0; i < 4; i++ {
		r.Sent()
	}
	r.Record(Completed, "200", 10*time.Millisecond)
	r.Record(Completed, "200", 80*time.Millisecond)
	r.Record(Dropped, "timeout", time.Second)
	w1 := r.Cut(t0.Add(time.Second))
	// Window 2 (1 s, 2 s]: the 4th request fails; nothing sent.
	r.Record(Failed, "500", 5*time.Millisecond)
	w2 := r.Cut(t0.Add(2 * time.Second))
	want1 := framework.Totals{Arrivals: 4, Completions: 2, Drops: 1, SLOViolations: 1, OfferedRequests: 10}
	if w1.Totals != want1 || w1.Latency.Count() != 2 {
		t.Errorf("window 1: %+v (%d latencies), want %+v", w1.Totals, w1.Latency.Count(), want1)
	}
	if w2.Totals.Failures != 1 || w2.Totals.Arrivals != 0 || !w2.Start.Equal(w1.End) {
		t.Errorf("window 2: %+v from %v", w2.Totals, w2.Start)
	}
	k := r.KPIs()
	// Over 2 s: throughput 2/2 = 1 req/s; QoS violations (1 slow + 1 drop + 1 failure)/4 =
	// 0.75; drop rate (1 + 1)/4 = 0.5; offered 20/2 = 10 req/s; mean latency 45 ms.
	checks := map[string][2]float64{
		"throughput_rps": {k.ThroughputRPS, 1}, "qos_violation_rate": {k.QoSViolationRate, 0.75},
		"drop_rate": {k.DropRate, 0.5}, "offered_rps": {k.OfferedRPS, 10}, "mean_latency_ms": {k.MeanLatencyMS, 45},
	}
	for name, c := range checks {
		if math.Abs(c[0]-c[1]) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}

// emulator starts an in-process `scalelab serve` on the default scenario's model with a
// small input (3×8×8) and returns its URL.
func emulator(t *testing.T, set map[string]any) (*serve.Server, string) {
	t.Helper()
	cfg := serve.Defaults()
	cfg.InputShape = []int64{3, 8, 8}
	cfg.MetricsAddr = ""
	cfg.Node = "test"
	sc, err := sim.ScenarioFromMap(sim.MergeMaps(map[string]any{"base": sim.DefaultScenario}, set))
	if err != nil {
		t.Fatal(err)
	}
	s, err := serve.NewWithScenario(cfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); _ = s.Close() })
	return s, hs.URL
}

// TestEveryPayloadModeIsAValidRequest sends every payload mode and encoding to the
// emulator, which decodes and validates each request (400 on anything malformed); with
// response validation on, every answer is decoded too.
func TestEveryPayloadModeIsAValidRequest(t *testing.T) {
	realtimetest.Exclusive(t)
	srv, url := emulator(t, nil)
	modes := []struct{ payload, encoding string }{
		{PayloadFP32, EncodingJSON}, {PayloadFP32, EncodingBinary},
		{PayloadUINT8, EncodingJSON}, {PayloadUINT8, EncodingBinary},
		{PayloadImage, EncodingBinary},
	}
	var sent int64
	for _, m := range modes {
		t.Run(m.payload+"_"+m.encoding, func(t *testing.T) {
			c := Defaults()
			c.URL, c.Shape, c.Payload, c.Encoding = url, []int64{3, 8, 8}, m.payload, m.encoding
			c.Duration, c.MetricsAddr, c.ValidateResponses, c.Batch = time.Second, "", true, 2
			c.BinaryOutput = m.encoding == EncodingBinary
			g, err := New(c, load.Load{Name: "const", Profile: load.Constant{RPS: 40}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := g.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			k := s.KPIs
			if s.Sent < 20 || k.Completions != s.Sent || k.Failures != 0 || k.Drops != 0 {
				t.Errorf("sent %d: completed %d, failed %d, dropped %d", s.Sent, k.Completions, k.Failures, k.Drops)
			}
			sent += s.Sent
		})
	}
	if c := srv.Counters(); c.Completions != sent || c.Images != 2*sent {
		t.Errorf("server completed %d requests with %d images; the client sent %d of 2 images", c.Completions, c.Images, sent)
	}
}

// TestDropsAndSLOViolationsAreCounted overloads a one-image-at-a-time server whose batch
// takes 30 ms: with a 40 ms SLO and a 100 ms client timeout at 60 req/s, some answers are
// late and some requests time out.
func TestDropsAndSLOViolationsAreCounted(t *testing.T) {
	realtimetest.Exclusive(t)
	_, url := emulator(t, map[string]any{
		"model":   map[string]any{"t_fixed": "30ms", "t_per_image": "0s", "jitter": "deterministic", "cpu_per_request": "0s"},
		"serving": map[string]any{"max_batch_size": 1},
	})
	c := Defaults()
	c.URL, c.Shape, c.Payload, c.Duration, c.MetricsAddr = url, []int64{3, 8, 8}, PayloadUINT8, 2*time.Second, ""
	c.SLO, c.Timeout = 40*time.Millisecond, 100*time.Millisecond
	g, err := New(c, load.Load{Profile: load.Constant{RPS: 60}, Arrivals: load.Arrivals{Kind: load.Deterministic}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	k := s.KPIs
	// The server completes at most one request per 30 ms (≈ 33/s) of the 60/s offered, so
	// the queue grows: requests after the first few wait > 100 ms and time out.
	if k.Drops == 0 || k.SLOViolations == 0 || k.Completions == 0 || k.Completions+k.Drops+k.Failures != s.Sent {
		t.Errorf("sent %d: completed %d (slow %d), dropped %d, failed %d", s.Sent, k.Completions, k.SLOViolations, k.Drops, k.Failures)
	}
	if k.QoSViolationRate <= 0.3 {
		t.Errorf("QoS violation rate %v, want well above 0.3 under 1.8× overload", k.QoSViolationRate)
	}
}
