package plugin

import (
	"log/slog"
	"os"
	"sync"
	"time"
)

// EnvLogLevel is the environment variable through which the host passes its log level
// (debug, info, warn or error) to the plugin; Logger drops records below it.
const EnvLogLevel = "SCALELAB_PLUGIN_LOG_LEVEL"

// stderr is the process's standard error as it was at start-up. go-plugin redirects
// os.Stderr into its stdio stream once Serve runs; the original descriptor is the one the
// host reads log lines from.
var stderr = os.Stderr

var (
	loggerOnce sync.Once
	logger     *slog.Logger
)

// Logger returns the plugin's structured logger. Its records reach the host's log with
// their level, message and attributes: they are written to the original standard error as
// one JSON object per line in go-plugin's (hclog's) format, {"@level": "info", "@message":
// "...", "@timestamp": "...", "key": value}. Records below the host's level are dropped.
func Logger() *slog.Logger {
	loggerOnce.Do(func() {
		logger = slog.New(newLineHandler(stderr, logLevel()))
	})
	return logger
}

// logLevel is the host's level from EnvLogLevel, info when unset or unknown.
func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv(EnvLogLevel))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// newLineHandler returns a JSON handler writing hclog-shaped lines to w.
func newLineHandler(w interface{ Write([]byte) (int, error) }, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if t, ok := a.Value.Any().(time.Time); ok {
					return slog.String("@timestamp", t.Format("2006-01-02T15:04:05.000000Z07:00"))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", hclogLevel(l))
				}
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

// hclogLevel names an slog level as hclog does: trace, debug, info, warn, error.
func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}
