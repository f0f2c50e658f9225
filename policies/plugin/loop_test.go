//go:build unix

package plugin

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/frameworktest"
	"github.com/scalelab/scalelab/sdk/examples/plugin-target/target"
)

// stepCollector reports obsAt(k, replicas) at the k-th decision of an episode over
// replicasSpecs' features, with the fake backend's replicas.
type stepCollector struct {
	b        *frameworktest.Backend
	interval time.Duration
}

func (c *stepCollector) Features() []framework.FeatureSpec { return replicasSpecs().Features }

func (c *stepCollector) Collect(context.Context) (framework.Observation, error) {
	r := c.b.Replicas()
	k := int(c.b.Now().Sub(framework.SimEpoch) / c.interval)
	o := obsAt(k, r)
	o.Cluster = framework.ClusterView{Now: c.b.Now(), Replicas: framework.ReplicaCounts{Desired: r, Ready: r},
		MinReplicas: 1, MaxReplicas: 4}
	return o, nil
}

// A run of 40 decisions with the plugin as the policy, through the framework's step
// function: the run completes, exactly the failed decisions are marked as fallback steps in
// the trajectory, the plugin is restarted once, and every decision the plugin answered is
// what the same policy answers in-process.
func TestRunWithFaults(t *testing.T) {
	const (
		steps    = 40
		interval = 15 * time.Second
		failAt   = 5 // the plugin's 5th decision (row 4) fails
	)
	for _, tc := range []struct {
		name     string
		args     []string
		kill     bool   // kill the process from outside after decision failAt−1 instead
		reason   string // in the failed row's reason
		deadline bool
	}{
		{name: "killed", kill: true, reason: "process exited"},
		{name: "crash", args: []string{"-fault=exit"}, reason: "process exited"},
		{name: "hang", args: []string{"-fault=hang"}, reason: "decision exceeded its deadline", deadline: true},
		{name: "wrong length", args: []string{"-fault=wrong-length"}, reason: "malformed answer: 2 action values"},
		{name: "garbage", args: []string{"-fault=garbage"}, reason: "Internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCfg()
			c.Command = faultyBin
			c.Args = append([]string{"-at=5", "-once=" + filepath.Join(t.TempDir(), "fired"), "-feature=cpu_util",
				"-target=0.7"}, tc.args...)
			c.RestartBackoff = 5 * time.Millisecond
			specs := replicasSpecs()
			p, _ := startPolicy(t, c, specs)
			native := target.New(target.Config{Feature: "cpu_util", Target: 0.7, Tolerance: 0})
			if err := native.Init(sdkSpec(specs, 7, "test")); err != nil {
				t.Fatal(err)
			}

			b := &frameworktest.Backend{ArrivalEvery: time.Second, Latency: 20 * time.Millisecond}
			s := frameworktest.NewSetup(b, 1, 4)
			loop := s.Loop(p, interval)
			loop.Collector = &stepCollector{b: b, interval: interval}
			loop.Deadline = 300 * time.Millisecond
			loop.MaxFailures = 5
			if tc.deadline {
				// The loop does not wait for an abandoned call: the decisions right after a
				// hang fail while the host is still returning from it (see late below), and
				// on a loaded machine they could add up to max failures.
				loop.MaxFailures = 0
			}
			path := filepath.Join(t.TempDir(), "trajectory.csv")
			tw, err := framework.NewTrajectoryWriter(path, specs.Features, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			var decisions []framework.Decision
			res, err := framework.RunEpisode(context.Background(), loop,
				framework.Episode{Seed: 1, InitialReplicas: 1, SLO: 50 * time.Millisecond},
				framework.RunOptions{Duration: steps * interval, Trajectory: tw, OnDecision: func(d framework.Decision) {
					decisions = append(decisions, d)
					if d.Deadline {
						// Let the abandoned call return before the next decision (the fake
						// backend steps in microseconds, a simulator in milliseconds).
						waitFor(t, 10*time.Second, "the abandoned call to return", func() bool {
							if p.mu.TryLock() {
								p.mu.Unlock()
								return true
							}
							return false
						})
					}
					if tc.kill && len(decisions) == failAt-1 {
						pid := p.Stats().PID
						if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
							t.Fatal(err)
						}
						waitFor(t, 10*time.Second, "the killed plugin to be reaped", func() bool { return !pidAlive(pid) })
					}
				}})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			if len(decisions) != steps {
				t.Fatalf("%d decisions, want %d", len(decisions), steps)
			}

			// A hang may also fail the next decisions if they come before the abandoned call
			// has returned: the loop reports those as its own deadline failures, in a row
			// right after the hang.
			lateUntil := failAt
			for tc.deadline && lateUntil < steps &&
				strings.Contains(decisions[lateUntil].Reason, "previous decision still running past its deadline") {
				lateUntil++
			}
			late := func(i int) bool { return i >= failAt && i < lateUntil }
			fallbacks := 0
			for i, d := range decisions {
				switch {
				case i == failAt-1:
					reason := tc.reason
					if tc.deadline && !d.Deadline {
						// The host's error came back a moment before the loop's own timer:
						// the loop took it as an ordinary failure with the host's reason.
						reason = "no answer within the deadline"
					}
					if !d.Fallback || !strings.Contains(d.Reason, reason) || d.Deadline && !tc.deadline {
						t.Errorf("decision %d: fallback %t deadline %t reason %q; want a fallback for %q (deadline %t)",
							i, d.Fallback, d.Deadline, d.Reason, reason, tc.deadline)
					}
					fallbacks++
				case late(i):
					fallbacks++
				case d.Fallback:
					t.Errorf("decision %d: unexpected fallback: %s", i, d.Reason)
				default:
					want := nativeAct(t, native, 1, d.Obs)
					if fmtAction(d.Action.Values) != fmtAction(want) {
						t.Errorf("decision %d: plugin %v, in-process %v", i, d.Action.Values, want)
					}
				}
			}
			if res.KPIs.FallbackSteps != fallbacks || res.KPIs.PolicyDisabled {
				t.Errorf("KPIs: %d fallback steps (disabled %t), want %d and not disabled",
					res.KPIs.FallbackSteps, res.KPIs.PolicyDisabled, fallbacks)
			}

			// The trajectory marks exactly those rows.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			col := -1
			for j, h := range rows[0] {
				if h == "fallback" {
					col = j
				}
			}
			if col < 0 || len(rows) != steps+1 {
				t.Fatalf("trajectory: %d rows, fallback column %d", len(rows), col)
			}
			for i, r := range rows[1:] {
				if want := map[bool]string{true: "1", false: "0"}[decisions[i].Fallback]; r[col] != want {
					t.Errorf("trajectory row %d: fallback %q, want %q", i, r[col], want)
				}
			}
			if s := p.Stats(); s.Restarts != 1 || s.Failures != 1 || s.Disabled {
				t.Errorf("stats %+v, want 1 restart and 1 failure", s)
			}
		})
	}
}
