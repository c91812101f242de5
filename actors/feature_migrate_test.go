package actors_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// migV2 is ftState after a code change (version "v2") turned count into a
// string.
type migV2 struct {
	Count string   `json:"count"`
	Text  string   `json:"text,omitempty"`
	Log   []string `json:"log,omitempty"`
}

// migCalls records the Migrate calls of a type.
type migCalls struct {
	mu   sync.Mutex
	from []string
}

func (m *migCalls) add(from string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.from = append(m.from, from)
}

func (m *migCalls) list() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.from...)
}

// migV1Type is the test type at code version "v1" (count is a number), with
// an optional Migrate hook.
func migV1Type(name string, migrate func(string, json.RawMessage) (ftState, error)) *actors.Type[ftState] {
	return ftType(name, actors.Options[ftState]{CodeVersion: "v1", Migrate: migrate})
}

// migV2Type is the type at code version "v2" (count is a string); migrate
// is its hook (nil: none).
func migV2Type(name string, migrate func(string, json.RawMessage) (migV2, error)) *actors.Type[migV2] {
	return actors.NewType(name, actors.Options[migV2]{CodeVersion: "v2", Migrate: migrate}).
		Action("state", actors.Act0(func(c *actors.Context[migV2]) (migV2, error) { return *c.State, nil })).
		Action("setCount", actors.Act(func(c *actors.Context[migV2], s string) (string, error) {
			c.State.Count = s
			return s, nil
		}))
}

// migUpgrade converts a v1 state to v2, recording the call in calls.
func migUpgrade(calls *migCalls) func(string, json.RawMessage) (migV2, error) {
	return func(from string, raw json.RawMessage) (migV2, error) {
		calls.add(from)
		var old ftState
		if err := json.Unmarshal(raw, &old); err != nil {
			return migV2{}, err
		}
		return migV2{Count: strconv.FormatInt(old.Count, 10), Text: old.Text, Log: old.Log}, nil
	}
}

// migWriteV1 creates the actor under the v1 type, gives it count 7 and a
// state past the size under which states are stored whole (so the migration
// is recorded as a patch) and puts it to sleep.
func migWriteV1(t *testing.T, name string) (*bundle, string) {
	t.Helper()
	b := ftSetup(t, nil, migV1Type(name, nil))
	h := ftCreate(t, b, name, "a")
	ftCall[int64](t, h, "inc", 7)
	ftCall[string](t, h, "setText", strings.Repeat("a state that is long enough to be patched ", 5))
	ftAsleep(t, b)
	return b, h.ID
}

// migRestart starts b again serving def and returns a handle on actor id.
func migRestart(t *testing.T, b *bundle, id string, def actors.Definition) *actors.Handle {
	t.Helper()
	b.stop(t)
	b.reg = ftRegistry(t, def)
	b.start(t)
	h, err := b.rt.Client().Ref(id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A new code version with a Migrate hook upgrades a stored state once, on
// wake: the upgrade is a "$migrate" event (from/to in its args, the change as
// a patch, the new code version) that the log alone folds to, and a later
// wake under the same version does not migrate again.
func TestFeatureMigrateUpgradesTheStateOnce(t *testing.T) {
	t.Parallel()
	b, id := migWriteV1(t, "ftmigrate")
	before := ftEvents(t, b, id)
	calls := &migCalls{}
	h := migRestart(t, b, id, migV2Type("ftmigrate", migUpgrade(calls)))

	got := ftCall[migV2](t, h, "state")
	if got.Count != "7" || !strings.HasPrefix(got.Text, "a state") {
		t.Fatalf("state after the migration: %+v, want count \"7\" and the text kept", got)
	}
	if c := calls.list(); !reflect.DeepEqual(c, []string{"v1"}) {
		t.Fatalf("Migrate called with %q, want once from v1", c)
	}
	evs := ftEvents(t, b, id)
	if len(evs) != len(before)+2 {
		t.Fatalf("%d events after the migration and one action, had %d: want the $migrate event and the action's", len(evs), len(before))
	}
	mig, act := evs[len(before)], evs[len(before)+1]
	if mig.Kind != eventlog.KindSystem || mig.Action != "$migrate" || mig.CodeVersion != "v2" {
		t.Fatalf("migration event: kind %v action %q code version %q, want system $migrate v2", mig.Kind, mig.Action, mig.CodeVersion)
	}
	if string(mig.Args) != `{"from":"v1","to":"v2"}` {
		t.Errorf("migration event args %s, want the versions", mig.Args)
	}
	if mig.HasState || !strings.Contains(string(mig.Patch), `"7"`) {
		t.Errorf("migration event: state %q patch %s, want a patch making count \"7\"", mig.State, mig.Patch)
	}
	if act.Action != "state" || act.CodeVersion != "v2" {
		t.Errorf("event after the migration: %q at code version %q, want state at v2", act.Action, act.CodeVersion)
	}
	ftCall[string](t, h, "setCount", "eight")

	// The fold of the log, a rebuild of it and the runtime's snapshot agree.
	ftAsleep(t, b)
	subj := ftSubject(id)
	snap := ptSnapshot(t, b, subj)
	fold := ptFold(t, ftEvents(t, b, id))
	if !reflect.DeepEqual(fold, snap) || snap.CodeVersion != "v2" {
		t.Fatalf("the runtime's snapshot\n%+v\nthe fold of the log\n%+v", snap, fold)
	}
	if rebuilt := ptRebuilt(t, b, ptRebuildStore(t), subj); !reflect.DeepEqual(rebuilt, snap) {
		t.Fatalf("rebuilt from the log\n%+v\nthe runtime's snapshot\n%+v", rebuilt, snap)
	}
	if s := string(ptImageState(t, snap)); !strings.Contains(s, `"count":"eight"`) {
		t.Fatalf("snapshot state %s", s)
	}

	// Woken again under v2, from the snapshot and then from the log alone:
	// no second migration.
	last := ftLastSeq(t, b, id)
	h = migRestart(t, b, id, migV2Type("ftmigrate", migUpgrade(calls)))
	if got := ftCall[migV2](t, h, "state"); got.Count != "eight" {
		t.Fatalf("count after a restart: %q, want eight", got.Count)
	}
	ftAsleep(t, b)
	ptDropSnapshot(t, b, subj)
	h = migRestart(t, b, id, migV2Type("ftmigrate", migUpgrade(calls)))
	if got := ftCall[migV2](t, h, "state"); got.Count != "eight" {
		t.Fatalf("count woken from the log alone: %q, want eight", got.Count)
	}
	if c := calls.list(); len(c) != 1 {
		t.Fatalf("Migrate ran %d times (%q), want once", len(c), c)
	}
	for _, ev := range ftEvents(t, b, id) {
		if ev.Seq > last && ev.Action != "state" {
			t.Errorf("event %d (%q) after the migration settled, want only the state calls", ev.Seq, ev.Action)
		}
	}
}

// A Migrate hook that fails (or panics) leaves the actor unloaded and its log
// untouched: every call fails with state_decode_failed naming the versions,
// and the sweeper appends nothing. Fixed code migrates it afterwards.
func TestFeatureMigrateFailureChangesNothing(t *testing.T) {
	t.Parallel()
	b, id := migWriteV1(t, "ftmigfail")
	last := ftLastSeq(t, b, id)
	before := ptSnapshot(t, b, ftSubject(id))
	for _, c := range []struct {
		name string
		hook func(string, json.RawMessage) (migV2, error)
		want string
	}{
		{"error", func(string, json.RawMessage) (migV2, error) { return migV2{}, errors.New("cannot convert the count") }, "cannot convert the count"},
		{"panic", func(string, json.RawMessage) (migV2, error) { panic("secret panic value") }, "internal error"},
	} {
		h := migRestart(t, b, id, migV2Type("ftmigfail", c.hook))
		for range 2 { // the actor stays unloaded: the second call fails the same way
			_, err := h.Action(ftCtx(t), "state")
			var re *actors.Error
			if !errors.Is(err, actors.ErrStateDecodeFailed) || !errors.As(err, &re) {
				t.Fatalf("%s: call with a failing Migrate: %v, want state_decode_failed", c.name, err)
			}
			for _, want := range []string{id, `"v1"`, `"v2"`, c.want} {
				if !strings.Contains(re.Message, want) {
					t.Errorf("%s: message %q does not name %q", c.name, re.Message, want)
				}
			}
			if strings.Contains(re.Message, "secret") {
				t.Errorf("%s: message %q shows the panic value", c.name, re.Message)
			}
		}
		b.clock.Advance(time.Hour)
		b.rt.SleepIdle()
		if got := ftLastSeq(t, b, id); got != last {
			t.Fatalf("%s: the log moved from %d to %d after a failed migration", c.name, last, got)
		}
		if snap := ptSnapshot(t, b, ftSubject(id)); !reflect.DeepEqual(snap, before) {
			t.Fatalf("%s: the snapshot changed after a failed migration:\n%+v\nwas\n%+v", c.name, snap, before)
		}
	}
	calls := &migCalls{}
	h := migRestart(t, b, id, migV2Type("ftmigfail", migUpgrade(calls)))
	if got := ftCall[migV2](t, h, "state"); got.Count != "7" {
		t.Fatalf("count after the fixed migration: %q, want 7", got.Count)
	}
	if evs := ftEvents(t, b, id); evs[len(evs)-2].Action != "$migrate" {
		t.Fatalf("event before the call is %q, want $migrate", evs[len(evs)-2].Action)
	}
}

// Migrate runs only when the code version changed; a changed version without
// a hook decodes the state as is and records nothing for the wake.
func TestFeatureMigrateOnlyOnAChangedCodeVersion(t *testing.T) {
	t.Parallel()
	calls := &migCalls{}
	hook := func(from string, raw json.RawMessage) (ftState, error) {
		calls.add(from)
		var s ftState
		err := json.Unmarshal(raw, &s)
		s.Count += 1000
		return s, err
	}
	b := ftSetup(t, nil, migV1Type("ftmigsame", hook))
	h := ftCreate(t, b, "ftmigsame", "a")
	ftCall[int64](t, h, "inc", 7)
	ftAsleep(t, b)
	h = migRestart(t, b, h.ID, migV1Type("ftmigsame", hook))
	if n := ftCall[int64](t, h, "get"); n != 7 {
		t.Fatalf("count %d after a restart under the same code version, want 7", n)
	}
	if c := calls.list(); len(c) != 0 {
		t.Fatalf("Migrate ran (from %q) although the code version did not change", c)
	}

	// A new version without a hook: the state decodes, no $migrate, and the
	// call's own event carries the new version.
	ftAsleep(t, b)
	last := ftLastSeq(t, b, h.ID)
	h = migRestart(t, b, h.ID, ftType("ftmigsame", actors.Options[ftState]{CodeVersion: "v2"}))
	if n := ftCall[int64](t, h, "get"); n != 7 {
		t.Fatalf("count %d under v2 without a hook, want 7", n)
	}
	var after []*eventlog.Event
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Seq > last {
			after = append(after, ev)
		}
	}
	if len(after) != 1 || after[0].Action != "get" || after[0].CodeVersion != "v2" || after[0].HasState || len(after[0].Patch) > 0 {
		t.Fatalf("events after a wake under v2 without a hook: %+v, want only the get call, at v2, with no change", after)
	}
}
