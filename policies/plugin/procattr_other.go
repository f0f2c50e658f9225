//go:build !unix

package plugin

import (
	"os"
	"syscall"
)

// sysProcAttr returns nil: no process group or parent-death signal on this system.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killTree kills the plugin process.
func killTree(p *os.Process) { _ = p.Kill() }
