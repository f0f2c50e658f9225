package sim

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// Scenario tests as data (in the spirit of PromQL's script tests): each file under
// testdata/scenarios gives a cluster (a scenario map), a load, a schedule of actions and
// expectations on KPIs over time ranges or on the cluster at instants. Adding a case is
// adding a file. Keys:
//
//	description: what the case shows and how its numbers were derived
//	scenario:    a scenario map (usually base: <built-in> plus overrides)
//	load:        {type: <framework/load type>, ...keys} or {type: builtin, name: low|high|mixed}
//	arrivals:    {kind: poisson|deterministic|gamma, cv: ...} (default poisson)
//	seed, initial_replicas, slo (default 50ms), client_timeout (default: the scenario's), duration
//	actions:     [{at, replicas | cpu_request_milli | batching: {...}}]
//	expect:      [{metric, from, to | at, min, max}]
//
// Range metrics (over [from, to)): throughput, arrival_rate (req/s), drop_fraction,
// qos_violation_rate, slo_fraction (of completions), failures, mean_ms, p50_ms, p95_ms,
// p99_ms, gpu_busy (per GPU), cpu_util (used / requested), cpu_cores, avg_batch,
// ready_replicas (time average). Instant metrics (at): replicas_ready, replicas_desired,
// replicas_pending, replicas_starting, replicas_terminating, pods_failed, reloads,
// max_pods_per_node, min_pod_cpu_request_milli.
type scriptCase struct {
	Description     string         `yaml:"description"`
	Scenario        map[string]any `yaml:"scenario"`
	Load            map[string]any `yaml:"load"`
	Arrivals        load.Arrivals  `yaml:"arrivals"`
	Seed            uint64         `yaml:"seed"`
	InitialReplicas int            `yaml:"initial_replicas"`
	SLO             string         `yaml:"slo"`
	ClientTimeout   string         `yaml:"client_timeout"`
	Duration        string         `yaml:"duration"`
	Actions         []scriptAction `yaml:"actions"`
	Expect          []scriptExpect `yaml:"expect"`
}

type scriptAction struct {
	At              string         `yaml:"at"`
	Replicas        *int           `yaml:"replicas"`
	CPURequestMilli *int64         `yaml:"cpu_request_milli"`
	Batching        map[string]any `yaml:"batching"`
}

type scriptExpect struct {
	Metric string   `yaml:"metric"`
	From   string   `yaml:"from"`
	To     string   `yaml:"to"`
	At     string   `yaml:"at"`
	Min    *float64 `yaml:"min"`
	Max    *float64 `yaml:"max"`
}

func dur(t *testing.T, s, what string) time.Duration {
	t.Helper()
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return d
}

func TestScenarioScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			runScript(t, f)
		})
	}
}

func runScript(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c scriptCase
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	sc, err := ScenarioFromMap(c.Scenario)
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	s, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	var prof load.Profile
	typ, _ := c.Load["type"].(string)
	if typ == "builtin" {
		name, _ := c.Load["name"].(string)
		p, ok := load.Builtin(name)
		if !ok {
			t.Fatalf("load: unknown built-in %q", name)
		}
		prof = p
	} else {
		rest := map[string]any{}
		for k, v := range c.Load {
			if k != "type" {
				rest[k] = v
			}
		}
		if prof, err = load.FromConfig(typ, rest, filepath.Dir(file)); err != nil {
			t.Fatal(err)
		}
	}
	slo := 50 * time.Millisecond
	if c.SLO != "" {
		slo = dur(t, c.SLO, "slo")
	}
	ctx := context.Background()
	if err := s.Reset(ctx, framework.Episode{Seed: c.Seed, Load: load.Load{Profile: prof, Arrivals: c.Arrivals},
		InitialReplicas: c.InitialReplicas, SLO: slo, ClientTimeout: dur(t, c.ClientTimeout, "client_timeout")}); err != nil {
		t.Fatal(err)
	}
	total := dur(t, c.Duration, "duration")
	type rangeAcc struct {
		tot  framework.Totals
		h    *framework.Histogram
		secs float64
	}
	acc := make([]rangeAcc, len(c.Expect))
	for i := range acc {
		acc[i].h = framework.NewHistogram()
	}
	actions := append([]scriptAction(nil), c.Actions...)
	sort.SliceStable(actions, func(i, j int) bool { return dur(t, actions[i].At, "at") < dur(t, actions[j].At, "at") })
	for now := time.Duration(0); now <= total; now += time.Second {
		for len(actions) > 0 && dur(t, actions[0].At, "at") <= now {
			applyAction(t, s, actions[0])
			actions = actions[1:]
		}
		for _, e := range c.Expect {
			if e.At != "" && dur(t, e.At, "at") == now {
				check(t, e, instant(t, s, e.Metric))
			}
		}
		if now == total {
			break
		}
		if err := s.Advance(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		w := s.Cut()
		for i, e := range c.Expect {
			if e.At == "" && now >= dur(t, e.From, "from") && now < dur(t, e.To, "to") {
				acc[i].tot.Add(w.Totals)
				acc[i].h.Merge(w.Latency)
				acc[i].secs++
			}
		}
	}
	for i, e := range c.Expect {
		if e.At != "" {
			continue
		}
		a := acc[i]
		if a.secs == 0 {
			t.Fatalf("expectation %d (%s): empty range", i, e.Metric)
		}
		check(t, e, rangeMetric(t, e.Metric, a.tot, a.h, a.secs))
	}
}

func applyAction(t *testing.T, s *Sim, a scriptAction) {
	t.Helper()
	switch {
	case a.Replicas != nil:
		s.SetReplicas(*a.Replicas)
	case a.CPURequestMilli != nil:
		if err := s.SetCPURequest(*a.CPURequestMilli); err != nil {
			t.Fatal(err)
		}
	case a.Batching != nil:
		var sp ServingSpec
		if err := decodeStrict(a.Batching, &sp); err != nil {
			t.Fatalf("action batching: %v", err)
		}
		if err := s.SetBatching(sp.settings()); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("action at %s does nothing", a.At)
	}
}

func rangeMetric(t *testing.T, m string, tot framework.Totals, h *framework.Histogram, secs float64) float64 {
	t.Helper()
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	switch m {
	case "throughput":
		return float64(tot.Completions) / secs
	case "arrival_rate":
		return float64(tot.Arrivals) / secs
	case "drop_fraction":
		return div(float64(tot.Drops), float64(tot.Arrivals))
	case "qos_violation_rate":
		return div(float64(tot.SLOViolations+tot.Drops+tot.Failures), float64(tot.Arrivals))
	case "slo_fraction":
		return div(float64(tot.SLOViolations), float64(tot.Completions))
	case "failures":
		return float64(tot.Failures)
	case "mean_ms":
		return h.MeanMS()
	case "p50_ms":
		return h.QuantileMS(0.5)
	case "p95_ms":
		return h.QuantileMS(0.95)
	case "p99_ms":
		return h.QuantileMS(0.99)
	case "gpu_busy":
		return tot.GPUBusySeconds / secs / float64(tot.GPUCount)
	case "cpu_util":
		return div(tot.CPUSeconds, tot.CPURequestSeconds)
	case "cpu_cores":
		return tot.CPUSeconds / secs
	case "avg_batch":
		return div(float64(tot.BatchedRequests), float64(tot.Batches))
	case "ready_replicas":
		return tot.ReadyReplicaSeconds / secs
	}
	t.Fatalf("unknown range metric %q", m)
	return 0
}

func instant(t *testing.T, s *Sim, m string) float64 {
	t.Helper()
	rc := s.Replicas()
	switch m {
	case "replicas_ready":
		return float64(rc.Ready)
	case "replicas_desired":
		return float64(rc.Desired)
	case "replicas_pending":
		return float64(rc.Pending)
	case "replicas_starting":
		return float64(rc.Starting)
	case "replicas_terminating":
		return float64(rc.Terminating)
	case "pods_failed":
		return float64(s.Stats().PodsFailed)
	case "reloads":
		return float64(s.Stats().Reloads)
	case "max_pods_per_node":
		n := 0
		for _, nd := range s.nodes {
			n = max(n, nd.pods)
		}
		return float64(n)
	case "min_pod_cpu_request_milli":
		v := math.Inf(1)
		for _, p := range s.pods {
			if !p.deleting {
				v = math.Min(v, float64(p.cpuReqMilli))
			}
		}
		return v
	}
	t.Fatalf("unknown instant metric %q", m)
	return 0
}

func check(t *testing.T, e scriptExpect, got float64) {
	t.Helper()
	where := fmt.Sprintf("[%s, %s)", e.From, e.To)
	if e.At != "" {
		where = "at " + e.At
	}
	if e.Min != nil && !(got >= *e.Min) || e.Max != nil && !(got <= *e.Max) {
		lo, hi := "-∞", "+∞"
		if e.Min != nil {
			lo = fmt.Sprint(*e.Min)
		}
		if e.Max != nil {
			hi = fmt.Sprint(*e.Max)
		}
		t.Errorf("%s %s = %v, want in [%s, %s]", e.Metric, where, got, lo, hi)
	}
}
