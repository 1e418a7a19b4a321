//go:build !unix

package route

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
