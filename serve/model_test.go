package serve

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/sim"
)

const ms = int64(time.Millisecond)
const us = int64(time.Microsecond)

// det is a deterministic model: t(b) = 1 ms + 0.5 ms·b, no jitter.
func det(cpu time.Duration, limit float64, threads int, b framework.BatchingSettings) ModelParams {
	if b.InstanceCount == 0 {
		b.InstanceCount = 1
	}
	if b.MaxBatchSize == 0 {
		b.MaxBatchSize = 4
	}
	return ModelParams{TFixed: time.Millisecond, TPerImage: 500 * time.Microsecond, Jitter: sim.JitterDeterministic,
		CPUPerRequest: cpu, CPULimit: limit, HTTPThreads: threads, Batching: b, Contention: true, Seed: 1}
}

type arrival struct {
	at     int64
	images int
}

// run feeds arrivals (sorted) into a model and advances to end.
func run(t *testing.T, p ModelParams, arrivals []arrival, end int64) (*Model, []*Request) {
	t.Helper()
	m, err := NewModel(p)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*Request
	for _, a := range arrivals {
		m.Advance(a.at)
		reqs = append(reqs, m.Arrive(a.images))
	}
	m.Advance(end)
	return m, reqs
}

func TestModelTimelines(t *testing.T) {
	cases := []struct {
		name     string
		p        ModelParams
		arrivals []arrival
		// wantEnd[i] is request i's completion time, derived by hand in the comment.
		wantEnd   []int64
		wantBatch []int
	}{
		{
			// No CPU stage, no delay: the first request runs alone (t(1) = 1.5 ms, done at
			// 1.5 ms); the next two arrive during it and form a batch of 2 at 1.5 ms
			// (t(2) = 2 ms, done at 3.5 ms).
			name:      "batching while busy",
			p:         det(0, 0, 8, framework.BatchingSettings{}),
			arrivals:  []arrival{{0, 1}, {100 * us, 1}, {200 * us, 1}},
			wantEnd:   []int64{1500 * us, 3500 * us, 3500 * us},
			wantBatch: []int{1, 2, 2},
		},
		{
			// max_batch_size 4 caps the batch: six requests queued behind a running one
			// run as 4 (t = 3 ms) then 2 (t = 2 ms): 1.5, 4.5, 6.5 ms.
			name: "max batch size",
			p:    det(0, 0, 8, framework.BatchingSettings{MaxBatchSize: 4}),
			arrivals: []arrival{{0, 1}, {10 * us, 1}, {20 * us, 1}, {30 * us, 1}, {40 * us, 1},
				{50 * us, 1}, {60 * us, 1}},
			wantEnd:   []int64{1500 * us, 4500 * us, 4500 * us, 4500 * us, 4500 * us, 6500 * us, 6500 * us},
			wantBatch: []int{1, 4, 4, 4, 4, 2, 2},
		},
		{
			// max_queue_delay 1 ms: a lone request waits the delay (starts at 1 ms, done at
			// 2.5 ms); a second arriving at 0.5 ms joins it (batch 2: t = 2 ms, done 3 ms).
			name:      "queue delay",
			p:         det(0, 0, 8, framework.BatchingSettings{MaxQueueDelay: time.Millisecond}),
			arrivals:  []arrival{{0, 1}, {500 * us, 1}},
			wantEnd:   []int64{3 * ms, 3 * ms},
			wantBatch: []int{2, 2},
		},
		{
			// A preferred size of 2 is formed at once, without waiting the 10 ms delay:
			// both arrive at 0, batch of 2 at 0, done at 2 ms.
			name:      "preferred size",
			p:         det(0, 0, 8, framework.BatchingSettings{PreferredSizes: []int{2}, MaxQueueDelay: 10 * time.Millisecond}),
			arrivals:  []arrival{{0, 1}, {0, 1}},
			wantEnd:   []int64{2 * ms, 2 * ms},
			wantBatch: []int{2, 2},
		},
		{
			// CPU stage: 400 µs of work, a 0.5-core limit. Alone, a request gets 0.5 core
			// (it may use at most one core, the limit allows half): it leaves at 0.8 ms and
			// completes at 0.8 + 1.5 = 2.3 ms.
			name:      "cpu stage alone",
			p:         det(400*time.Microsecond, 0.5, 8, framework.BatchingSettings{}),
			arrivals:  []arrival{{0, 1}},
			wantEnd:   []int64{2300 * us},
			wantBatch: []int{1},
		},
		{
			// Two at once share 0.5 core (0.25 each): both leave at 1.6 ms and run as a
			// batch of 2 (2 ms): done at 3.6 ms.
			name:      "cpu stage shared",
			p:         det(400*time.Microsecond, 0.5, 8, framework.BatchingSettings{}),
			arrivals:  []arrival{{0, 1}, {0, 1}},
			wantEnd:   []int64{3600 * us, 3600 * us},
			wantBatch: []int{2, 2},
		},
		{
			// One HTTP thread: with 4 cores the first request works alone at one core
			// (leaves at 0.4 ms), then the second gets the thread (leaves at 0.8 ms, waits
			// for the GPU busy until 0.4 + 1.5 = 1.9 ms, done at 3.4 ms).
			name:      "one http thread",
			p:         det(400*time.Microsecond, 4, 1, framework.BatchingSettings{}),
			arrivals:  []arrival{{0, 1}, {0, 1}},
			wantEnd:   []int64{1900 * us, 3400 * us},
			wantBatch: []int{1, 1},
		},
		{
			// A request of 3 images costs 3 × 200 µs of CPU at one core (leaves at 0.6 ms)
			// and runs as a batch of 3: t = 2.5 ms, done at 3.1 ms.
			name:      "multi-image request",
			p:         det(200*time.Microsecond, 2, 8, framework.BatchingSettings{}),
			arrivals:  []arrival{{0, 3}},
			wantEnd:   []int64{3100 * us},
			wantBatch: []int{3},
		},
		{
			// Two instances with contention: two lone requests 0.1 ms apart. The first
			// runs alone for 0.1 ms (1.4 ms of work left), then both share the GPU at half
			// speed: the first finishes after 2.8 ms more, at 2.9 ms, when the second has
			// 1.5 − 1.4 = 0.1 ms left, done at 3.0 ms.
			name:      "two instances share the gpu",
			p:         det(0, 0, 8, framework.BatchingSettings{InstanceCount: 2}),
			arrivals:  []arrival{{0, 1}, {100 * us, 1}},
			wantEnd:   []int64{2900 * us, 3000 * us},
			wantBatch: []int{1, 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, reqs := run(t, tc.p, tc.arrivals, 100*ms)
			for i, r := range reqs {
				select {
				case <-r.Done:
				default:
					t.Fatalf("request %d not done", i)
				}
				if r.End != tc.wantEnd[i] || r.Batch != tc.wantBatch[i] {
					t.Errorf("request %d: end %v batch %d, want end %v batch %d", i,
						time.Duration(r.End), r.Batch, time.Duration(tc.wantEnd[i]), tc.wantBatch[i])
				}
			}
			c := m.Counters()
			if c.Completions != int64(len(reqs)) || c.Inflight != 0 || c.Pending != 0 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

func TestModelCountersFollowTritonSemantics(t *testing.T) {
	// "batching while busy": request 1 alone (1.5 ms of compute, no queueing); requests 2
	// and 3 queue from 0.1 and 0.2 ms to 1.5 ms (1.4 + 1.3 ms of queue) and run as one 2 ms
	// batch counted once per request (2 × 2 ms).
	m, _ := run(t, det(0, 0, 8, framework.BatchingSettings{}),
		[]arrival{{0, 1}, {100 * us, 1}, {200 * us, 1}}, 10*ms)
	c := m.Counters()
	want := Counters{Arrivals: 3, Completions: 3, Images: 3, Batches: 2,
		RequestNs: 1500*us + 3400*us + 3300*us, QueueNs: 1400*us + 1300*us, ComputeNs: 1500*us + 2*2000*us,
		GPUBusyNs: 3500 * us, Now: 10 * ms}
	want.InflightNs = c.InflightNs // checked below
	if c != want {
		t.Errorf("counters\n got %+v\nwant %+v", c, want)
	}
	// ∫ inflight dt = Σ latencies (Little's law, exactly).
	if math.Abs(c.InflightNs-float64(c.RequestNs)) > 1 {
		t.Errorf("∫ inflight dt = %v, Σ latency = %v", c.InflightNs, c.RequestNs)
	}
	if h := m.TakeLatencies(); h.Count() != 3 || m.TakeLatencies().Count() != 0 {
		t.Errorf("latency histogram holds %d, want 3 then 0", h.Count())
	}
}

func TestModelRejectsWhenQueueFull(t *testing.T) {
	// max_queue_size 1: the first request runs, the second waits, the third is rejected
	// at once.
	m, reqs := run(t, det(0, 0, 8, framework.BatchingSettings{MaxQueueSize: 1}),
		[]arrival{{0, 1}, {10 * us, 1}, {20 * us, 1}}, 10*ms)
	if reqs[0].Rejected || reqs[1].Rejected || !reqs[2].Rejected || reqs[2].End != 20*us {
		t.Errorf("rejections %v %v %v (end %d)", reqs[0].Rejected, reqs[1].Rejected, reqs[2].Rejected, reqs[2].End)
	}
	if c := m.Counters(); c.Rejected != 1 || c.Completions != 2 {
		t.Errorf("counters %+v", c)
	}
}

func TestModelCPUAccounting(t *testing.T) {
	// 1,000 requests spaced 2 ms apart with 400 µs of CPU each: CPU time is exactly
	// 1,000 × 400 µs = 0.4 s whatever the sharing.
	var arr []arrival
	for i := 0; i < 1000; i++ {
		arr = append(arr, arrival{int64(i) * 2 * ms, 1})
	}
	m, _ := run(t, det(400*time.Microsecond, 0.5, 8, framework.BatchingSettings{}), arr, 3*time.Second.Nanoseconds())
	if got := m.Counters().CPUCoreNs; math.Abs(got-0.4e9) > 1e3 {
		t.Errorf("CPU = %v core·ns, want 4e8", got)
	}
}

func TestModelValidate(t *testing.T) {
	p := det(time.Millisecond, 0, 0, framework.BatchingSettings{MaxBatchSize: -1})
	p.Jitter = "uniform"
	_, err := NewModel(p)
	for _, key := range []string{"model.jitter", "workload.cpu_limit", "serving.http_threads", "serving.max_batch_size"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

// TestModelMatchesSimulatorOnePod drives the model with the arrivals the simulator draws
// for the same seed (the same PCG stream) and compares one pod of the default scenario over
// a minute at 700 req/s: both implement the same serving path and draw jitter from the same
// stream, so they agree to within rounding (the two round CPU-stage exit times to whole
// nanoseconds from different reference points) and one batch in flight at the end.
func TestModelMatchesSimulatorOnePod(t *testing.T) {
	sc, _ := sim.BuiltinScenario(sim.DefaultScenario)
	const seed = 7
	prof := load.Constant{RPS: 700}
	dur := time.Minute

	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(context.Background(), framework.Episode{Seed: seed, Load: load.Load{Profile: prof}, InitialReplicas: 1,
		SLO: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(context.Background(), dur); err != nil {
		t.Fatal(err)
	}
	w := s.Cut()

	m, err := NewModel(ParamsFromScenario(sc, seed))
	if err != nil {
		t.Fatal(err)
	}
	src := load.Load{Profile: prof}.NewSource(rand.New(rand.NewPCG(seed, 0x61727269766c7331)))
	for {
		off, ok := src.NextBefore(dur)
		if !ok {
			break
		}
		m.Advance(int64(off))
		m.Arrive(1)
	}
	m.Advance(int64(dur))
	c := m.Counters()
	h := m.TakeLatencies()

	tot := w.Totals
	if c.Arrivals != tot.Arrivals {
		t.Fatalf("arrivals: model %d, simulator %d (the streams differ)", c.Arrivals, tot.Arrivals)
	}
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-12) }
	checks := []struct {
		name        string
		model, simv float64
		tol         float64
	}{
		// The simulator counts a batch when it starts, the model (as Triton's
		// nv_inference_exec_count) when it completes: one batch may be in flight at the end.
		{"completions", float64(c.Completions), float64(tot.Completions), 1e-4},
		{"batches", float64(c.Batches), float64(tot.Batches), 1e-4},
		{"queue seconds", float64(c.QueueNs) / 1e9, tot.QueueSeconds, 1e-4},
		{"CPU seconds", c.CPUCoreNs / 1e9, tot.CPUSeconds, 1e-4},
		{"GPU busy seconds", float64(c.GPUBusyNs) / 1e9, tot.GPUBusySeconds, 1e-4},
		{"mean latency ms", h.MeanMS(), w.Latency.MeanMS(), 1e-4},
		{"p95 latency ms", h.QuantileMS(0.95), w.Latency.QuantileMS(0.95), 1e-4},
	}
	for _, ck := range checks {
		if r := rel(ck.model, ck.simv); r > ck.tol {
			t.Errorf("%s: model %.6g, simulator %.6g (rel. diff %.4f > %.3f)", ck.name, ck.model, ck.simv, r, ck.tol)
		} else {
			t.Logf("%s: model %.6g, simulator %.6g", ck.name, ck.model, ck.simv)
		}
	}
}

// SetBatching changes the batcher and the instances at once, as a model reload does once
// the new model is ready; the expected timelines are worked out by hand from
// t(b) = 1 ms + 0.5 ms·b with the GPU shared equally among running batches.
func TestModelSetBatching(t *testing.T) {
	cases := []struct {
		name      string
		from, to  framework.BatchingSettings
		arrivals  int // requests of one image at t = 0, after the first (which starts alone)
		wantEnd   []int64
		wantInsts int
	}{
		{
			// Request 0 runs alone (1.5 ms). The 8 queued then go in batches of the new
			// maximum, 4: 1.5 + 3 = 4.5 ms and 4.5 + 3 = 7.5 ms (with the old maximum, 8, one
			// batch would end at 1.5 + 5 = 6.5 ms).
			name: "smaller max_batch_size", from: framework.BatchingSettings{MaxBatchSize: 8, InstanceCount: 1},
			to: framework.BatchingSettings{MaxBatchSize: 4, InstanceCount: 1}, arrivals: 8,
			wantEnd:   []int64{1500 * us, 4500 * us, 4500 * us, 4500 * us, 4500 * us, 7500 * us, 7500 * us, 7500 * us, 7500 * us},
			wantInsts: 1,
		},
		{
			// A second instance starts the 2 queued requests at once (2 ms of work); both
			// batches run at half speed: request 0 ends at 1.5/0.5 = 3 ms, when the batch of
			// 2 has 0.5 ms left at full speed: 3.5 ms.
			name: "more instances", from: framework.BatchingSettings{MaxBatchSize: 4, InstanceCount: 1},
			to: framework.BatchingSettings{MaxBatchSize: 4, InstanceCount: 2}, arrivals: 2,
			wantEnd:   []int64{3 * ms, 3500 * us, 3500 * us},
			wantInsts: 2,
		},
		{
			// Two instances run request 0 and request 1 at half speed (both end at 3 ms);
			// with one instance left, the busy second one retires when its batch ends, and
			// request 2 waits for the first: 3 + 1.5 = 4.5 ms.
			name: "fewer instances", from: framework.BatchingSettings{MaxBatchSize: 4, InstanceCount: 2},
			to: framework.BatchingSettings{MaxBatchSize: 4, InstanceCount: 1}, arrivals: 2,
			wantEnd:   []int64{3 * ms, 3 * ms, 4500 * us},
			wantInsts: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewModel(det(0, 1, 8, tc.from))
			if err != nil {
				t.Fatal(err)
			}
			reqs := []*Request{m.Arrive(1)}
			if tc.name == "fewer instances" {
				reqs = append(reqs, m.Arrive(1))
				if err := m.SetBatching(tc.to); err != nil {
					t.Fatal(err)
				}
				reqs = append(reqs, m.Arrive(1))
			} else {
				for range tc.arrivals {
					reqs = append(reqs, m.Arrive(1))
				}
				if err := m.SetBatching(tc.to); err != nil {
					t.Fatal(err)
				}
			}
			m.Advance(20 * ms)
			for i, r := range reqs {
				if r.End != tc.wantEnd[i] {
					t.Errorf("request %d ended at %v, want %v", i, time.Duration(r.End), time.Duration(tc.wantEnd[i]))
				}
			}
			if len(m.insts) != tc.wantInsts || m.idle != tc.wantInsts || m.running != 0 {
				t.Errorf("%d instances (%d idle, %d running), want %d idle", len(m.insts), m.idle, m.running, tc.wantInsts)
			}
			if got := m.Params().Batching; got.MaxBatchSize != tc.to.MaxBatchSize || got.InstanceCount != tc.to.InstanceCount {
				t.Errorf("Params().Batching = %+v, want %+v", got, tc.to)
			}
		})
	}
	m, _ := NewModel(det(0, 1, 8, framework.BatchingSettings{}))
	if err := m.SetBatching(framework.BatchingSettings{MaxBatchSize: 2, PreferredSizes: []int{4}, InstanceCount: 1}); err == nil ||
		!strings.Contains(err.Error(), "serving.preferred_batch_sizes[0]") {
		t.Errorf("SetBatching with a preferred size above the maximum = %v, want an error naming it", err)
	}
	if m.Params().Batching.MaxBatchSize != 4 {
		t.Errorf("a refused SetBatching changed the settings: %+v", m.Params().Batching)
	}
}
