package certs

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger gives certmagic, which logs through zap, a logger that
// writes to h. Fields that carry a client's address (certmagic logs
// "remote" and "remote_addr" with handshakes and challenge requests) are
// dropped, and so is any other field whose value is an address: client
// addresses are never written anywhere.
func newZapLogger(h slog.Handler) *zap.Logger {
	return zap.New(&zapCore{h: h})
}

type zapCore struct {
	h      slog.Handler
	fields []zapcore.Field
}

func level(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (c *zapCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), level(l))
}

func (c *zapCore) With(fields []zapcore.Field) zapcore.Core {
	return &zapCore{h: c.h, fields: append(c.fields[:len(c.fields):len(c.fields)], fields...)}
}

func (c *zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *zapCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	r := slog.NewRecord(e.Time, level(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", "certmagic."+e.LoggerName))
	} else {
		r.AddAttrs(slog.String("logger", "certmagic"))
	}
	for k, v := range enc.Fields {
		if clientField(k, v) {
			continue
		}
		r.AddAttrs(slog.Any(k, v))
	}
	return c.h.Handle(context.Background(), r)
}

func (c *zapCore) Sync() error { return nil }

// clientField reports whether a log field may carry a client's address:
// by its name, or because its value is an address, with or without a
// port.
func clientField(key string, v any) bool {
	k := strings.ToLower(key)
	if strings.Contains(k, "remote") || strings.Contains(k, "client") || strings.HasSuffix(k, "_ip") || k == "ip" || k == "addr" {
		return true
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}
