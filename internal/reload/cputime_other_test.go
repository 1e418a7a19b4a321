//go:build !unix

package reload

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
