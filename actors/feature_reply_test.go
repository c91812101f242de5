package actors_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// replyRecord is what the reply action of the ftrsender type keeps: one per
// reply it applied.
type replyRecord struct {
	Tag     string         `json:"tag"`
	Caller  string         `json:"caller"`
	Outcome actors.Outcome `json:"outcome"`
}

// replyState is the sender's state.
type replyState struct {
	Replies []replyRecord `json:"replies"`
}

// replySignals maps a reply tag to a channel that gets the reply once its
// event is appended (WaitUntil), so tests wait on it instead of polling.
var replySignals sync.Map // tag -> chan replyRecord

func replySignal(tag string) chan replyRecord {
	ch, _ := replySignals.LoadOrStore(tag, make(chan replyRecord, 16))
	return ch.(chan replyRecord)
}

// replyFailOnce makes the reply action fail with a plain (internal) error
// while it holds a tag: a transient failure of the reply.
var replyFailOnce sync.Map // tag -> struct{}

// replyTypes are a sender that sends with replies and a receiver whose
// flaky action fails with a user error until its count reaches 1 (each
// failure leaves nothing; setText moves it on).
func replyTypes() (*actors.Type[replyState], *actors.Type[ftState]) {
	sender := actors.NewType("ftrsender", actors.Options[replyState]{State: replyState{Replies: []replyRecord{}}}).
		Action("fire", actors.Act2(func(c *actors.Context[replyState], target string, call []string) (int, error) {
			// call is [action, tag, arg...]: the arguments are strings or,
			// for inc, the number 1.
			var args []any
			for _, a := range call[2:] {
				args = append(args, a)
			}
			if call[0] == "inc" {
				args = []any{1}
			}
			return 0, c.SendReply(target, call[0], args, "done", call[1])
		})).
		Action("trySendReply", actors.Act2(func(c *actors.Context[replyState], target, replyAction string) (string, error) {
			err := c.SendReply(target, "inc", []any{1}, replyAction, "t")
			var re *actors.Error
			if errors.As(err, &re) {
				return re.Code, nil
			}
			return "", err
		})).
		Action("done", actors.Act2(func(c *actors.Context[replyState], tag string, o actors.Outcome) (int, error) {
			if _, fail := replyFailOnce.LoadAndDelete(tag); fail {
				return 0, errors.New("the reply's store is down")
			}
			rec := replyRecord{Tag: tag, Caller: c.Caller(), Outcome: o}
			c.State.Replies = append(c.State.Replies, rec)
			c.WaitUntil(func(_ context.Context) { replySignal(tag) <- rec })
			return len(c.State.Replies), nil
		})).
		Action("replies", actors.Act0(func(c *actors.Context[replyState]) ([]replyRecord, error) {
			return c.State.Replies, nil
		}))
	recv := ftType("ftrrecv", actors.Options[ftState]{}).
		Action("flaky", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			if c.State.Text == "" {
				return "", actors.NewUserError("not_yet", "try later", nil)
			}
			return "ok:" + c.State.Text, nil
		}))
	return sender, recv
}

// replyEvents returns the sender's events that applied the reply to the
// send with effectID.
func replyEvents(t testing.TB, b *bundle, id, effectID string) []*eventlog.Event {
	t.Helper()
	var out []*eventlog.Event
	for _, ev := range ftEvents(t, b, id) {
		if ev.CallID == actors.ReplyCallID(effectID) {
			out = append(out, ev)
		}
	}
	return out
}

// lastSend returns the delivery of the send the sender's last fire records
// (its reply may be in the log after it already).
func lastSend(t testing.TB, b *bundle, id string) actors.Delivery {
	t.Helper()
	evs := ftEvents(t, b, id)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action != "fire" {
			continue
		}
		ds := actors.Sends(evs[i])
		if len(ds) != 1 || ds[0].Reply == nil {
			t.Fatalf("fire event %d of %s records sends %+v, want one with a reply", evs[i].Seq, id, ds)
		}
		return ds[0]
	}
	t.Fatalf("%s has no fire event", id)
	return actors.Delivery{}
}

func TestFeatureReplyCarriesTheOutcome(t *testing.T) {
	t.Parallel()
	sender, recv := replyTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftrsender", "s"), ftCreate(t, b, "ftrrecv", "r")
	nobody, err := actors.ActorID("ftrrecv", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, target string
		call         []string
		ok           bool
		code, output string
	}{
		{"output", r.ID, []string{"inc", t.Name() + "/inc"}, true, "", "1"},
		{"user error", r.ID, []string{"flaky", t.Name() + "/flaky"}, false, "not_yet", ""},
		{"missing target", nobody, []string{"inc", t.Name() + "/nobody"}, false, "actor_not_found", ""},
	} {
		ftCall[int](t, s, "fire", tc.target, tc.call)
		d := lastSend(t, b, s.ID)
		rec := ftWait(t, replySignal(tc.call[1]), "the reply to "+tc.name)
		o := rec.Outcome
		if o.OK != tc.ok || o.Code != tc.code || string(o.Output) != tc.output || o.EffectID != d.EffectID || o.Target != tc.target {
			t.Errorf("%s: outcome %+v, want ok=%v code=%q output=%q effect %s", tc.name, o, tc.ok, tc.code, tc.output, d.EffectID)
		}
		if rec.Caller != actors.ReplyCallerPrefix+tc.target || !actors.IsReply(rec.Caller) {
			t.Errorf("%s: reply caller %q, want reply:%s", tc.name, rec.Caller, tc.target)
		}
		if evs := replyEvents(t, b, s.ID, d.EffectID); len(evs) != 1 || evs[0].Action != "done" {
			t.Errorf("%s: %d reply events under %s, want one done", tc.name, len(evs), actors.ReplyCallID(d.EffectID))
		}
	}
	if n := ftCall[int64](t, r, "get"); n != 1 {
		t.Fatalf("receiver count = %d, want 1", n)
	}
}

func TestFeatureReplyValidates(t *testing.T) {
	t.Parallel()
	sender, recv := replyTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftrsender", "s"), ftCreate(t, b, "ftrrecv", "r")
	if code := ftCall[string](t, s, "trySendReply", r.ID, "nosuchaction"); code != "action_not_found" {
		t.Fatalf("SendReply with an unknown reply action: code %q, want action_not_found", code)
	}
	for _, ev := range ftEvents(t, b, s.ID) {
		if len(ev.Effects) > 0 {
			t.Fatalf("event %d records effects %+v, want none", ev.Seq, ev.Effects)
		}
	}
}

// A send with a reply delivered again, by the outbox (by hand here), at once
// from many goroutines, and after a restart (the runtime's memory of what it
// delivered gone), applies its reply once, even when the target would now
// answer otherwise (its first answer, a user error, is not remembered by it).
func TestFeatureReplyAppliedOnceOnRedelivery(t *testing.T) {
	t.Parallel()
	sender, recv := replyTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftrsender", "s"), ftCreate(t, b, "ftrrecv", "r")
	tagOK, tagErr := t.Name()+"/inc", t.Name()+"/flaky"
	ftCall[int](t, s, "fire", r.ID, []string{"inc", tagOK})
	dOK := lastSend(t, b, s.ID)
	ftWait(t, replySignal(tagOK), "the first reply")
	ftCall[int](t, s, "fire", r.ID, []string{"flaky", tagErr})
	dErr := lastSend(t, b, s.ID)
	ftWait(t, replySignal(tagErr), "the second reply")
	ftCall[string](t, r, "setText", "now") // flaky would succeed now

	redeliver := func(what string) {
		var wg sync.WaitGroup
		for _, d := range []actors.Delivery{dOK, dErr} {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := b.rt.DeliverSend(ftCtx(t), d); err != nil {
						t.Errorf("%s: DeliverSend %s: %v", what, d.EffectID, err)
					}
				}()
			}
		}
		wg.Wait()
	}
	redeliver("same runtime")
	b.restart(t)
	redeliver("after a restart")

	for _, d := range []actors.Delivery{dOK, dErr} {
		if evs := replyEvents(t, b, s.ID, d.EffectID); len(evs) != 1 {
			t.Fatalf("%d reply events for %s after redeliveries, want 1", len(evs), d.EffectID)
		}
	}
	s, _ = b.rt.Client().Get(ftCtx(t), "ftrsender", []string{"s"})
	reps := ftCall[[]replyRecord](t, s, "replies")
	if len(reps) != 2 || !reps[0].Outcome.OK || reps[1].Outcome.Code != "not_yet" {
		t.Fatalf("replies = %+v, want the first two outcomes only", reps)
	}
	r, _ = b.rt.Client().Get(ftCtx(t), "ftrrecv", []string{"r"})
	if n := ftCall[int64](t, r, "get"); n != 1 {
		t.Fatalf("receiver count = %d, want 1 (the send ran once)", n)
	}
}

// A reply that fails for a reason that may pass leaves the whole send to be
// tried again: the target answers the repeat from its record (it ran once),
// and the reply is then applied, once.
func TestFeatureReplyTransientFailureIsRetried(t *testing.T) {
	t.Parallel()
	sender, recv := replyTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftrsender", "s"), ftCreate(t, b, "ftrrecv", "r")
	tag := t.Name()
	replyFailOnce.Store(tag, struct{}{})
	var delivered atomic.Bool
	ftCall[int](t, s, "fire", r.ID, []string{"inc", tag})
	d := lastSend(t, b, s.ID)
	// The fast path's reply failed: the receiver ran, the sender has no reply.
	ftEventually(t, "the receiver ran the send", func() bool { return len(sendEvents(t, b, r.ID, d.EffectID)) == 1 })
	// The outbox's retry (by hand) completes it; retrying until it does
	// covers a fast path still finishing its failed attempt.
	ftEventually(t, "the retry delivered the reply", func() bool {
		if err := b.rt.DeliverSend(ftCtx(t), d); err == nil {
			delivered.Store(true)
		}
		return delivered.Load()
	})
	rec := ftWait(t, replySignal(tag), "the reply")
	if !rec.Outcome.OK || string(rec.Outcome.Output) != "1" {
		t.Fatalf("outcome %+v, want ok with output 1", rec.Outcome)
	}
	if n := len(sendEvents(t, b, r.ID, d.EffectID)); n != 1 {
		t.Fatalf("receiver ran the send %d times, want 1", n)
	}
	if n := len(replyEvents(t, b, s.ID, d.EffectID)); n != 1 {
		t.Fatalf("%d reply events, want 1", n)
	}
}
