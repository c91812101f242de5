package eventlog_test

import (
	"io"
	"log/slog"
	"strings"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
