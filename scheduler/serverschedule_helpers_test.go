package scheduler

// Helpers of the serverschedule_*_test.go files: a node (setup, from
// main_test.go) serving the schedule type and a "job" target type, driven
// through the scheduler on the fake clock. Names start with ss.

import (
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// ssStart is where the server schedule tests' clocks are: epoch plus 30s.
var ssStart = epoch.Add(30 * time.Second)

// ssDone routes each fire's outcome (fireDoneHook) to the channel of its
// schedule's name.
var ssDone sync.Map // name -> chan Fire

func init() {
	hook := func(name string, f Fire) {
		if ch, ok := ssDone.Load(name); ok {
			ch.(chan Fire) <- f
		}
	}
	fireDoneHook.Store(&hook)
}

// ssJobState is the state of the target type "job".
type ssJobState struct {
	Runs []string `json:"runs"`
}

// ssKit is one test's node and what it drives it with.
type ssKit struct {
	b    *bundle
	n    *node
	hold chan struct{} // each token lets one "hold" run finish
}

// ssSetup starts a node serving the schedule type and a job type whose
// actions are run(tag), fail(tag) (a user error job_failed) and hold(tag),
// which finishes when the test releases it.
func ssSetup(t *testing.T) *ssKit {
	t.Helper()
	k := &ssKit{hold: make(chan struct{}, 1000)}
	job := actors.NewType("job", actors.Options[ssJobState]{State: ssJobState{Runs: []string{}}}).
		Action("run", actors.Act(func(c *actors.Context[ssJobState], tag string) (int, error) {
			c.State.Runs = append(c.State.Runs, tag)
			return len(c.State.Runs), nil
		})).
		Action("fail", actors.Act(func(c *actors.Context[ssJobState], tag string) (int, error) {
			return 0, actors.NewUserError("job_failed", "the job failed: "+tag, nil)
		})).
		Action("hold", actors.Act(func(c *actors.Context[ssJobState], tag string) (int, error) {
			select {
			case <-k.hold:
			case <-c.Context().Done():
				return 0, c.Context().Err()
			}
			c.State.Runs = append(c.State.Runs, tag)
			return len(c.State.Runs), nil
		})).
		Action("runs", actors.Act0(func(c *actors.Context[ssJobState]) ([]string, error) { return c.State.Runs, nil }))
	reg, err := actors.NewRegistry(job)
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterType(reg); err != nil {
		t.Fatal(err)
	}
	k.b = setup(t, reg)
	k.n = k.b.n
	k.b.clock.Set(ssStart)
	t.Cleanup(func() { close(k.hold) }) // before the node stops: no run stays held
	return k
}

// ssSpec is a spec firing job action on the job keyed "j" of the test.
func ssSpec(cron, action string) ScheduleSpec {
	return ScheduleSpec{Cron: cron, Target: Target{Actor: TargetActor{Type: "job", Key: []string{"j"}}, Action: action,
		Args: json.RawMessage(`["x"]`)}}
}

// done returns the channel of name's fire outcomes.
func (k *ssKit) done(t *testing.T, name string) chan Fire {
	ch, _ := ssDone.LoadOrStore(name, make(chan Fire, 100))
	t.Cleanup(func() { ssDone.Delete(name) })
	return ch.(chan Fire)
}

// set creates the schedule if needed and configures it, as the API does.
func (k *ssKit) set(t *testing.T, name string, spec ScheduleSpec) ActionResult {
	t.Helper()
	ctx := testCtx(t)
	h, _, err := k.n.rt.Client().GetOrCreate(ctx, ScheduleType, []string{name}, spec)
	if err != nil {
		t.Fatalf("create schedule %s: %v", name, err)
	}
	return call[ActionResult](t, h, "configure", spec)
}

// handle returns a handle to the schedule.
func (k *ssKit) handle(t *testing.T, name string) *actors.Handle {
	t.Helper()
	h, err := k.n.rt.Client().Get(testCtx(t), ScheduleType, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// state reads the schedule's state from its log, appending nothing.
func (k *ssKit) state(t *testing.T, name string) ScheduleState {
	t.Helper()
	id, _ := actors.ActorID(ScheduleType, []string{name})
	im, err := k.n.rt.ImageAt(testCtx(t), id, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	var st ScheduleState
	if err := json.Unmarshal(im.CurrentState(), &st); err != nil {
		t.Fatalf("decode the state of %s: %v", name, err)
	}
	return st
}

// tick moves the clock to the schedule's armed tick and waits until the
// scheduler has fired it. Fires of alarms no longer pending (cancelled
// ticks the scheduler's timer was still armed for) are passed over.
func (k *ssKit) tick(t *testing.T, name string) ScheduleState {
	t.Helper()
	st := k.state(t, name)
	if st.NextAt.IsZero() {
		t.Fatalf("schedule %s has no tick armed", name)
	}
	k.n.waitArmed(t, st.NextAt)
	k.b.clock.Set(st.NextAt)
	for {
		o := k.n.next(t)
		if o.Result == ResultFired && o.AlarmID == st.AlarmID {
			break
		}
		if o.Result != ResultDropped {
			t.Fatalf("tick of %s: %+v, want alarm %s fired", name, o, st.AlarmID)
		}
	}
	return k.state(t, name)
}

// release lets n held runs finish.
func (k *ssKit) release(n int) {
	for range n {
		k.hold <- struct{}{}
	}
}

// ssWait waits for the next outcome on ch.
func ssWait(t *testing.T, ch chan Fire) Fire {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for a fire's outcome")
	}
	return Fire{}
}

// runs returns the runs of the job "j".
func (k *ssKit) runs(t *testing.T) []string {
	t.Helper()
	h, err := k.n.rt.Client().Get(testCtx(t), "job", []string{"j"})
	if err != nil {
		t.Fatal(err)
	}
	// With two nodes, the job may have been written by the other one: this
	// node's copy then answers actor_conflict once (retry, as the error
	// says) and reloads from the log.
	for range 3 {
		out, err := actors.Call[[]string](testCtx(t), h, "runs")
		if !errors.Is(err, actors.ErrConflict) {
			if err != nil {
				t.Fatalf("runs: %v", err)
			}
			return out
		}
	}
	t.Fatal("runs: actor_conflict three times in a row")
	return nil
}

// job creates the job "j".
func (k *ssKit) job(t *testing.T) {
	t.Helper()
	if _, _, err := k.n.rt.Client().GetOrCreate(testCtx(t), "job", []string{"j"}, nil); err != nil {
		t.Fatal(err)
	}
}

// ssEvents returns the schedule's events.
func (k *ssKit) events(t *testing.T, name string) []*eventlog.Event {
	t.Helper()
	id, _ := actors.ActorID(ScheduleType, []string{name})
	return events(t, k.b.log, id)
}

// ssLast returns the newest recent entry.
func ssLast(st ScheduleState) Fire {
	if len(st.Recent) == 0 {
		return Fire{}
	}
	return st.Recent[len(st.Recent)-1]
}
