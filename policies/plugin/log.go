package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// hclogger adapts an *slog.Logger to hclog.Logger, the logger go-plugin takes, so that
// go-plugin's own messages (process exited, stdio stream errors) reach the run's
// structured log.
//
// go-plugin also parses the plugin's standard error through the child logger
// Named(<base name of the executable>); the host reads standard error raw instead (see
// lineLogger), so that child is muted (its level is Off, which go-plugin checks before it
// parses a line). mute is that name.
type hclogger struct {
	l     *slog.Logger
	name  string
	mute  string
	level hclog.Level
	args  []any
}

var _ hclog.Logger = (*hclogger)(nil)

func newHCLogger(l *slog.Logger, mute string) *hclogger {
	return &hclogger{l: l, mute: mute, level: hclog.Trace}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Log emits a record at level.
func (h *hclogger) Log(level hclog.Level, msg string, args ...any) {
	if h.level == hclog.Off || level < h.level {
		return
	}
	attrs := make([]any, 0, len(h.args)+len(args)+2)
	if h.name != "" {
		attrs = append(attrs, "component", h.name)
	}
	attrs = append(attrs, h.args...)
	attrs = append(attrs, args...)
	h.l.Log(context.Background(), slogLevel(level), msg, attrs...)
}

// Trace emits a trace record (below slog's debug level).
func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug emits a debug record.
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info emits an info record.
func (h *hclogger) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn emits a warning.
func (h *hclogger) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error emits an error record.
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogger) enabled(l hclog.Level) bool {
	return h.level != hclog.Off && l >= h.level && h.l.Enabled(context.Background(), slogLevel(l))
}

// IsTrace reports whether trace records are emitted.
func (h *hclogger) IsTrace() bool { return h.enabled(hclog.Trace) }

// IsDebug reports whether debug records are emitted.
func (h *hclogger) IsDebug() bool { return h.enabled(hclog.Debug) }

// IsInfo reports whether info records are emitted.
func (h *hclogger) IsInfo() bool { return h.enabled(hclog.Info) }

// IsWarn reports whether warnings are emitted.
func (h *hclogger) IsWarn() bool { return h.enabled(hclog.Warn) }

// IsError reports whether error records are emitted.
func (h *hclogger) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs returns the key/value pairs added by With.
func (h *hclogger) ImpliedArgs() []any { return h.args }

// With returns a logger that adds args to every record.
func (h *hclogger) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), args...)
	return &c
}

// Name returns the logger's name.
func (h *hclogger) Name() string { return h.name }

// Named returns a sub-logger; the muted name gives a logger that is Off.
func (h *hclogger) Named(name string) hclog.Logger {
	c := *h
	if h.name != "" {
		c.name = h.name + "." + name
	} else {
		c.name = name
	}
	if name == h.mute {
		c.level = hclog.Off
	}
	return &c
}

// ResetNamed returns a sub-logger with exactly this name.
func (h *hclogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel sets the minimum level.
func (h *hclogger) SetLevel(level hclog.Level) { h.level = level }

// GetLevel returns the minimum level.
func (h *hclogger) GetLevel() hclog.Level { return h.level }

// StandardLogger returns a log.Logger writing through this logger.
func (h *hclogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer whose lines become info records.
func (h *hclogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineLogger{log: func(line []byte) { h.Info(strings.TrimSpace(string(line))) }}
}

// lineLogger is an io.Writer that calls log with every complete line written to it (without
// the newline); Flush passes on a final unterminated line.
type lineLogger struct {
	mu  sync.Mutex
	buf []byte
	log func(line []byte)
}

// maxLine bounds a buffered line; a longer one is passed on in pieces.
const maxLine = 64 << 10

// Write buffers p and logs every complete line.
func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) > maxLine {
		w.emit(w.buf[:maxLine])
		w.buf = w.buf[maxLine:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

// Flush logs a final unterminated line.
func (w *lineLogger) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *lineLogger) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	w.log(line)
}

// pluginLine logs one line of a plugin's standard error or forwarded standard output to l.
// A JSON object with "@message" (hclog's JSON format, which sdk/plugin's Logger writes) is
// logged at its "@level" with its other keys as attributes (sorted, "@timestamp" dropped:
// the host's record has its own time); any other line is logged verbatim at info, except
// that go-plugin's "[LEVEL] " prefixes and Go panics ("panic: ", "fatal error: ", then
// every later line) select the level as go-plugin does.
type pluginLine struct {
	l       *slog.Logger
	pid     *atomic.Int64 // the process id once known, else 0
	inPanic bool
}

func (p *pluginLine) log(line []byte) {
	ctx := context.Background()
	l := p.l
	if p.pid != nil {
		if v := p.pid.Load(); v != 0 {
			l = l.With("pid", v)
		}
	}
	if line[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err == nil {
			if msg, ok := m["@message"].(string); ok {
				lvl := slog.LevelInfo
				if s, ok := m["@level"].(string); ok {
					lvl = slogLevel(hclog.LevelFromString(s))
				}
				if !l.Enabled(ctx, lvl) {
					return
				}
				keys := make([]string, 0, len(m))
				for k := range m {
					if k != "@message" && k != "@level" && k != "@timestamp" {
						keys = append(keys, k)
					}
				}
				sort.Strings(keys)
				attrs := make([]any, 0, 2*len(keys))
				for _, k := range keys {
					attrs = append(attrs, strings.TrimPrefix(k, "@"), m[k])
				}
				l.Log(ctx, lvl, msg, attrs...)
				return
			}
		}
	}
	s := string(line)
	lvl := slog.LevelInfo
	for _, pre := range []struct {
		p string
		l hclog.Level
	}{{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info}, {"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}} {
		if strings.HasPrefix(s, pre.p) {
			lvl, s = slogLevel(pre.l), strings.TrimSpace(strings.TrimPrefix(s, pre.p))
			break
		}
	}
	if strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ") {
		p.inPanic = true
	}
	if p.inPanic {
		lvl = slog.LevelError
	}
	l.Log(ctx, lvl, s)
}

// newPluginLogWriter returns the writer for one stream of a plugin's output.
func newPluginLogWriter(l *slog.Logger, stream string, pid *atomic.Int64) *lineLogger {
	pl := &pluginLine{l: l.With("stream", stream), pid: pid}
	return &lineLogger{log: pl.log}
}
