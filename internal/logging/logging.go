// Package logging builds the process's loggers: log/slog on one stream,
// as text or JSON, filtered by the operator's level; and beside them the
// access log, whose lines go to the same stream in the same format
// whatever that level, since asking for them (--access-log) is asking to
// see them.
package logging

import (
	"context"
	"io"
	"log/slog"
)

// New returns the logger of a process writing to w in format ("text" or
// "json") at level ("debug", "info", "warn" or "error"; anything else is
// info). Access returns its access logger.
func New(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	// The stream's handler takes info lines whatever the level, for
	// the access log; the logger's filter applies the level.
	opts := &slog.HandlerOptions{Level: min(lvl, slog.LevelInfo)}
	var base slog.Handler
	if format == "json" {
		base = slog.NewJSONHandler(w, opts)
	} else {
		base = slog.NewTextHandler(w, opts)
	}
	return slog.New(&filter{Handler: base, min: lvl, access: base})
}

// Access returns the logger for access lines beside log: on log's
// stream, in its format, at info whatever log's level. A logger that New
// did not build is its own access logger.
func Access(log *slog.Logger) *slog.Logger {
	if f, ok := log.Handler().(*filter); ok {
		return slog.New(f.access)
	}
	return log
}

// filter applies the operator's level in front of a handler that takes
// more.
type filter struct {
	slog.Handler
	min    slog.Level
	access slog.Handler // the stream's handler, without attributes added
}

func (f *filter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f *filter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &filter{Handler: f.Handler.WithAttrs(attrs), min: f.min, access: f.access}
}

func (f *filter) WithGroup(name string) slog.Handler {
	return &filter{Handler: f.Handler.WithGroup(name), min: f.min, access: f.access}
}
