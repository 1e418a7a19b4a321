package certs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestZapLoggerDropsAddresses: certmagic's log fields that name a client
// never reach the gateway's log, whatever their key.
func TestZapLoggerDropsAddresses(t *testing.T) {
	var b bytes.Buffer
	zl := newZapLogger(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo})).Named("handshake")
	zl.With(zap.String("remote", "203.0.113.7:51234")).Info("served key authentication certificate",
		zap.String("server_name", "get.acme.test"),
		zap.String("remote_addr", "[2001:db8::1]:443"),
		zap.String("peer", "198.51.100.9"),
		zap.String("listener", ":443"),
		zap.Bool("distributed", true))
	zl.Debug("not at info level", zap.String("server_name", "hidden.test"))
	zl.Error("looking up info for HTTP challenge", zap.String("identifier", "get.acme.test"), zap.String("client_ip", "192.0.2.1"))
	out := b.String()
	for _, addr := range []string{"203.0.113.7", "2001:db8::1", "198.51.100.9", "192.0.2.1"} {
		if strings.Contains(out, addr) {
			t.Errorf("log holds the client address %s:\n%s", addr, out)
		}
	}
	for _, want := range []string{"level=INFO", `msg="served key authentication certificate"`, "logger=certmagic.handshake", "server_name=get.acme.test",
		"listener=:443", "distributed=true", "level=ERROR", "identifier=get.acme.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden.test") {
		t.Errorf("a debug entry was written at level info:\n%s", out)
	}
}
