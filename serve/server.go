package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the encoded-image input
	_ "image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/kserve"
	"github.com/scalelab/scalelab/sim"
)

var _ framework.Accounting = (*Server)(nil)

// Server is the emulator: a KServe-v2 HTTP endpoint in front of a Model paced at real
// time. The model's virtual time is the wall-clock (monotonic) time since the server
// started: a request enters the model when its body has been read and validated, and is
// answered as soon as the server's event loop has advanced the model past its virtual
// completion time. Timer granularity makes answers late by up to about a millisecond on
// Linux; the model's counters (and so the exported metrics) are exact.
type Server struct {
	cfg    Config
	sc     sim.Scenario
	logger *slog.Logger
	start  time.Time

	mu      sync.Mutex
	m       *Model
	armed   int64 // virtual time the event loop's timer is set for (never: none)
	gpuUtil float64
	gpuLast int64 // GPUBusyNs at the last utilisation refresh
	gpuAt   int64 // virtual time of the last refresh
	cut     cutState
	repo    repoState // the model's state in the repository (loads, unloads)
	reloads int       // loads through the repository API

	loadMu sync.Mutex // serialises loads

	wake   chan struct{}
	stop   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup

	reg *prometheus.Registry
}

type cutState struct {
	t int64
	c Counters
}

// New builds the emulator of the configured scenario's pod and starts its event loop.
// Close stops it.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("serve: %w", errors.Join(errs...))
	}
	sc, err := cfg.ResolveScenario()
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return NewWithScenario(cfg, sc, logger)
}

// NewWithScenario is New with the scenario given (cfg.Scenario and cfg.ScenarioSet are
// ignored).
func NewWithScenario(cfg Config, sc sim.Scenario, logger *slog.Logger) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("serve: %w", errors.Join(errs...))
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Pod == "" {
		cfg.Pod = sc.Workload.Name + "-emulator"
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	m, err := NewModel(ParamsFromScenario(sc, cfg.Seed))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, sc: sc, logger: logger, start: time.Now(), m: m, armed: never,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), reg: prometheus.NewRegistry()}
	s.reg.MustRegister(&collector{s: s})
	s.wg.Add(2)
	go s.loop()
	go s.refreshGPU()
	return s, nil
}

// Scenario returns the emulated scenario.
func (s *Server) Scenario() sim.Scenario { return s.sc }

// Config returns the server's configuration with defaults resolved (pod and node names).
func (s *Server) Config() Config { return s.cfg }

// Registry returns the Prometheus registry holding the server's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Close stops the event loop. Requests still in the model are never answered.
func (s *Server) Close() error {
	s.closed.Do(func() { close(s.stop) })
	s.wg.Wait()
	return nil
}

// vnow returns the model's virtual time for the present instant.
func (s *Server) vnow() int64 { return int64(time.Since(s.start)) }

// loop is the event loop: it advances the model to the present whenever the model's next
// event is due or an arrival moved it earlier, and sleeps in between.
func (s *Server) loop() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		s.m.Advance(s.vnow())
		next := s.m.NextEvent()
		s.armed = next
		s.mu.Unlock()
		var wait <-chan time.Time
		if next != never {
			t.Reset(time.Duration(next - s.vnow()))
			wait = t.C
		}
		select {
		case <-wait:
		case <-s.wake:
		case <-s.stop:
			return
		}
	}
}

// submit puts a request of the given images into the model at the present time.
func (s *Server) submit(images int) *Request {
	s.mu.Lock()
	s.m.Advance(s.vnow())
	r := s.m.Arrive(images)
	next := s.m.NextEvent()
	kick := next < s.armed
	if kick {
		s.armed = next
	}
	s.mu.Unlock()
	if kick {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return r
}

// refreshGPU recomputes the GPU utilisation every GPUMetricsInterval, as Triton and
// DCGM-Exporter do: the busy fraction over the last interval.
func (s *Server) refreshGPU() {
	defer s.wg.Done()
	tk := time.NewTicker(s.cfg.GPUMetricsInterval)
	defer tk.Stop()
	for {
		select {
		case <-tk.C:
		case <-s.stop:
			return
		}
		s.mu.Lock()
		now := s.vnow()
		s.m.Advance(now)
		busy := s.m.Counters().GPUBusyNs
		if now > s.gpuAt {
			s.gpuUtil = float64(busy-s.gpuLast) / float64(now-s.gpuAt)
		}
		s.gpuLast, s.gpuAt = busy, now
		s.mu.Unlock()
	}
}

// Counters returns the model's counters at the present time.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Advance(s.vnow())
	return s.m.Counters()
}

// Now returns the wall-clock time the server's counters describe when read now.
func (s *Server) Now() time.Time { return time.Now() }

// Cut closes the current accounting window at the present time and returns the pod's
// ground truth over it, from the server's side: arrivals, completions, requests rejected
// by a full queue (as drops), queueing, batches, CPU and GPU time, and the latencies
// (arrival in the model to completion) of the window's completions. The first window
// starts when the server started. SLO violations are not counted (the server knows no SLO;
// the load generator counts them client side).
func (s *Server) Cut() framework.Window {
	s.mu.Lock()
	now := s.vnow()
	s.m.Advance(now)
	c := s.m.Counters()
	prev := s.cut
	s.cut = cutState{t: now, c: c}
	lat := s.m.TakeLatencies()
	s.mu.Unlock()

	dt := float64(now-prev.t) / 1e9
	w := s.sc.Workload
	gpuMem, gpuTotal := s.gpuMemory()
	inflight := (c.InflightNs - prev.c.InflightNs) / 1e9
	return framework.Window{
		Start: s.start.Add(time.Duration(prev.t)),
		End:   s.start.Add(time.Duration(now)),
		Totals: framework.Totals{
			Arrivals:              c.Arrivals - prev.c.Arrivals,
			Completions:           c.Completions - prev.c.Completions,
			Drops:                 c.Rejected - prev.c.Rejected,
			ReplicaSeconds:        dt,
			ReadyReplicaSeconds:   dt,
			GPUSeconds:            dt,
			GPUBusySeconds:        float64(c.GPUBusyNs-prev.c.GPUBusyNs) / 1e9,
			GPUCount:              1,
			CPUSeconds:            (c.CPUCoreNs - prev.c.CPUCoreNs) / 1e9,
			CPURequestSeconds:     w.CPURequest.Cores() * dt,
			MemByteSeconds:        float64(w.MemoryWorkingSet)*dt + float64(w.MemoryPerRequest)*inflight,
			MemRequestByteSeconds: float64(w.MemoryRequest) * dt,
			GPUMemByteSeconds:     gpuMem * dt,
			GPUMemTotalBytes:      gpuTotal,
			Batches:               c.Batches - prev.c.Batches,
			BatchedRequests:       c.Images - prev.c.Images,
			QueueSeconds:          float64(c.QueueNs-prev.c.QueueNs) / 1e9,
		},
		Latency: lat,
	}
}

// gpuMemory returns the frame buffer the pod uses (CUDA context and pools plus one engine
// per instance) and the GPU's total, from the scenario.
func (s *Server) gpuMemory() (used, total float64) {
	mdl := s.sc.Model
	used = float64(mdl.GPUMemoryPerPod) + float64(s.m.Params().Batching.InstanceCount)*float64(mdl.GPUMemoryPerInstance)
	for _, n := range s.sc.Nodes {
		for _, g := range n.GPUs {
			return used, float64(g.Memory)
		}
	}
	return used, used
}

// started reports whether the initial model load (ready_after) is over.
func (s *Server) started() bool { return time.Since(s.start) >= s.cfg.ReadyAfter }

// ready reports whether the model serves: started and not unloaded.
func (s *Server) ready() bool {
	s.mu.Lock()
	unloaded := s.repo.unloaded
	s.mu.Unlock()
	return s.started() && !unloaded
}

// kick wakes the event loop when the model's next event moved earlier than the time it
// sleeps until (after a change of settings).
func (s *Server) kick() {
	s.mu.Lock()
	next := s.m.NextEvent()
	kick := next < s.armed
	if kick {
		s.armed = next
	}
	s.mu.Unlock()
	if kick {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Handler returns the KServe v2 HTTP API (and /metrics when MetricsAddr is empty):
//
//	GET  /v2/health/live, /v2/health/ready, /v2
//	GET  /v2/models/{model}[/versions/{version}], …/ready, …/config
//	POST /v2/models/{model}[/versions/{version}]/infer
//	POST /v2/repository/index, /v2/repository/models/{model}/load, …/unload
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, kserve.ServerMetadata{Name: "scalelab-serve", Version: "emulator",
			Extensions: extensions})
	})
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		mux.HandleFunc("GET "+prefix, s.metadata)
		mux.HandleFunc("GET "+prefix+"/ready", s.modelReady)
		mux.HandleFunc("GET "+prefix+"/config", s.modelConfigHandler)
		mux.HandleFunc("POST "+prefix+"/infer", s.infer)
	}
	mux.HandleFunc("POST /v2/repository/index", s.index)
	mux.HandleFunc("POST /v2/repository/models/{model}/load", s.load)
	mux.HandleFunc("POST /v2/repository/models/{model}/unload", s.unload)
	if s.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.MetricsHandler())
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// MetricsHandler returns the /metrics handler.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// checkModel answers false (after writing the error) when the path names another model or
// version, as Triton does with 400.
func (s *Server) checkModel(w http.ResponseWriter, r *http.Request) bool {
	if m := r.PathValue("model"); m != s.cfg.Model {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Request for unknown model: '%s' is not found", m))
		return false
	}
	if v := r.PathValue("version"); v != "" && v != s.cfg.Version {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Request for unknown model: '%s' version %s is not found", s.cfg.Model, v))
		return false
	}
	s.mu.Lock()
	unloaded := s.repo.unloaded
	s.mu.Unlock()
	if unloaded {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Request for unknown model: '%s' has no available versions", s.cfg.Model))
		return false
	}
	return true
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if !s.checkModel(w, r) {
		return
	}
	shape := append([]int64{-1}, s.cfg.InputShape...)
	writeJSON(w, http.StatusOK, kserve.ModelMetadata{
		Name: s.cfg.Model, Versions: []string{s.cfg.Version}, Platform: "scalelab_emulator",
		Inputs: []kserve.TensorMetadata{
			{Name: s.cfg.InputName, Datatype: kserve.FP32, Shape: shape},
			{Name: s.cfg.ImageInputName, Datatype: kserve.BYTES, Shape: []int64{-1}},
		},
		Outputs: []kserve.TensorMetadata{{Name: s.cfg.OutputName, Datatype: kserve.FP32, Shape: []int64{-1, int64(s.cfg.Classes)}}},
	})
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	if !s.checkModel(w, r) {
		return
	}
	if !s.ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	if !s.checkModel(w, r) {
		return
	}
	if !s.ready() {
		writeError(w, http.StatusServiceUnavailable, errNotReady.Error())
		return
	}
	headerLen := 0
	if h := r.Header.Get(kserve.HeaderContentLength); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q is not a length", kserve.HeaderContentLength, h))
			return
		}
		headerLen = n
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, fmt.Sprintf("reading the request body: %v", err))
		return
	}
	req, err := kserve.DecodeRequest(body, headerLen)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	images, err := s.checkRequest(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	mr := s.submit(images)
	select {
	case <-mr.Done:
	case <-r.Context().Done():
		return // the client gave up; the request stays in the model, as in Triton
	}
	if mr.Rejected {
		writeError(w, http.StatusServiceUnavailable, "Exceeds maximum queue size")
		return
	}
	out := s.output(req.Inputs[0], images)
	resp, hl, err := kserve.EncodeResponse(kserve.Response{ModelName: s.cfg.Model, ModelVersion: s.cfg.Version, ID: req.ID,
		Outputs: []kserve.Tensor{out}}, req.BinaryOutput)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if hl > 0 {
		w.Header().Set("Content-Type", kserve.ContentTypeBinary)
		w.Header().Set(kserve.HeaderContentLength, strconv.Itoa(hl))
	} else {
		w.Header().Set("Content-Type", kserve.ContentTypeJSON)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	_, _ = w.Write(resp)
}

// checkRequest validates a decoded request against the model's inputs and outputs and
// returns its batch size (images).
func (s *Server) checkRequest(req kserve.Request) (int, error) {
	if len(req.Inputs) != 1 {
		return 0, fmt.Errorf("expected 1 input for model '%s', got %d", s.cfg.Model, len(req.Inputs))
	}
	in := req.Inputs[0]
	var b int64
	switch in.Name {
	case s.cfg.InputName:
		if in.Datatype != kserve.FP32 && in.Datatype != kserve.UINT8 {
			return 0, fmt.Errorf("inference input '%s' data-type is '%s', but model '%s' expects 'FP32' or 'UINT8'", in.Name, in.Datatype, s.cfg.Model)
		}
		if len(in.Shape) != 1+len(s.cfg.InputShape) || !slices.Equal(in.Shape[1:], s.cfg.InputShape) {
			return 0, fmt.Errorf("unexpected shape for input '%s' for model '%s'. Expected [-1,%s], got %v", in.Name, s.cfg.Model, dims(s.cfg.InputShape), in.Shape)
		}
		b = in.Shape[0]
	case s.cfg.ImageInputName:
		if in.Datatype != kserve.BYTES {
			return 0, fmt.Errorf("inference input '%s' data-type is '%s', but model '%s' expects 'BYTES'", in.Name, in.Datatype, s.cfg.Model)
		}
		if len(in.Shape) < 1 || len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) {
			return 0, fmt.Errorf("unexpected shape for input '%s' for model '%s'. Expected [-1] or [-1,1], got %v", in.Name, s.cfg.Model, in.Shape)
		}
		b = in.Shape[0]
		elems, err := kserve.BytesElements(in.Data)
		if err != nil {
			return 0, fmt.Errorf("input '%s': %w", in.Name, err)
		}
		for i, e := range elems {
			if _, _, err := image.DecodeConfig(bytes.NewReader(e)); err != nil {
				return 0, fmt.Errorf("input '%s': element %d is not a JPEG or PNG image: %v", in.Name, i, err)
			}
		}
	default:
		return 0, fmt.Errorf("unexpected inference input '%s' for model '%s'", in.Name, s.cfg.Model)
	}
	maxB := int64(s.m.Params().Batching.MaxBatchSize)
	if b < 1 || b > maxB {
		return 0, fmt.Errorf("inference request batch-size must be <= %d for '%s', got %d", maxB, s.cfg.Model, b)
	}
	for _, o := range req.Outputs {
		if o.Name != s.cfg.OutputName {
			return 0, fmt.Errorf("unexpected inference output '%s' for model '%s'", o.Name, s.cfg.Model)
		}
	}
	return int(b), nil
}

func dims(d []int64) string {
	b, _ := json.Marshal(d)
	return string(b[1 : len(b)-1])
}

// output returns the emulated model's answer: for each image a one-hot FP32 vector over
// the classes, the class derived from a sample of the image's bytes (so equal inputs get
// equal answers).
func (s *Server) output(in kserve.Tensor, images int) kserve.Tensor {
	classes := s.cfg.Classes
	vals := make([]float32, images*classes)
	per := len(in.Data) / images
	for i := 0; i < images; i++ {
		img := in.Data[i*per : (i+1)*per]
		var h uint32 = 2166136261
		step := max(1, len(img)/256)
		for j := 0; j < len(img); j += step {
			h = (h ^ uint32(img[j])) * 16777619
		}
		vals[i*classes+int(h%uint32(classes))] = 1
	}
	return kserve.Tensor{Name: s.cfg.OutputName, Datatype: kserve.FP32, Shape: []int64{int64(images), int64(classes)}, Data: kserve.FP32Data(vals)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", kserve.ContentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", kserve.ContentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(kserve.ErrorBody(msg))
}

// Serve serves the API on api and /metrics on metrics (nil: on api, whatever MetricsAddr
// says) until ctx is done, then shuts down gracefully (in-flight requests get up to 5 s).
func (s *Server) Serve(ctx context.Context, api, metrics net.Listener) error {
	h := s.Handler()
	if metrics == nil && s.cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.MetricsHandler())
		mux.Handle("/", h)
		h = mux
	}
	servers := []*http.Server{{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	lns := []net.Listener{api}
	if metrics != nil {
		servers = append(servers, &http.Server{Handler: s.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second})
		lns = append(lns, metrics)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(lns[i]) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
