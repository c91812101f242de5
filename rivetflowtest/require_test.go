package rivetflowtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/history"
	"github.com/rivet-flow/rivet-flow/rivetflowtest"
)

// recorder is a testing.TB that records a failure instead of ending the
// test, to check what the assertions say when they fail.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

func (r *recorder) Errorf(format string, args ...any) { r.Fatalf(format, args...) }

func TestRequireFailuresAreReadable(t *testing.T) {
	t.Parallel()
	n := rivetflowtest.Start(t, rivetflowtest.Config{})
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "counter", []string{"c1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, amount := range []int{2, 3} {
		if _, err := h.Action(ctx, "increment", amount); err != nil {
			t.Fatal(err)
		}
	}
	ok := []rivetflowtest.EventMatch{{Action: "increment", Args: []int{2}, Output: 2}, {Action: "increment", Output: 5, Broadcast: "newCount"}}
	rivetflowtest.RequireEvents(t, n, h.ID, ok...)
	rivetflowtest.RequireEvents(t, n, h.ID, append([]rivetflowtest.EventMatch{{Kind: "create"}}, ok...)...)

	for _, tc := range []struct {
		name string
		run  func(tb testing.TB)
		want []string
	}{
		{"wrong output", func(tb testing.TB) {
			rivetflowtest.RequireEvents(tb, n, h.ID, rivetflowtest.EventMatch{Action: "increment"}, rivetflowtest.EventMatch{Action: "increment", Output: 6})
		}, []string{"RequireEvents " + h.ID + ": event 2 (seq ", "differs: output: want 6, got 5",
			"  got:\n    seq ", " action increment args [2] output 2 broadcasts [newCount]\n",
			"  want:\n    action increment\n    action increment output 6\n"}},
		{"missing", func(tb testing.TB) {
			rivetflowtest.RequireEvents(tb, n, h.ID, append(ok, rivetflowtest.EventMatch{Action: "getCount"})...)
		}, []string{"2 events, want 3: event 3 (action getCount) is missing"}},
		{"extra", func(tb testing.TB) {
			rivetflowtest.RequireEvents(tb, n, h.ID, ok[0])
		}, []string{"2 events, want 1: event 2 (seq ", ") is extra"}},
		{"broadcasts", func(tb testing.TB) {
			rivetflowtest.RequireBroadcasts(tb, n, h.ID, "newCount")
		}, []string{"broadcasts differ\n  got:  [newCount newCount]\n  want: [newCount]"}},
		{"state", func(tb testing.TB) {
			rivetflowtest.RequireState(tb, n, h.ID, map[string]int{"count": 4})
		}, []string{"state differs\n  got:  {\"count\":5}\n  want: {\"count\":4}"}},
		{"no actor", func(tb testing.TB) {
			rivetflowtest.RequireState(tb, n, "counter.nobody", map[string]int{"count": 4})
		}, []string{"RequireState counter.nobody: "}},
	} {
		rec := &recorder{TB: t}
		tc.run(rec)
		if !rec.failed {
			t.Errorf("%s: the assertion passed; want a failure", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(rec.msg, w) {
				t.Errorf("%s: the failure does not say %q:\n%s", tc.name, w, rec.msg)
			}
		}
	}
}

// A history exported from a node replays; the same history with an
// output edited fails RequireReplays with the replayer's report.
func TestRequireReplays(t *testing.T) {
	t.Parallel()
	n := rivetflowtest.Start(t, rivetflowtest.Config{})
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "counter", []string{"c1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, amount := range []int{2, 3} {
		if _, err := h.Action(ctx, "increment", amount); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "c1.jsonl")
	n.Export(t, h.ID, file)
	rivetflowtest.RequireReplays(t, n.Registry(), file)

	evs := n.Events(t, h.ID)
	last := &evs[len(evs)-1] // increment by 3, answering 5
	last.Output = json.RawMessage("6")
	var b bytes.Buffer
	if err := history.Write(&b, evs...); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "c1-edited.jsonl")
	if err := os.WriteFile(bad, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := rivetflowtest.ReplayFile(n.Registry(), bad)
	if err != nil || res.OK() || res.Divergence.Seq != last.Seq || res.Divergence.Action != "increment" {
		t.Fatalf("ReplayFile(edited) = %+v, %v; want a divergence at seq %d (increment)", res, err, last.Seq)
	}
	rec := &recorder{TB: t}
	rivetflowtest.RequireReplays(rec, n.Registry(), bad)
	want := fmt.Sprintf("diverged at seq %d, increment: output differs", last.Seq)
	if !rec.failed || !strings.Contains(rec.msg, want) || !strings.Contains(rec.msg, "output: 6 -> 5") {
		t.Fatalf("RequireReplays(edited) failed %v with:\n%s\nwant it to say %q", rec.failed, rec.msg, want)
	}
}
