package actors_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// The replay rate of a long history beside the fold rate of the same
// history: what a deploy gate pays per event to re-run the code and compare,
// over what rebuilding the actor costs.
//
//	go test -run '^$' -bench 'ReplayHistory|FoldHistory' -benchtime 3x ./actors/

// rpBenchEvents is the length of the benchmarked history.
const rpBenchEvents = 100_000

// rpBenchState is large enough (a list of 40 names) that the events carry
// patches, not the whole state.
type rpBenchState struct {
	Count int64    `json:"count"`
	Names []string `json:"names"`
}

// rpBenchType is a counter whose inc adds n*by (by 1: the recorded code).
func rpBenchType(by int64) *actors.Type[rpBenchState] {
	return actors.NewType("rpbench", actors.Options[rpBenchState]{
		CreateState: func(*actors.Context[rpBenchState], json.RawMessage) (rpBenchState, error) {
			s := rpBenchState{}
			for i := range 40 {
				s.Names = append(s.Names, "name-number-"+strconv.Itoa(i))
			}
			return s, nil
		}}).
		Action("inc", actors.Act(func(c *actors.Context[rpBenchState], n int64) (int64, error) {
			c.State.Count += n * by
			c.Broadcast("count", c.State.Count)
			return c.State.Count, nil
		}))
}

// rpBench is the recorded history, shared by the benchmarks of a process.
var rpBench struct {
	once sync.Once
	reg  *actors.Registry
	id   string
	evs  []*eventlog.Event
}

// rpBenchHistory records rpBenchEvents events with a real runtime, once.
func rpBenchHistory(b *testing.B) (*actors.Registry, string, []*eventlog.Event) {
	rpBench.once.Do(func() {
		reg := ftRegistry(b, rpBenchType(1))
		bd := setup(b, reg)
		h, _, err := bd.rt.Client().GetOrCreate(context.Background(), "rpbench", []string{"a"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		args := []byte(`[1]`)
		for range rpBenchEvents - 1 {
			if _, err := h.ActionJSON(context.Background(), "inc", args); err != nil {
				b.Fatal(err)
			}
		}
		evs := ftEvents(b, bd, h.ID)
		if len(evs) != rpBenchEvents || evs[len(evs)-1].Patch == nil {
			b.Fatalf("recorded %d events (the last with patch %q), want %d carrying patches", len(evs), evs[len(evs)-1].Patch, rpBenchEvents)
		}
		rpBench.reg, rpBench.id, rpBench.evs = reg, h.ID, evs
	})
	if rpBench.evs == nil {
		b.Fatal("the history was not recorded")
	}
	return rpBench.reg, rpBench.id, rpBench.evs
}

func BenchmarkReplayHistory(b *testing.B) {
	reg, id, evs := rpBenchHistory(b)
	rp := actors.NewReplayer(reg)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := rp.ReplayHistory(context.Background(), id, evs)
		if err != nil || !res.OK() || res.Events != len(evs) {
			b.Fatalf("replay: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkFoldHistory(b *testing.B) {
	_, _, evs := rpBenchHistory(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var im actorstate.Image
		for _, ev := range evs {
			if err := im.Apply(ev); err != nil {
				b.Fatal(err)
			}
		}
		im.Settle()
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
}
