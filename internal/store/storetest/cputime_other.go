//go:build !unix

package storetest

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }

// CPUTime returns the CPU time this process has used, user and system,
// and whether it could be read: benchmarks report it beside the time
// they took, which other processes on the machine inflate.
func CPUTime() (time.Duration, bool) { return cpuTime() }
