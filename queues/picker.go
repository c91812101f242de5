package queues

import (
	"container/heap"
	"time"
)

// The picker decides which waiting messages a queue's dispatcher makes
// ready next. It is pure (no I/O, no clock of its own) so its promises are
// tested directly:
//   - a message held back (delayMs, deliverAt) waits until it is due;
//   - one message per key is ready or in flight at a time, in enqueue order
//     (a held-back message joins its key's line when it is due);
//   - keys take turns within a priority (round robin, unkeyed messages
//     taking one turn like a key), so one busy key cannot hold back the
//     others;
//   - priorities take weighted turns (bandWeights), so urgent messages go
//     first but the least urgent still move while urgent ones wait.

// bandWeights are the turns each priority (1 to 5) gets per round.
var bandWeights = [LowestPriority]int{16, 8, 4, 2, 1}

// waiting is one message the dispatcher holds.
type waiting struct {
	seq      uint64 // the inbox sequence: the message's ID
	key      string
	priority int // 1..5
	due      time.Time
	index    int // in the delay heap
}

// line is the messages of one key (across priorities: a key's messages go
// in enqueue order whatever their priority), or the unkeyed messages of one
// priority, in enqueue order. A line takes its turns in the band of its
// head message.
type line struct {
	key  string
	msgs []*waiting
	band int // the band whose ring holds it, -1 when empty
}

// band is one priority's lines, taking turns.
type band struct {
	ring []*line // lines whose head has this priority, in turn order
	next int
}

// picker holds a queue's waiting messages.
type picker struct {
	bands   [LowestPriority]band
	keyed   map[string]*line
	unkeyed [LowestPriority]*line
	delayed delayHeap
	seqs    map[uint64]bool // every message held, due or not
	credit  [LowestPriority]int
}

func newPicker() *picker {
	p := &picker{seqs: map[uint64]bool{}, keyed: map[string]*line{}}
	for i := range p.unkeyed {
		p.unkeyed[i] = &line{band: -1}
	}
	return p
}

// add holds a message; a sequence already held is ignored (a redelivery).
func (p *picker) add(w *waiting, now time.Time) bool {
	if p.seqs[w.seq] {
		return false
	}
	p.seqs[w.seq] = true
	if w.due.After(now) {
		heap.Push(&p.delayed, w)
		return true
	}
	p.enqueue(w, false)
	return true
}

// lineOf returns the line a message belongs to, made if need be.
func (p *picker) lineOf(w *waiting) *line {
	if w.key == "" {
		return p.unkeyed[w.priority-1]
	}
	l := p.keyed[w.key]
	if l == nil {
		l = &line{key: w.key, band: -1}
		p.keyed[w.key] = l
	}
	return l
}

// enqueue puts a due message at the end of its line, or at its head
// (front: a picked message given back).
func (p *picker) enqueue(w *waiting, front bool) {
	l := p.lineOf(w)
	if front {
		l.msgs = append([]*waiting{w}, l.msgs...)
	} else {
		l.msgs = append(l.msgs, w)
	}
	p.place(l)
}

// place puts a line in the ring of its head's band (taking it out of
// another band's ring if its head changed band), or out of every ring when
// empty.
func (p *picker) place(l *line) {
	want := -1
	if len(l.msgs) > 0 {
		want = l.msgs[0].priority - 1
	}
	if l.band >= 0 && l.band != want {
		b := &p.bands[l.band]
		i := b.indexOf(l)
		b.ring = append(b.ring[:i], b.ring[i+1:]...)
		if b.next > i {
			b.next--
		}
	}
	if want >= 0 && l.band != want {
		p.bands[want].ring = append(p.bands[want].ring, l)
	}
	l.band = want
	if want < 0 && l.key != "" {
		delete(p.keyed, l.key)
	}
}

// indexOf finds a line in the ring, looking first where the last turn was
// (the line just taken from).
func (b *band) indexOf(l *line) int {
	if i := b.next - 1; i >= 0 && i < len(b.ring) && b.ring[i] == l {
		return i
	}
	for i, x := range b.ring {
		if x == l {
			return i
		}
	}
	panic("queues: a line is not in its band's ring")
}

// putBack returns a picked message to the head of its line (making it
// ready failed): it keeps its place before later messages of its key.
func (p *picker) putBack(w *waiting) {
	p.seqs[w.seq] = true
	p.enqueue(w, true)
}

// release moves the messages due by now into their lines and returns when
// the next held-back one is due (zero: none).
func (p *picker) release(now time.Time) time.Time {
	for p.delayed.Len() > 0 && !p.delayed[0].due.After(now) {
		p.enqueue(heap.Pop(&p.delayed).(*waiting), false)
	}
	if p.delayed.Len() > 0 {
		return p.delayed[0].due
	}
	return time.Time{}
}

// pick takes up to n messages to make ready. busy says whether a key has a
// message ready or in flight; a key picked here becomes busy for the rest
// of the call (the caller learns of it later from the stream).
func (p *picker) pick(n int, busy func(key string) bool) []*waiting {
	var out []*waiting
	taken := map[string]bool{}
	blocked := func(key string) bool { return key != "" && (taken[key] || busy(key)) }
	var stuck [LowestPriority]bool
	for len(out) < n {
		bi := p.nextBand(blocked, &stuck)
		if bi < 0 {
			break
		}
		l := p.bands[bi].turn(blocked)
		w := l.msgs[0]
		l.msgs[0] = nil
		l.msgs = l.msgs[1:]
		p.place(l)
		if w.key != "" {
			taken[w.key] = true
		}
		delete(p.seqs, w.seq)
		out = append(out, w)
	}
	return out
}

// nextBand chooses the priority whose turn it is among those with a
// message that can go (smooth weighted round robin), or -1. A band found
// stuck stays stuck for the rest of the pick (keys only get busier).
func (p *picker) nextBand(blocked func(string) bool, stuck *[LowestPriority]bool) int {
	best, total := -1, 0
	for i := range p.bands {
		if stuck[i] {
			continue
		}
		if !p.bands[i].canGo(blocked) {
			stuck[i] = true
			continue
		}
		p.credit[i] += bandWeights[i]
		total += bandWeights[i]
		if best < 0 || p.credit[i] > p.credit[best] {
			best = i
		}
	}
	if best >= 0 {
		p.credit[best] -= total
	}
	return best
}

func (b *band) canGo(blocked func(string) bool) bool {
	for _, l := range b.ring {
		if !blocked(l.key) {
			return true
		}
	}
	return false
}

// turn returns the next line in turn that is not blocked, and moves the
// turn past it; the caller checked there is one.
func (b *band) turn(blocked func(string) bool) *line {
	for range len(b.ring) {
		if b.next >= len(b.ring) {
			b.next = 0
		}
		l := b.ring[b.next]
		b.next++
		if !blocked(l.key) {
			return l
		}
	}
	panic("queues: a turn in a band with nothing that can go")
}

// counts reports the messages held: due (waiting for their turn) and
// delayed (not yet due).
func (p *picker) counts() (due, delayed int) {
	return len(p.seqs) - p.delayed.Len(), p.delayed.Len()
}

// hasKeyed reports whether a due message with a key is waiting (so the
// caller needs to know which keys are busy).
func (p *picker) hasKeyed() bool {
	return len(p.keyed) > 0
}

// delayHeap orders held-back messages by due time, then by sequence.
type delayHeap []*waiting

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *delayHeap) Push(x any)   { w := x.(*waiting); w.index = len(*h); *h = append(*h, w) }
func (h *delayHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}
