package jsonpatch

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wI2L/jsondiff"
)

type benchMsg struct {
	ID   int64
	User string
	Text string
	At   int64
}

type benchRoom struct {
	Name     string
	Messages []benchMsg
}

func benchMessage(i int) benchMsg {
	text := fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog <3", i)
	return benchMsg{ID: int64(i), User: fmt.Sprintf("user%d", i%17), Text: text[:min(len(text), 60)],
		At: 1_700_000_000_000 + int64(i)*1000}
}

func benchRoomOf(n int) *benchRoom {
	r := &benchRoom{Name: "general"}
	for i := range n {
		r.Messages = append(r.Messages, benchMessage(i))
	}
	return r
}

// benchFlat is a flat struct state of 21 fields.
type benchFlat struct {
	ID, Owner, Title, Status, Region, Plan string
	Count, Limit, Used, Version            int64
	Score, Ratio                           float64
	Enabled, Archived, Verified            bool
	Tags                                   []string
	Notes                                  string
	Created, Updated, Deleted              int64
}

func benchFlatState() *benchFlat {
	return &benchFlat{ID: "acct-000123", Owner: "alice@example.com", Title: "A title with <html> & stuff",
		Status: "active", Region: "eu-west-1", Plan: "pro", Count: 42, Limit: 1000, Used: 321,
		Version: 7, Score: 0.875, Ratio: 1.5, Enabled: true, Tags: []string{"a", "b", "c"},
		Notes: strings.Repeat("note ", 20), Created: 1700000000, Updated: 1700000100}
}

type benchCase struct {
	name     string
	state    any
	old, new []byte
}

func benchCases(b *testing.B) []benchCase {
	var cs []benchCase
	marshal := func(v any) []byte {
		out, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	for _, n := range []int{10, 1000, 3000} {
		r := benchRoomOf(n)
		old := marshal(r)
		// append one message
		r2 := *r
		r2.Messages = append(append([]benchMsg(nil), r.Messages...), benchMessage(n))
		cs = append(cs, benchCase{fmt.Sprintf("room%d/append", n), r, old, marshal(&r2)})
		// change a field in place
		r3 := *r
		r3.Messages = append([]benchMsg(nil), r.Messages...)
		r3.Messages[n/2].Text = "edited"
		cs = append(cs, benchCase{fmt.Sprintf("room%d/edit", n), r, old, marshal(&r3)})
		// bounded list: drop the oldest, append the newest
		r4 := *r
		r4.Messages = append(append([]benchMsg(nil), r.Messages[1:]...), benchMessage(n))
		cs = append(cs, benchCase{fmt.Sprintf("room%d/dropAppend", n), r, old, marshal(&r4)})
	}
	f := benchFlatState()
	f2 := *f
	f2.Used++
	f2.Updated++
	cs = append(cs, benchCase{"flat/edit", f, marshal(f), marshal(&f2)})
	return cs
}

// BenchmarkDiff measures, in the same loop (so machine noise hits both
// alike), json.Marshal of the state and a diff of (old, new), reporting
// marshal-ns, diff-ns, their ratio x-marshal and the patch size patchB.
// "ours" is Diff, "jsondiff" is github.com/wI2L/jsondiff's CompareJSON.
func BenchmarkDiff(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name+"/ours", func(b *testing.B) {
			var patch []byte
			benchRatio(b, c.state, func() {
				var err error
				if patch, err = Diff(c.old, c.new); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(len(patch)), "patchB")
		})
		b.Run(c.name+"/trusted", func(b *testing.B) {
			var patch []byte
			benchRatio(b, c.state, func() {
				var err error
				if patch, err = DiffTrusted(c.old, c.new); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(len(patch)), "patchB")
		})
		b.Run(c.name+"/jsondiff", func(b *testing.B) {
			var patch jsondiff.Patch
			benchRatio(b, c.state, func() {
				var err error
				if patch, err = jsondiff.CompareJSON(c.old, c.new); err != nil {
					b.Fatal(err)
				}
			})
			out, _ := json.Marshal(patch)
			b.ReportMetric(float64(len(out)), "patchB")
		})
	}
}

// BenchmarkDiffTrusted runs json.Marshal of the state, Diff and DiffTrusted
// in turn in every iteration, so machine noise hits all three alike, and
// reports each one's ns/op and the ratios trusted/diff and trusted/marshal.
//
//	go test ./internal/jsonpatch -run '^$' -bench DiffTrusted -count 5
func BenchmarkDiffTrusted(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			want, err := Diff(c.old, c.new)
			if err != nil {
				b.Fatal(err)
			}
			if got, err := DiffTrusted(c.old, c.new); err != nil || string(got) != string(want) {
				b.Fatalf("DiffTrusted = %s, %v; Diff = %s", got, err, want)
			}
			var tm, td, tt time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := json.Marshal(c.state); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := Diff(c.old, c.new); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if _, err := DiffTrusted(c.old, c.new); err != nil {
					b.Fatal(err)
				}
				tt += time.Since(t2)
				td += t2.Sub(t1)
				tm += t1.Sub(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tm.Nanoseconds())/n, "marshal-ns")
			b.ReportMetric(float64(td.Nanoseconds())/n, "diff-ns")
			b.ReportMetric(float64(tt.Nanoseconds())/n, "trusted-ns")
			b.ReportMetric(float64(tt)/float64(td), "trusted/diff")
			b.ReportMetric(float64(tt)/float64(tm), "trusted/marshal")
			b.ReportMetric(float64(len(want)), "patchB")
		})
	}
}

func benchRatio(b *testing.B, state any, diff func()) {
	var tm, td time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := json.Marshal(state); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		diff()
		td += time.Since(t1)
		tm += t1.Sub(t0)
	}
	b.ReportMetric(float64(tm.Nanoseconds())/float64(b.N), "marshal-ns")
	b.ReportMetric(float64(td.Nanoseconds())/float64(b.N), "diff-ns")
	b.ReportMetric(float64(td)/float64(tm), "x-marshal")
}

func BenchmarkDoc(b *testing.B) {
	r := benchRoomOf(3000)
	snap, _ := json.Marshal(r)
	patch := []byte(`[{"op":"remove","path":"/Messages/0"},{"op":"add","path":"/Messages/-","value":` +
		`{"ID":3000,"User":"user8","Text":"hello there","At":1700003000000}}]`)
	b.Run("room3000/Parse", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(snap); err != nil {
				b.Fatal(err)
			}
		}
	})
	d, _ := Parse(snap)
	b.Run("room3000/Encode", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		b.ReportAllocs()
		buf := make([]byte, 0, len(snap)+1024)
		for b.Loop() {
			buf = d.AppendEncode(buf[:0])
		}
	})
	b.Run("room3000/Apply", func(b *testing.B) {
		d, _ := Parse(snap)
		b.ReportAllocs()
		for b.Loop() {
			if err := d.Apply(patch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("room3000/Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		b.ReportAllocs()
		for b.Loop() {
			var r benchRoom
			if err := json.Unmarshal(snap, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
