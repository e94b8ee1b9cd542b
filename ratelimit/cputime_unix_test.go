//go:build unix

package ratelimit_test

import (
	"syscall"
	"time"
)

// processCPUTime is the user and system CPU time of the process. Benchmarks
// report it per operation ("cpu-ns/op") next to the wall time, which a
// machine shared with other work inflates.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
