//go:build race

package uritemplate

// raceEnabled is set in race builds, where sync.Pool drops items at random
// and allocation counts mean nothing.
const raceEnabled = true
