//go:build linux

package plugin

import "syscall"

// setParentDeathSignal asks the kernel to SIGKILL the plugin when the host goes away, so a
// plugin never outlives a host killed without a chance to stop it (kill -9, OOM killer).
// The signal fires when the OS thread that started the plugin exits; Go only ends threads
// whose goroutine locked them and exited, which scalelab never does around a plugin start.
// sdk/plugin's Serve also watches its parent, for hosts on other systems.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
