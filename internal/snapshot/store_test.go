package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/internal/pebbledb"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	tests := []struct {
		name string
		snap Snapshot
	}{
		{"plain", snap("counter/a", 7, `{"n":1}`)},
		{"empty state and version", Snapshot{Actor: "counter/b", Seq: 1}},
		{"binary actor", Snapshot{Actor: "x\x00y\xff", Seq: 1 << 62, CodeVersion: "v2", State: []byte{0, 1, 2}}},
		{"max actor", snap(strings.Repeat("a", MaxActorLen), 3, "s")},
		{"max code version", Snapshot{Actor: "cv", Seq: 2, CodeVersion: strings.Repeat("v", MaxCodeVersionLen)}},
		{"large state", Snapshot{Actor: "big", Seq: 9, State: bytes.Repeat([]byte("z"), 1<<20)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Write([]Snapshot{tc.snap}, nil); err != nil {
				t.Fatalf("Write: %v", err)
			}
			wantSnap(t, s, tc.snap)
		})
	}
	wantMissing(t, s, "nobody")
}

func TestGetReturnsCopy(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	if err := s.Write([]Snapshot{snap("a", 1, "abc")}, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := mustGet(t, s, "a")
	copy(got.State, "XXX")
	wantSnap(t, s, snap("a", 1, "abc"))
}

func TestWriteBatch(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	if err := s.Write([]Snapshot{snap("a", 1, "a1"), snap("b", 2, "b2"), snap("c", 3, "c3")}, nil); err != nil {
		t.Fatal(err)
	}
	// One batch: overwrite a, add d, delete b and c; d is also deleted
	// because deletes apply after puts.
	err := s.Write([]Snapshot{snap("a", 4, "a4"), snap("d", 5, "d5"), snap("e", 6, "e6")}, []string{"b", "c", "d", "never-existed"})
	if err != nil {
		t.Fatal(err)
	}
	wantSnap(t, s, snap("a", 4, "a4"))
	wantSnap(t, s, snap("e", 6, "e6"))
	for _, a := range []string{"b", "c", "d"} {
		wantMissing(t, s, a)
	}
	wantCount(t, s, 2)
	if err := s.Write(nil, nil); err != nil {
		t.Fatalf("empty Write: %v", err)
	}
}

func TestWriteRejectsInvalid(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxActorLen+1)
	tests := []struct {
		name    string
		puts    []Snapshot
		deletes []string
	}{
		{"empty actor", []Snapshot{snap("ok", 1, ""), {Seq: 1}}, nil},
		{"long actor", []Snapshot{snap("ok", 1, ""), snap(long, 1, "")}, nil},
		{"seq 0", []Snapshot{snap("ok", 1, ""), snap("zero", 0, "")}, nil},
		{"long code version", []Snapshot{snap("ok", 1, ""), {Actor: "cv", Seq: 1, CodeVersion: strings.Repeat("v", MaxCodeVersionLen+1)}}, nil},
		{"empty delete", []Snapshot{snap("ok", 1, "")}, []string{"keep", ""}},
		{"long delete", nil, []string{"keep", long}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			keep := snap("keep", 1, "k")
			if err := s.Write([]Snapshot{keep}, nil); err != nil {
				t.Fatal(err)
			}
			err := s.Write(tc.puts, tc.deletes)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Write err = %v, want ErrInvalid", err)
			}
			wantCount(t, s, 1)
			wantSnap(t, s, keep)
		})
	}
}

func TestGetRejectsInvalidActor(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	for _, a := range []string{"", strings.Repeat("a", MaxActorLen+1)} {
		if _, _, err := s.Get(a); !errors.Is(err, ErrInvalid) {
			t.Errorf("Get(len %d) err = %v, want ErrInvalid", len(a), err)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	want := snap("a", 3, "state")
	if err := s.Write([]Snapshot{want}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta("rebuild.checkpoint", []byte("42")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, b.dir, &b.opts)
	wantSnap(t, s2, want)
	if v, ok, err := s2.GetMeta("rebuild.checkpoint"); err != nil || !ok || string(v) != "42" {
		t.Fatalf("GetMeta = %q, %v, %v; want 42", v, ok, err)
	}
}

func TestDeletedDirIsEmpty(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	if err := s.Write([]Snapshot{snap("a", 1, "x")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(b.dir); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, b.dir, &b.opts)
	wantCount(t, s2, 0)
	wantMissing(t, s2, "a")
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	t.Run("locked", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t)
		s2, err := Open(b.dir, &Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			s2.Close()
			t.Fatal("second Open of a locked dir succeeded")
		}
		if !strings.Contains(err.Error(), "open snapshot store at "+b.dir) {
			t.Fatalf("err = %v, want it to name the dir", err)
		}
	})
	t.Run("dir is a file", func(t *testing.T) {
		t.Parallel()
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(f, &Options{Logger: slog.New(slog.DiscardHandler)}); err == nil {
			s.Close()
			t.Fatal("Open on a file succeeded")
		}
	})
	for _, o := range []Options{{CacheSize: -1}, {MaxBatch: -1}, {FlushInterval: -1}} {
		t.Run(fmt.Sprintf("options %+v", o), func(t *testing.T) {
			t.Parallel()
			if s, err := Open(t.TempDir(), &o); !errors.Is(err, ErrInvalid) {
				s.Close()
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCorruptValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		val  []byte
	}{
		{"empty", []byte{}},
		{"unknown version", []byte{2, 1, 0}},
		{"truncated seq", []byte{formatV1, 0x80}},
		{"missing code version length", []byte{formatV1, 5}},
		{"code version past end", []byte{formatV1, 5, 10, 'v'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			if err := s.db.Set(snapKey("bad"), tc.val, nil); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.Get("bad"); !errors.Is(err, ErrCorrupt) || ok {
				t.Fatalf("Get = %v, %v; want ErrCorrupt", ok, err)
			}
			if err := s.Each(func(Snapshot) error { return nil }); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Each err = %v, want ErrCorrupt", err)
			}
			// Overwriting repairs the entry.
			if err := s.Write([]Snapshot{snap("bad", 2, "ok")}, nil); err != nil {
				t.Fatal(err)
			}
			wantSnap(t, s, snap("bad", 2, "ok"))
		})
	}
}

func TestEach(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	puts := []Snapshot{snap("c", 3, "3"), snap("a", 1, "1"), snap("b", 2, "2")}
	if err := s.Write(puts, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta("a", []byte("meta is not a snapshot")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := s.Each(func(sn Snapshot) error {
		seen = append(seen, fmt.Sprintf("%s@%d=%s", sn.Actor, sn.Seq, sn.State))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(seen, " "), "a@1=1 b@2=2 c@3=3"; got != want {
		t.Fatalf("Each saw %q, want %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err := s.Each(func(Snapshot) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Each = %v after %d calls, want stop after 1", err, n)
	}
	wantCount(t, s, 3)
}

func TestMeta(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	if _, ok, err := s.GetMeta("rebuild.checkpoint"); err != nil || ok {
		t.Fatalf("GetMeta on empty store = %v, %v", ok, err)
	}
	if err := s.SetMeta("rebuild.checkpoint", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.GetMeta("rebuild.checkpoint")
	if err != nil || !ok || !bytes.Equal(v, []byte{1, 2}) {
		t.Fatalf("GetMeta = %v, %v, %v", v, ok, err)
	}
	// Separate key spaces: a snapshot with the same name is unaffected.
	wantMissing(t, s, "rebuild.checkpoint")
	wantCount(t, s, 0)
	for _, name := range []string{"", strings.Repeat("m", MaxMetaNameLen+1)} {
		if err := s.SetMeta(name, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetMeta(len %d) = %v, want ErrInvalid", len(name), err)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	s.Put(snap("a", 1, "x"))
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, _, err := s.Get("b"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	for name, err := range map[string]error{
		"Write":   s.Write([]Snapshot{snap("a", 2, "")}, nil),
		"Each":    s.Each(func(Snapshot) error { return nil }),
		"SetMeta": s.SetMeta("m", nil),
		"Flush":   s.Flush(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	s.Put(snap("a", 2, "dropped")) // must not panic or block
	s.Delete("a")
	var nilStore *Store
	if err := nilStore.Close(); err != nil {
		t.Fatalf("nil Close: %v", err)
	}
}

func TestOpenCloseStress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 20 {
		s, err := Open(dir, &Options{Logger: slog.New(slog.DiscardHandler), MaxBatch: 4})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			s.Put(snap(fmt.Sprintf("a%d", j), uint64(i+1), ""))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := openT(t, dir, &Options{Logger: slog.New(slog.DiscardHandler)})
	wantSnap(t, s, snap("a9", 20, ""))
}

func TestPebbleLogger(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	l := pebbledb.NewLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Infof("hello %d\n", 1)
	l.Errorf("bad %s", "thing")
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
				t.Errorf("Fatalf recovered %v, want a panic mentioning boom", r)
			}
		}()
		l.Fatalf("boom")
	}()
	out := logs.String()
	for _, want := range []string{`level=DEBUG msg="hello 1"`, `level=ERROR msg="bad thing"`, `level=ERROR msg=boom fatal=true`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
}

func TestClear(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	if err := s.Write([]Snapshot{snap("a", 1, ""), snap("b", 2, "")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(snapKey("bad"), []byte{99}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta("keep", []byte("m")); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, 0)
	wantMissing(t, s, "bad") // corrupt entries go too
	if v, ok, err := s.GetMeta("keep"); err != nil || !ok || string(v) != "m" {
		t.Fatalf("GetMeta after Clear = %q, %v, %v", v, ok, err)
	}
	if err := s.Write([]Snapshot{snap("a", 3, "")}, nil); err != nil {
		t.Fatal(err)
	}
	wantSnap(t, s, snap("a", 3, ""))
}
