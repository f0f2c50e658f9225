package plugin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	sdk "github.com/scalelab/scalelab/sdk/plugin"
	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

// killGrace is how long a plugin gets to exit after the host asks it to before it is killed.
const killGrace = 3 * time.Second

// proc is one plugin process and its gRPC client.
type proc struct {
	client  *goplugin.Client
	rpc     policyv1.PolicyClient
	cmd     *exec.Cmd
	sock    string // the process's Unix socket (removed after the process is gone)
	pid     int
	writers []*lineLogger
	// From the plugin's InitResponse.
	wantsObserve, wantsReset bool
	name                     string
}

// launchSpec is what starting a plugin process needs.
type launchSpec struct {
	path     string
	args     []string
	workDir  string
	checksum []byte
	sockRoot string
	timeout  time.Duration
	log      *slog.Logger
}

// handshakeEnv are the variables go-plugin (and scalelab) set for a plugin; the host's own
// values of them are not passed on, so they cannot override the handshake.
var handshakeEnv = map[string]bool{
	"PLUGIN_MIN_PORT": true, "PLUGIN_MAX_PORT": true, "PLUGIN_PROTOCOL_VERSIONS": true, "PLUGIN_CLIENT_CERT": true,
	"PLUGIN_MULTIPLEX_GRPC": true, goplugin.EnvUnixSocketDir: true, goplugin.EnvUnixSocketGroup: true,
	sdk.MagicCookieKey: true, sdk.EnvLogLevel: true,
}

// pluginEnv is the plugin's environment: the host's, without the handshake variables, plus
// the socket directory and the host's log level.
func pluginEnv(sockDir string, log *slog.Logger) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); handshakeEnv[k] {
			continue
		}
		env = append(env, kv)
	}
	lvl := "error"
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if log.Enabled(context.Background(), l) {
			lvl = strings.ToLower(l.String())
			break
		}
	}
	return append(env, goplugin.EnvUnixSocketDir+"="+sockDir, sdk.EnvLogLevel+"="+lvl)
}

// launch starts a plugin process, performs the go-plugin handshake and dispenses the policy
// client. The process creates its Unix socket in s.sockRoot; stop removes it.
func launch(s launchSpec) (*proc, error) {
	if n := len(s.sockRoot) + len("/plugin0123456789"); n > maxSocketPath {
		return nil, fmt.Errorf("socket directory %s is too long for a Unix socket path (%d > %d bytes): set socket_dir to a shorter directory",
			s.sockRoot, n, maxSocketPath)
	}
	p := &proc{}
	var pid atomic.Int64
	plog := s.log.With("command", filepath.Base(s.path))
	writer := func(stream string) *lineLogger {
		w := newPluginLogWriter(plog, stream, &pid)
		p.writers = append(p.writers, w)
		return w
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.workDir
	cmd.Env = pluginEnv(s.sockRoot, s.log)
	cmd.SysProcAttr = sysProcAttr()
	p.cmd = cmd
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     s.timeout,
		Logger:           newHCLogger(plog, filepath.Base(s.path)),
		Stderr:           writer("stderr"),
		SyncStdout:       writer("stdout"),
		SyncStderr:       writer("stderr"),
		SkipHostEnv:      true,
	}
	if s.checksum != nil {
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: s.checksum, Hash: sha256.New()}
	}
	p.client = goplugin.NewClient(cfg)
	cp, err := p.client.Client()
	if err == nil && cmd.Process != nil {
		p.pid = cmd.Process.Pid
		pid.Store(int64(p.pid))
		if rc := p.client.ReattachConfig(); rc != nil && rc.Addr != nil && rc.Addr.Network() == "unix" {
			p.sock = rc.Addr.String()
		}
	}
	var raw any
	if err == nil {
		raw, err = cp.Dispense(sdk.PluginName)
	}
	if err == nil {
		var ok bool
		if p.rpc, ok = raw.(policyv1.PolicyClient); !ok {
			err = fmt.Errorf("dispensed %T, want a policy client", raw)
		}
	}
	if err != nil {
		p.stop(true)
		// Exited is false for a process our stop killed, true for one that ended by itself.
		if ps := cmd.ProcessState; ps != nil && ps.Exited() {
			err = fmt.Errorf("the plugin exited during start-up (%s; its standard error is in the log): %w", ps, err)
		}
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("start %s: the executable's SHA-256 does not match checksum: %w", s.path, err)
		}
		return nil, fmt.Errorf("start %s: %w", s.path, err)
	}
	return p, nil
}

// stop ends the process and waits until it is reaped: force kills it (with its process
// group) at once, else the plugin is asked to exit (go-plugin's shutdown call) and killed
// after killGrace. It then removes the socket and flushes the log writers.
func (p *proc) stop(force bool) {
	if force && p.cmd.Process != nil && !p.client.Exited() {
		killTree(p.cmd.Process)
	}
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
		if p.cmd.Process != nil {
			killTree(p.cmd.Process)
		}
		<-done
	}
	// go-plugin reaps the process in Kill. A plugin that exits cleanly removes its socket; a
	// killed one cannot.
	if p.sock != "" {
		_ = os.Remove(p.sock)
	}
	for _, w := range p.writers {
		w.Flush()
	}
}

// exited reports whether the process has exited, waiting up to wait for go-plugin to notice
// (a broken connection is usually seen a moment before the exit).
func (p *proc) exited(wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for !p.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// verifyChecksum checks the file at path against an optional SHA-256 checksum.
func verifyChecksum(path, checksum string) error {
	want, err := parseChecksum(checksum)
	if err != nil || want == nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if got := h.Sum(nil); subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("%s has SHA-256 %x, the config expects %x", path, got, want)
	}
	return nil
}
