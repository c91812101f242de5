package queues

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The picker's promises under any mix of enqueues, picks and settles:
// nothing is picked before it is due, one message per key is out at a time,
// a key's messages go in enqueue order (by due time for held-back ones),
// and every message is eventually picked.
func TestPickerProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := newPicker()
		now := time.Unix(1000, 0)
		out := map[string]uint64{}       // key -> seq out (ready or in flight)
		lastByKey := map[string]uint64{} // key -> last seq picked
		due := map[uint64]time.Time{}
		var seq uint64
		held := 0
		keys := []string{"", "a", "b", "c"}
		for range rapid.IntRange(1, 200).Draw(rt, "steps") {
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1: // enqueue
				seq++
				w := &waiting{seq: seq, key: rapid.SampledFrom(keys).Draw(rt, "key"),
					priority: rapid.IntRange(HighestPriority, LowestPriority).Draw(rt, "prio")}
				if rapid.Bool().Draw(rt, "delayed") {
					w.due = now.Add(time.Duration(rapid.IntRange(1, 50).Draw(rt, "delay")) * time.Millisecond)
				}
				due[w.seq] = w.due
				if !p.add(w, now) {
					rt.Fatalf("a new message was refused")
				}
				held++
			case 2: // time passes, pick
				now = now.Add(time.Duration(rapid.IntRange(0, 20).Draw(rt, "tick")) * time.Millisecond)
				p.release(now)
				for _, w := range p.pick(rapid.IntRange(1, 5).Draw(rt, "n"), func(k string) bool { _, busy := out[k]; return busy }) {
					held--
					if due[w.seq].After(now) {
						rt.Fatalf("message %d picked at %v before it was due at %v", w.seq, now, due[w.seq])
					}
					if w.key == "" {
						continue
					}
					if o, busy := out[w.key]; busy {
						rt.Fatalf("key %q: message %d picked while %d is out", w.key, w.seq, o)
					}
					out[w.key] = w.seq
					if last := lastByKey[w.key]; last > w.seq && !due[w.seq].After(due[last]) && due[last].IsZero() == due[w.seq].IsZero() && due[w.seq].IsZero() {
						rt.Fatalf("key %q: message %d picked after %d", w.key, w.seq, last)
					}
					lastByKey[w.key] = w.seq
				}
			case 3: // a key's message is settled
				k := rapid.SampledFrom(keys[1:]).Draw(rt, "settle")
				delete(out, k)
			}
		}
		// Drain: everything held is eventually picked.
		now = now.Add(time.Second)
		p.release(now)
		for range held + 1 {
			clear(out)
			got := p.pick(held+1, func(k string) bool { _, busy := out[k]; return busy })
			held -= len(got)
			if held == 0 {
				break
			}
		}
		if due, delayed := p.counts(); held != 0 || due != 0 || delayed != 0 {
			rt.Fatalf("left behind: %d (due %d, delayed %d)", held, due, delayed)
		}
	})
}

// Priorities take weighted turns: with every band full, 31 picks take
// 16, 8, 4, 2 and 1 from priorities 1 to 5, so the least urgent still moves.
func TestPickerWeightedPriorities(t *testing.T) {
	p := newPicker()
	now := time.Unix(1000, 0)
	var seq uint64
	for prio := HighestPriority; prio <= LowestPriority; prio++ {
		for range 100 {
			seq++
			p.add(&waiting{seq: seq, priority: prio}, now)
		}
	}
	got := map[int]int{}
	for _, w := range p.pick(31, func(string) bool { return false }) {
		got[w.priority]++
	}
	want := map[int]int{1: 16, 2: 8, 3: 4, 4: 2, 5: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("per priority %v, want %v", got, want)
	}
}

// Keys take turns: a key with a long backlog does not hold back another.
func TestPickerFairAcrossKeys(t *testing.T) {
	p := newPicker()
	now := time.Unix(1000, 0)
	for i := range 100 {
		p.add(&waiting{seq: uint64(i + 1), key: "busy", priority: DefaultPriority}, now)
	}
	p.add(&waiting{seq: 101, key: "quiet", priority: DefaultPriority}, now)
	p.add(&waiting{seq: 102, priority: DefaultPriority}, now)
	got := p.pick(3, func(string) bool { return false })
	if len(got) != 3 {
		t.Fatalf("picked %d, want 3 (one per key and the unkeyed one)", len(got))
	}
	seen := map[uint64]bool{}
	for _, w := range got {
		seen[w.seq] = true
	}
	if !seen[1] || !seen[101] || !seen[102] {
		t.Fatalf("picked %v, want the heads of busy, quiet and the unkeyed line", seen)
	}
}
