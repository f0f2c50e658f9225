package kube

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/scalelab/scalelab/collectors/prometheus"
	"github.com/scalelab/scalelab/framework"
)

// PromUsage is a UsageSource over Prometheus: each window's usage integrals from the
// series the stack already scrapes, evaluated at the window's end over its length —
// cAdvisor (CPU-seconds, working set), DCGM-Exporter (GPU-busy-seconds, frame buffer) and
// Triton (batches, batched requests, queue time). The selectors are the Prometheus feature
// source's ($containers, $triton, $gpu of collectors/prometheus). Prometheus sees the
// cluster one scrape interval late, so a window's integrals lag it by about that much; a
// series Prometheus does not have leaves its fields 0.
type PromUsage struct {
	cfg prometheus.Config
	api v1.API
}

var _ UsageSource = (*PromUsage)(nil)

// NewPromUsage returns a usage source for the Prometheus config (its namespace,
// deployment and model select the workload).
func NewPromUsage(cfg prometheus.Config) (*PromUsage, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("usage: %w", errors.Join(errs...))
	}
	c, err := api.NewClient(api.Config{Address: cfg.Address, Client: &http.Client{Timeout: cfg.Timeout + time.Second}})
	if err != nil {
		return nil, fmt.Errorf("usage: prometheus address %q: %w", cfg.Address, err)
	}
	return &PromUsage{cfg: cfg, api: v1.NewAPI(c)}, nil
}

// usageQueries are the PromQL of each field; $range is the window's length in seconds,
// $seconds the same number (for multiplying averages into integrals).
var usageQueries = []struct {
	field string
	expr  string
}{
	{"cpu_seconds", `sum(increase(container_cpu_usage_seconds_total{$containers}[$range]))`},
	{"mem_byte_seconds", `sum(avg_over_time(container_memory_working_set_bytes{$containers}[$range])) * $seconds`},
	// Time-sliced GPUs are reported once per pod that shares them: deduplicate by UUID.
	{"gpu_busy_seconds", `sum(max by (UUID) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{$gpu}[$range]))) / 100 * $seconds`},
	{"gpu_count", `count(max by (UUID) (last_over_time(DCGM_FI_DEV_GPU_UTIL{$gpu}[$range])))`},
	{"gpu_mem_byte_seconds", `sum(max by (UUID) (avg_over_time(DCGM_FI_DEV_FB_USED{$gpu}[$range]))) * 1048576 * $seconds`},
	{"gpu_mem_total_bytes", `sum(max by (UUID) (last_over_time(DCGM_FI_DEV_FB_USED{$gpu}[$range]) + last_over_time(DCGM_FI_DEV_FB_FREE{$gpu}[$range]))) * 1048576`},
	{"batches", `sum(increase(nv_inference_exec_count{$triton}[$range]))`},
	{"batched_requests", `sum(increase(nv_inference_count{$triton}[$range]))`},
	{"queue_seconds", `sum(increase(nv_inference_queue_duration_us{$triton}[$range])) / 1e6`},
}

// Queries returns the PromQL of each field for a window of the given length (for logs and
// docs).
func (u *PromUsage) Queries(d time.Duration) map[string]string {
	secs := max(1, int64(math.Ceil(d.Seconds())))
	out := make(map[string]string, len(usageQueries))
	for _, q := range usageQueries {
		e := strings.NewReplacer("$range", strconv.FormatInt(secs, 10)+"s", "$seconds", strconv.FormatInt(secs, 10)).Replace(q.expr)
		out[q.field] = u.cfg.Expand(e)
	}
	return out
}

// Usage evaluates the queries at end over (start, end].
func (u *PromUsage) Usage(ctx context.Context, start, end time.Time) (framework.Totals, error) {
	var t framework.Totals
	qs := u.Queries(end.Sub(start))
	var errs []error
	for _, q := range usageQueries {
		v, err := u.scalar(ctx, qs[q.field], end)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q.field, err))
			continue
		}
		switch q.field {
		case "cpu_seconds":
			t.CPUSeconds = v
		case "mem_byte_seconds":
			t.MemByteSeconds = v
		case "gpu_busy_seconds":
			t.GPUBusySeconds = v
		case "gpu_count":
			t.GPUCount = int(v)
		case "gpu_mem_byte_seconds":
			t.GPUMemByteSeconds = v
		case "gpu_mem_total_bytes":
			t.GPUMemTotalBytes = v
		case "batches":
			t.Batches = int64(math.Round(v))
		case "batched_requests":
			t.BatchedRequests = int64(math.Round(v))
		case "queue_seconds":
			t.QueueSeconds = v
		}
	}
	if len(errs) == len(usageQueries) {
		return t, fmt.Errorf("usage: %w", errors.Join(errs...))
	}
	return t, nil
}

// scalar runs an instant query; an empty result or NaN is 0 (the series does not exist).
func (u *PromUsage) scalar(ctx context.Context, expr string, at time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	res, _, _, err := u.api.Query(ctx, expr, at, v1.WithTimeout(u.cfg.Timeout))
	if err != nil {
		return 0, err
	}
	vec, ok := res.(model.Vector)
	if !ok {
		return 0, fmt.Errorf("%s: result is %s, want a vector", expr, res.Type())
	}
	if len(vec) == 0 {
		return 0, nil
	}
	if len(vec) > 1 {
		return 0, fmt.Errorf("%s: %d series, want one", expr, len(vec))
	}
	v := float64(vec[0].Value)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, nil
	}
	return v, nil
}
