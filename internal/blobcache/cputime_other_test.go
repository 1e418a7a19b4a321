//go:build !unix

package blobcache

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
