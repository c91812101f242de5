package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// envPrefix prefixes the environment variable of every flag: --data-dir is
// RIVETFLOW_DATA_DIR. A flag on the command line wins over its variable.
const envPrefix = "RIVETFLOW_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// lookupEnv is os.LookupEnv.
var lookupEnv = os.LookupEnv

// logFlags are the flags every long-running command shares.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", l.format)
}

// logFlagsSet are the event log flags shared by serve and rebuild.
type logStoreFlags struct {
	dataDir    string
	natsURL    string
	natsListen string
	fsync      string
	maxStore   int64
	maxMemory  int64
	ackTimeout time.Duration
	maxEvent   int
	tailBuffer int
}

func (s *logStoreFlags) register(fs *pflag.FlagSet, withListen bool) {
	fs.StringVar(&s.dataDir, "data-dir", "./data", "where the embedded JetStream store (nats/), the snapshots (snapshots/) and the projections (projections/) live")
	fs.StringVar(&s.natsURL, "nats-url", "", "use this external NATS server or cluster instead of the embedded one (comma-separated URLs)")
	if withListen {
		fs.StringVar(&s.natsListen, "nats-listen", "", "also let NATS clients connect to the embedded server on this host:port (default: no listener)")
	}
	fs.StringVar(&s.fsync, "fsync", "default", "durability: default (survives kill -9) or always (fsync every append: survives power loss, slower)")
	sizeVar(fs, &s.maxStore, "nats-max-store", 16<<30, "embedded JetStream file storage limit (16GiB, 500MB or bytes); appends fail beyond it")
	sizeVar(fs, &s.maxMemory, "nats-max-memory", 256<<20, "embedded JetStream memory storage limit (256MiB or bytes)")
	fs.DurationVar(&s.ackTimeout, "append-timeout", 10*time.Second, "how long an append waits for JetStream's acknowledgement")
	sizeVar(fs, &s.maxEvent, "max-event-bytes", 1<<20, "largest encoded event (state change, args and output included)")
	sizeVar(fs, &s.tailBuffer, "tail-buffer-bytes", 0, "bytes one event log tail reads ahead of its client (default 4 x --max-event-bytes, at least 4 MiB)")
}

func (s *logStoreFlags) validate() error {
	switch eventlog.FsyncMode(s.fsync) {
	case eventlog.FsyncDefault, eventlog.FsyncAlways:
		return nil
	}
	return fmt.Errorf("--fsync %q: want default or always", s.fsync)
}

func (s *logStoreFlags) config() eventlog.Config {
	return eventlog.Config{
		DataDir: s.dataDir, URL: s.natsURL, Listen: s.natsListen, Fsync: eventlog.FsyncMode(s.fsync),
		MaxStore: s.maxStore, MaxMemory: s.maxMemory, AckTimeout: s.ackTimeout, MaxEventBytes: s.maxEvent,
		TailBufferBytes: s.tailBuffer,
	}
}

// accessLogger is the access log's logger (--access-log): the format of
// the others, at info whatever --log-level says, since the flag asks for a
// line per request.
func (l *logFlags) accessLogger(w io.Writer) *slog.Logger {
	c := *l
	c.level = "info"
	lg, err := c.logger(w)
	if err != nil {
		return nil // the format was refused already by logger
	}
	return lg.With("component", "access")
}
