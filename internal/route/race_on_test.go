//go:build race

package route

// raceEnabled is set in race builds, where sync.Pool drops items at random
// and allocation counts mean nothing.
const raceEnabled = true
