//go:build !unix

package ppo

import "time"

// processCPUTime is not available on this platform; benchmarks then report wall time only.
func processCPUTime() time.Duration { return 0 }
