// Package promtest starts a real Prometheus server (the prometheus binary, e.g. Debian's
// package) for integration tests: on a free loopback port, with a temporary configuration
// and TSDB directory, scraping the given targets, and stopped when the test ends.
//
// When the binary is absent the test is skipped with a message saying how to install it,
// except in CI (the environment variable CI=true), where a missing binary fails the test:
// CI must run these tests. SCALELAB_PROMETHEUS names the binary to use instead of the
// prometheus on PATH.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Job is one scrape job.
type Job struct {
	// Name is the job label.
	Name string
	// Target is the host:port to scrape; Path the metrics path (default /metrics).
	Target string
	Path   string
	// Labels are target labels added to every series (as a ServiceMonitor adds namespace
	// and pod); with HonorLabels, labels the target exposes itself win over them.
	Labels      map[string]string
	HonorLabels bool
	// Optional jobs are not waited for by Start: their target comes up later (a load
	// generator's metrics server that starts with the run).
	Optional bool
}

// Server is a running Prometheus.
type Server struct {
	// URL is the base URL of its HTTP API.
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// Binary returns the path of the prometheus binary, or "" when there is none.
func Binary() string {
	if b := os.Getenv("SCALELAB_PROMETHEUS"); b != "" {
		return b
	}
	b, err := exec.LookPath("prometheus")
	if err != nil {
		return ""
	}
	return b
}

// Require skips the test when no prometheus binary exists, unless CI=true, where it fails.
func Require(t testing.TB) string {
	t.Helper()
	b := Binary()
	if b == "" {
		msg := "no prometheus binary on PATH (install Debian's package: apt-get install -y prometheus; or set SCALELAB_PROMETHEUS)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must run the Prometheus integration tests")
		}
		t.Skip(msg)
	}
	return b
}

// Start starts Prometheus scraping jobs every interval and waits until it is ready and
// has scraped every target successfully once (at most 30 s), except optional jobs'.
func Start(t testing.TB, interval time.Duration, jobs ...Job) *Server {
	t.Helper()
	bin := Require(t)
	dir := t.TempDir()
	cfg := config(interval, jobs)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	s := &Server{URL: "http://" + addr, log: &bytes.Buffer{}}
	s.cmd = exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address="+addr,
		"--log.level=warn")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !s.ready() {
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready after 30 s; log:\n%s", addr, s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var required []string
	for _, j := range jobs {
		if !j.Optional {
			required = append(required, j.Name)
		}
	}
	for len(required) > 0 && !s.targetsUp(required) {
		if time.Now().After(deadline) {
			t.Fatalf("prometheus targets not up after 30 s; log:\n%s", s.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

func config(interval time.Duration, jobs []Job) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\nscrape_configs:\n",
		promDuration(interval), promDuration(interval), promDuration(interval))
	for _, j := range jobs {
		path := j.Path
		if path == "" {
			path = "/metrics"
		}
		fmt.Fprintf(&b, "  - job_name: %q\n    metrics_path: %q\n    honor_labels: %v\n    static_configs:\n      - targets: [%q]\n",
			j.Name, path, j.HonorLabels, j.Target)
		if len(j.Labels) > 0 {
			b.WriteString("        labels:\n")
			keys := make([]string, 0, len(j.Labels))
			for k := range j.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "          %s: %q\n", k, j.Labels[k])
			}
		}
	}
	return b.String()
}

func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func (s *Server) ready() bool {
	resp, err := http.Get(s.URL + "/-/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// targetsUp reports whether the targets of every named job have been scraped
// successfully.
func (s *Server) targetsUp(jobs []string) bool {
	resp, err := http.Get(s.URL + "/api/v1/targets?state=active")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				Health     string `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false
	}
	up := map[string]bool{}
	for _, tg := range body.Data.ActiveTargets {
		if tg.Health == "up" {
			up[tg.ScrapePool] = true
		}
	}
	for _, j := range jobs {
		if !up[j] {
			return false
		}
	}
	return true
}

// WaitScraped waits until Prometheus has scraped every target after t (one scrape interval
// plus a margin), so that queries evaluated at t see the samples up to t.
func (s *Server) WaitScraped(ctx context.Context, t time.Time, interval time.Duration) {
	d := time.Until(t.Add(interval + 500*time.Millisecond))
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Listen returns a loopback listener on a free port for a test's exporter.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}
