//go:build unix

package plugin

import (
	"os"
	"syscall"
)

// sysProcAttr puts the plugin in a process group of its own, so that a terminal's Ctrl-C
// reaches only the host (which then stops its plugins in order) and a forced kill takes
// the plugin's own children with it. On Linux the plugin also gets SIGKILL when the host
// dies (see procattr_linux.go).
func sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(a)
	return a
}

// killTree sends SIGKILL to the plugin's process group (the plugin and any children it
// started), and to the process itself in case it left the group.
func killTree(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
