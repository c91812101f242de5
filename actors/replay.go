package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
)

// Replayer re-runs this build's actor code over recorded histories and
// reports the first place where the code now does something else than the
// history recorded: the proof that new code still handles real, recorded
// histories the same way before it deploys. It feeds the code each event's
// recorded clock, random seed, caller and the recorded results of its calls
// to other actors (no call is made), and compares the state change, the
// output, the broadcasts, the KV writes, the effects (sends, enqueues,
// alarms, crons) and the calls it makes with the recorded ones. It needs no
// log, no runtime and no network.
type Replayer struct {
	reg    *Registry
	logger *slog.Logger
	opts   RuntimeOptions // the limits the code runs under (WithOptions)
}

// NewReplayer returns a replayer of the types in reg.
func NewReplayer(reg *Registry) *Replayer {
	return &Replayer{reg: reg, logger: slog.New(slog.DiscardHandler)}
}

// WithLogger returns rp with the logger actor code sees (Context.Log)
// during a replay; the default discards.
func (rp *Replayer) WithLogger(lg *slog.Logger) *Replayer {
	c := *rp
	c.logger = lg
	return &c
}

// WithOptions returns rp replaying under the limits of opts (MaxStateBytes,
// MaxArgsBytes, MaxAlarms, ... and the types' own options over them), those
// of the runtime that recorded the histories; the default is
// RuntimeOptions' defaults. Only the limits are used: a replay runs no
// runtime.
func (rp *Replayer) WithOptions(opts RuntimeOptions) *Replayer {
	c := *rp
	c.opts = opts
	return &c
}

// ReplayResult is the outcome of one history's replay.
type ReplayResult struct {
	// ActorID, Type and Key name the replayed actor.
	ActorID string
	Type    string
	Key     []string
	// Events is the number of events replayed (up to and including the
	// divergence, if any).
	Events int
	// Rerun is how many of them re-ran the actor's code; the others were
	// folded as recorded (connection hooks, raw requests, the in-process
	// code's Do events a type's HistoryCheck covers instead).
	Rerun int
	// Divergence is the first difference, or nil: the code reproduced the
	// history.
	Divergence *Divergence
}

// OK reports whether the history replayed without divergence.
func (r *ReplayResult) OK() bool { return r != nil && r.Divergence == nil }

// Divergence is where a replay first did something else than its history.
type Divergence struct {
	// Seq is the log sequence of the event that diverged; Action its action
	// (or system event name, "$create", "$wf", ...).
	Seq    uint64
	Action string
	// What differs: "state", "output", "error", "broadcasts", "kv",
	// "effects", "calls", or a HistoryCheck's own word ("workflow").
	What string
	// Message says what happened in a sentence.
	Message string
	// Expected and Actual are what the history recorded and what the code
	// did now, as indented JSON (or text).
	Expected string
	Actual   string
	// Diff is the difference, one line per change ("/count: 5 -> 6").
	Diff string
}

// Error makes a Divergence an error: its first line of the report.
func (d *Divergence) Error() string {
	return fmt.Sprintf("diverged at seq %d (%s): %s", d.Seq, d.Action, d.Message)
}

// Report is the divergence as people read it: the sequence, the action,
// what differs, the diff, and expected vs actual.
func (d *Divergence) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "diverged at seq %d, %s: %s differs\n  %s\n", d.Seq, d.Action, d.What, d.Message)
	if d.Diff != "" {
		b.WriteString("  diff (recorded -> replayed):\n")
		for line := range strings.SplitSeq(strings.TrimRight(d.Diff, "\n"), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	if d.Expected != "" || d.Actual != "" {
		b.WriteString("  recorded:\n" + indent(d.Expected, "    ") + "  replayed:\n" + indent(d.Actual, "    "))
	}
	return b.String()
}

func indent(s, pre string) string {
	if s == "" {
		return pre + "(nothing)\n"
	}
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pre + line + "\n")
	}
	return b.String()
}

// ReplayedActor is what a type's HistoryCheck sees: the recorded history
// and what it folds to.
type ReplayedActor struct {
	ID   string
	Type string
	Key  []string
	// Events is the recorded history, oldest first, with their sequences.
	Events []*eventlog.Event
	// Final is the actor as the history leaves it (folded).
	Final actorstate.Image
	// KVSeq maps each KV key (as a string) to the sequence of the last
	// event that wrote it, to name the event a divergence in it comes from.
	KVSeq map[string]uint64
}

// HistoryCheck checks a whole replayed history of an actor type whose
// events record in-process code a replay cannot re-run one event at a time
// (Do events: a workflow run's journal, which the workflow's check replays
// by re-executing the workflow function over it). It runs after the
// event-by-event replay found no divergence, and returns the first
// divergence, or nil. An error means the history could not be checked.
type HistoryCheck func(ctx context.Context, a *ReplayedActor) (*Divergence, error)

// ErrReplayInput is the error of a history the replayer cannot use: empty,
// of several actors, of an unknown type, out of order, or damaged.
var ErrReplayInput = errors.New("replay: unusable history")

// ReplayHistory replays the recorded history of actor actorID (oldest
// first, from its first event; Seq set on each) with this build's code.
//
// Each event's code runs with the event's recorded time, seed and caller;
// calls to other actors (Context.Client) are answered from the event's
// recorded results and made nowhere; sends, enqueues, alarms and crons are
// only compared as effects. Context.Conn is nil, WaitUntil and KeepAwake
// functions do not run, and Sleep and Destroy requests are ignored (their
// events are in the history). Connection hooks, raw requests and Do events
// cannot be re-run: they are folded as recorded (counted in Events, not in
// Rerun) and a type's HistoryCheck covers them. The wake hooks of an actor
// that woke without changing anything recorded nothing, so they re-run only
// after the create and at each recorded "$wake": Vars live from one to the
// next. A history may hold several generations (destroy, then create); a
// fork's create (ForkAction) copies another actor and is folded. A failed
// fire's action runs again and must fail with the recorded code; its calls
// to other actors were not kept, so they fail in the replay.
//
// A Replayer is safe for concurrent use; the events are only read.
//
// The error is ErrReplayInput for a history that cannot be replayed; a
// divergence is a result, not an error.
func (rp *Replayer) ReplayHistory(ctx context.Context, actorID string, events []*eventlog.Event) (*ReplayResult, error) {
	typ, key, err := ParseID(actorID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReplayInput, err)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events for %s: export the actor's history first", ErrReplayInput, actorID)
	}
	def, ok := rp.reg.types[typ]
	if !ok {
		return nil, fmt.Errorf("%w: actor type %q of %s is not registered in this build (registered: %s)", ErrReplayInput, typ, actorID, strings.Join(rp.reg.Types(), ", "))
	}
	ref := eventlog.ActorRef{Type: typ, Key: key}
	subject, err := ref.Subject()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReplayInput, err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	w := &replaying{rp: rp, ctx: ctx, inst: rp.standIn(def, ref, subject), kvSeq: map[string]uint64{},
		res: &ReplayResult{ActorID: actorID, Type: typ, Key: key}}
	if err := w.walk(events); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	check := rp.reg.checks[typ]
	if w.res.Divergence != nil || check == nil {
		return w.res, nil
	}
	w.inst.image.Settle()
	div, err := check(ctx, &ReplayedActor{ID: actorID, Type: typ, Key: key, Events: events, Final: w.inst.image, KVSeq: w.kvSeq})
	if err != nil {
		return nil, fmt.Errorf("history check of %s: %w", actorID, err)
	}
	w.res.Divergence = div
	return w.res, nil
}

// ReplayExport replays an exported history (history.ReadFile, GET
// /v1/actors/{id}/export): the actor is the events' actorId.
func (rp *Replayer) ReplayExport(ctx context.Context, events []history.ExportEvent) (*ReplayResult, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrReplayInput)
	}
	id := events[0].ActorID
	if id == "" {
		return nil, fmt.Errorf("%w: the export names no actor (actorId); export it again with this version", ErrReplayInput)
	}
	evs := make([]*eventlog.Event, 0, len(events))
	for i := range events {
		if events[i].ActorID != id {
			return nil, fmt.Errorf("%w: events of %s and %s in one history", ErrReplayInput, id, events[i].ActorID)
		}
		ev, err := events[i].LogEvent()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrReplayInput, err)
		}
		evs = append(evs, ev)
	}
	return rp.ReplayHistory(ctx, id, evs)
}

// ReplayHistoryFile replays the exported history in file path
// (`rivet-flow history export ID > path`).
func (rp *Replayer) ReplayHistoryFile(ctx context.Context, path string) (*ReplayResult, error) {
	evs, err := history.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReplayInput, err)
	}
	return rp.ReplayExport(ctx, evs)
}

// SetHistoryCheck makes check part of every replay of actor type typ
// (registered already). The workflows package sets one on each run type.
func (r *Registry) SetHistoryCheck(typ string, check HistoryCheck) error {
	if _, ok := r.types[typ]; !ok {
		return errorf(ErrUnknownType, "unknown actor type %q", typ)
	}
	if r.checks == nil {
		r.checks = map[string]HistoryCheck{}
	}
	r.checks[typ] = check
	return nil
}
