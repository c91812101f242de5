package actors_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// ftKV is an entry as the KV test actions return it.
type ftKV struct {
	K string `json:"k"`
	V string `json:"v"`
}

func ftEntries(es []actors.Entry) []ftKV {
	out := []ftKV{}
	for _, e := range es {
		out = append(out, ftKV{e.Key, string(e.Value)})
	}
	return out
}

// ftWithKV adds KV actions to t: kvput(k, v), kvdel(k), kvget(k) -> [v, found],
// kvlist(prefix), kvrange(start, end), kvmix(), kvfail(k, v).
func ftWithKV(t *actors.Type[ftState]) *actors.Type[ftState] {
	return t.
		Action("kvput", actors.Act2(func(c *actors.Context[ftState], k, v string) (bool, error) {
			c.KV().Put(k, []byte(v))
			return true, nil
		})).
		Action("kvdel", actors.Act(func(c *actors.Context[ftState], k string) (bool, error) {
			c.KV().Delete(k)
			return true, nil
		})).
		Action("kvget", actors.Act(func(c *actors.Context[ftState], k string) ([2]any, error) {
			v, ok := c.KV().Get(k)
			return [2]any{string(v), ok}, nil
		})).
		Action("kvlist", actors.Act(func(c *actors.Context[ftState], prefix string) ([]ftKV, error) {
			return ftEntries(c.KV().List(prefix)), nil
		})).
		Action("kvrange", actors.Act2(func(c *actors.Context[ftState], start, end string) ([]ftKV, error) {
			return ftEntries(c.KV().Range(start, end)), nil
		})).
		Action("kvmix", actors.Act0(func(c *actors.Context[ftState]) ([]any, error) {
			kv := c.KV()
			var seen []any
			kv.Put("m:a", []byte("1"))
			v, ok := kv.Get("m:a")
			seen = append(seen, string(v), ok)
			kv.Put("m:a", []byte("2"))
			v, _ = kv.Get("m:a")
			seen = append(seen, string(v))
			kv.Put("m:b", []byte("3"))
			kv.Delete("m:a")
			_, ok = kv.Get("m:a")
			seen = append(seen, ok, ftEntries(kv.List("m:")))
			buf := []byte("4")
			kv.Put("m:c", buf)
			buf[0] = 'X' // Put copies
			got, _ := kv.Get("m:c")
			got[0] = 'Y' // Get copies
			v, _ = kv.Get("m:c")
			seen = append(seen, string(v))
			kv.Put("m:empty", nil)
			v, ok = kv.Get("m:empty")
			seen = append(seen, string(v), ok)
			return seen, nil
		})).
		Action("kvfail", actors.Act2(func(c *actors.Context[ftState], k, v string) (bool, error) {
			c.KV().Put(k, []byte(v))
			c.KV().Delete("keep")
			return false, errors.New("kv fail")
		}))
}

func TestFeatureKV(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftWithKV(ftType("ftkv", actors.Options[ftState]{})))
	h := ftCreate(t, b, "ftkv", "a")

	// Writes are visible within the call that makes them.
	seen := ftCall[[]any](t, h, "kvmix")
	want := []any{"1", true, "2", false, []any{map[string]any{"k": "m:b", "v": "3"}}, "4", "", true}
	if ftJSON(t, seen) != ftJSON(t, want) {
		t.Fatalf("kvmix saw %s, want %s", ftJSON(t, seen), ftJSON(t, want))
	}
	// They are recorded in the call's event, in first-write order, last write per key.
	evs := ftEvents(t, b, h.ID)
	ev := evs[len(evs)-1]
	wantKV := []eventlog.KVWrite{
		{Key: []byte("m:a"), Delete: true},
		{Key: []byte("m:b"), Value: []byte("3")},
		{Key: []byte("m:c"), Value: []byte("4")},
		{Key: []byte("m:empty"), Value: []byte{}},
	}
	if len(ev.KV) != len(wantKV) {
		t.Fatalf("event KV %+v, want %+v", ev.KV, wantKV)
	}
	for i, w := range wantKV {
		g := ev.KV[i]
		if string(g.Key) != string(w.Key) || string(g.Value) != string(w.Value) || g.Delete != w.Delete {
			t.Fatalf("event KV[%d] = %+v, want %+v", i, g, w)
		}
	}
	if ev.HasState {
		t.Fatal("KV writes recorded as a state change")
	}

	for _, kv := range [][2]string{{"user:1", "a"}, {"user:2", "b"}, {"userx", "c"}, {"admin", "d"}, {"keep", "k"}, {"user:\ufffd", "e"}} {
		ftCall[bool](t, h, "kvput", kv[0], kv[1])
	}
	ftCall[bool](t, h, "kvdel", "m:c")
	ftCall[bool](t, h, "kvdel", "never-there")

	// A failed call's writes are discarded.
	seq := ftLastSeq(t, b, h.ID)
	if _, err := h.Action(ftCtx(t), "kvfail", "ghost", "boo"); !errors.Is(err, actors.ErrInternal) {
		t.Fatalf("kvfail: %v", err)
	}
	if ftLastSeq(t, b, h.ID) != seq {
		t.Fatal("a failed call was appended")
	}

	check := func(step string) {
		t.Helper()
		type q struct {
			action string
			args   []any
			want   string
		}
		for _, c := range []q{
			{"kvget", []any{"ghost"}, `["",false]`},
			{"kvget", []any{"keep"}, `["k",true]`},
			{"kvget", []any{"m:a"}, `["",false]`},
			{"kvget", []any{"m:c"}, `["",false]`},
			{"kvget", []any{"m:b"}, `["3",true]`},
			{"kvget", []any{"m:empty"}, `["",true]`},
			{"kvlist", []any{"user:"}, `[{"k":"user:1","v":"a"},{"k":"user:2","v":"b"},{"k":"user:�","v":"e"}]`},
			{"kvlist", []any{"user"}, `[{"k":"user:1","v":"a"},{"k":"user:2","v":"b"},{"k":"user:�","v":"e"},{"k":"userx","v":"c"}]`},
			{"kvlist", []any{"m:"}, `[{"k":"m:b","v":"3"},{"k":"m:empty","v":""}]`},
			{"kvlist", []any{"nothing"}, `[]`},
			{"kvlist", []any{""}, `[{"k":"admin","v":"d"},{"k":"keep","v":"k"},{"k":"m:b","v":"3"},{"k":"m:empty","v":""},{"k":"user:1","v":"a"},{"k":"user:2","v":"b"},{"k":"user:�","v":"e"},{"k":"userx","v":"c"}]`},
			{"kvrange", []any{"user:1", "user:2"}, `[{"k":"user:1","v":"a"}]`},
			{"kvrange", []any{"m", "n"}, `[{"k":"m:b","v":"3"},{"k":"m:empty","v":""}]`},
			{"kvrange", []any{"user:2", ""}, `[{"k":"user:2","v":"b"},{"k":"user:�","v":"e"},{"k":"userx","v":"c"}]`},
			{"kvrange", []any{"b", "a"}, `[]`},
		} {
			out, err := h.Action(ftCtx(t), c.action, c.args...)
			if err != nil || string(out) != c.want {
				t.Fatalf("%s: %s(%q) = %s (%v), want %s", step, c.action, c.args, out, err, c.want)
			}
		}
	}
	check("live")

	// Persisted across restart, sleep and the loss of every snapshot.
	b.restart(t)
	h, err := b.rt.Client().Get(ftCtx(t), "ftkv", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	check("after restart")
	ftAsleep(t, b)
	check("after a wake")
	b.stop(t)
	if err := os.RemoveAll(filepath.Join(b.dir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	h, err = b.rt.Client().Get(ftCtx(t), "ftkv", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	check("rebuilt from the log")

	// Each actor has its own KV.
	other := ftCreate(t, b, "ftkv", "b")
	if got := ftCall[[]ftKV](t, other, "kvlist", ""); !slices.Equal(got, []ftKV{}) {
		t.Fatalf("another actor sees %v", got)
	}
}
