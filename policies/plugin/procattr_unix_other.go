//go:build unix && !linux

package plugin

import "syscall"

// setParentDeathSignal does nothing where there is no parent-death signal; sdk/plugin's
// Serve watches its parent instead.
func setParentDeathSignal(*syscall.SysProcAttr) {}
