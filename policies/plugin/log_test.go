//go:build unix

package plugin

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestPluginLineLevels(t *testing.T) {
	rec := newLogRecorder()
	var pid atomic.Int64
	pid.Store(42)
	w := newPluginLogWriter(slog.New(rec), "stderr", &pid)
	// Written in pieces: lines are split at newlines, not at writes.
	input := `{"@level":"warn","@message":"slow model","@timestamp":"2026-01-01T00:00:00.000000Z","ms":12.5,"@module":"agent"}` + "\n" +
		"plain line\n[DEBUG] prefixed\n" + `{"not":"hclog"}` + "\n" + "panic: boom\ngoroutine 1 [running]:\n" + "last without newline"
	for i := 0; i < len(input); i += 7 {
		if _, err := w.Write([]byte(input[i:min(i+7, len(input))])); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	want := []struct {
		level slog.Level
		msg   string
		attrs map[string]string
	}{
		{slog.LevelWarn, "slow model", map[string]string{"ms": "12.5", "module": "agent", "stream": "stderr", "pid": "42"}},
		{slog.LevelInfo, "plain line", nil},
		{slog.LevelDebug, "prefixed", nil},
		{slog.LevelInfo, `{"not":"hclog"}`, nil},
		{slog.LevelError, "panic: boom", nil},
		{slog.LevelError, "goroutine 1 [running]:", nil},
		{slog.LevelError, "last without newline", nil},
	}
	got := rec.records()
	if len(got) != len(want) {
		t.Fatalf("got %d records %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Level != w.level || got[i].Msg != w.msg {
			t.Errorf("record %d = %v %q, want %v %q", i, got[i].Level, got[i].Msg, w.level, w.msg)
		}
		for k, v := range w.attrs {
			if got[i].Attrs[k] != v {
				t.Errorf("record %d: %s = %q, want %q", i, k, got[i].Attrs[k], v)
			}
		}
		if _, ok := got[i].Attrs["timestamp"]; ok {
			t.Errorf("record %d keeps the plugin's timestamp", i)
		}
	}
}

func TestLineLoggerLongLine(t *testing.T) {
	var lines []string
	w := &lineLogger{log: func(b []byte) { lines = append(lines, string(b)) }}
	long := strings.Repeat("a", maxLine+10)
	_, _ = w.Write([]byte(long))
	w.Flush()
	if len(lines) != 2 || len(lines[0]) != maxLine || len(lines[1]) != 10 {
		t.Errorf("a line of %d bytes was passed on as pieces of %v", len(long), func() []int {
			var n []int
			for _, l := range lines {
				n = append(n, len(l))
			}
			return n
		}())
	}
}

func TestHCLogAdapter(t *testing.T) {
	rec := newLogRecorder()
	h := newHCLogger(slog.New(rec), "agent")
	h.Named("stdio").With("k", 1).Warn("stream error", "err", "eof")
	muted := h.Named("agent")
	if muted.GetLevel() != hclog.Off {
		t.Errorf("the plugin's stderr child logger has level %v, want Off", muted.GetLevel())
	}
	muted.Error("must not appear")
	h.Trace("trace record")
	got := rec.records()
	if len(got) != 2 {
		t.Fatalf("records %+v, want 2", got)
	}
	if r := got[0]; r.Level != slog.LevelWarn || r.Msg != "stream error" || r.Attrs["component"] != "stdio" ||
		r.Attrs["k"] != "1" || r.Attrs["err"] != "eof" {
		t.Errorf("record %+v", r)
	}
	if got[1].Level != slog.LevelDebug-4 {
		t.Errorf("trace level %v, want %v", got[1].Level, slog.LevelDebug-4)
	}
}
