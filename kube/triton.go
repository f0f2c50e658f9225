package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Triton talks to Triton Inference Server's HTTP API (KServe v2 plus Triton's
// model-repository extension) to read a model's configuration and reload it with new
// dynamic-batching settings. The server must run with --model-control-mode=explicit for
// loads to be accepted.
type Triton struct {
	// Model is the model's name in the repository.
	Model string
	// HTTP is the client (its Timeout bounds each request).
	HTTP *http.Client
}

// tritonError is Triton's error body: {"error": "..."}.
type tritonError struct {
	Error string `json:"error"`
}

// ModelConfig reads the model's configuration as JSON (GET /v2/models/{model}/config),
// decoded into a generic map so that every field Triton reports survives a reload.
func (t *Triton) ModelConfig(ctx context.Context, base string) (map[string]any, error) {
	u := strings.TrimRight(base, "/") + "/v2/models/" + url.PathEscape(t.Model) + "/config"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("triton %s: %w", base, err)
	}
	body, err := t.do(req)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("triton %s: model %s config is not JSON: %w", base, t.Model, err)
	}
	return cfg, nil
}

// Load (re)loads the model with the given configuration
// (POST /v2/repository/models/{model}/load with parameters.config = the JSON text). Triton
// replaces the running model once the new one is ready.
func (t *Triton) Load(ctx context.Context, base string, cfg map[string]any) error {
	text, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("triton: encode model config: %w", err)
	}
	body, err := json.Marshal(map[string]any{"parameters": map[string]any{"config": string(text)}})
	if err != nil {
		return fmt.Errorf("triton: encode load request: %w", err)
	}
	u := strings.TrimRight(base, "/") + "/v2/repository/models/" + url.PathEscape(t.Model) + "/load"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("triton %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = t.do(req)
	return err
}

func (t *Triton) do(req *http.Request) ([]byte, error) {
	c := t.HTTP
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("triton %s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("triton %s %s: read response: %w", req.Method, req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var te tritonError
		if json.Unmarshal(body, &te) == nil && te.Error != "" {
			return nil, fmt.Errorf("triton %s %s: HTTP %d: %s", req.Method, req.URL, resp.StatusCode, te.Error)
		}
		return nil, fmt.Errorf("triton %s %s: HTTP %d: %s", req.Method, req.URL, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// WithBatching returns a copy of a Triton model configuration (JSON form, snake_case field
// names as Triton prints them) with the batching settings applied: max_batch_size,
// dynamic_batching.preferred_batch_size, max_queue_delay_microseconds and
// default_queue_policy.max_queue_size (0 = unbounded: the field is removed), and, when
// InstanceCount > 0, the count of every instance group (one KIND_GPU group when there is
// none). Other fields are kept as they were.
func WithBatching(cfg map[string]any, b framework.BatchingSettings) map[string]any {
	out := make(map[string]any, len(cfg)+2)
	for k, v := range cfg {
		out[k] = v
	}
	if b.MaxBatchSize > 0 {
		out["max_batch_size"] = b.MaxBatchSize
	}
	db := map[string]any{}
	if old, ok := cfg["dynamic_batching"].(map[string]any); ok {
		for k, v := range old {
			db[k] = v
		}
	}
	if len(b.PreferredSizes) > 0 {
		db["preferred_batch_size"] = append([]int(nil), b.PreferredSizes...)
	} else {
		delete(db, "preferred_batch_size")
	}
	db["max_queue_delay_microseconds"] = b.MaxQueueDelay.Microseconds()
	qp := map[string]any{}
	if old, ok := db["default_queue_policy"].(map[string]any); ok {
		for k, v := range old {
			qp[k] = v
		}
	}
	if b.MaxQueueSize > 0 {
		qp["max_queue_size"] = b.MaxQueueSize
	} else {
		delete(qp, "max_queue_size")
	}
	if len(qp) > 0 {
		db["default_queue_policy"] = qp
	} else {
		delete(db, "default_queue_policy")
	}
	out["dynamic_batching"] = db
	if b.InstanceCount > 0 {
		var groups []any
		if old, ok := cfg["instance_group"].([]any); ok {
			for _, g := range old {
				m, ok := g.(map[string]any)
				if !ok {
					continue
				}
				c := make(map[string]any, len(m))
				for k, v := range m {
					c[k] = v
				}
				c["count"] = b.InstanceCount
				groups = append(groups, c)
			}
		}
		if len(groups) == 0 {
			groups = []any{map[string]any{"count": b.InstanceCount, "kind": "KIND_GPU"}}
		}
		out["instance_group"] = groups
	}
	return out
}

// BatchingOf reads the batching settings from a Triton model configuration (JSON form).
// InstanceCount is the count of the first instance group (1 when there is none, Triton's
// default of one instance per GPU on a one-GPU pod).
func BatchingOf(cfg map[string]any) framework.BatchingSettings {
	b := framework.BatchingSettings{MaxBatchSize: int(number(cfg["max_batch_size"])), InstanceCount: 1}
	if db, ok := cfg["dynamic_batching"].(map[string]any); ok {
		if ps, ok := db["preferred_batch_size"].([]any); ok {
			for _, p := range ps {
				b.PreferredSizes = append(b.PreferredSizes, int(number(p)))
			}
		}
		b.MaxQueueDelay = time.Duration(number(db["max_queue_delay_microseconds"])) * time.Microsecond
		if qp, ok := db["default_queue_policy"].(map[string]any); ok {
			b.MaxQueueSize = int(number(qp["max_queue_size"]))
		}
	}
	if gs, ok := cfg["instance_group"].([]any); ok && len(gs) > 0 {
		if g, ok := gs[0].(map[string]any); ok {
			if c := int(number(g["count"])); c > 0 {
				b.InstanceCount = c
			}
		}
	}
	return b
}

// number reads a JSON number that protobuf's JSON mapping may print as a string (64-bit
// integers) or as a number.
func number(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return int64(f)
	case float64:
		return int64(x)
	case int:
		return int64(x)
	case int64:
		return x
	case string:
		i, _ := strconv.ParseInt(x, 10, 64)
		return i
	}
	return 0
}
