package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// fillDirectory appends the directory's fixture and returns the last sequence.
func fillDirectory(t *testing.T, b *testBundle) uint64 {
	b.create(t, "doc", "org-acme", "doc-1")
	b.act(t, "edit", "doc", "org-acme", "doc-1")
	b.create(t, "doc", "org-acme", "doc-2")
	b.create(t, "doc", "org-acme")
	b.create(t, "doc", "org-beta", "doc-1")
	b.create(t, "doc", "org-acme\x00", "zero") // sorts after every "org-acme" key
	b.create(t, "user", "org-acme", "u1")
	b.create(t, "user", "org-beta", "u2")
	b.destroy(t, "user", "org-beta", "u2")
	b.destroy(t, "doc", "org-acme", "doc-2")
	b.create(t, "doc", "org-acme", "doc-2") // generation 2
	return b.destroy(t, "doc", "org-beta", "doc-1")
}

func keysOf(page ActorPage) []string {
	var out []string
	for _, a := range page.Actors {
		out = append(out, fmt.Sprintf("%s%q", a.Type, a.Key))
	}
	return out
}

func list(t *testing.T, d *Directory, q ActorQuery) []string {
	t.Helper()
	page, err := d.List(q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return keysOf(page)
}

// listAll pages through a query with a small limit.
func listAll(t *testing.T, d *Directory, q ActorQuery) []string {
	t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		page, err := d.List(q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		out = append(out, keysOf(page)...)
		if page.NextCursor == "" {
			return out
		}
		if pages > 1000 {
			t.Fatal("too many pages")
		}
		q.Cursor = page.NextCursor
	}
}

func requireDirectory(t *testing.T, r *Runner) {
	t.Helper()
	d := r.Directory()
	all := []string{
		`doc["org-acme"]`, `doc["org-acme" "doc-1"]`, `doc["org-acme" "doc-2"]`, `doc["org-acme\x00" "zero"]`,
		`doc["org-beta" "doc-1"]`, `user["org-acme" "u1"]`, `user["org-beta" "u2"]`,
	}
	for _, tc := range []struct {
		q    ActorQuery
		want []string
	}{
		{ActorQuery{}, all},
		{ActorQuery{Type: "user"}, all[5:]},
		{ActorQuery{Type: "doc", Prefix: []string{"org-acme"}}, all[:3]},
		{ActorQuery{Prefix: []string{"org-acme"}}, []string{all[0], all[1], all[2], all[5]}},
		{ActorQuery{Prefix: []string{"org-acme", "doc-2"}}, []string{all[2]}},
		{ActorQuery{Prefix: []string{"org-beta"}, Status: ActorDestroyed}, []string{all[4], all[6]}},
		{ActorQuery{Status: ActorActive}, []string{all[0], all[1], all[2], all[3], all[5]}},
		{ActorQuery{Type: "team"}, nil},
		{ActorQuery{Prefix: []string{"nope"}}, nil},
	} {
		if got := list(t, d, tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%+v) =\n %q\nwant\n %q", tc.q, got, tc.want)
		}
		tc.q.Limit = 2
		if got := listAll(t, d, tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("paged List(%+v) =\n %q\nwant\n %q", tc.q, got, tc.want)
		}
	}
	// The index entries agree with the rows.
	page, err := d.List(ActorQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range page.Actors {
		g, found, err := d.Get(a.ID)
		if err != nil || !found {
			t.Fatalf("Get(%s): %v %v", a.ID, found, err)
		}
		la, _ := encodeActor(&a)
		ga, _ := encodeActor(&g)
		if string(la) != string(ga) {
			t.Fatalf("List has %s\nGet has  %s", la, ga)
		}
	}
	subj, _ := eventlog.ActorRef{Type: "doc", Key: []string{"org-acme", "doc-2"}}.Subject()
	a, found, err := d.Get(subj[len("rf.ev."):])
	if err != nil || !found {
		t.Fatalf("Get: %v %v", found, err)
	}
	if a.Status != ActorActive || a.Generation != 2 || a.Events != 3 || a.CreatedAt.IsZero() || !a.DestroyedAt.IsZero() ||
		a.LastEventAt.Before(a.CreatedAt) || a.LastSeq == 0 || a.Type != "doc" || !slices.Equal(a.Key, []string{"org-acme", "doc-2"}) {
		t.Fatalf("Get(doc-2) = %+v", a)
	}
	if _, found, err := d.Get("doc.kAAAA"); found || err != nil {
		t.Fatalf("Get(unknown) = %v, %v", found, err)
	}
	if st := mustStatus(t, r, DirectoryName); st.Rows != int64(len(all)) {
		t.Fatalf("directory rows = %d, want %d", st.Rows, len(all))
	}
}

// The directory lists every actor by type, key prefix and status, paged;
// the same after a restart and after its data is deleted.
func TestDirectory(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	last := fillDirectory(t, b)
	start(t, r)
	wait(t, r, DirectoryName, last)
	requireDirectory(t, r)

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = b.open(t) // restart: nothing to fold
	start(t, r)
	wait(t, r, DirectoryName, last)
	requireDirectory(t, r)

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(b.dir); err != nil {
		t.Fatal(err)
	}
	r = b.open(t) // its data deleted: rebuilt from the log
	if st := mustStatus(t, r, DirectoryName); st.Checkpoint != 0 {
		t.Fatalf("checkpoint in a fresh folder = %d", st.Checkpoint)
	}
	start(t, r)
	wait(t, r, DirectoryName, last)
	requireDirectory(t, r)
}

func TestDirectoryQueryErrors(t *testing.T) {
	t.Parallel()
	r, _ := setup(t)
	for _, q := range []ActorQuery{
		{Type: "no.dots"},
		{Status: "asleep"},
		{Cursor: "%%%"},
		{Cursor: cursorEnc.EncodeToString([]byte("no-separator"))},
	} {
		if _, err := r.Directory().List(q); !errors.Is(err, ErrInvalid) {
			t.Errorf("List(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

// bulkCreate appends create events for n actors of type typ with keys
// [group(i), "n<i>"], unfenced (raw JetStream publishes), and returns the
// log's last sequence.
func bulkCreate(tb testing.TB, l *eventlog.Log, typ string, n int, group func(i int) string) uint64 {
	tb.Helper()
	js := l.JetStream()
	data := eventlog.MarshalEvent(&eventlog.Event{Kind: eventlog.KindCreate, Generation: 1, Time: time.Unix(1_700_000_000, 0),
		HasState: true, State: []byte(`{}`)})
	for i := range n {
		subj, err := eventlog.ActorRef{Type: typ, Key: []string{group(i), fmt.Sprintf("n%07d", i)}}.Subject()
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data}); err != nil {
			tb.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	last, err := l.LastSeq(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return last
}

// A directory page costs a bounded number of iterator steps, whatever the
// number of actors and wherever the page starts.
func TestDirectoryPageSteps(t *testing.T) {
	t.Parallel()
	var steps atomic.Int64
	r, b := setup(t, func(o *Options) { o.hooks = &testHooks{pageStep: func() { steps.Add(1) }} })
	types := []string{"alpha", "beta", "gamma", "delta"}
	var last uint64
	for _, typ := range types {
		last = bulkCreate(t, b.log, typ, 600, func(i int) string { return fmt.Sprintf("org-%d", i%7) })
	}
	start(t, r)
	wait(t, r, DirectoryName, last)
	const limit = 50
	for _, tc := range []struct {
		q        ActorQuery
		maxSteps int64
	}{
		{ActorQuery{}, limit + 2},
		{ActorQuery{Type: "beta"}, limit + 2},
		{ActorQuery{Type: "beta", Prefix: []string{"org-3"}}, limit + 2},
		{ActorQuery{Status: ActorActive}, limit + 2},
		{ActorQuery{Prefix: []string{"org-3"}}, limit + 2 + 2*int64(len(types))},
	} {
		tc.q.Limit = limit
		seen := 0
		for page := 0; page < 40; page++ {
			steps.Store(0)
			res, err := r.Directory().List(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if n := steps.Load(); n > tc.maxSteps {
				t.Fatalf("List(%+v) page %d took %d iterator steps, want at most %d", tc.q, page, n, tc.maxSteps)
			}
			seen += len(res.Actors)
			if res.NextCursor == "" {
				break
			}
			tc.q.Cursor = res.NextCursor
		}
		if seen < limit {
			t.Fatalf("List(%+v) listed %d actors", tc.q, seen)
		}
	}
}

// encodeActor writes what json.Marshal writes.
func TestEncodeActor(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 10, 30, 0, 123456789, time.UTC)
	for _, a := range []Actor{
		{ID: "doc.kAAAA", Type: "doc", Key: []string{}, Status: ActorActive, LastEventAt: at},
		{ID: "doc.kBB", Type: "doc", Key: []string{"org-acme", "a\"b\\c", "<&>", "\x00\x1f", "héllo \u2028"}, Generation: 7,
			Status: ActorDestroyed, CreatedAt: at.Add(-time.Hour), DestroyedAt: at, LastEventAt: at.In(time.FixedZone("x", 3600)),
			Events: 1 << 40, LastSeq: 99},
		{ID: "x", Key: nil},
	} {
		want, err := json.Marshal(&a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeActor(&a)
		if err != nil || string(got) != string(want) {
			t.Errorf("encodeActor = %s, %v\nwant          %s", got, err, want)
		}
	}
}

// Directory rows round-trip through their binary encoding, and serve as the
// JSON json.Marshal writes; a corrupt row is an error, never a panic.
func TestDirectoryRowCodec(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 10, 30, 0, 123456789, time.UTC)
	d := &Directory{}
	for _, a := range []Actor{
		{ID: "doc.kAAAA", Type: "doc", Key: []string{}, Status: ActorActive, LastEventAt: at, Events: 1, LastSeq: 1},
		{ID: "doc.kBB", Type: "doc", Key: []string{"org-acme", "a\"b\\c", "<&>", "\x00\x1f", "héllo \u2028", ""}, Generation: 7,
			Status: ActorDestroyed, CreatedAt: at.Add(-time.Hour), DestroyedAt: at, LastEventAt: at,
			Events: 1 << 40, LastSeq: 99},
		{ID: "x.k", Type: "x", Key: nil, Status: ActorActive, CreatedAt: time.Unix(-1, 999_999_999).UTC(), LastEventAt: at},
	} {
		v, err := encodeDirRow(&dirRow{Actor: a})
		if err != nil || v[0] != dirRowTag {
			t.Fatalf("encodeDirRow(%+v) = %q, %v", a, v, err)
		}
		got, err := decodeRow(a.ID, v)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("decodeRow(encodeDirRow(%+v)) =\n %+v, %v", a, got, err)
		}
		want, _ := json.Marshal(&a)
		for _, stored := range [][]byte{v, want} { // binary, and JSON from before
			js, err := d.rowJSON(a.ID, stored)
			if err != nil || string(js) != string(want) {
				t.Errorf("rowJSON(%q) = %s, %v\nwant %s", stored, js, err, want)
			}
			row, err := decodeDirRow(a.ID, stored)
			if err != nil || !reflect.DeepEqual(row.(*dirRow).Actor, a) || row.(*dirRow).okey != typeKey(a.Type, a.Key) {
				t.Errorf("decodeDirRow(%q) = %+v, %v", stored, row, err)
			}
		}
		for i := range len(v) {
			if _, err := decodeRow(a.ID, v[:i]); err == nil {
				t.Errorf("decodeRow of %d of %d bytes: no error", i, len(v))
			}
		}
		if _, err := decodeRow(a.ID, append(v, 0)); err == nil {
			t.Error("decodeRow with a trailing byte: no error")
		}
	}
	if _, err := d.rowJSON("x", []byte{0x7f, 1, 2}); err == nil {
		t.Error("rowJSON of an unknown encoding: no error")
	}
}

// A directory written by an earlier version (JSON rows) is read as it is
// (no rebuild at start), its rows change in place as their actors do, with
// their index entries, and a rebuild of it reaches the same rows and pages.
func TestDirectoryReadsJSONRows(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	last := fillDirectory(t, b)
	start(t, r)
	wait(t, r, DirectoryName, last)
	rows := allRows(t, r, DirectoryName)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Rewrite every row as the earlier version stored it: JSON.
	r = b.open(t)
	batch := r.db.NewBatch()
	for id, js := range rows {
		if err := batch.Set(append(rowPrefix(DirectoryName), id...), []byte(js), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Commit(nil); err != nil {
		t.Fatal(err)
	}
	_ = batch.Close()
	if v := storedRow(t, r, firstKey(rows)); v[0] != '{' {
		t.Fatalf("the rows are not JSON: %q", v)
	}
	if st := mustStatus(t, r, DirectoryName); st.Checkpoint != last {
		t.Fatalf("checkpoint %d after the reopen, want %d (no rebuild)", st.Checkpoint, last)
	}
	requireSameRows(t, DirectoryName, allRows(t, r, DirectoryName), rows)
	start(t, r)
	requireDirectory(t, r)

	// Change actors whose rows are JSON: a destroy moves one between the
	// status indexes, a create brings one back.
	b.destroy(t, "doc", "org-acme", "doc-1")
	b.create(t, "user", "org-beta", "u2") // generation 2
	b.act(t, "edit", "doc", "org-acme")
	last = b.create(t, "team", "org-acme")
	wait(t, r, DirectoryName, last)
	pages := func() [][]string {
		var out [][]string
		for _, s := range []ActorStatus{"", ActorActive, ActorDestroyed} {
			out = append(out, listAll(t, r.Directory(), ActorQuery{Status: s, Limit: 2}))
		}
		return out
	}
	incremental, incrementalRows := pages(), allRows(t, r, DirectoryName)
	want := [][]string{nil,
		{`doc["org-acme"]`, `doc["org-acme" "doc-2"]`, `doc["org-acme\x00" "zero"]`, `team["org-acme"]`, `user["org-acme" "u1"]`, `user["org-beta" "u2"]`},
		{`doc["org-acme" "doc-1"]`, `doc["org-beta" "doc-1"]`}}
	if !reflect.DeepEqual(incremental[1:], want[1:]) || len(incremental[0]) != 8 {
		t.Fatalf("after changes on JSON rows: %q\nwant (active, destroyed) %q", incremental, want[1:])
	}
	if err := r.Rebuild(context.Background(), DirectoryName, nil); err != nil {
		t.Fatal(err)
	}
	if got := pages(); !reflect.DeepEqual(got, incremental) {
		t.Fatalf("pages after a rebuild:\n %q\nwant\n %q", got, incremental)
	}
	requireSameRows(t, DirectoryName, allRows(t, r, DirectoryName), incrementalRows)
	for id := range incrementalRows {
		if v := storedRow(t, r, id); v[0] != dirRowTag {
			t.Fatalf("row %s after the rebuild: %q, want binary", id, v)
		}
	}
}

// storedRow returns a directory row as Pebble holds it.
func storedRow(t *testing.T, r *Runner, id string) []byte {
	t.Helper()
	v, closer, err := r.db.Get(append(rowPrefix(DirectoryName), id...))
	if err != nil {
		t.Fatalf("row %s: %v", id, err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}
