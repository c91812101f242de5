package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Log is the event log. It is safe for concurrent use.
type Log struct {
	cfg     Config
	log     *slog.Logger
	emb     *embedded // nil with an external server
	nc      *nats.Conn
	js      jetstream.JetStream // for appends only: its ack handlers manage slots
	shared  jetstream.JetStream // for everything else, and for other components
	stream  jetstream.Stream
	metrics *metrics

	// slots bounds appends awaiting acknowledgement. A slot is taken before
	// publishing and given back by the ack or error handler, which JetStream calls
	// exactly once per publish, so an abandoned PendingAppend cannot leak one.
	slots chan struct{}
	// pending maps each published append's message to its PendingAppend, which
	// the ack and error handlers complete: cheaper than the client's futures.
	pending sync.Map

	// batches feeds group commit (fsync always only); nil otherwise. The
	// batcher stops at stopBatches (after the gate) and its publishes end
	// with batchCtx (when Close runs out of time).
	batches     chan batchItem
	batchesDone chan struct{}
	stopBatches chan struct{}
	batchCtx    context.Context
	batchCancel context.CancelFunc

	// gate orders appends before Close: an append holds it (read) from its
	// closed check until it is published or queued, and Close takes it
	// (write) after closing closed, so no append slips in behind the drain.
	gate      sync.RWMutex
	closeOnce sync.Once
	closed    chan struct{}
}

// Open starts (or connects to) JetStream and makes sure the event stream exists.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("event log config: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("event log metrics: %w", err)
	}
	l := &Log{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "eventlog"),
		metrics: m,
		slots:   make(chan struct{}, cfg.MaxInflight),
		closed:  make(chan struct{}),
	}
	if err := l.connect(); err != nil {
		l.shutdownTransport()
		return nil, err
	}
	if err := l.ensureStream(ctx); err != nil {
		l.shutdownTransport()
		return nil, err
	}
	if cfg.Fsync == FsyncAlways {
		l.batches, l.batchesDone = make(chan batchItem, cfg.MaxInflight), make(chan struct{})
		l.stopBatches = make(chan struct{})
		l.batchCtx, l.batchCancel = context.WithCancel(context.Background())
		go l.runBatches()
	}
	return l, nil
}

func (l *Log) connect() error {
	opts := append([]nats.Option{nats.Name("rivet-flow"), nats.MaxReconnects(-1)}, l.cfg.NATSOptions...)
	url := l.cfg.URL
	if url == "" {
		emb, err := startEmbedded(l.cfg)
		if err != nil {
			return err
		}
		l.emb = emb
		opts = append(opts, nats.InProcessServer(emb.srv))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to NATS %s: %w; check --nats-url and that the server is up", displayURL(url), err)
	}
	l.nc = nc
	l.js, err = jetstream.New(nc,
		// Above our own slot limit, so JetStream's stall error never fires.
		jetstream.WithPublishAsyncMaxPending(l.cfg.MaxInflight+64),
		jetstream.WithPublishAsyncTimeout(l.cfg.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, ack *jetstream.PubAck) {
			l.complete(m, ack.Sequence, nil)
		}),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) { l.complete(m, 0, err) }),
	)
	if err != nil {
		return fmt.Errorf("JetStream context: %w", err)
	}
	if l.shared, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("JetStream context: %w", err)
	}
	return nil
}

func (l *Log) ensureStream(ctx context.Context) error {
	sc := jetstream.StreamConfig{
		Name:        l.cfg.Stream,
		Description: "rivet-flow actor events: the source of truth",
		Subjects:    []string{SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		// Never drop old events to make room: refuse new ones instead.
		Discard:     jetstream.DiscardNew,
		Replicas:    l.cfg.Replicas,
		AllowDirect: true,
		DenyDelete:  true,
		DenyPurge:   true,
		// Group commit for fsync-always mode (see DESIGN.md, durability modes).
		AllowAtomicPublish: l.cfg.Fsync == FsyncAlways,
		MaxMsgSize:         int32(l.cfg.MaxEventBytes + 4096),
	}
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := l.shared.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return fmt.Errorf("create event stream %s: %w", sc.Name, err)
	}
	l.stream = stream
	return nil
}

// Close waits (bounded by ctx) for appends in flight to be acknowledged, then
// closes the connection and, when embedded, shuts the server down cleanly.
func (l *Log) Close(ctx context.Context) error {
	var err error
	l.closeOnce.Do(func() {
		close(l.closed)
		l.gate.Lock() // every append past its closed check is now published or queued
		l.gate.Unlock()
		if l.batchesDone != nil {
			close(l.stopBatches)
			select {
			case <-l.batchesDone: // the batch in flight finishes; queued ones fail
			case <-ctx.Done():
				l.batchCancel() // the batch in flight and its one-by-one retries give up now
				<-l.batchesDone
				err = fmt.Errorf("close event log: appends still unacknowledged (outcome unknown): %w", ctx.Err())
			}
			l.batchCancel()
		}
		for _, js := range []jetstream.JetStream{l.js, l.shared} {
			if js == nil {
				continue
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				err = fmt.Errorf("close event log: %d publishes still unacknowledged: %w", js.PublishAsyncPending(), ctx.Err())
			}
		}
		l.shutdownTransport()
	})
	return err
}

func (l *Log) shutdownTransport() {
	if l.nc != nil {
		l.nc.Close()
	}
	if l.emb != nil {
		l.emb.shutdown()
	}
}

// Ready reports whether the log can take appends now: the connection is up and
// the stream answers.
func (l *Log) Ready(ctx context.Context) error {
	select {
	case <-l.closed:
		return ErrClosed
	default:
	}
	if !l.nc.IsConnected() {
		return fmt.Errorf("NATS connection is %s", l.nc.Status())
	}
	ctx, cancel := withDefaultTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := l.stream.Info(ctx); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return nil
}

// LastSeq returns the stream's last sequence (0 when empty).
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("event stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Identity names this log's stream instance: its name and creation time. A
// stream deleted and created again (a wiped or replaced data dir) has another
// identity even where its sequences look alike, so caches built from the old
// one (snapshots, projections) can tell.
func (l *Log) Identity(ctx context.Context) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("event stream info: %w", err)
	}
	return info.Config.Name + "@" + strconv.FormatInt(info.Created.UnixNano(), 10), nil
}

// LastSubjectSeq returns the sequence of the last event on subject, 0 if none:
// the expected sequence for the subject's next append.
func (l *Log) LastSubjectSeq(ctx context.Context, subject string) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := l.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last event of %s: %w", subject, err)
	}
	return msg.Sequence, nil
}

// Conn returns the underlying NATS connection, for components (projections,
// queues) that build their own JetStream resources next to the log.
func (l *Log) Conn() *nats.Conn { return l.nc }

// JetStream returns a JetStream context on the log's connection. It is not the
// one appends use, so its async publishes do not touch the append slots.
func (l *Log) JetStream() jetstream.JetStream { return l.shared }

// Embedded reports whether the log runs its own in-process server.
func (l *Log) Embedded() bool { return l.emb != nil }

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func displayURL(url string) string {
	if url == "" {
		return "(embedded)"
	}
	return url
}

// Subjects returns the subjects matching filter (see TypeFilter) with their
// message counts: the actors the log knows of.
func (l *Log) Subjects(ctx context.Context, filter string) (map[string]uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := l.stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("list subjects %s: %w", filter, err)
	}
	return info.State.Subjects, nil
}

// LastEvent returns the last event of subject, or nil if it has none.
func (l *Log) LastEvent(ctx context.Context, subject string) (*Event, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := l.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last event of %s: %w", subject, err)
	}
	ev := &Event{Seq: msg.Sequence, Subject: msg.Subject, Stored: msg.Time}
	if err := UnmarshalEvent(msg.Data, ev); err != nil {
		return nil, fmt.Errorf("event %d on %s: %w", msg.Sequence, subject, err)
	}
	return ev, nil
}
