package projections

import (
	"sync"
	"time"
)

// State is what a projection is doing.
type State string

// The states of a projection.
const (
	// StateStopped: no worker runs (the runner is stopped).
	StateStopped State = "stopped"
	// StateCatchingUp: scanning the log from the checkpoint to the head.
	StateCatchingUp State = "catching_up"
	// StateRebuilding: catching up after Rebuild cleared the projection.
	StateRebuilding State = "rebuilding"
	// StateLive: caught up and following the log.
	StateLive State = "live"
	// StateRetrying: reading the log failed; the worker retries with backoff
	// from its checkpoint (Error says why).
	StateRetrying State = "retrying"
	// StateFailed: the fold failed on the event at FailedSeq (or a batch
	// could not be committed); the projection stays here until Resume,
	// Rebuild or the runner's next Start.
	StateFailed State = "failed"
)

// Status is a projection's progress, as the API shows it.
type Status struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Checkpoint is the last stream sequence committed (0: none yet).
	Checkpoint uint64 `json:"checkpoint"`
	// Head is the log's last sequence as last seen by the runner.
	Head uint64 `json:"head"`
	// Lag is Head minus Checkpoint.
	Lag uint64 `json:"lag"`
	// Rows is the number of rows the projection holds.
	Rows int64 `json:"rows"`
	// Applied counts the events folded (those the filter selects) since the
	// runner was opened.
	Applied uint64 `json:"applied"`
	// FailedSeq is the sequence of the event the projection failed on, when
	// State is failed because of a fold (0 for a commit or log failure).
	FailedSeq uint64 `json:"failedSeq,omitempty"`
	// Error is the failure (State failed) or the last read error (retrying).
	Error string `json:"error,omitempty"`
	// FailedAt is when the projection failed.
	FailedAt time.Time `json:"failedAt,omitzero"`
}

// proj is a registered projection and its worker's state.
type proj struct {
	r     *Runner
	def   Projection
	name  string
	match matcher
	m     *projMetrics
	tx    *RawTx // used by one worker at a time

	// ctl serializes starting and stopping the worker (Start, Stop,
	// Rebuild, Resume). It is only ever held briefly.
	ctl sync.Mutex
	w   *worker // guarded by ctl

	mu         sync.Mutex // guards the fields below
	state      State
	rebuilding bool // until the worker catches up after a Rebuild
	meta       meta // as committed
	head       uint64
	applied    uint64
	failedSeq  uint64
	errMsg     string
	failedAt   time.Time
	changed    chan struct{} // closed and replaced on every change
}

func (p *proj) status() Status {
	st, _ := p.watch()
	return st
}

// watch returns the status and a channel closed at its next change.
func (p *proj) watch() (Status, <-chan struct{}) {
	head := p.r.head.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	head = max(head, p.head)
	st := Status{
		Name: p.name, State: p.state, Checkpoint: p.meta.checkpoint, Head: head, Rows: p.meta.rows,
		Applied: p.applied, FailedSeq: p.failedSeq, Error: p.errMsg, FailedAt: p.failedAt,
	}
	if head > st.Checkpoint {
		st.Lag = head - st.Checkpoint
	}
	return st, p.changed
}

// update changes the state under p.mu and wakes watchers.
func (p *proj) update(f func()) {
	p.mu.Lock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *proj) clearFailure() {
	p.update(func() {
		if p.state == StateFailed {
			p.state = StateStopped
		}
		p.failedSeq, p.errMsg, p.failedAt = 0, "", time.Time{}
	})
}
