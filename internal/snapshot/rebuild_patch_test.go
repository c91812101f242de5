package snapshot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// TestRebuildFoldsPatches: a log whose actions carry state patches (and, from
// before patches, whole states in version 1 envelopes), interleaved over many
// actors, rebuilds to the snapshots a runtime folding event by event keeps,
// byte for byte, also when the rebuild writes actors out mid-scan (MaxPending)
// and picks their images, patches folded in memory, back up from Pebble.
func TestRebuildFoldsPatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)

	type actorState struct {
		Name  string            `json:"name"`
		Items []string          `json:"items"`
		Tags  map[string]string `json:"tags,omitempty"`
		Big   uint64            `json:"big"`
		Any   json.RawMessage   `json:"any,omitempty"`
	}
	anys := []string{`1`, `"s"`, `{"a/b":[1,{"~":null}]}`, `[true,9007199254740993]`, `null`}
	keys := []string{"ü", "a/b", "~0", "~1/", "", "🎉"}

	live := map[string]snapshot.Snapshot{}
	last := map[string]uint64{}
	states := map[string]actorState{}
	encoded := map[string][]byte{}
	var patches, v1 int
	const actors = 7
	for i := range 300 {
		a := i % actors
		subj, _ := eventlog.ActorRef{Type: "doc", Key: []string{fmt.Sprint(a)}}.Subject()
		ev := &eventlog.Event{Kind: eventlog.KindAction, Action: "edit", Generation: 1, CodeVersion: fmt.Sprint("v", i%2)}
		s, exists := states[subj]
		switch {
		case !exists:
			s = actorState{Name: strings.Repeat("n", 80), Items: []string{}}
			ev.Kind, ev.Action = eventlog.KindCreate, "$create"
		case i%5 == 0:
			s.Items = append(s.Items, fmt.Sprint("item ", i))
			if len(s.Items) > 6 {
				s.Items = s.Items[1:]
			}
		case i%5 == 1:
			if s.Tags == nil {
				s.Tags = map[string]string{}
			}
			s.Tags[keys[i%len(keys)]] = fmt.Sprint(i)
		case i%5 == 2:
			s.Big = 1<<63 + uint64(i)
			delete(s.Tags, keys[(i/5)%len(keys)])
		case i%5 == 3:
			s.Any = json.RawMessage(anys[(i/5)%len(anys)])
		default:
			ev.KV = []eventlog.KVWrite{{Key: []byte("k"), Value: []byte(fmt.Sprint(i))}}
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == eventlog.KindCreate {
			ev.HasState, ev.State = true, b
		} else if string(b) != string(encoded[subj]) {
			if i < 100 { // the release before patches: a whole copy
				ev.HasState, ev.State = true, b
			} else if ev.Patch, err = jsonpatch.Diff(encoded[subj], b); err != nil {
				t.Fatal(err)
			} else {
				patches++
			}
		}
		states[subj], encoded[subj] = s, b

		var seq uint64
		if i < 100 && i%3 == 0 {
			data := eventlog.MarshalEvent(ev)
			data[0] = 1 // a version 1 envelope
			ack, err := l.JetStream().Publish(ctx, subj, data, jetstream.WithExpectLastSequencePerSubject(last[subj]))
			if err != nil {
				t.Fatal(err)
			}
			seq = ack.Sequence
			v1++
		} else if seq, err = l.Append(ctx, subj, last[subj], ev); err != nil {
			t.Fatal(err)
		}
		last[subj] = seq
		ev.Seq, ev.Subject = seq, subj
		if live[subj], err = actorstate.Fold(live[subj], ev); err != nil {
			t.Fatal(err)
		}
		im, err := actorstate.Decode(live[subj].State)
		if err != nil || string(im.State) != string(b) {
			t.Fatalf("event %d: the fold holds %s, want %s (%v)", i, im.State, b, err)
		}
	}
	if patches < 150 || v1 == 0 {
		t.Fatalf("%d patches, %d version 1 events", patches, v1)
	}
	// MaxCached 1: actors written out mid-scan are dropped from memory and
	// read back from Pebble at their next event.
	for _, o := range []snapshot.RebuildOptions{{}, {MaxPending: 2}, {MaxPending: 2, MaxCached: 1}, {MaxPending: 3, MaxCachedBytes: 1}} {
		store, err := snapshot.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := snapshot.Rebuild(ctx, l, store, o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Scanned != 300 || p.Actors < actors {
			t.Errorf("options %+v: progress %+v", o, p)
		}
		if got := dump(t, store); !reflect.DeepEqual(got, live) {
			for subj, want := range live {
				if !reflect.DeepEqual(got[subj], want) {
					t.Errorf("options %+v: %s rebuilt as\n%+v\nwant\n%+v", o, subj, got[subj], want)
				}
			}
			t.Fatalf("options %+v: rebuilt %d snapshots, want %d identical ones", o, len(got), len(live))
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
