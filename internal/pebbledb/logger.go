package pebbledb

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger routes Pebble's printf-style logging into slog, so a store's logs
// go wherever the rest of the service's logs go.
type Logger struct {
	l *slog.Logger
}

// NewLogger returns a pebble.Logger writing to l.
func NewLogger(l *slog.Logger) Logger { return Logger{l: l} }

func (p Logger) logf(level slog.Level, format string, args []any) string {
	// Pebble logs eagerly; skip formatting when the level is off.
	if !p.l.Enabled(context.Background(), level) {
		return ""
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	p.l.Log(context.Background(), level, msg)
	return msg
}

// Infof implements pebble.Logger. Pebble's info lines (WAL replay, compactions)
// are routine, so they go to debug to keep a rivet-flow log readable.
func (p Logger) Infof(format string, args ...any) { p.logf(slog.LevelDebug, format, args) }

// Errorf implements pebble.Logger.
func (p Logger) Errorf(format string, args ...any) { p.logf(slog.LevelError, format, args) }

// Fatalf implements pebble.Logger. Pebble calls it on broken invariants and
// does not expect it to return, so after logging it panics (like its default
// logger's os.Exit, but with a stack trace and deferred handlers run).
func (p Logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(strings.TrimRight(msg, "\n"), "fatal", true)
	panic("pebble: fatal: " + msg)
}
