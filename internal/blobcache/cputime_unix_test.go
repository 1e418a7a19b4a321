//go:build unix

package blobcache

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system,
// across all its threads: what a benchmark costs, whatever else runs on
// the machine meanwhile.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
