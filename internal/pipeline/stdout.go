package pipeline

import (
	"context"
	"io"
	"sync"

	"portico/internal/event"
)

// LineSink writes events as JSON lines (one object per line) to a writer,
// standard output by default. Each batch is written with one call, so
// lines from concurrent writers never interleave.
type LineSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewLineSink returns a sink writing JSON lines to w.
func NewLineSink(w io.Writer) *LineSink { return &LineSink{w: w} }

// Name implements Sink.
func (s *LineSink) Name() string { return "stdout" }

// Write implements Sink.
func (s *LineSink) Write(_ context.Context, batch []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	for i := range batch {
		b = batch[i].AppendEncoded(b)
		b = append(b, '\n')
	}
	_, err := s.w.Write(b)
	if cap(b) <= 1<<20 {
		s.buf = b[:0]
	}
	return err
}

// Close implements Sink. Writes are not buffered, so there is nothing to
// flush.
func (s *LineSink) Close() error { return nil }
