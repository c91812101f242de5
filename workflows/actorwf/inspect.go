package actorwf

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// inspector is the actors.RunInspector of a workflow: its journal in the
// shape of RivetKit's inspector (workflow-history-json.ts), and the reset
// of a replay from the beginning.
type inspector struct{}

// History is the journal as RivetKit's inspector shows a workflow history:
// the names its paths use, its entries (a location of name indexes and
// loop iteration markers, and a kind), and each entry's metadata.
type History struct {
	NameRegistry  []string                 `json:"nameRegistry"`
	Entries       []HistoryEntry           `json:"entries"`
	EntryMetadata map[string]EntryMetadata `json:"entryMetadata"`
	// Outcome is "completed" or "failed" once the workflow has returned,
	// with Error; empty while it runs.
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
}

// HistoryEntry is one journal entry.
type HistoryEntry struct {
	ID       string   `json:"id"`
	Location []Tagged `json:"location"`
	Kind     Tagged   `json:"kind"`
	Path     string   `json:"path"`
	raw      workflows.Entry
}

// Tagged is a tagged union member, as RivetKit's JSON writes them.
type Tagged struct {
	Tag string `json:"tag"`
	Val any    `json:"val"`
}

// EntryMetadata is an entry's status and times (milliseconds since the
// epoch).
type EntryMetadata struct {
	Status              string  `json:"status"`
	Error               *string `json:"error"`
	Attempts            int     `json:"attempts"`
	LastAttemptAt       int64   `json:"lastAttemptAt"`
	CreatedAt           int64   `json:"createdAt"`
	CompletedAt         *int64  `json:"completedAt"`
	RollbackCompletedAt *int64  `json:"rollbackCompletedAt"`
	RollbackError       *string `json:"rollbackError"`
}

func (inspector) History(kv func(ns string) *actors.KV) (any, error) {
	h := History{NameRegistry: []string{}, Entries: []HistoryEntry{}, EntryMetadata: map[string]EntryMetadata{}}
	store := kv(ns)
	if b, ok := store.Get(outcomeKey); ok {
		var o outcome
		if json.Unmarshal(b, &o) == nil {
			h.Outcome, h.Error = o.Status, o.Error
		}
	}
	index := map[string]int{}
	name := func(n string) int {
		i, ok := index[n]
		if !ok {
			i = len(h.NameRegistry)
			index[n] = i
			h.NameRegistry = append(h.NameRegistry, n)
		}
		return i
	}
	now := time.Now()
	for _, e := range store.List(journalPrefix) {
		rec, err := workflows.DecodeRecord(0, e.Key, e.Value)
		if err != nil {
			continue // a damaged entry: the workflow itself reports it
		}
		var loc []Tagged
		for _, seg := range rec.Path.Segments() {
			base, iter, isLoop := strings.Cut(seg, "#")
			if isLoop {
				n, _ := strconv.Atoi(iter)
				loc = append(loc, Tagged{Tag: "WorkflowLoopIterationMarker", Val: map[string]int{"loop": name(base), "iteration": n}})
				continue
			}
			loc = append(loc, Tagged{Tag: "WorkflowNameIndex", Val: name(seg)})
		}
		id := rec.Path.String()
		h.Entries = append(h.Entries, HistoryEntry{ID: id, Path: id, Location: loc, Kind: entryKind(rec), raw: rec.Entry})
		h.EntryMetadata[id] = metadata(rec.Entry, now)
	}
	slices.SortStableFunc(h.Entries, func(a, b HistoryEntry) int { return a.raw.At.Compare(b.raw.At) })
	return h, nil
}

// entryKind is an entry's kind member.
func entryKind(rec workflows.Record) Tagged {
	e := rec.Entry
	var out any
	if len(e.Output) > 0 {
		out = json.RawMessage(e.Output)
	}
	errText := func() *string {
		if e.Error == nil {
			return nil
		}
		return &e.Error.Message
	}
	switch e.Kind {
	case workflows.KindLoop:
		var x loopExtra
		_ = json.Unmarshal(e.Extra, &x)
		var st any
		if len(x.State) > 0 {
			st = x.State
		}
		return Tagged{Tag: "WorkflowLoopEntry", Val: map[string]any{"state": st, "iteration": x.I, "output": out}}
	case workflows.KindSleep:
		state := "pending"
		if e.Status == workflows.EntryCompleted || !e.NextAt.After(time.Now()) {
			state = "completed"
		}
		return Tagged{Tag: "WorkflowSleepEntry", Val: map[string]any{"deadline": e.NextAt.UnixMilli(), "state": state}}
	case workflows.KindMessage:
		return Tagged{Tag: "WorkflowMessageEntry", Val: map[string]any{"name": rec.Path.Base(), "messageData": out}}
	case workflows.KindJoin, workflows.KindRace:
		tag := "WorkflowJoinEntry"
		val := map[string]any{"branches": map[string]any{}}
		if e.Kind == workflows.KindRace {
			tag = "WorkflowRaceEntry"
			var winner string
			_ = json.Unmarshal(e.Extra, &winner)
			val["winner"] = winner
		}
		return Tagged{Tag: tag, Val: val}
	default:
		return Tagged{Tag: "WorkflowStepEntry", Val: map[string]any{"output": out, "error": errText()}}
	}
}

// metadata is an entry's metadata.
func metadata(e workflows.Entry, now time.Time) EntryMetadata {
	at := e.At.UnixMilli()
	m := EntryMetadata{Status: string(e.Status), Attempts: e.Attempts, LastAttemptAt: at, CreatedAt: at}
	if e.Error != nil {
		m.Error = &e.Error.Message
	}
	done := e.Status == workflows.EntryCompleted || e.Status == workflows.EntryFailed ||
		(e.Status == workflows.EntrySleeping && !e.NextAt.After(now))
	if done {
		m.CompletedAt = &at
		if e.Status == workflows.EntrySleeping {
			m.Status = string(workflows.EntryCompleted)
		}
	}
	return m
}

// Finished reports a recorded outcome (actors.RunFinisher).
func (inspector) Finished(kv func(ns string) *actors.KV) bool {
	_, ok := kv(ns).Get(outcomeKey)
	return ok
}

func (inspector) Reset(kv func(ns string) *actors.KV) {
	store := kv(ns)
	for _, e := range store.List("") {
		store.Delete(e.Key)
	}
}
