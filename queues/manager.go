package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// Options configures a Manager. A nil *Options means defaults.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// CacheTTL bounds how long a queue's configuration read from its stream
	// is reused before it is read again (a change made through this Manager
	// takes effect at once). Defaults to 1s.
	CacheTTL time.Duration
	// NodeID names this node in dispatcher leases; give the same ID across
	// restarts (the node derives it from its data directory) so a restarted
	// node takes its queues back at once. Defaults to a random ID.
	NodeID string
	// ReadyWindow bounds each queue's messages ready and not yet claimed
	// (at most MaxReadyWindow). Defaults to DefaultReadyWindow.
	ReadyWindow int
	// LeaseTTL is how long a dispatcher's lease outlives its node. Defaults
	// to DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// Manager creates, changes and serves the queues of one JetStream. It is
// safe for concurrent use and never closes the connection it is given.
type Manager struct {
	startstop.BaseStartStop

	js  jetstream.JetStream
	lg  *slog.Logger
	ttl time.Duration

	mu           sync.Mutex
	cache        map[string]*queue
	historyReady bool
	// admin serialises this Manager's changes to a queue's streams and
	// consumers: nats-server v2.15.2 races (under -race) when a stream's
	// configuration is updated while a consumer is created on it.
	admin       sync.Mutex
	nodeID      string
	window      int
	leaseTTL    time.Duration
	kv          jetstream.KeyValue
	changed     chan struct{}
	dispatchers map[string]*dispatcher // the queues this node dispatches
	leases      map[string]*time.Timer // receipt subject -> lease kept (lease.go)
}

// queue is what the Manager knows of one queue.
type queue struct {
	name   string
	cfg    Config
	stream jetstream.Stream   // what waits: enqueued, not yet ready (the inbox)
	ready  jetstream.Stream   // made ready by the dispatcher, and in flight
	cons   jetstream.Consumer // the workers' consumer on ready
	dead   jetstream.Stream
	loaded time.Time
}

// New returns a Manager over js, typically eventlog.Log.JetStream().
func New(js jetstream.JetStream, opts *Options) (*Manager, error) {
	if js == nil {
		return nil, errors.New("queues: a JetStream is required")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = time.Second
	}
	if o.NodeID == "" {
		o.NodeID = randomNodeID()
	}
	if o.ReadyWindow <= 0 {
		o.ReadyWindow = DefaultReadyWindow
	}
	o.ReadyWindow = min(o.ReadyWindow, MaxReadyWindow)
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	return &Manager{js: js, lg: o.Logger.With("component", "queues"), ttl: o.CacheTTL, cache: map[string]*queue{},
		nodeID: o.NodeID, window: o.ReadyWindow, leaseTTL: o.LeaseTTL, changed: make(chan struct{}, 1),
		dispatchers: map[string]*dispatcher{}}, nil
}

// Info is a queue's configuration and its counts.
type Info struct {
	Name   string
	Config Config
	Stats  Stats
}

// Stats are a queue's counts as of the read.
type Stats struct {
	// Depth is the messages waiting to be claimed (including those waiting
	// for a redelivery).
	Depth int64
	// InFlight is the messages claimed and not yet settled.
	InFlight int64
	// DeadLetters is the messages in the queue's dead letters.
	DeadLetters int64
	// OldestAgeMs is the age of the oldest message in the queue (0: empty).
	OldestAgeMs int64
	// Delayed counts the waiting messages held back by delayMs or
	// deliverAt (part of Depth).
	Delayed int64
	// EnqueuedPerSec and AckedPerSec are the rates over about the last
	// minute, across every node.
	EnqueuedPerSec float64
	AckedPerSec    float64
}

// Put creates the queue, or replaces its whole configuration (fields left
// zero take their defaults), and reports whether it created it. Changes
// take effect at once.
func (m *Manager) Put(ctx context.Context, name string, cfg Config) (Config, bool, error) {
	if err := ValidateName(name); err != nil {
		return Config{}, false, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return Config{}, false, err
	}
	old, err := m.load(ctx, name, true)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := m.apply(ctx, name, cfg); err != nil {
			return Config{}, false, err
		}
		m.record(ctx, name, ChangeCreated, Config{}, cfg)
		return cfg, true, nil
	case err != nil:
		return Config{}, false, err
	}
	if err := m.apply(ctx, name, cfg); err != nil {
		return Config{}, false, err
	}
	if !reflect.DeepEqual(old.cfg, cfg) {
		m.record(ctx, name, ChangeReplaced, old.cfg, cfg)
	}
	return cfg, false, nil
}

// Update changes the fields the patch sets and keeps the others; the change
// takes effect at once.
func (m *Manager) Update(ctx context.Context, name string, p Patch) (Config, error) {
	q, err := m.load(ctx, name, true)
	if err != nil {
		return Config{}, err
	}
	cfg := p.Apply(q.cfg).WithDefaults()
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	if err := m.apply(ctx, name, cfg); err != nil {
		return Config{}, err
	}
	if !reflect.DeepEqual(q.cfg, cfg) {
		m.record(ctx, name, ChangeUpdated, q.cfg, cfg)
	}
	return cfg, nil
}

// apply writes a configuration to the queue's streams and consumer.
func (m *Manager) apply(ctx context.Context, name string, cfg Config) error {
	m.admin.Lock()
	defer m.admin.Unlock()
	sc, err := streamConfig(name, cfg)
	if err != nil {
		return err
	}
	m.forget(name)
	// Create or update either way: a queue whose creation was interrupted
	// (its stream made, its consumer not) is completed by the next PUT.
	stream, err := m.js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return fmt.Errorf("queue %s: write stream: %w", name, m.invalid(err))
	}
	if _, err = m.js.CreateOrUpdateStream(ctx, deadConfig(name, cfg)); err != nil {
		return fmt.Errorf("queue %s: write dead-letter stream: %w", name, m.invalid(err))
	}
	ready, err := m.js.CreateOrUpdateStream(ctx, readyConfig(name, cfg, m.window))
	if err != nil {
		return fmt.Errorf("queue %s: write ready stream: %w", name, m.invalid(err))
	}
	if _, err = ready.CreateOrUpdateConsumer(ctx, consumerConfig(name, cfg)); err != nil {
		return fmt.Errorf("queue %s: write consumer: %w", name, m.invalid(err))
	}
	if _, err = stream.Consumer(ctx, dispatcherName); errors.Is(err, jetstream.ErrConsumerNotFound) {
		_, err = stream.CreateConsumer(ctx, dispatcherConfig(name))
	}
	if err != nil {
		return fmt.Errorf("queue %s: write dispatcher consumer: %w", name, err)
	}
	m.queuesChanged()
	return nil
}

// invalid marks a configuration JetStream refused (a bad value) as
// ErrInvalid; other errors pass through.
func (m *Manager) invalid(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 400 {
		return fmt.Errorf("%w: %s", ErrInvalid, apiErr.Description)
	}
	return err
}

// Get returns a queue's configuration and counts.
func (m *Manager) Get(ctx context.Context, name string) (Info, error) {
	q, err := m.load(ctx, name, true)
	if err != nil {
		return Info{}, err
	}
	return m.info(ctx, q)
}

func (m *Manager) info(ctx context.Context, q *queue) (Info, error) {
	si, err := q.stream.Info(ctx)
	if err != nil {
		return Info{}, m.notFound(q.name, err)
	}
	ri, err := q.ready.Info(ctx)
	if err != nil {
		return Info{}, m.notFound(q.name, err)
	}
	ci, err := q.cons.Info(ctx)
	if err != nil {
		return Info{}, m.notFound(q.name, err)
	}
	di, err := q.dead.Info(ctx)
	if err != nil {
		return Info{}, m.notFound(q.name, err)
	}
	st := Stats{InFlight: int64(ci.NumAckPending), DeadLetters: int64(di.State.Msgs)}
	st.Depth = max(int64(si.State.Msgs)-st.InFlight, 0)
	var oldest time.Time
	for _, s := range []jetstream.StreamState{si.State, ri.State} {
		if s.Msgs > 0 && !s.FirstTime.IsZero() && (oldest.IsZero() || s.FirstTime.Before(oldest)) {
			oldest = s.FirstTime
		}
	}
	if !oldest.IsZero() {
		st.OldestAgeMs = max(time.Since(oldest).Milliseconds(), 0)
	}
	if d, ok := m.dispatchStats(ctx, q.name); ok {
		st.Delayed, st.EnqueuedPerSec, st.AckedPerSec = d.Delayed, d.EnqueuedPerSec, d.AckedPerSec
	}
	return Info{Name: q.name, Config: q.cfg, Stats: st}, nil
}

// List returns every queue, by name.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	qs, err := m.names(ctx)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	slices.Sort(qs)
	out := make([]Info, 0, len(qs))
	for _, name := range qs {
		info, err := m.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Delete deletes a queue, its messages and its dead letters.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	q, err := m.load(ctx, name, true)
	if err != nil {
		return err
	}
	m.forget(name)
	err = m.js.DeleteStream(ctx, streamName(name))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	for _, s := range []string{readyStream(name), deadStream(name)} {
		if err := m.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete queue %s (%s): %w", name, s, err)
		}
	}
	m.queuesChanged()
	m.record(ctx, name, ChangeDeleted, q.cfg, Config{})
	return nil
}

// load returns a queue, from the cache unless it is older than the TTL or
// fresh is set.
func (m *Manager) load(ctx context.Context, name string, fresh bool) (*queue, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	q := m.cache[name]
	m.mu.Unlock()
	if q != nil && !fresh && time.Since(q.loaded) < m.ttl {
		return q, nil
	}
	stream, err := m.js.Stream(ctx, streamName(name))
	if err != nil {
		return nil, m.notFound(name, err)
	}
	q = &queue{name: name, stream: stream, loaded: time.Now()}
	raw, ok := stream.CachedInfo().Config.Metadata[metadataConfig]
	if !ok {
		return nil, fmt.Errorf("queue %s: stream %s has no queue configuration", name, streamName(name))
	}
	if err := json.Unmarshal([]byte(raw), &q.cfg); err != nil {
		return nil, fmt.Errorf("queue %s: decode configuration: %w", name, err)
	}
	if q.ready, err = m.js.Stream(ctx, readyStream(name)); err != nil {
		return nil, m.notFound(name, err)
	}
	if q.cons, err = q.ready.Consumer(ctx, consumerName); err != nil {
		return nil, m.notFound(name, err)
	}
	if q.dead, err = m.js.Stream(ctx, deadStream(name)); err != nil {
		return nil, m.notFound(name, err)
	}
	m.mu.Lock()
	m.cache[name] = q
	m.mu.Unlock()
	return q, nil
}

// forget drops a queue from the cache.
func (m *Manager) forget(name string) {
	m.mu.Lock()
	delete(m.cache, name)
	m.mu.Unlock()
}

// notFound names a missing stream or consumer as ErrNotFound.
func (m *Manager) notFound(name string, err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		m.forget(name)
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return fmt.Errorf("queue %s: %w", name, err)
}

// Purge removes every message of a queue that is waiting, ready or in flight
// (dead letters stay: see PurgeDeadLetters) and returns how many. A message
// being made ready at that moment can survive it.
func (m *Manager) Purge(ctx context.Context, name string) (uint64, error) {
	q, err := m.load(ctx, name, false)
	if err != nil {
		return 0, err
	}
	// The inbox holds every message until it is settled: its count is the
	// queue's.
	si, err := q.stream.Info(ctx)
	if err != nil {
		return 0, m.notFound(name, err)
	}
	for _, s := range []jetstream.Stream{q.stream, q.ready} {
		if err := s.Purge(ctx); err != nil {
			return 0, m.notFound(name, err)
		}
	}
	n := si.State.Msgs
	_ = m.js.Conn().Publish(ctlSubject(name), []byte(ctlRestart))
	return n, nil
}
