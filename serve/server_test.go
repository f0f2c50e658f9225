package serve

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/internal/realtimetest"
	"github.com/scalelab/scalelab/kserve"
	"github.com/scalelab/scalelab/sim"
)

// testScenario is the default scenario with a slow deterministic model (t(b) = 20 ms +
// 1 ms·b, no CPU stage) so that timings are visible over HTTP.
func testScenario(t *testing.T, set map[string]any) sim.Scenario {
	t.Helper()
	m := map[string]any{"base": sim.DefaultScenario, "model": map[string]any{
		"t_fixed": "20ms", "t_per_image": "1ms", "jitter": "deterministic", "cpu_per_request": "0s"}}
	sc, err := sim.ScenarioFromMap(sim.MergeMaps(m, set))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newTestServer(t *testing.T, sc sim.Scenario, mod func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	cfg := Defaults()
	cfg.InputShape = []int64{3, 4, 4}
	cfg.Classes = 10
	cfg.MetricsAddr = ""
	cfg.Node = "edge"
	cfg.GPUMetricsInterval = 100 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewWithScenario(cfg, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); _ = s.Close() })
	return s, hs
}

func pngImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < 8; i++ {
		img.Set(i, i, color.RGBA{R: 255, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func post(t *testing.T, url string, req kserve.Request, binary bool) (*http.Response, []byte) {
	t.Helper()
	body, hl, err := kserve.EncodeRequest(req, binary)
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if hl > 0 {
		hr.Header.Set(kserve.HeaderContentLength, strconv.Itoa(hl))
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestInferPayloadModes(t *testing.T) {
	realtimetest.Exclusive(t)
	_, hs := newTestServer(t, testScenario(t, nil), nil)
	url := hs.URL + "/v2/models/mobilenetv4/infer"
	fp := make([]float32, 2*3*4*4)
	for i := range fp {
		fp[i] = float32(i) / 7
	}
	u8 := make([]byte, 3*4*4)
	img := kserve.AppendBytesElement(nil, pngImage(t))
	cases := []struct {
		name   string
		in     kserve.Tensor
		binary bool
		batch  int64
	}{
		{"fp32 json batch 2", kserve.Tensor{Name: "input", Datatype: kserve.FP32, Shape: []int64{2, 3, 4, 4}, Data: kserve.FP32Data(fp)}, false, 2},
		{"fp32 binary", kserve.Tensor{Name: "input", Datatype: kserve.FP32, Shape: []int64{2, 3, 4, 4}, Data: kserve.FP32Data(fp)}, true, 2},
		{"uint8 json", kserve.Tensor{Name: "input", Datatype: kserve.UINT8, Shape: []int64{1, 3, 4, 4}, Data: u8}, false, 1},
		{"uint8 binary", kserve.Tensor{Name: "input", Datatype: kserve.UINT8, Shape: []int64{1, 3, 4, 4}, Data: u8}, true, 1},
		{"png binary", kserve.Tensor{Name: "image", Datatype: kserve.BYTES, Shape: []int64{1}, Data: img}, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := kserve.Request{ID: "x7", Inputs: []kserve.Tensor{tc.in}, Outputs: []kserve.RequestedOutput{{Name: "output", Binary: tc.binary}}}
			start := time.Now()
			resp, body := post(t, url, req, tc.binary)
			lat := time.Since(start)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			hl, _ := strconv.Atoi(resp.Header.Get(kserve.HeaderContentLength))
			r, err := kserve.DecodeResponse(body, hl)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != "x7" || r.ModelName != "mobilenetv4" || len(r.Outputs) != 1 {
				t.Fatalf("response %+v", r)
			}
			o := r.Outputs[0]
			if o.Name != "output" || o.Shape[0] != tc.batch || o.Shape[1] != 10 {
				t.Errorf("output %s shape %v, want [%d 10]", o.Name, o.Shape, tc.batch)
			}
			// The model takes t(b) = 20 ms + b·1 ms; the answer cannot come sooner.
			if min := time.Duration(20+tc.batch) * time.Millisecond; lat < min {
				t.Errorf("answered after %v, before the model's %v", lat, min)
			}
		})
	}
}

func TestInferRejectsInvalidRequests(t *testing.T) {
	_, hs := newTestServer(t, testScenario(t, nil), nil)
	good := kserve.Tensor{Name: "input", Datatype: kserve.FP32, Shape: []int64{1, 3, 4, 4}, Data: make([]byte, 4*48)}
	cases := []struct {
		name, path string
		in         kserve.Tensor
		outputs    []kserve.RequestedOutput
		status     int
		want       string
	}{
		{"unknown model", "/v2/models/resnet/infer", good, nil, 400, "unknown model"},
		{"unknown version", "/v2/models/mobilenetv4/versions/3/infer", good, nil, 400, "version 3"},
		{"wrong shape", "/v2/models/mobilenetv4/infer", kserve.Tensor{Name: "input", Datatype: kserve.FP32, Shape: []int64{1, 3, 4, 5}, Data: make([]byte, 4*60)}, nil, 400, "unexpected shape"},
		{"wrong datatype", "/v2/models/mobilenetv4/infer", kserve.Tensor{Name: "input", Datatype: kserve.INT32, Shape: []int64{1, 3, 4, 4}, Data: make([]byte, 4*48)}, nil, 400, "data-type"},
		{"batch too large", "/v2/models/mobilenetv4/infer", kserve.Tensor{Name: "input", Datatype: kserve.UINT8, Shape: []int64{33, 3, 4, 4}, Data: make([]byte, 33*48)}, nil, 400, "batch-size must be <= 32"},
		{"unknown input", "/v2/models/mobilenetv4/infer", kserve.Tensor{Name: "pixels", Datatype: kserve.FP32, Shape: []int64{1}, Data: make([]byte, 4)}, nil, 400, "unexpected inference input"},
		{"not an image", "/v2/models/mobilenetv4/infer", kserve.Tensor{Name: "image", Datatype: kserve.BYTES, Shape: []int64{1}, Data: kserve.AppendBytesElement(nil, []byte("hello"))}, nil, 400, "not a JPEG or PNG"},
		{"unknown output", "/v2/models/mobilenetv4/infer", good, []kserve.RequestedOutput{{Name: "logits"}}, 400, "unexpected inference output"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, hs.URL+tc.path, kserve.Request{Inputs: []kserve.Tensor{tc.in}, Outputs: tc.outputs}, true)
			var e kserve.ErrorResponse
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not {\"error\": ...}: %v", body, err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(e.Error, tc.want) {
				t.Errorf("status %d error %q, want %d and %q", resp.StatusCode, e.Error, tc.status, tc.want)
			}
		})
	}
	// Malformed bodies and headers.
	for _, c := range []struct {
		body, hl, want string
	}{
		{`{"inputs": [`, "", "invalid JSON"},
		{`{}`, "x", "is not a length"},
		{`{}`, "99", "outside the body"},
	} {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v2/models/mobilenetv4/infer", strings.NewReader(c.body))
		if c.hl != "" {
			req.Header.Set(kserve.HeaderContentLength, c.hl)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("body %q header %q: status %d %s, want 400 with %q", c.body, c.hl, resp.StatusCode, b, c.want)
		}
	}
}

func TestHealthReadinessAndMetadata(t *testing.T) {
	realtimetest.Exclusive(t)
	_, hs := newTestServer(t, testScenario(t, nil), func(c *Config) { c.ReadyAfter = 300 * time.Millisecond })
	get := func(path string) (int, []byte) {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/v2/health/live"); code != 200 {
		t.Errorf("live: %d", code)
	}
	if code, _ := get("/v2/health/ready"); code != 503 {
		t.Errorf("ready while loading: %d, want 503", code)
	}
	if code, _ := get("/v2/models/mobilenetv4/ready"); code != 503 {
		t.Errorf("model ready while loading: %d, want 503", code)
	}
	time.Sleep(350 * time.Millisecond)
	for _, p := range []string{"/v2/health/ready", "/v2/models/mobilenetv4/ready", "/v2/models/mobilenetv4/versions/1/ready"} {
		if code, _ := get(p); code != 200 {
			t.Errorf("%s after loading: %d", p, code)
		}
	}
	code, b := get("/v2/models/mobilenetv4")
	var md kserve.ModelMetadata
	if err := json.Unmarshal(b, &md); err != nil || code != 200 {
		t.Fatalf("metadata %d %s: %v", code, b, err)
	}
	if md.Name != "mobilenetv4" || md.Inputs[0].Name != "input" || len(md.Inputs[0].Shape) != 4 || md.Inputs[0].Shape[0] != -1 {
		t.Errorf("metadata %+v", md)
	}
	if code, _ := get("/v2/models/other/ready"); code != 400 {
		t.Errorf("unknown model ready: %d, want 400", code)
	}
}

// scrape parses the server's /metrics.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return math.NaN(), false
	}
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return math.NaN(), false
}

func TestMetricsAfterConcurrentRequests(t *testing.T) {
	realtimetest.Exclusive(t)
	// Ten concurrent requests on one instance with max_batch_size 32 and no delay, with
	// t(b) = 200 ms + 1 ms·b: the first runs alone (201 ms), the other nine (sent 5 ms
	// later, queued while it runs) as one batch of 9 (209 ms). Triton counts: success 10,
	// count 10, exec_count 2, compute time per request 201 + 9·209 = 2,082 ms; GPU busy
	// 410 ms.
	s, hs := newTestServer(t, testScenario(t, map[string]any{"model": map[string]any{"t_fixed": "200ms"}}),
		func(c *Config) { c.DCGMHostnameLabel = "hostname" })
	in := kserve.Tensor{Name: "input", Datatype: kserve.UINT8, Shape: []int64{1, 3, 4, 4}, Data: make([]byte, 48)}
	first := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				<-first
			}
			body, hl, _ := kserve.EncodeRequest(kserve.Request{Inputs: []kserve.Tensor{in}}, true)
			req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v2/models/mobilenetv4/infer", bytes.NewReader(body))
			req.Header.Set(kserve.HeaderContentLength, strconv.Itoa(hl))
			if i == 0 {
				time.AfterFunc(5*time.Millisecond, func() { close(first) })
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	time.Sleep(250 * time.Millisecond) // two GPU utilisation refreshes
	fams := scrape(t, hs.URL+"/metrics")
	mv := map[string]string{"model": "mobilenetv4", "version": "1"}
	want := map[string]float64{
		"nv_inference_request_success":           10,
		"nv_inference_count":                     10,
		"nv_inference_exec_count":                2,
		"nv_inference_compute_infer_duration_us": 201_000 + 9*209_000,
		"nv_inference_pending_request_count":     0,
		"scalelab_emulator_requests_total":       10,
	}
	for name, w := range want {
		if v, ok := value(fams, name, mv); !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
	if v, _ := value(fams, "nv_inference_request_failure", map[string]string{"reason": "REJECTED"}); v != 0 {
		t.Errorf("failures %v", v)
	}
	if v, _ := value(fams, "scalelab_emulator_gpu_busy_seconds_total", nil); math.Abs(v-0.410) > 1e-9 {
		t.Errorf("GPU busy %v s, want 0.410", v)
	}
	// Idle for the last refresh interval: utilisation 0, on both Triton's and DCGM's gauge.
	if v, _ := value(fams, "nv_gpu_utilization", nil); v != 0 {
		t.Errorf("nv_gpu_utilization = %v after idling, want 0", v)
	}
	if _, ok := value(fams, "DCGM_FI_DEV_GPU_UTIL", map[string]string{"hostname": "edge", "pod": "mobilenetv4-emulator"}); !ok {
		t.Errorf("DCGM_FI_DEV_GPU_UTIL with hostname=edge missing")
	}
	// Default scenario: 512 MiB per pod + 256 MiB per instance of 10 GiB.
	if v, _ := value(fams, "DCGM_FI_DEV_FB_USED", nil); v != 768 {
		t.Errorf("FB used %v MiB, want 768", v)
	}
	if v, _ := value(fams, "kube_pod_container_resource_requests", map[string]string{"resource": "cpu"}); v != 0.5 {
		t.Errorf("CPU request %v, want 0.5", v)
	}
	w := s.Cut()
	if w.Totals.Arrivals != 10 || w.Totals.Completions != 10 || w.Totals.Batches != 2 || w.Latency.Count() != 10 {
		t.Errorf("window totals %+v, %d latencies", w.Totals, w.Latency.Count())
	}
	if w2 := s.Cut(); w2.Totals.Arrivals != 0 || !w2.Start.Equal(w.End) {
		t.Errorf("second window %+v starts %v, want empty from %v", w2.Totals, w2.Start, w.End)
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	realtimetest.Exclusive(t)
	// max_queue_size 1: while one request runs (21 ms) and one waits, a third is rejected.
	_, hs := newTestServer(t, testScenario(t, map[string]any{"serving": map[string]any{"max_queue_size": 1, "max_batch_size": 1}}), nil)
	in := kserve.Tensor{Name: "input", Datatype: kserve.UINT8, Shape: []int64{1, 3, 4, 4}, Data: make([]byte, 48)}
	codes := make(chan int, 3)
	for i := 0; i < 3; i++ {
		go func() {
			resp, _ := post(t, hs.URL+"/v2/models/mobilenetv4/infer", kserve.Request{Inputs: []kserve.Tensor{in}}, false)
			codes <- resp.StatusCode
		}()
		time.Sleep(3 * time.Millisecond)
	}
	got := map[int]int{}
	for i := 0; i < 3; i++ {
		got[<-codes]++
	}
	if got[200] != 2 || got[503] != 1 {
		t.Errorf("status codes %v, want two 200 and one 503", got)
	}
}

// post sends a JSON body (empty: no body) and returns the status and the body.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp, err := http.Post(url, "application/json", r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The model-repository extension (Triton's protocol, docs/protocol/extension_model_
// repository.md): the model configuration reads back the scenario's batching; a load
// with a "config" parameter reloads the model with that configuration's batching — after
// reload_time, the old configuration serving meanwhile; unload makes the model
// unavailable and the index says so; bad loads are refused with Triton's error body.
func TestRepositoryExtension(t *testing.T) {
	sc := testScenario(t, map[string]any{"serving": map[string]any{"max_batch_size": 8, "preferred_batch_sizes": []int{4, 8},
		"max_queue_delay": "500us", "instance_count": 1, "max_queue_size": 0}})
	s, hs := newTestServer(t, sc, func(c *Config) { c.ReloadTime = 300 * time.Millisecond })
	model := hs.URL + "/v2/models/mobilenetv4"

	code, body := getBody(t, model+"/config")
	if code != http.StatusOK {
		t.Fatalf("GET config = %d %s", code, body)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	db := cfg["dynamic_batching"].(map[string]any)
	if cfg["max_batch_size"] != 8.0 || db["max_queue_delay_microseconds"] != "500" || len(db["preferred_batch_size"].([]any)) != 2 ||
		cfg["instance_group"].([]any)[0].(map[string]any)["count"] != 1.0 || cfg["name"] != "mobilenetv4" {
		t.Errorf("config = %s", body)
	}
	_, meta := getBody(t, hs.URL+"/v2")
	if !strings.Contains(meta, `"model_repository"`) || !strings.Contains(meta, `"model_configuration"`) {
		t.Errorf("server metadata lacks the extensions: %s", meta)
	}

	// Reload with new batching, as actuators/kube sends it (the config as a JSON string).
	newCfg := `{"name":"mobilenetv4","max_batch_size":16,"dynamic_batching":{"preferred_batch_size":[16],"max_queue_delay_microseconds":"2000",` +
		`"default_queue_policy":{"max_queue_size":"64","timeout_action":"REJECT"}},"instance_group":[{"count":2,"kind":"KIND_GPU"}]}`
	req, _ := json.Marshal(map[string]any{"parameters": map[string]any{"config": newCfg}})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		if code, body := postJSON(t, hs.URL+"/v2/repository/models/mobilenetv4/load", string(req)); code != http.StatusOK {
			t.Errorf("load = %d %s", code, body)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if b := s.Batching(); b.MaxBatchSize != 8 {
		t.Errorf("during the reload the batching is %+v, want the old configuration serving", b)
	}
	<-done
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("the load returned after %v, before reload_time 300ms", took)
	}
	want := framework.BatchingSettings{MaxBatchSize: 16, PreferredSizes: []int{16}, MaxQueueDelay: 2 * time.Millisecond, InstanceCount: 2, MaxQueueSize: 64}
	if got := s.Batching(); !reflect.DeepEqual(got, want) {
		t.Errorf("after the load Batching() = %+v, want %+v", got, want)
	}
	_, body = getBody(t, model+"/config")
	if !strings.Contains(body, `"max_batch_size":16`) || !strings.Contains(body, `"max_queue_size":"64"`) || !strings.Contains(body, `"count":2`) {
		t.Errorf("config after the load = %s", body)
	}
	if s.Reloads() != 1 {
		t.Errorf("Reloads() = %d, want 1", s.Reloads())
	}
	// A batch of up to 16 images is now accepted (the old limit was 8).
	if resp, body := post(t, model+"/infer", tensorRequest(12), true); resp.StatusCode != http.StatusOK {
		t.Errorf("infer of 12 images after raising max_batch_size = %d %s", resp.StatusCode, body)
	}

	// Refused loads, with Triton's error body.
	for _, tc := range []struct{ name, url, body, want string }{
		{"unknown model", "/v2/repository/models/resnet/load", "", "failed to load 'resnet'"},
		{"config not a string", "/v2/repository/models/mobilenetv4/load", `{"parameters":{"config":{"max_batch_size":4}}}`, "'config' parameter must be a string"},
		{"config not JSON", "/v2/repository/models/mobilenetv4/load", `{"parameters":{"config":"max_batch_size: 4"}}`, "failed to parse the model configuration"},
		{"no dynamic batching", "/v2/repository/models/mobilenetv4/load", `{"parameters":{"config":"{\"max_batch_size\":4}"}}`, "no dynamic_batching"},
		{"batch size 0", "/v2/repository/models/mobilenetv4/load", `{"parameters":{"config":"{\"max_batch_size\":0,\"dynamic_batching\":{}}"}}`, "serving.max_batch_size"},
		{"other model's config", "/v2/repository/models/mobilenetv4/load", `{"parameters":{"config":"{\"name\":\"resnet\",\"dynamic_batching\":{}}"}}`, "names model 'resnet'"},
	} {
		code, body := postJSON(t, hs.URL+tc.url, tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, `"error"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, code, body, tc.want)
		}
	}
	if s.Reloads() != 1 || s.Batching().MaxBatchSize != 16 {
		t.Errorf("a refused load changed the model: %d reloads, %+v", s.Reloads(), s.Batching())
	}

	// Index, unload, load again.
	if _, body := postJSON(t, hs.URL+"/v2/repository/index", ""); !strings.Contains(body, `"state":"READY"`) {
		t.Errorf("index = %s", body)
	}
	if code, body := postJSON(t, hs.URL+"/v2/repository/models/mobilenetv4/unload", ""); code != http.StatusOK {
		t.Fatalf("unload = %d %s", code, body)
	}
	if _, body := postJSON(t, hs.URL+"/v2/repository/index", ""); !strings.Contains(body, `"state":"UNAVAILABLE"`) || !strings.Contains(body, `"reason":"unloaded"`) {
		t.Errorf("index after unload = %s", body)
	}
	if _, body := postJSON(t, hs.URL+"/v2/repository/index", `{"ready":true}`); body != "[]" {
		t.Errorf("index of ready models after unload = %s, want []", body)
	}
	if resp, body := post(t, model+"/infer", tensorRequest(1), true); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "has no available versions") {
		t.Errorf("infer after unload = %d %s", resp.StatusCode, body)
	}
	if code, _ := getBody(t, hs.URL+"/v2/health/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("health/ready after unload = %d, want 503", code)
	}
	if code, body := postJSON(t, hs.URL+"/v2/repository/models/mobilenetv4/load", ""); code != http.StatusOK {
		t.Fatalf("load after unload = %d %s", code, body)
	}
	if resp, body := post(t, model+"/infer", tensorRequest(1), true); resp.StatusCode != http.StatusOK {
		t.Errorf("infer after the load = %d %s", resp.StatusCode, body)
	}
	if s.Batching().MaxBatchSize != 16 {
		t.Errorf("a load without a config changed the batching: %+v", s.Batching())
	}
}

// tensorRequest is a UINT8 request of b images of the test servers' 3×4×4 input.
func tensorRequest(b int) kserve.Request {
	return kserve.Request{Inputs: []kserve.Tensor{{Name: "input", Datatype: kserve.UINT8, Shape: []int64{int64(b), 3, 4, 4}, Data: make([]byte, b*48)}}}
}
