package actors

import (
	"context"
	"fmt"

	"github.com/rivet-flow/rivet-flow/actorstate"
)

// ImageAt returns what the actor was as of log sequence seq (0: before its
// first event), folded from its snapshot when that is not newer than seq, else
// from the start of its history. It runs no user code and does not wake the
// actor. Readers of a history use it to show the state after each event.
func (rt *Runtime) ImageAt(ctx context.Context, id string, seq uint64) (actorstate.Image, error) {
	var im actorstate.Image
	typ, key, err := ParseID(id)
	if err != nil {
		return im, err
	}
	_, _, subject, err := rt.resolve(typ, key)
	if err != nil {
		return im, err
	}
	var from uint64
	if seq > 0 {
		if snap, found, err := rt.snaps.Get(subject); err == nil && found && snap.Seq <= seq {
			if im, err = actorstate.Decode(snap.State); err == nil {
				from = snap.Seq
			} else {
				im = actorstate.Image{}
			}
		}
	}
	for from < seq {
		evs, more, err := rt.log.ReadActorPage(ctx, subject, from, rt.opts.SnapshotEvery+1)
		if err != nil {
			return im, fmt.Errorf("read %s: %w", id, err)
		}
		for _, ev := range evs {
			if ev.Seq > seq {
				return im, nil
			}
			if err := im.Apply(ev); err != nil {
				return im, fmt.Errorf("fold %s: %w", id, err)
			}
			from = ev.Seq
		}
		if !more || len(evs) == 0 {
			break
		}
	}
	return im, nil
}
