package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelAndAccess(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "json", "warn")
	log.Info("hidden")
	log.Debug("hidden")
	log.With("listener", "gateway").Warn("shown")
	Access(log).Info("request", "status", 200)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want the warning and the access line:\n%s", len(lines), buf.String())
	}
	var warn, access map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &warn); err != nil || warn["msg"] != "shown" || warn["listener"] != "gateway" {
		t.Errorf("warning line %q (%v)", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &access); err != nil || access["msg"] != "request" || access["status"] != float64(200) || access["level"] != "INFO" {
		t.Errorf("access line %q (%v): want JSON at INFO despite --log-level warn", lines[1], err)
	}
}

func TestTextDebug(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "text", "debug")
	log.Debug("detail", "k", "v")
	if !strings.Contains(buf.String(), "level=DEBUG msg=detail k=v") {
		t.Errorf("debug line missing or not text: %q", buf.String())
	}
	plain := slog.New(slog.NewTextHandler(&buf, nil))
	if Access(plain) != plain {
		t.Error("a logger New did not build is not its own access logger")
	}
}
