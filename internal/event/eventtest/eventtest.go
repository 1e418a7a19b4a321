// Package eventtest helps tests observe the events a router emits.
package eventtest

import (
	"slices"
	"sync"

	"portico/internal/event"
)

// A Recorder is a route.Emitter that keeps every event, for tests. It is
// safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []event.Event
}

// Emit records e.
func (r *Recorder) Emit(e event.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// All returns a copy of the events recorded so far, in order.
func (r *Recorder) All() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Filter returns the recorded events for which keep is true.
func (r *Recorder) Filter(keep func(event.Event) bool) []event.Event {
	var out []event.Event
	for _, e := range r.All() {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// Count returns the number of recorded events for which match is true.
func (r *Recorder) Count(match func(event.Event) bool) int {
	return len(r.Filter(match))
}

// Reset forgets the events recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
