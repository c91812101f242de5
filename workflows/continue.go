package workflows

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rivet-flow/rivet-flow/actors"
)

// errContinued unwinds a runner whose run continued as new: the new epoch
// is committed and its runner started; the old one exits without touching
// the actor again.
var errContinued = errors.New("workflows: run continued as new")

// compactKeys bounds the old-epoch journal keys one Do deletes (design
// §4.2), so that no event carries an unbounded list of deletes.
const compactKeys = 256

// ContinueAsNew ends this execution of the run and starts the workflow
// function again from the top with input (design §4.2; Temporal's
// continue-as-new): one commit moves the run to its next epoch with input
// as its input and an empty journal, and starts the new epoch's runner;
// the old epoch's journal is deleted right after, in small batches. The
// run keeps its ID, inbox (signals not yet taken) and step count. Use it
// to bound the history of a run that never ends (a loop forever, an
// entity workflow). ContinueAsNew returns an error that the workflow
// function must return: nothing after it runs in this epoch.
func (w *W) ContinueAsNew(input any) error {
	if err := w.failed(); err != nil {
		return err
	}
	in, err := json.Marshal(input)
	if err != nil {
		return w.fail(fmt.Errorf("workflow %s run %s: ContinueAsNew: input does not encode as JSON: %w", w.c.name, w.runID, err))
	}
	if len(in) > MaxEntryBytes {
		return w.fail(&SizeError{Err: ErrEntryTooLarge, Path: inKey(w.epoch + 1), Size: len(in), Limit: MaxEntryBytes})
	}
	if w.ro != nil {
		// Replay only: the history shows whether the run continued here.
		w.ro.continuedAs(in)
		return w.fail(errContinued)
	}
	old := w.epoch
	more := false
	err = do(w.ctx, w.h, wfArgs{Op: "continue", Status: StatusRunning}, func(ac *actors.Context[RunState]) error {
		st := ac.State
		if st.Status != StatusRunning || st.Epoch != old {
			return errStop
		}
		// Every $timer alarm armed now is the old epoch's (a lost race's
		// sleep): left, it would fire on a same-named entry of the new one.
		for _, a := range ac.Schedule().List() {
			if a.Action == timerAction {
				ac.Schedule().Cancel(a.ID)
			}
		}
		ac.KV().Put(inKey(old+1), in)
		ac.KV().Delete(inKey(old))
		// A crash between an earlier continue and its compaction leaves
		// the epoch before behind: this commit deletes it too.
		n := 0
		if old > 0 {
			n = deleteKeys(ac, JournalPrefix(old-1), compactKeys)
		}
		more = deleteKeys(ac, JournalPrefix(old), compactKeys-n) == compactKeys-n
		st.Epoch, st.Current, st.UpdatedAt = old+1, "", ac.Now()
		ac.Broadcast("wf.progress", map[string]any{"status": st.Status, "epoch": st.Epoch})
		vars(ac).active = false
		w.c.startIfIdle(ac)
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return w.fail(errStop)
		}
		return w.fail(fmt.Errorf("workflow %s run %s: continue as new: %w", w.c.name, w.runID, err))
	}
	// The new epoch's runner is running: the old journal is no one's. Its
	// compaction is best effort; what a crash leaves is deleted at the next
	// continue.
	for more && w.ctx.Err() == nil {
		err := do(w.ctx, w.h, wfArgs{Op: "compact", Status: StatusRunning}, func(ac *actors.Context[RunState]) error {
			more = deleteKeys(ac, JournalPrefix(old), compactKeys) == compactKeys
			return nil
		})
		if err != nil {
			break
		}
	}
	return w.fail(errContinued)
}

// deleteKeys deletes at most n KV keys under prefix and returns how many.
func deleteKeys(ac *actors.Context[RunState], prefix string, n int) int {
	deleted := 0
	if n <= 0 {
		return 0
	}
	for _, kv := range ac.KV().List(prefix) {
		if deleted == n {
			break
		}
		ac.KV().Delete(kv.Key)
		deleted++
	}
	return deleted
}
