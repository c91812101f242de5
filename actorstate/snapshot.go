package actorstate

import "github.com/rivet-flow/rivet-flow/eventlog"

// Snapshot is one actor's Image, encoded, as of a log sequence: the cached
// starting point of a wake. Snapshots are a cache; the log is the truth.
type Snapshot struct {
	Actor       string // opaque actor identity (the actor's log subject); non-empty
	Seq         uint64 // stream sequence of the last event folded into State; never 0
	CodeVersion string // version of the code that produced State
	State       []byte // an encoded Image (Image.Encode)
}

// Fold applies one event to an actor's snapshot: the single definition of a
// snapshot, shared by the actor runtime and the rebuild scan so that both
// produce the same bytes. A tombstone leaves a snapshot whose image does not
// exist, so a later wake needs no history read.
func Fold(snap Snapshot, ev *eventlog.Event) (Snapshot, error) {
	im, err := Decode(snap.State)
	if err != nil {
		return snap, err
	}
	if err := im.Apply(ev); err != nil {
		return snap, err
	}
	return Snapshot{Actor: ev.Subject, Seq: ev.Seq, CodeVersion: ev.CodeVersion, State: im.Encode()}, nil
}

// CurrentState returns the state as of the last event applied, encoded,
// without settling: a reader that shows the state after each event of a
// history keeps folding in memory instead of decoding again per event.
func (im *Image) CurrentState() []byte {
	if im.doc != nil {
		return im.doc.Encode()
	}
	return im.State
}
