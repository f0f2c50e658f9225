package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Model states in the repository index, as Triton reports them.
const (
	stateReady       = "READY"
	stateUnavailable = "UNAVAILABLE"
	stateLoading     = "LOADING"
)

// repoState is the model's place in the emulated repository (guarded by Server.mu).
type repoState struct {
	unloaded bool   // unloaded through the repository API
	reason   string // why the model is in its state (index "reason")
}

// modelConfig is the emulated model's configuration in Triton's JSON form
// (GET /v2/models/{model}/config): the model_config.proto fields the emulator has, 64-bit
// integers printed as strings as protobuf's JSON mapping does.
type modelConfig struct {
	Name            string           `json:"name"`
	Platform        string           `json:"platform"`
	MaxBatchSize    int              `json:"max_batch_size"`
	Input           []configTensor   `json:"input"`
	Output          []configTensor   `json:"output"`
	DynamicBatching *dynamicBatching `json:"dynamic_batching,omitempty"`
	InstanceGroup   []instanceGroup  `json:"instance_group"`
	VersionPolicy   map[string]any   `json:"version_policy,omitempty"`
}

type configTensor struct {
	Name     string   `json:"name"`
	DataType string   `json:"data_type"`
	Dims     []string `json:"dims"`
}

type dynamicBatching struct {
	PreferredBatchSize        []int        `json:"preferred_batch_size,omitempty"`
	MaxQueueDelayMicroseconds string       `json:"max_queue_delay_microseconds"`
	DefaultQueuePolicy        *queuePolicy `json:"default_queue_policy,omitempty"`
}

type queuePolicy struct {
	MaxQueueSize string `json:"max_queue_size,omitempty"`
}

type instanceGroup struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	GPUs  []int  `json:"gpus"`
}

// config renders the model's configuration with batching settings b.
func (s *Server) config(b framework.BatchingSettings) modelConfig {
	dims := func(d []int64) []string {
		out := make([]string, len(d))
		for i, x := range d {
			out[i] = strconv.FormatInt(x, 10)
		}
		return out
	}
	c := modelConfig{
		Name: s.cfg.Model, Platform: "scalelab_emulator", MaxBatchSize: b.MaxBatchSize,
		Input: []configTensor{
			{Name: s.cfg.InputName, DataType: "TYPE_FP32", Dims: dims(s.cfg.InputShape)},
			{Name: s.cfg.ImageInputName, DataType: "TYPE_STRING", Dims: []string{"1"}},
		},
		Output: []configTensor{{Name: s.cfg.OutputName, DataType: "TYPE_FP32", Dims: []string{strconv.Itoa(s.cfg.Classes)}}},
		DynamicBatching: &dynamicBatching{
			PreferredBatchSize:        append([]int(nil), b.PreferredSizes...),
			MaxQueueDelayMicroseconds: strconv.FormatInt(b.MaxQueueDelay.Microseconds(), 10),
		},
		InstanceGroup: []instanceGroup{{Name: s.cfg.Model, Kind: "KIND_GPU", Count: b.InstanceCount, GPUs: []int{0}}},
		VersionPolicy: map[string]any{"latest": map[string]any{"num_versions": 1}},
	}
	if b.MaxQueueSize > 0 {
		c.DynamicBatching.DefaultQueuePolicy = &queuePolicy{MaxQueueSize: strconv.Itoa(b.MaxQueueSize)}
	}
	return c
}

// Batching returns the batching settings in force.
func (s *Server) Batching() framework.BatchingSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m.Params().Batching
	b.PreferredSizes = append([]int(nil), b.PreferredSizes...)
	return b
}

// modelConfigHandler serves GET /v2/models/{model}[/versions/{v}]/config (Triton's model
// configuration extension).
func (s *Server) modelConfigHandler(w http.ResponseWriter, r *http.Request) {
	if !s.checkModel(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, s.config(s.Batching()))
}

// loadRequest is $repository_load_request: optional parameters, of which the emulator
// reads "config" (a JSON model configuration replacing the repository's).
type loadRequest struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
}

// batchingFromConfig reads the batching settings from a Triton model configuration in JSON
// (the "config" load parameter). Numbers may be JSON numbers or strings (protobuf's JSON
// mapping of 64-bit integers). max_batch_size and the instance count keep the values of
// cur when absent; the configuration must have a dynamic_batching section (the emulator
// models Triton's dynamic batcher only), whose absent fields mean no preferred sizes, no
// queue delay and an unbounded queue, as in Triton.
func batchingFromConfig(text string, cur framework.BatchingSettings) (framework.BatchingSettings, string, error) {
	var c struct {
		Name            string          `json:"name"`
		MaxBatchSize    *json.Number    `json:"max_batch_size"`
		DynamicBatching *map[string]any `json:"dynamic_batching"`
		InstanceGroup   []struct {
			Count *json.Number `json:"count"`
		} `json:"instance_group"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return cur, "", fmt.Errorf("failed to parse the model configuration: %v", err)
	}
	b := cur
	b.PreferredSizes = append([]int(nil), cur.PreferredSizes...)
	num := func(v any) (int64, error) {
		switch x := v.(type) {
		case json.Number:
			return x.Int64()
		case string:
			return strconv.ParseInt(x, 10, 64)
		case nil:
			return 0, nil
		}
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	if c.MaxBatchSize != nil {
		n, err := c.MaxBatchSize.Int64()
		if err != nil {
			return cur, "", fmt.Errorf("max_batch_size: %v", err)
		}
		b.MaxBatchSize = int(n)
	}
	if c.DynamicBatching == nil {
		return cur, "", fmt.Errorf("the configuration has no dynamic_batching section: the emulator models Triton's dynamic batcher only")
	}
	{
		db := *c.DynamicBatching
		b.PreferredSizes = nil
		if ps, ok := db["preferred_batch_size"].([]any); ok {
			for _, p := range ps {
				n, err := num(p)
				if err != nil {
					return cur, "", fmt.Errorf("dynamic_batching.preferred_batch_size: %v", err)
				}
				b.PreferredSizes = append(b.PreferredSizes, int(n))
			}
		}
		us, err := num(db["max_queue_delay_microseconds"])
		if err != nil {
			return cur, "", fmt.Errorf("dynamic_batching.max_queue_delay_microseconds: %v", err)
		}
		b.MaxQueueDelay = time.Duration(us) * time.Microsecond
		b.MaxQueueSize = 0
		if qp, ok := db["default_queue_policy"].(map[string]any); ok {
			n, err := num(qp["max_queue_size"])
			if err != nil {
				return cur, "", fmt.Errorf("dynamic_batching.default_queue_policy.max_queue_size: %v", err)
			}
			b.MaxQueueSize = int(n)
		}
	}
	if len(c.InstanceGroup) > 0 && c.InstanceGroup[0].Count != nil {
		n, err := c.InstanceGroup[0].Count.Int64()
		if err != nil {
			return cur, "", fmt.Errorf("instance_group[0].count: %v", err)
		}
		b.InstanceCount = int(n)
	}
	return b, c.Name, nil
}

// load serves POST /v2/repository/models/{model}/load: it (re)loads the model, with the
// configuration of the "config" parameter when given (only its batching fields change
// the emulated model: max_batch_size, dynamic_batching's preferred_batch_size,
// max_queue_delay_microseconds and default_queue_policy.max_queue_size, and the first
// instance group's count). The reload takes reload_time, during which the old
// configuration keeps serving, as Triton keeps serving a loaded model until its
// replacement is ready; the request returns once the new configuration is in force.
func (s *Server) load(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	if name != s.cfg.Model {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to load '%s', failed to poll from model repository", name))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading the request body: %v", err))
		return
	}
	var req loadRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to parse the request JSON buffer: %v", err))
			return
		}
	}
	b := s.Batching()
	if raw, ok := req.Parameters["config"]; ok {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			writeError(w, http.StatusBadRequest, "failed to load '"+name+"': the 'config' parameter must be a string holding the model configuration as JSON")
			return
		}
		nb, cfgName, err := batchingFromConfig(text, b)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to load '%s': %v", name, err))
			return
		}
		if cfgName != "" && cfgName != name {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to load '%s': the configuration names model '%s'", name, cfgName))
			return
		}
		s.mu.Lock()
		p := s.m.Params()
		s.mu.Unlock()
		p.Batching = nb
		if errs := p.Validate(); len(errs) > 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to load '%s': %v", name, errs[0]))
			return
		}
		b = nb
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.cfg.ReloadTime > 0 {
		t := time.NewTimer(s.cfg.ReloadTime)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up: the load is abandoned
		case <-s.stop:
			t.Stop()
			return
		}
	}
	s.mu.Lock()
	s.m.Advance(s.vnow())
	err = s.m.SetBatching(b)
	s.repo = repoState{}
	s.reloads++
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to load '%s': %v", name, err))
		return
	}
	s.kick()
	s.logger.Info("model loaded", "model", name, "max_batch_size", b.MaxBatchSize, "preferred_batch_sizes", b.PreferredSizes,
		"max_queue_delay", b.MaxQueueDelay, "instances", b.InstanceCount, "max_queue_size", b.MaxQueueSize)
	w.WriteHeader(http.StatusOK)
}

// unload serves POST /v2/repository/models/{model}/unload: the model stops accepting
// requests (those inside finish) until it is loaded again.
func (s *Server) unload(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	if name != s.cfg.Model {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to unload '%s', no version is available", name))
		return
	}
	s.mu.Lock()
	s.repo = repoState{unloaded: true, reason: "unloaded"}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// indexEntry is one $repository_index_response entry.
type indexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

// index serves POST /v2/repository/index: the one model of the repository with its state
// (only ready models with {"ready": true}).
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ready bool `json:"ready"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading the request body: %v", err))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to parse the request JSON buffer: %v", err))
			return
		}
	}
	s.mu.Lock()
	st := s.repo
	s.mu.Unlock()
	e := indexEntry{Name: s.cfg.Model, Version: s.cfg.Version, State: stateReady, Reason: st.reason}
	switch {
	case st.unloaded:
		e.State = stateUnavailable
	case !s.started():
		e.State = stateLoading
	}
	out := []indexEntry{}
	if !req.Ready || e.State == stateReady {
		out = append(out, e)
	}
	writeJSON(w, http.StatusOK, out)
}

// Reloads returns how many loads through the repository API completed.
func (s *Server) Reloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloads
}

// extensions are the protocol extensions the emulator implements (server metadata).
var extensions = []string{"binary_tensor_data", "model_repository", "model_configuration"}
