package eventlog

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rivet-flow/rivet-flow/internal/dirlock"
)

// embedded is an in-process nats-server with JetStream and the lock on its store.
type embedded struct {
	srv  *server.Server
	lock *dirlock.Lock
}

// startEmbedded locks DataDir/nats and starts a JetStream server storing there.
func startEmbedded(cfg Config) (*embedded, error) {
	storeDir := filepath.Join(cfg.DataDir, "nats")
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, dirlock.Explain(cfg.DataDir, err)
	}
	lock, err := dirlock.Acquire(storeDir)
	if err != nil {
		return nil, dirlock.Explain(cfg.DataDir, err)
	}
	opts := &server.Options{
		ServerName:         "rivet-flow",
		JetStream:          true,
		StoreDir:           storeDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		SyncAlways:         cfg.Fsync == FsyncAlways,
		MaxPayload:         int32(cfg.MaxEventBytes + 4096), // room for headers
		DontListen:         cfg.Listen == "",
		NoSigs:             true,
	}
	if cfg.Listen != "" {
		host, port, _ := net.SplitHostPort(cfg.Listen)
		opts.Host = host
		opts.Port, err = strconv.Atoi(port)
		if err != nil {
			lock.Release()
			return nil, fmt.Errorf("NATS listen address %q: bad port", cfg.Listen)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	srv.SetLoggerV2(&natsLogger{log: cfg.Logger.With("component", "nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		lock.Release()
		return nil, fmt.Errorf("embedded NATS did not become ready in 30s (store %s): see the nats log lines above", storeDir)
	}
	return &embedded{srv: srv, lock: lock}, nil
}

func (e *embedded) shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.lock.Release()
}

// natsLogger routes nats-server's logs to slog.
type natsLogger struct{ log *slog.Logger }

// Notices are the startup banner and routine chatter: debug level keeps a
// rivet-flow log readable.
func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
