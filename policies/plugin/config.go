package plugin

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Type is the policy type name in config.
const Type = "plugin"

// Config is the plugin policy's config section (policies.<name> with type: plugin). The
// per-decision act deadline is the framework's policies.<name>.deadline key (default
// fallback.deadline): the runner passes it to Act as the context deadline.
type Config struct {
	Command        string        `mapstructure:"command" doc:"plugin executable; a relative path resolves against the config file's directory, which is also the plugin's working directory" default:""`
	Args           []string      `mapstructure:"args" doc:"command-line arguments passed to the plugin" default:"[]"`
	Checksum       string        `mapstructure:"checksum" doc:"optional SHA-256 of the executable (64 hex digits, optionally prefixed sha256:); a binary that does not match is refused (go-plugin SecureConfig)" default:""`
	CallTimeout    time.Duration `mapstructure:"call_timeout" doc:"limit on one observe, reset or close call, and on act when the runner sets no deadline" default:"1s"`
	StartTimeout   time.Duration `mapstructure:"start_timeout" doc:"limit on starting the process, the go-plugin handshake and init" default:"10s"`
	MaxRestarts    int           `mapstructure:"max_restarts" doc:"restarts allowed per run after a crash, hang or malformed answer; the next failure disables the plugin for the rest of the run" default:"5"`
	RestartBackoff time.Duration `mapstructure:"restart_backoff" doc:"wait before restarting a failed plugin; doubles with each consecutive failure, up to 32 times this" default:"100ms"`
	SocketDir      string        `mapstructure:"socket_dir" doc:"directory in which the host creates a private directory for the plugin's Unix socket, removed at close; empty uses the system temporary directory" default:""`
}

// Defaults returns the defaults documented in the struct tags.
func Defaults() *Config {
	return &Config{
		Args:           []string{},
		CallTimeout:    time.Second,
		StartTimeout:   10 * time.Second,
		MaxRestarts:    5,
		RestartBackoff: 100 * time.Millisecond,
	}
}

// maxSocketDir bounds socket_dir so that the plugin's socket path fits in a sockaddr_un
// (maxSocketPath, per system): the host adds "/sl-plugin-NNNNNNNNNN" and go-plugin
// "/pluginNNNNNNNNNN", at most 21 + 17 = 38 bytes.
const maxSocketDir = maxSocketPath - 38

// Validate reports every out-of-range key.
func (c *Config) Validate() []error {
	var errs []error
	if strings.TrimSpace(c.Command) == "" {
		errs = append(errs, errors.New("command: must name the plugin executable"))
	}
	if _, err := parseChecksum(c.Checksum); err != nil {
		errs = append(errs, fmt.Errorf("checksum: %w", err))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("call_timeout: must be > 0, got %v", c.CallTimeout))
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, fmt.Errorf("start_timeout: must be > 0, got %v", c.StartTimeout))
	}
	if c.MaxRestarts < 0 {
		errs = append(errs, fmt.Errorf("max_restarts: must be ≥ 0, got %d", c.MaxRestarts))
	}
	if c.RestartBackoff < 0 {
		errs = append(errs, fmt.Errorf("restart_backoff: must be ≥ 0, got %v", c.RestartBackoff))
	}
	if len(c.SocketDir) > maxSocketDir {
		errs = append(errs, fmt.Errorf("socket_dir: %q is %d bytes long; the plugin's Unix socket path must fit in %d bytes, so use at most %d",
			c.SocketDir, len(c.SocketDir), maxSocketPath, maxSocketDir))
	}
	return errs
}

// parseChecksum decodes an optional SHA-256 checksum: "", 64 hex digits, or "sha256:" and
// 64 hex digits.
func parseChecksum(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	s = strings.TrimPrefix(strings.ToLower(s), "sha256:")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("must be a SHA-256 digest (64 hex digits, optionally prefixed sha256:), got %q", s)
	}
	return b, nil
}

// resolve returns the command's absolute path: relative paths resolve against baseDir.
func resolve(baseDir, command string) string {
	if command == "" || filepath.IsAbs(command) {
		return command
	}
	if p, err := filepath.Abs(filepath.Join(baseDir, command)); err == nil {
		return p
	}
	return filepath.Join(baseDir, command)
}

// checkExecutable reports why path cannot be run as a plugin, if it cannot.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

// Register adds the plugin policy factory to r.
func Register(r *framework.Registry) {
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     Type,
		Doc:      "an out-of-process policy served over gRPC with hashicorp/go-plugin (sdk/plugin; docs/policy-abi.md)",
		Defaults: func() any { return Defaults() },
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			c, ok := cfg.(*Config)
			if !ok || c == nil {
				return nil, fmt.Errorf("plugin policy: config is %T, want *plugin.Config", cfg)
			}
			return New(bc, *c)
		},
		Files: func(baseDir string, cfg any) []string {
			if c, ok := cfg.(*Config); ok && c != nil && c.Command != "" {
				return []string{resolve(baseDir, c.Command)}
			}
			return nil
		},
		Check: func(bc framework.BuildContext, cfg any) []error {
			c, ok := cfg.(*Config)
			if !ok || c == nil || c.Command == "" {
				return nil
			}
			path := resolve(bc.BaseDir, c.Command)
			if err := checkExecutable(path); err != nil {
				return []error{fmt.Errorf("command: %w", err)}
			}
			if err := verifyChecksum(path, c.Checksum); err != nil {
				return []error{fmt.Errorf("checksum: %w", err)}
			}
			return nil
		},
	})
}
