package eventlog

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// FsyncMode chooses what an acknowledged append survives.
type FsyncMode string

const (
	// FsyncDefault is JetStream's default: an acknowledged event has been written
	// to the kernel, so it survives kill -9 of the process but a power loss can
	// lose up to JetStream's sync interval (2 minutes by default).
	FsyncDefault FsyncMode = "default"
	// FsyncAlways makes the embedded server fsync every write before it
	// acknowledges, so acknowledged events survive power loss, at a large cost in
	// single-append throughput. With an external server this is a server setting
	// (jetstream { sync_interval: always }); Open refuses it rather than pretend.
	FsyncAlways FsyncMode = "always"
)

// DefaultStream is the name of the event stream.
const DefaultStream = "RIVETFLOW_EVENTS"

// Config configures Open. The zero value plus a DataDir is a working embedded log.
type Config struct {
	// DataDir holds the embedded server's JetStream store, under DataDir/nats.
	// Required unless URL is set.
	DataDir string
	// URL connects to an external NATS server or cluster instead of running one
	// in process (for example "nats://10.0.0.1:4222,nats://10.0.0.2:4222").
	URL string
	// Listen makes the embedded server also accept NATS clients on this
	// host:port. Defaults to no listener at all.
	Listen string
	// Fsync chooses the durability mode. Defaults to FsyncDefault.
	Fsync FsyncMode
	// MaxMemory bounds the embedded JetStream's memory storage. Defaults to 256 MiB.
	MaxMemory int64
	// MaxStore bounds the embedded JetStream's file storage; appends fail with
	// ErrLogFull beyond it. Defaults to 16 GiB.
	MaxStore int64
	// Stream is the JetStream stream name. Defaults to DefaultStream.
	Stream string
	// Replicas is the stream's replica count (use 3 on a cluster). Defaults to 1.
	Replicas int
	// MaxInflight bounds appends awaiting their acknowledgement; further appends
	// wait for a slot. Defaults to 4000.
	MaxInflight int
	// AckTimeout bounds the wait for one append's acknowledgement. Defaults to 10s.
	AckTimeout time.Duration
	// MaxEventBytes bounds one encoded event; larger appends fail with
	// ErrEventTooLarge. Defaults to 1 MiB (NATS's default max payload).
	MaxEventBytes int
	// MaxReadBatch bounds the events returned by one ReadActor call. Defaults to 1000.
	MaxReadBatch int
	// TailBufferBytes bounds the bytes one Tail reads ahead of its reader
	// (each `events tail` client has one). It must hold a few of the largest
	// events: at least 4 x MaxEventBytes. Defaults to 4 x MaxEventBytes,
	// and at least 4 MiB.
	TailBufferBytes int
	// NATSOptions are extra options for the connection to an external server
	// (credentials, TLS, name).
	NATSOptions []nats.Option
	// Logger receives the log's and the embedded server's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the log's metrics. Defaults to none.
	Registerer prometheus.Registerer
}

// withDefaults returns a copy of c with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Fsync == "" {
		c.Fsync = FsyncDefault
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = 256 << 20
	}
	if c.MaxStore == 0 {
		c.MaxStore = 16 << 30
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 4000
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = 1 << 20
	}
	if c.MaxReadBatch == 0 {
		c.MaxReadBatch = 1000
	}
	if c.TailBufferBytes == 0 {
		c.TailBufferBytes = max(4<<20, 4*c.MaxEventBytes)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.URL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("a data dir is required for the embedded server"))
	}
	if c.URL != "" && c.Listen != "" {
		errs = append(errs, errors.New("a NATS listen address only applies to the embedded server, not with a NATS URL"))
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("NATS listen address %q: %w (want host:port)", c.Listen, err))
		}
	}
	switch c.Fsync {
	case FsyncDefault:
	case FsyncAlways:
		if c.URL != "" {
			errs = append(errs, errors.New("fsync always is set on the external NATS server (jetstream { sync_interval: always }), not by rivet-flow"))
		}
	default:
		errs = append(errs, fmt.Errorf("fsync mode %q: want %q or %q", c.Fsync, FsyncDefault, FsyncAlways))
	}
	if c.MaxMemory < 0 || c.MaxStore < 0 || c.Replicas < 1 || c.Replicas > 5 || c.MaxInflight < 1 ||
		c.AckTimeout < 0 || c.MaxEventBytes < 1 || c.MaxReadBatch < 1 {
		errs = append(errs, errors.New("limits must be positive (replicas 1 to 5)"))
	}
	if c.TailBufferBytes < 4*c.MaxEventBytes {
		// A pull for less than one event stalls the consumer for good.
		errs = append(errs, fmt.Errorf("tail buffer of %d bytes is under 4 x max event bytes (%d)", c.TailBufferBytes, 4*c.MaxEventBytes))
	}
	if c.MaxEventBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("max event bytes %d is over JetStream's 64 MiB message limit", c.MaxEventBytes))
	}
	return errors.Join(errs...)
}
