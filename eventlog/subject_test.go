package eventlog_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// checkSubject asserts that subj is a literal NATS subject under the actor
// prefix with exactly four non-empty tokens and nothing a wildcard or a parser
// could read as structure.
func checkSubject(t *testing.T, subj string) {
	t.Helper()
	toks := strings.Split(subj, ".")
	if len(toks) != 4 || toks[0]+"."+toks[1] != eventlog.SubjectPrefix {
		t.Fatalf("subject %q does not have 4 tokens under %s", subj, eventlog.SubjectPrefix)
	}
	for _, tok := range toks {
		if tok == "" || tok == "*" || tok == ">" {
			t.Fatalf("subject %q has token %q", subj, tok)
		}
		for _, r := range tok {
			if r > unicode.MaxASCII || unicode.IsSpace(r) || r == '*' || r == '>' {
				t.Fatalf("subject %q has character %q", subj, r)
			}
		}
	}
}

func TestSubjectHostileKeys(t *testing.T) {
	t.Parallel()
	keys := [][]string{
		{}, {""}, {"", ""}, {"a"}, {"a", "b"}, {"a.b"}, {"a", ".b"}, {"a.", "b"},
		{"*"}, {">"}, {"a.*.>"}, {" "}, {"tab\there"}, {"new\nline"}, {"\x00"},
		{"日本語"}, {"emoji 🎉"}, {"k" + strings.Repeat("x", 500)}, {"$JS.API.>"},
		{"ab", "c"}, {"a", "bc"}, {"\x01a"}, {strings.Repeat("z", 128)},
	}
	seen := map[string][]string{}
	for _, key := range keys {
		ref := eventlog.ActorRef{Type: "doc", Key: key}
		subj, err := ref.Subject()
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		checkSubject(t, subj)
		if prev, dup := seen[subj]; dup {
			t.Fatalf("keys %q and %q share subject %s", prev, key, subj)
		}
		seen[subj] = key
		back, err := eventlog.ParseSubject(subj)
		if err != nil || back.Type != "doc" || !reflect.DeepEqual(back.Key, key) {
			t.Fatalf("parse %s = %+v, %v; want %q", subj, back, err, key)
		}
	}
}

func TestSubjectRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  eventlog.ActorRef
	}{
		{"empty type", eventlog.ActorRef{Type: ""}},
		{"dotted type", eventlog.ActorRef{Type: "a.b"}},
		{"wildcard type", eventlog.ActorRef{Type: "*"}},
		{"digit first", eventlog.ActorRef{Type: "1abc"}},
		{"long type", eventlog.ActorRef{Type: strings.Repeat("a", eventlog.MaxTypeLen+1)}},
		{"invalid utf8", eventlog.ActorRef{Type: "doc", Key: []string{"\xff"}}},
		{"key too long", eventlog.ActorRef{Type: "doc", Key: []string{strings.Repeat("x", eventlog.MaxKeyBytes)}}},
	}
	for _, tc := range tests {
		if _, err := tc.ref.Subject(); !errors.Is(err, eventlog.ErrInvalidActor) {
			t.Errorf("%s: err = %v, want ErrInvalidActor", tc.name, err)
		}
	}
	// The key limit is exact: MaxKeyBytes in all, one length byte included.
	edge := eventlog.ActorRef{Type: "doc", Key: []string{strings.Repeat("x", eventlog.MaxKeyBytes-2)}}
	if _, err := edge.Subject(); err != nil {
		t.Errorf("key of exactly %d bytes: %v", eventlog.MaxKeyBytes, err)
	}
	for _, s := range []string{"", "rf.ev", "rf.ev.doc", "rf.ev.doc.x", "rf.ev.doc.k!!", "other.ev.doc.k", "rf.ev.doc.kBQ", "rf.ev.doc.kgAFh"} {
		if _, err := eventlog.ParseSubject(s); err == nil {
			t.Errorf("ParseSubject(%q) succeeded", s)
		}
	}
}

// Base64 with stray trailing bits decodes to the same key bytes; only the
// canonical spelling names the actor, so an ID has exactly one spelling.
func TestSubjectRejectsNonCanonicalBase64(t *testing.T) {
	t.Parallel()
	canon, err := eventlog.ActorRef{Type: "counter", Key: []string{}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	// [""] encodes as one zero byte: "AA".
	one, err := eventlog.ActorRef{Type: "counter", Key: []string{""}}.Subject()
	if err != nil || one != "rf.ev.counter.kAA" {
		t.Fatalf("subject of [\"\"] = %q, %v", one, err)
	}
	if _, err := eventlog.ParseSubject(one); err != nil {
		t.Fatalf("canonical %q: %v", one, err)
	}
	for _, alias := range []string{"rf.ev.counter.kAB", "rf.ev.counter.kAP"} {
		if _, err := eventlog.ParseSubject(alias); !errors.Is(err, eventlog.ErrInvalidActor) {
			t.Errorf("ParseSubject(%q) = %v, want ErrInvalidActor (it aliases %s)", alias, err, one)
		}
	}
	if _, err := eventlog.ParseSubject(canon); err != nil {
		t.Errorf("empty key %q: %v", canon, err)
	}
}

func FuzzActorSubject(f *testing.F) {
	f.Add("doc", "a", "b")
	f.Add("doc", "a.b", "")
	f.Add("x", "*", ">")
	f.Add("Type_1", " 日本\t", "\x00")
	f.Fuzz(func(t *testing.T, typ, k1, k2 string) {
		for _, key := range [][]string{{k1}, {k1, k2}, {k1 + k2}} {
			subj, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
			if err != nil {
				if !errors.Is(err, eventlog.ErrInvalidActor) {
					t.Fatalf("unexpected error type: %v", err)
				}
				continue
			}
			checkSubject(t, subj)
			back, err := eventlog.ParseSubject(subj)
			if err != nil || back.Type != typ || !reflect.DeepEqual(back.Key, key) {
				t.Fatalf("round trip of %q %q: %+v, %v", typ, key, back, err)
			}
		}
		// Different keys never share a subject.
		a, errA := eventlog.ActorRef{Type: "t", Key: []string{k1, k2}}.Subject()
		b, errB := eventlog.ActorRef{Type: "t", Key: []string{k1 + k2}}.Subject()
		if errA == nil && errB == nil && a == b {
			t.Fatalf("%q and %q share subject %s", []string{k1, k2}, []string{k1 + k2}, a)
		}
	})
}
