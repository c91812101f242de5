package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/clock"
)

// ErrInvalid reports invalid Options.
var ErrInvalid = errors.New("invalid scheduler options")

// Options configures a Scheduler. A nil *Options means all defaults.
type Options struct {
	// Clock tells the time and runs the one timer the scheduler arms (for the
	// earliest pending alarm) and its retry waits. Defaults to the runtime's
	// (actors.Runtime.Clock), so that fires and actions agree on the time.
	Clock clock.Clock
	// MaxConcurrentFires bounds the fires in flight (each is an action on
	// its actor, waking it if it sleeps). Defaults to 256.
	MaxConcurrentFires int
	// RetryBackoff is the first wait before a fire that failed (the runtime
	// stopping, a conflict, a timeout) is tried again; it doubles up to
	// MaxRetryBackoff. The alarm stays pending meanwhile and is fired by no
	// one else on this node. Defaults to 100ms.
	RetryBackoff time.Duration
	// MaxRetryBackoff caps RetryBackoff. Defaults to 10s.
	MaxRetryBackoff time.Duration
	// Logger receives failed fires and index read errors. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Registerer, if set, gets the scheduler's metrics
	// (rivetflow_scheduler_*); Close unregisters them. Defaults to nil: no
	// metrics.
	Registerer prometheus.Registerer

	hooks *testHooks // nil outside tests
}

// testHooks let internal tests watch the scheduler without sleeping.
type testHooks struct {
	// armed is called with the due time the one timer is armed for (zero:
	// none armed) each time the loop has read the index.
	armed func(at time.Time)
	// finished is called with each fire's outcome.
	finished func(p Pending, result string)
	// retrying is called when an attempt to fire failed, once the timer of
	// the wait before the next one is armed.
	retrying func(p Pending, err error)
}

// DefaultMaxConcurrentFires is Options.MaxConcurrentFires's default.
const DefaultMaxConcurrentFires = 256

const (
	defaultRetryBackoff    = 100 * time.Millisecond
	defaultMaxRetryBackoff = 10 * time.Second
)

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.MaxConcurrentFires < 0:
		return r, fmt.Errorf("%w: MaxConcurrentFires %d < 0", ErrInvalid, r.MaxConcurrentFires)
	case r.RetryBackoff < 0 || r.MaxRetryBackoff < 0:
		return r, fmt.Errorf("%w: negative backoff", ErrInvalid)
	}
	if r.MaxConcurrentFires == 0 {
		r.MaxConcurrentFires = DefaultMaxConcurrentFires
	}
	if r.RetryBackoff == 0 {
		r.RetryBackoff = defaultRetryBackoff
	}
	if r.MaxRetryBackoff == 0 {
		r.MaxRetryBackoff = defaultMaxRetryBackoff
	}
	r.MaxRetryBackoff = max(r.MaxRetryBackoff, r.RetryBackoff)
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.hooks == nil {
		r.hooks = &testHooks{}
	}
	return r, nil
}
