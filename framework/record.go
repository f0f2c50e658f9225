package framework

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// WriteFileAtomic writes data to path through a temporary file in the same directory and a
// rename, so readers never see a partial file and a failure leaves the old file intact.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	// os.CreateTemp makes the file 0600; results are meant to be readable like any file
	// written with os.WriteFile.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteJSONAtomic writes v as indented JSON atomically.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteKPIs writes a KPI record atomically as JSON; undefined values (NaN, e.g. a latency
// percentile of a run with no completions) are written as null.
func WriteKPIs(path string, k KPIs) error { return WriteJSONAtomic(path, kpisNoNaN(k)) }

// kpisNoNaN returns the record as a map with NaN/Inf fields as nil (JSON null).
func kpisNoNaN(k KPIs) map[string]any {
	m := map[string]any{}
	for _, n := range kpiFloatFields {
		v := k.Get(n)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			m[n] = nil
		} else {
			m[n] = v
		}
	}
	m["arrivals"] = k.Arrivals
	m["completions"] = k.Completions
	m["drops"] = k.Drops
	m["failures"] = k.Failures
	m["slo_violations"] = k.SLOViolations
	m["measured_seconds"] = k.MeasuredSeconds
	m["decisions"] = k.Decisions
	m["fallback_steps"] = k.FallbackSteps
	m["deadline_fallbacks"] = k.DeadlineFallbacks
	m["clamped_steps"] = k.ClampedSteps
	m["limited_steps"] = k.LimitedSteps
	m["scale_events"] = k.ScaleEvents
	m["policy_disabled"] = k.PolicyDisabled
	m["disabled_at_s"] = k.DisabledAtS
	terms := map[string]any{}
	for n, v := range k.RewardTerms {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			terms[n] = nil
		} else {
			terms[n] = v
		}
	}
	m["reward_terms"] = terms
	return m
}

var kpiFloatFields = []string{
	"mean_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "throughput_rps",
	"qos_violation_rate", "drop_rate", "mean_replicas", "mean_ready_replicas", "replica_seconds",
	"gpu_seconds", "gpu_util", "cpu_util", "mem_util", "gpu_mem_util", "avg_batch_size",
	"mean_queue_ms", "offered_rps", "reward_total",
}

// ReadKPIs reads a KPI record written by WriteKPIs (null → NaN).
func ReadKPIs(path string) (KPIs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return KPIs{}, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return KPIs{}, fmt.Errorf("%s: %w", path, err)
	}
	k, err := decodeKPIsLenient(m)
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func decodeKPIsLenient(m map[string]json.RawMessage) (KPIs, error) {
	var k KPIs
	fl := map[string]*float64{
		"mean_latency_ms": &k.MeanLatencyMS, "p50_latency_ms": &k.P50LatencyMS, "p95_latency_ms": &k.P95LatencyMS,
		"p99_latency_ms": &k.P99LatencyMS, "throughput_rps": &k.ThroughputRPS, "qos_violation_rate": &k.QoSViolationRate,
		"drop_rate": &k.DropRate, "mean_replicas": &k.MeanReplicas, "mean_ready_replicas": &k.MeanReadyReplicas,
		"replica_seconds": &k.ReplicaSeconds, "gpu_seconds": &k.GPUSeconds, "gpu_util": &k.GPUUtil, "cpu_util": &k.CPUUtil,
		"mem_util": &k.MemUtil, "gpu_mem_util": &k.GPUMemUtil, "avg_batch_size": &k.AvgBatchSize,
		"mean_queue_ms": &k.MeanQueueMS, "offered_rps": &k.OfferedRPS, "reward_total": &k.RewardTotal,
		"measured_seconds": &k.MeasuredSeconds, "disabled_at_s": &k.DisabledAtS,
	}
	for n, p := range fl {
		raw, ok := m[n]
		if !ok || string(raw) == `"NaN"` || string(raw) == "null" {
			*p = math.NaN()
			continue
		}
		if err := json.Unmarshal(raw, p); err != nil {
			return k, fmt.Errorf("kpi %s: %w", n, err)
		}
	}
	ints := map[string]*int64{"arrivals": &k.Arrivals, "completions": &k.Completions, "drops": &k.Drops, "failures": &k.Failures, "slo_violations": &k.SLOViolations}
	for n, p := range ints {
		if raw, ok := m[n]; ok {
			_ = json.Unmarshal(raw, p)
		}
	}
	is := map[string]*int{"decisions": &k.Decisions, "fallback_steps": &k.FallbackSteps, "deadline_fallbacks": &k.DeadlineFallbacks,
		"clamped_steps": &k.ClampedSteps, "limited_steps": &k.LimitedSteps, "scale_events": &k.ScaleEvents}
	for n, p := range is {
		if raw, ok := m[n]; ok {
			_ = json.Unmarshal(raw, p)
		}
	}
	if raw, ok := m["policy_disabled"]; ok {
		_ = json.Unmarshal(raw, &k.PolicyDisabled)
	}
	k.RewardTerms = map[string]float64{}
	if raw, ok := m["reward_terms"]; ok {
		var terms map[string]*float64 // null (an undefined term) → NaN
		_ = json.Unmarshal(raw, &terms)
		for n, v := range terms {
			if v == nil {
				k.RewardTerms[n] = math.NaN()
			} else {
				k.RewardTerms[n] = *v
			}
		}
	}
	return k, nil
}

// TrajectoryWriter streams one run's decisions to a CSV file, written to a temporary file
// and renamed into place by Close (atomic: an interrupted run leaves no partial file).
type TrajectoryWriter struct {
	path  string
	tmp   *os.File
	buf   *bufio.Writer
	w     *csv.Writer
	feats []FeatureSpec
	adim  int
	terms []string
	row   []string
}

// NewTrajectoryWriter creates the writer and writes the header.
func NewTrajectoryWriter(path string, feats []FeatureSpec, actionDim int, terms []string) (*TrajectoryWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("trajectory %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp's 0600 would hide results from others
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("trajectory %s: %w", path, err)
	}
	t := &TrajectoryWriter{path: path, tmp: f, feats: feats, adim: actionDim, terms: terms}
	t.buf = bufio.NewWriterSize(f, 64<<10)
	t.w = csv.NewWriter(t.buf)
	h := []string{"time_s"}
	for _, s := range feats {
		h = append(h, s.Name, s.Name+"_valid", s.Name+"_age_s")
	}
	for i := 0; i < actionDim; i++ {
		h = append(h, fmt.Sprintf("action_%d", i))
	}
	h = append(h, "requested_replicas", "applied_replicas", "hpa_target", "batch_size", "cpu_request_milli",
		"fallback", "deadline", "disabled", "clamped", "limited", "guard_reason", "reason",
		"replicas_desired", "replicas_ready", "replicas_pending",
		"arrivals", "completions", "drops", "slo_violations", "window_p95_ms", "reward")
	for _, n := range terms {
		h = append(h, "reward_"+n)
	}
	t.row = make([]string, 0, len(h))
	return t, t.w.Write(h)
}

func ff(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	if v == 0 {
		return "0" // also −0 (a zero penalty times a weight)
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

func fb(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Write appends one decision; start is the episode start for relative times.
func (t *TrajectoryWriter) Write(d Decision, elapsed float64) error {
	r := t.row[:0]
	r = append(r, ff(elapsed))
	for i := range t.feats {
		v, ok, age := math.NaN(), false, 0.0
		if i < len(d.Obs.Values) {
			v, ok = d.Obs.Values[i], d.Obs.Valid[i]
			if i < len(d.Obs.Age) {
				age = d.Obs.Age[i].Seconds()
			}
		}
		if !ok {
			v = math.NaN()
		}
		r = append(r, ff(v), fb(ok), ff(age))
	}
	for i := 0; i < t.adim; i++ {
		if i < len(d.Action.Values) {
			r = append(r, ff(d.Action.Values[i]))
		} else {
			r = append(r, "")
		}
	}
	req, hpa, bs, cpu := "", "", "", ""
	if d.Command.Replicas != nil {
		req = strconv.Itoa(d.Guard.Requested)
	}
	if d.Command.HPATarget != nil {
		hpa = ff(*d.Command.HPATarget)
	}
	if d.Command.Batching != nil {
		bs = strconv.Itoa(d.Command.Batching.MaxBatchSize)
	}
	if d.Command.CPURequestMilli != nil {
		cpu = strconv.FormatInt(*d.Command.CPURequestMilli, 10)
	}
	w := MergeWindows(d.Windows)
	p95 := math.NaN()
	if w.Latency != nil {
		p95 = w.Latency.QuantileMS(0.95)
	}
	rc := d.Next.Cluster.Replicas
	r = append(r, req, strconv.Itoa(d.Applied.Replicas), hpa, bs, cpu,
		fb(d.Fallback), fb(d.Deadline), fb(d.Disabled), fb(d.Guard.Clamped), fb(d.Guard.Limited), d.Guard.Reason, d.Reason,
		strconv.Itoa(rc.Desired), strconv.Itoa(rc.Ready), strconv.Itoa(rc.Pending+rc.Starting),
		strconv.FormatInt(w.Totals.Arrivals, 10), strconv.FormatInt(w.Totals.Completions, 10),
		strconv.FormatInt(w.Totals.Drops+w.Totals.Failures, 10), strconv.FormatInt(w.Totals.SLOViolations, 10),
		ff(p95), ff(d.Reward))
	for i := range t.terms {
		if i < len(d.Terms) {
			r = append(r, ff(d.Terms[i]))
		} else {
			r = append(r, "")
		}
	}
	t.row = r
	return t.w.Write(r)
}

// Close flushes and renames the file into place.
func (t *TrajectoryWriter) Close() error {
	t.w.Flush()
	if err := t.w.Error(); err != nil {
		t.Abort()
		return fmt.Errorf("trajectory %s: %w", t.path, err)
	}
	if err := t.buf.Flush(); err != nil {
		t.Abort()
		return fmt.Errorf("trajectory %s: %w", t.path, err)
	}
	if err := t.tmp.Close(); err != nil {
		os.Remove(t.tmp.Name())
		return fmt.Errorf("trajectory %s: %w", t.path, err)
	}
	if err := os.Rename(t.tmp.Name(), t.path); err != nil {
		os.Remove(t.tmp.Name())
		return fmt.Errorf("trajectory %s: %w", t.path, err)
	}
	return nil
}

// Abort discards the partial file.
func (t *TrajectoryWriter) Abort() {
	t.tmp.Close()
	os.Remove(t.tmp.Name())
}
