package plugin

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// parentPoll is how often a served plugin checks that the host is still alive.
const parentPoll = 500 * time.Millisecond

// Serve serves p as a scalelab policy plugin and returns when the host stops it. Call it
// from main. Started by hand (without the host's handshake environment) it prints a notice
// to standard error and exits with status 1.
//
// Serve also exits the process when the host process disappears (killed without a chance
// to stop its plugins), so an orphaned plugin never lingers.
func Serve(p Policy) {
	if p == nil {
		panic("sdk/plugin: Serve(nil)")
	}
	if os.Getenv(MagicCookieKey) == MagicCookieValue {
		go watchParent(os.Getppid(), parentPoll, func() {
			Logger().Error("host process is gone; exiting")
			os.Exit(3)
		})
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginSet(p),
		GRPCServer:      goplugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Output:     stderr,
			JSONFormat: true,
			Level:      hclog.LevelFromString(logLevel().String()),
		}),
	})
}

// watchParent calls gone once the process's parent is no longer ppid (the parent died and
// the process was re-parented). A ppid of 1 or less means there is no parent to watch.
func watchParent(ppid int, every time.Duration, gone func()) {
	if ppid <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			gone()
			return
		}
	}
}
