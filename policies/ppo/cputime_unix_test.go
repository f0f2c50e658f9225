//go:build unix

package ppo

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time (user + system) the process has used: on a shared
// machine it measures the work itself, where wall time also counts waiting for a core.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
