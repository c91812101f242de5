package workflows_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

func mustPath(t testing.TB, s string) workflows.Path {
	t.Helper()
	p, err := workflows.ParsePath(s)
	if err != nil {
		t.Fatalf("ParsePath(%q): %v", s, err)
	}
	return p
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"plan", true},
		{"search-3", true},
		{"$compensate", true},
		{"with space", true},
		{"ünïcødé 🚀", true},
		{"a.b:c@d", true},
		{strings.Repeat("x", workflows.MaxNameBytes), true},
		{strings.Repeat("é", workflows.MaxNameBytes/2), true},
		{"", false},
		{strings.Repeat("x", workflows.MaxNameBytes+1), false},
		{strings.Repeat("é", workflows.MaxNameBytes/2) + "x", false},
		{"a/b", false},
		{"/", false},
		{"main#1", false},
		{"#", false},
		{"tab\there", false},
		{"new\nline", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"bad\xffutf8", false},
	} {
		err := workflows.ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, workflows.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, not ErrInvalidName", tc.name, err)
		}
	}
}

func TestPathBuild(t *testing.T) {
	t.Parallel()
	var root workflows.Path
	must := func(p workflows.Path, err error) workflows.Path {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	plan := must(root.Child("plan"))
	iter := must(root.Iteration("main", 41))
	fetch := must(iter.Child("fetch"))
	branch := must(root.Branch("tools", "search-3"))
	call := must(branch.Child("call"))
	for _, tc := range []struct {
		p            workflows.Path
		str, base    string
		parent       string
		segs         []string
		isRoot       bool
		withinParent bool
	}{
		{root, "/", "", "/", nil, true, true},
		{plan, "plan", "plan", "/", []string{"plan"}, false, true},
		{iter, "main#41", "main#41", "/", []string{"main#41"}, false, true},
		{fetch, "main#41/fetch", "fetch", "main#41", []string{"main#41", "fetch"}, false, true},
		{branch, "tools/search-3", "search-3", "tools", []string{"tools", "search-3"}, false, true},
		{call, "tools/search-3/call", "call", "tools/search-3", []string{"tools", "search-3", "call"}, false, true},
	} {
		if got := tc.p.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.p.Base(); got != tc.base {
			t.Errorf("%s: Base() = %q, want %q", tc.str, got, tc.base)
		}
		if got := tc.p.Parent().String(); got != tc.parent {
			t.Errorf("%s: Parent() = %q, want %q", tc.str, got, tc.parent)
		}
		if got := tc.p.Segments(); strings.Join(got, "|") != strings.Join(tc.segs, "|") || len(got) != len(tc.segs) {
			t.Errorf("%s: Segments() = %q, want %q", tc.str, got, tc.segs)
		}
		if tc.p.IsRoot() != tc.isRoot {
			t.Errorf("%s: IsRoot() = %v", tc.str, tc.p.IsRoot())
		}
		if !tc.p.Within(tc.p.Parent()) || !tc.p.Within(tc.p) || !tc.p.Within(root) {
			t.Errorf("%s: not within its parent, itself and the root", tc.str)
		}
		if back := mustPath(t, tc.str); back != tc.p {
			t.Errorf("ParsePath(%q) = %v, want the built path", tc.str, back)
		}
	}
	if fetch.Within(plan) || must(root.Child("tool")).Within(must(root.Child("tools"))) || branch.Within(call) {
		t.Error("Within matched a sibling, a name prefix or a child")
	}

	// Building refuses bad names, negative iterations and overlong paths.
	for _, tc := range []struct {
		what string
		err  error
		is   error
	}{
		{"child a/b", func() error { _, err := root.Child("a/b"); return err }(), workflows.ErrInvalidName},
		{"child with #", func() error { _, err := plan.Child("x#1"); return err }(), workflows.ErrInvalidName},
		{"iteration of bad name", func() error { _, err := root.Iteration("", 0); return err }(), workflows.ErrInvalidName},
		{"negative iteration", func() error { _, err := root.Iteration("main", -1); return err }(), workflows.ErrInvalidPath},
		{"bad branch", func() error { _, err := root.Branch("tools", "a/b"); return err }(), workflows.ErrInvalidName},
		{"bad join name", func() error { _, err := root.Branch("", "a"); return err }(), workflows.ErrInvalidName},
	} {
		if !errors.Is(tc.err, tc.is) {
			t.Errorf("%s: err = %v, want %v", tc.what, tc.err, tc.is)
		}
	}
	deep := root
	var err error
	for i := 0; err == nil; i++ {
		if i > workflows.MaxPathBytes {
			t.Fatal("no path limit")
		}
		var next workflows.Path
		if next, err = deep.Child(strings.Repeat("n", 100)); err == nil {
			deep = next
		}
	}
	if !errors.Is(err, workflows.ErrInvalidPath) || len(deep.String()) > workflows.MaxPathBytes {
		t.Errorf("deep path: %d bytes, err %v", len(deep.String()), err)
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"/", true},
		{"plan", true},
		{"main#0", true},
		{"main#41/fetch", true},
		{"outer#3/inner#12/step", true},
		{"tools/search-3/call", true},
		{"", false},
		{"//", false},
		{"/plan", false},
		{"plan/", false},
		{"a//b", false},
		{"main#", false},
		{"main#01", false},
		{"main#-1", false},
		{"main#+1", false},
		{"main#1#2", false},
		{"#1", false},
		{"main#99999999999999999999999", false},
		{"main# 1", false},
		{"a/b\x00", false},
		{strings.Repeat("a/", workflows.MaxPathBytes/2) + "a", false},
	} {
		p, err := workflows.ParsePath(tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePath(%q) = %v, %v; want ok=%v", tc.s, p, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, workflows.ErrInvalidPath) {
				t.Errorf("ParsePath(%q) = %v, not ErrInvalidPath", tc.s, err)
			}
			continue
		}
		if p.String() != tc.s {
			t.Errorf("ParsePath(%q).String() = %q", tc.s, p.String())
		}
	}
}

func TestEntryKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		epoch int
		path  string
		key   string
	}{
		{0, "plan", "j/0/plan"},
		{7, "tools/search-3/call", "j/7/tools/search-3/call"},
		{12, "main#41/fetch", "j/12/main#41/fetch"},
	} {
		p := mustPath(t, tc.path)
		key := workflows.EntryKey(tc.epoch, p)
		if key != tc.key {
			t.Errorf("EntryKey(%d, %s) = %q, want %q", tc.epoch, tc.path, key, tc.key)
		}
		if !strings.HasPrefix(key, workflows.JournalPrefix(tc.epoch)) {
			t.Errorf("%q is not under JournalPrefix(%d)", key, tc.epoch)
		}
		e, back, err := workflows.ParseEntryKey(key)
		if err != nil || e != tc.epoch || back != p {
			t.Errorf("ParseEntryKey(%q) = %d, %v, %v", key, e, back, err)
		}
	}
	for _, key := range []string{"", "j/", "j/0", "j/0/", "j//plan", "j/00/plan", "j/-1/plan", "j/x/plan",
		"x/0/plan", "in/0", "m/12", "out", "j/0//", "j/0/a//b", "j/0/main#x"} {
		if _, _, err := workflows.ParseEntryKey(key); !errors.Is(err, workflows.ErrInvalidPath) {
			t.Errorf("ParseEntryKey(%q) = %v, want ErrInvalidPath", key, err)
		}
	}
	for name, f := range map[string]func(){
		"root":           func() { workflows.EntryKey(0, workflows.Path{}) },
		"negative epoch": func() { workflows.EntryKey(-1, mustPath(t, "plan")) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("EntryKey with %s did not panic", name)
				}
			}()
			f()
		}()
	}
}

// The entry JSON is the design's (§1.2), with its short names.
func TestEntryJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 5, 10, 0, 0, 123e6, time.UTC)
	for _, tc := range []struct {
		name string
		e    workflows.Entry
		want string
	}{
		{"completed step", workflows.Entry{Kind: workflows.KindStep, Status: workflows.EntryCompleted, At: at,
			Output: json.RawMessage(`{"calls":["..."]}`)},
			`{"k":"step","o":0,"s":"completed","at":"2026-01-05T10:00:00.123Z","out":{"calls":["..."]}}`},
		{"retrying step", workflows.Entry{Kind: workflows.KindStep, Ord: 2, Status: workflows.EntryRetrying, At: at,
			Error:    &workflows.EntryError{Kind: workflows.FailureExhausted, Code: "step_failed", Message: "boom"},
			Attempts: 1, NextAt: at.Add(time.Second), Alarm: "a1"},
			`{"k":"step","o":2,"s":"retrying","at":"2026-01-05T10:00:00.123Z","err":{"kind":"exhausted","code":"step_failed","message":"boom"},"n":1,"next":"2026-01-05T10:00:01.123Z","alarm":"a1"}`},
		{"sleeping", workflows.Entry{Kind: workflows.KindSleep, Ord: 1, Status: workflows.EntrySleeping, At: at, NextAt: at.Add(time.Hour), Alarm: "a2"},
			`{"k":"sleep","o":1,"s":"sleeping","at":"2026-01-05T10:00:00.123Z","next":"2026-01-05T11:00:00.123Z","alarm":"a2"}`},
		{"loop", workflows.Entry{Kind: workflows.KindLoop, Status: workflows.EntryWaiting, At: at, Extra: json.RawMessage(`{"i":3,"state":{"n":1}}`)},
			`{"k":"loop","o":0,"s":"waiting","at":"2026-01-05T10:00:00.123Z","x":{"i":3,"state":{"n":1}}}`},
	} {
		b, err := workflows.EncodeEntry(mustPath(t, "p"), tc.e)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(b) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, b, tc.want)
		}
		back, err := workflows.DecodeEntry(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != tc.want {
			t.Errorf("%s: round trip gave %s", tc.name, again)
		}
	}
}

func TestEntrySizeAndDecode(t *testing.T) {
	t.Parallel()
	p := mustPath(t, "big")
	entryOf := func(n int) workflows.Entry {
		return workflows.Entry{Kind: workflows.KindStep, Status: workflows.EntryCompleted,
			Output: json.RawMessage(`"` + strings.Repeat("x", n) + `"`)}
	}
	base, err := workflows.EncodeEntry(p, entryOf(0))
	if err != nil {
		t.Fatal(err)
	}
	atLimit := workflows.MaxEntryBytes - len(base)
	if b, err := workflows.EncodeEntry(p, entryOf(atLimit)); err != nil || len(b) != workflows.MaxEntryBytes {
		t.Fatalf("entry of exactly MaxEntryBytes: %d bytes, %v", len(b), err)
	}
	_, err = workflows.EncodeEntry(p, entryOf(atLimit+1))
	var se *workflows.SizeError
	if !errors.As(err, &se) || !errors.Is(err, workflows.ErrEntryTooLarge) || se.Path != "big" ||
		se.Size != workflows.MaxEntryBytes+1 || se.Limit != workflows.MaxEntryBytes {
		t.Fatalf("over the limit: %v (%+v)", err, se)
	}
	if code, ok := workflows.ErrorCode(err); !ok || code != workflows.CodeEntryTooLarge {
		t.Errorf("ErrorCode = %q, %v", code, ok)
	}
	if _, err := workflows.EncodeEntry(p, workflows.Entry{Kind: "bogus"}); err == nil {
		t.Error("EncodeEntry took an unknown kind")
	}
	if _, err := workflows.EncodeEntry(p, workflows.Entry{Kind: workflows.KindStep, Output: json.RawMessage(`{`)}); err == nil {
		t.Error("EncodeEntry took broken output JSON")
	}
	for _, bad := range []string{``, `{`, `[]`, `{"k":"step","o":0} trailing`, `{"k":"bogus"}`, `{"o":0}`, `{"k":"step","o":-1}`, `{"k":"step","at":"yesterday"}`} {
		if _, err := workflows.DecodeEntry([]byte(bad)); !errors.Is(err, workflows.ErrInvalidPath) {
			t.Errorf("DecodeEntry(%s) = %v, want ErrInvalidPath", bad, err)
		}
	}

	// The journal limit is 75% of the state limit.
	if got := workflows.JournalLimit(4 << 20); got != 3<<20 {
		t.Errorf("JournalLimit(4 MiB) = %d", got)
	}
	if err := workflows.CheckJournalSize(3<<20, 4<<20); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err = workflows.CheckJournalSize(3<<20+1, 4<<20)
	if !errors.As(err, &se) || !errors.Is(err, workflows.ErrJournalTooLarge) || se.Limit != 3<<20 || se.Path != "" {
		t.Errorf("over the journal limit: %v", err)
	}
}

func TestDecodeRecord(t *testing.T) {
	t.Parallel()
	rec, err := workflows.DecodeRecord(3, "j/3/main#2/fetch", []byte(`{"k":"step","o":4,"s":"completed","at":"2026-01-05T10:00:00Z"}`))
	if err != nil || rec.Path != mustPath(t, "main#2/fetch") || rec.Entry.Kind != workflows.KindStep || rec.Entry.Ord != 4 {
		t.Fatalf("DecodeRecord = %+v, %v", rec, err)
	}
	for _, tc := range []struct{ key, value string }{
		{"j/2/plan", `{"k":"step","o":0}`},   // another epoch
		{"j/3/a//b", `{"k":"step","o":0}`},   // bad path
		{"j/3/plan", `{"k":"nope","o":0}`},   // bad kind
		{"j/3/plan", `not json`},             // bad JSON
		{"in/3", `{"k":"step","o":0}`},       // not a journal key
		{"j/3/plan#x", `{"k":"step","o":0}`}, // bad iteration
	} {
		if _, err := workflows.DecodeRecord(3, tc.key, []byte(tc.value)); !errors.Is(err, workflows.ErrInvalidPath) {
			t.Errorf("DecodeRecord(%q, %s) = %v, want ErrInvalidPath", tc.key, tc.value, err)
		}
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	all := []workflows.Kind{workflows.KindStep, workflows.KindLoop, workflows.KindSleep, workflows.KindMessage,
		workflows.KindRollbackCheckpoint, workflows.KindJoin, workflows.KindRace, workflows.KindRemoved,
		workflows.KindVersionCheck, workflows.KindChild, workflows.KindContinue}
	want := "step loop sleep message rollback_checkpoint join race removed version_check child continue"
	var got []string
	for _, k := range all {
		if !k.Valid() {
			t.Errorf("%q not Valid", k)
		}
		got = append(got, string(k))
	}
	if strings.Join(got, " ") != want {
		t.Errorf("kinds = %s, want %s", strings.Join(got, " "), want)
	}
	for _, k := range []workflows.Kind{"", "Step", "tryStep", "signal"} {
		if k.Valid() {
			t.Errorf("%q Valid", k)
		}
	}
}
