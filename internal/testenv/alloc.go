package testenv

import "runtime"

// Allocated returns the bytes one run of f allocates, averaged over
// runs runs after a first one, on one processor as testing.AllocsPerRun
// counts. Complexity tests compare it for inputs of size n and 8n: a
// measure of f's work that, unlike time, does not depend on how busy the
// machine is.
func Allocated(runs int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runs = max(runs, 1)
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}
