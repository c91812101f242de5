package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

type verState struct {
	N int `json:"n"`
}

// verRegistry is the code of one deploy: svc (an actor type) and flow
// (emulated workflow runs: the test records their "$wf" events with Do) at
// version, with a Migrate hook past "1"; and, in the first deploy only,
// gone (a type the second deploy dropped).
func verRegistry(t *testing.T, version string) *actors.Registry {
	t.Helper()
	opts := actors.Options[verState]{CodeVersion: version}
	if version != "1" {
		opts.Migrate = func(_ string, raw json.RawMessage) (s verState, err error) {
			err = json.Unmarshal(raw, &s)
			return s, err
		}
	}
	inc := actors.Act0(func(c *actors.Context[verState]) (int, error) { c.State.N++; return c.State.N, nil })
	defs := []actors.Definition{actors.NewType("svc", opts).Action("inc", inc), actors.NewType("flow", opts).Action("inc", inc)}
	if version == "1" {
		defs = append(defs, actors.NewType("gone", opts).Action("inc", inc))
	}
	reg, err := actors.NewRegistry(defs...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// deploy runs fn against a runtime of reg over the log and snapshots, then
// stops it (the actors sleep, as at a deploy).
func deploy(t *testing.T, l *eventlog.Log, snaps *snapshot.Store, reg *actors.Registry, fn func(ctx context.Context, c *actors.Client)) {
	t.Helper()
	rt, err := actors.NewRuntime(l, snaps, reg, actors.RuntimeOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := rt.Stop(ctx); err != nil {
			t.Errorf("stop the runtime: %v", err)
		}
	}()
	fn(ctx, rt.Client())
}

// wf records a "$wf" event on a flow run with the run's status after it.
func wf(ctx context.Context, t *testing.T, c *actors.Client, run, op, status string) {
	t.Helper()
	h, err := c.Get(ctx, "flow", []string{run})
	if err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(map[string]string{"op": op, "status": status})
	if err := actors.Do(ctx, h, wfEvent, args, func(ac *actors.Context[verState]) error { ac.State.N++; return nil }); err != nil {
		t.Fatalf("$wf %s on %s: %v", op, run, err)
	}
}

func mustVersions(t *testing.T, r *Runner, q VersionsQuery) []CodeVersion {
	t.Helper()
	out, err := r.Versions().List(q)
	if err != nil {
		t.Fatalf("Versions().List(%+v): %v", q, err)
	}
	return out
}

// Two deploys over one log: actors and runs of version 1, then version 2
// with a Migrate hook. The counts follow creates, destroys, migrations and
// finished runs; restarts and rebuilds reach the same counts.
func TestVersions(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	snaps, err := snapshot.Open(filepath.Join(t.TempDir(), "snapshots"), &snapshot.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snaps.Close() })
	start(t, r) // folds while the deploys run

	deploy(t, b.log, snaps, verRegistry(t, "1"), func(ctx context.Context, c *actors.Client) {
		for _, k := range []string{"a", "b", "c"} {
			if _, err := c.Create(ctx, "svc", []string{k}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, run := range []string{"r1", "r2", "r3"} {
			if _, err := c.Create(ctx, "flow", []string{run}, nil); err != nil {
				t.Fatal(err)
			}
		}
		wf(ctx, t, c, "r1", "step", "running")
		wf(ctx, t, c, "r2", "finish", "completed")
		h, err := c.Create(ctx, "gone", []string{"x"}, nil)
		if err == nil {
			err = h.Destroy(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	deploy(t, b.log, snaps, verRegistry(t, "2"), func(ctx context.Context, c *actors.Client) {
		if _, err := c.Create(ctx, "svc", []string{"d"}, nil); err != nil {
			t.Fatal(err)
		}
		a, err := c.Get(ctx, "svc", []string{"a"}) // wakes: migrated to 2
		if err == nil {
			_, err = a.Action(ctx, "inc")
		}
		if err != nil {
			t.Fatal(err)
		}
		bh, err := c.Get(ctx, "svc", []string{"b"})
		if err == nil {
			err = bh.Destroy(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		wf(ctx, t, c, "r3", "finish", "failed") // migrated, then finished
		if _, err := c.Create(ctx, "flow", []string{"r4"}, nil); err != nil {
			t.Fatal(err)
		}
		wf(ctx, t, c, "r4", "continue", "running") // ContinueAsNew: still open
	})
	last, err := b.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r, VersionsName, last)

	open := []CodeVersion{
		{Type: "flow", CodeVersion: "1", Kind: KindWorkflow, Open: 1}, // r1 (r2 completed, r3 moved)
		{Type: "flow", CodeVersion: "2", Kind: KindWorkflow, Open: 1}, // r4 (r3 failed)
		{Type: "svc", CodeVersion: "1", Kind: KindActor, Open: 1},     // c
		{Type: "svc", CodeVersion: "2", Kind: KindActor, Open: 2},     // a (migrated), d (b destroyed)
	}
	all := slices.Insert(slices.Clone(open), 2, CodeVersion{Type: "gone", CodeVersion: "1", Kind: KindActor, Open: 0})
	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			q    VersionsQuery
			want []CodeVersion
		}{
			{VersionsQuery{}, open},
			{VersionsQuery{All: true}, all},
			{VersionsQuery{Type: "svc"}, open[2:]},
			{VersionsQuery{Type: "gone"}, []CodeVersion{}},
			{VersionsQuery{Type: "gone", All: true}, all[2:3]},
			{VersionsQuery{Type: "nosuch", All: true}, []CodeVersion{}},
		} {
			if got := mustVersions(t, r, tc.q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: List(%+v) =\n %+v\nwant\n %+v", when, tc.q, got, tc.want)
			}
		}
	}
	check("live")
	if _, err := r.Versions().List(VersionsQuery{Type: "no such"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(invalid type) = %v, want ErrInvalid", err)
	}
	rows := allRows(t, r, VersionsName)
	for k, v := range rows {
		if !json.Valid([]byte(v)) {
			t.Errorf("row %s is not JSON: %q", k, v)
		}
	}
	if got := rows["v/svc/2"]; got != `{"type":"svc","codeVersion":"2","open":2}` {
		t.Errorf("row v/svc/2 = %s", got)
	}

	// A restart continues from the checkpoint; a rebuild folds the log again.
	stop(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = b.open(t)
	check("reopened")
	if err := r.Rebuild(context.Background(), VersionsName, nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
	if st := mustStatus(t, r, VersionsName); st.Checkpoint != last || st.Rows != int64(len(rows)) {
		t.Errorf("after the rebuild: %+v, want checkpoint %d and %d rows", st, last, len(rows))
	}
	if got := allRows(t, r, VersionsName); !reflect.DeepEqual(got, rows) {
		t.Errorf("rebuilt rows differ:\n %v\nwant\n %v", got, rows)
	}
}

// verEv appends one event with a code version (and action and args) to the
// actor, fenced, and returns its sequence.
func (b *testBundle) verEv(t *testing.T, kind eventlog.Kind, version, action, args, typ, key string) uint64 {
	t.Helper()
	subj, err := eventlog.ActorRef{Type: typ, Key: []string{key}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if kind == eventlog.KindCreate {
		b.gen[subj]++
	}
	ev := &eventlog.Event{Kind: kind, Generation: b.gen[subj], Action: action, Args: []byte(args), CodeVersion: version,
		Time: time.Unix(1_700_000_000, 0).UTC()}
	seq, err := b.log.Append(context.Background(), subj, b.last[subj], ev)
	if err != nil {
		t.Fatalf("append to %s: %v", subj, err)
	}
	b.last[subj] = seq
	return seq
}

// The fold's edges, event by event: a destroy and a create again, a run
// that finishes and starts again, "$wf" events without a status, a version
// seen only on a closed actor, and an overlong version.
func TestVersionsFoldEdges(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	const (
		create, destroy, action, system = eventlog.KindCreate, eventlog.KindDestroy, eventlog.KindAction, eventlog.KindSystem
	)
	long := strings.Repeat("x", MaxCodeVersionLen+10)
	steps := []struct {
		kind          eventlog.Kind
		version, name string
		args, typ     string
		key           string
		want          map[string]uint64 // type/version -> open, after the event
	}{
		{create, "1", "", "", "doc", "a", map[string]uint64{"doc/1": 1}},
		{action, "1", "edit", "[]", "doc", "a", map[string]uint64{"doc/1": 1}},
		{destroy, "2", "", "", "doc", "a", map[string]uint64{"doc/1": 0, "doc/2": 0}},
		{action, "2", "late", "[]", "doc", "a", map[string]uint64{"doc/1": 0, "doc/2": 0}}, // still destroyed
		{create, "2", "", "", "doc", "a", map[string]uint64{"doc/1": 0, "doc/2": 1}},
		{create, "1", "", "", "run", "r", map[string]uint64{"run/1": 1}},
		{system, "1", wfEvent, "", "run", "r", map[string]uint64{"run/1": 1}},                          // no args
		{system, "1", wfEvent, `{"op":"send","queue":"q"}`, "run", "r", map[string]uint64{"run/1": 1}}, // no status
		{system, "1", wfEvent, `{"op":"finish","status":"cancelled"}`, "run", "r", map[string]uint64{"run/1": 0}},
		{system, "1", wfEvent, `{"op":"x","status":"cancelled"}`, "run", "r", map[string]uint64{"run/1": 0}}, // stays closed
		{system, "1", "$wake", "", "run", "r", map[string]uint64{"run/1": 0}},
		{system, "1", wfEvent, `{"op":"retry","status":"running"}`, "run", "r", map[string]uint64{"run/1": 1}}, // open again
		{system, "1", wfEvent, `{"op":"finish","status":"completed","out":{"status":"failed"}}`, "run", "r", map[string]uint64{"run/1": 0}},
		{system, "1", wfEvent, `not json "status"`, "run", "r", map[string]uint64{"run/1": 0}},
		{destroy, "1", "", "", "run", "r", map[string]uint64{"run/1": 0}},
		{create, "1", "", "", "run", "r", map[string]uint64{"run/1": 1}}, // a new generation starts open
		{create, long, "", "", "doc", "b", map[string]uint64{"doc/1": 0, "doc/2": 1, "doc/" + long[:MaxCodeVersionLen]: 1}},
	}
	start(t, r)
	for i, s := range steps {
		seq := b.verEv(t, s.kind, s.version, s.name, s.args, s.typ, s.key)
		wait(t, r, VersionsName, seq)
		got := map[string]uint64{}
		for _, v := range mustVersions(t, r, VersionsQuery{Type: s.typ, All: true}) {
			got[v.Type+"/"+v.CodeVersion] = v.Open
			if want := map[bool]VersionKind{true: KindWorkflow, false: KindActor}[s.typ == "run" && i > 5]; v.Kind != want {
				t.Errorf("step %d: %s is %s, want %s", i, v.Type, v.Kind, want)
			}
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d (%s %s %s): open %v, want %v", i, s.kind, s.name, s.args, got, s.want)
		}
	}
	page, err := r.Rows(VersionsName, "", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var actorRows []string
	for _, row := range page.Rows {
		if !json.Valid(row.Value) {
			t.Errorf("row %s: %q", row.Key, row.Value)
		}
		if row.Key[:2] != "v/" && row.Key[:2] != "w/" {
			actorRows = append(actorRows, string(row.Value))
		}
	}
	want := []string{`{"codeVersion":"2","status":"open"}`, `{"codeVersion":"` + long[:MaxCodeVersionLen] + `","status":"open"}`,
		`{"codeVersion":"1","status":"open","workflow":true}`}
	if !slices.Equal(actorRows, want) {
		t.Errorf("actor rows %q, want %q", actorRows, want)
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	sorted := []string{"", "0", "1", "01", "1.2", "1.9", "1.10", "2", "10", "10a", "10b", "v1", "v2", "v10", "v10.1"}
	for i, a := range sorted {
		for j, b := range sorted {
			got := compareVersions(a, b)
			if (i < j) != (got < 0) || (i == j) != (got == 0) {
				t.Errorf("compareVersions(%q, %q) = %d", a, b, got)
			}
		}
	}
}

// Corrupt rows fail their read with a message, not a panic.
func TestVersionsCorruptRows(t *testing.T) {
	t.Parallel()
	for _, v := range [][]byte{nil, {verActorTag}, {9, 0}} {
		if _, err := decodeVerActor("k", v); !errors.Is(err, errCorruptVersionsRow) {
			t.Errorf("decodeVerActor(%v) = %v", v, err)
		}
	}
	for _, v := range [][]byte{nil, {verCountTag}, {verCountTag, 1, 2}, {verActorTag, 1}} {
		if _, err := decodeVerCount("k", v); !errors.Is(err, errCorruptVersionsRow) {
			t.Errorf("decodeVerCount(%v) = %v", v, err)
		}
	}
}

// BenchmarkVersionsFold measures the versions projection's side of a
// rebuild alone, as BenchmarkDirectoryFold does the directory's: the same
// events over 10,000 actors (each one's first a create), plus, with
// workflow, every fourth event a "$wf" with a status (runs of a workflow).
//
//	go test ./projections -run '^$' -bench 'DirectoryFold|VersionsFold' -benchmem
func BenchmarkVersionsFold(b *testing.B) {
	for _, withWF := range []bool{false, true} {
		b.Run("workflow="+strconv.FormatBool(withWF), func(b *testing.B) {
			r, _ := setup(b)
			p, err := r.get(VersionsName)
			if err != nil {
				b.Fatal(err)
			}
			const actors = 10_000
			subjects := make([]string, actors)
			for i := range subjects {
				subjects[i], _ = eventlog.ActorRef{Type: "counter", Key: []string{"org-" + strconv.Itoa(i%10), strconv.Itoa(i)}}.Subject()
			}
			ev := &eventlog.Event{Generation: 1, Time: time.Unix(1_700_000_000, 0).UTC(), CodeVersion: "1"}
			wfArgs := []byte(`{"op":"step","entry":"a/b","status":"running"}`)
			bt := batcher{p: p, tx: p.tx}
			defer p.tx.reset()
			var seq uint64
			for b.Loop() {
				seq++
				ev.Seq, ev.Subject, ev.Kind, ev.Action, ev.Args = seq, subjects[seq%actors], eventlog.KindAction, "increment", nil
				switch {
				case seq <= actors:
					ev.Kind = eventlog.KindCreate
				case withWF && seq%4 == 0:
					ev.Kind, ev.Action, ev.Args = eventlog.KindSystem, wfEvent, wfArgs
				}
				if err := bt.add(ev); err != nil {
					b.Fatal(err)
				}
				if bt.events >= r.opts.BatchSize {
					if err := bt.commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := bt.commit(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// A fork of a workflow run copies its state: a copy of a finished run is
// closed at once (no $wf finish will follow), a copy of a waiting one is
// open, and both are workflow runs; a fork of a plain actor stays an
// actor.
func TestVersionsForkedRuns(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	start(t, r)
	fork := func(typ, key, state string) uint64 {
		t.Helper()
		subj, err := eventlog.ActorRef{Type: typ, Key: []string{key}}.Subject()
		if err != nil {
			t.Fatal(err)
		}
		ev := &eventlog.Event{Kind: eventlog.KindCreate, Generation: 1, Action: forkEvent, Args: []byte(`{"from":"x","atSeq":1}`),
			CodeVersion: "1", Time: time.Unix(1_700_000_000, 0).UTC(), HasState: true, State: []byte(state)}
		seq, err := b.log.Append(context.Background(), subj, 0, ev)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	fork("runa", "done", `{"workflow":"runa","runId":"done","status":"completed","epoch":0,"steps":2}`)
	fork("runb", "open", `{"workflow":"runb","runId":"open","status":"waiting","epoch":0,"steps":1}`)
	seq := fork("doc", "copy", `{"status":"completed"}`)
	wait(t, r, VersionsName, seq)
	got := map[string]string{}
	for _, v := range mustVersions(t, r, VersionsQuery{All: true}) {
		got[v.Type] = fmt.Sprintf("%s/%d", v.Kind, v.Open)
	}
	want := map[string]string{"runa": "workflow/0", "runb": "workflow/1", "doc": "actor/1"}
	for typ, w := range want {
		if got[typ] != w {
			t.Errorf("%s: %q, want %q (all: %v)", typ, got[typ], w, got)
		}
	}
}
