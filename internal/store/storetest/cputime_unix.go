//go:build unix

package storetest

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system,
// across all its threads.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// CPUTime returns the CPU time this process has used, user and system,
// and whether it could be read: benchmarks report it beside the time
// they took, which other processes on the machine inflate.
func CPUTime() (time.Duration, bool) { return cpuTime() }
