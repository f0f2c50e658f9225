//go:build unix

package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

func TestConfigValidate(t *testing.T) {
	long := "/" + strings.Repeat("d", maxSocketDir) // one byte over the bound
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
		want []string // one substring per expected error, in order
	}{
		{"defaults with a command", func(c *Config) {}, nil},
		{"no command", func(c *Config) { c.Command = " " }, []string{"command: must name the plugin executable"}},
		{"short checksum", func(c *Config) { c.Checksum = "abc" }, []string{"checksum: must be a SHA-256 digest"}},
		{"prefixed checksum", func(c *Config) { c.Checksum = "sha256:" + strings.Repeat("0f", 32) }, nil},
		{"every range at once", func(c *Config) {
			c.CallTimeout, c.StartTimeout, c.MaxRestarts, c.RestartBackoff = 0, -time.Second, -1, -time.Millisecond
		}, []string{"call_timeout: must be > 0, got 0s", "start_timeout: must be > 0, got -1s",
			"max_restarts: must be ≥ 0, got -1", "restart_backoff: must be ≥ 0, got -1ms"}},
		{"socket_dir too long", func(c *Config) { c.SocketDir = long }, []string{"socket_dir: "}},
		{"socket_dir at the bound", func(c *Config) { c.SocketDir = long[:maxSocketDir] }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Command = "bin/agent"
			tc.mod(c)
			errs := c.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %d", errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	f, ok := r.Policies[Type]
	if !ok {
		t.Fatalf("no %q policy registered", Type)
	}
	cfg, ok := f.Defaults().(*Config)
	if !ok || cfg.CallTimeout != time.Second || cfg.MaxRestarts != 5 || cfg.RestartBackoff != 100*time.Millisecond ||
		cfg.StartTimeout != 10*time.Second {
		t.Fatalf("defaults %+v", f.Defaults())
	}
	base := t.TempDir()
	cfg.Command = "agents/p"
	if got := f.Files(base, cfg); len(got) != 1 || got[0] != filepath.Join(base, "agents", "p") {
		t.Errorf("Files = %v, want the command resolved against the base directory", got)
	}
	abs := &Config{Command: "/opt/agent"}
	if got := f.Files(base, abs); len(got) != 1 || got[0] != "/opt/agent" {
		t.Errorf("Files = %v for an absolute command", got)
	}
	bc := framework.BuildContext{Name: "p", BaseDir: base}
	if errs := f.Check(bc, cfg); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "command: ") {
		t.Errorf("Check of a missing command = %v", errs)
	}
	if err := os.MkdirAll(filepath.Join(base, "agents"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "agents", "p"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	// SHA-256("x") = 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881.
	cfg.Checksum = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
	if errs := f.Check(bc, cfg); len(errs) != 0 {
		t.Errorf("Check with the right checksum = %v", errs)
	}
	cfg.Checksum = strings.Repeat("0", 64)
	if errs := f.Check(bc, cfg); len(errs) != 1 || !strings.Contains(errs[0].Error(), "has SHA-256 2d711642") {
		t.Errorf("Check with a wrong checksum = %v", errs)
	}
}
