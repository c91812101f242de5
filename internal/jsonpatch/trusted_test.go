package jsonpatch

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// checkTrusted runs DiffTrusted on any input and checks what it promises:
// no panic; new's tape, derived from old's, equal to a full scan of new;
// for valid compact input, the tapes of validate and Diff's patch.
func checkTrusted(t interface {
	Fatalf(string, ...any)
	Helper()
}, old, new []byte) {
	t.Helper()
	patch, err := DiffTrusted(old, new)
	valid := json.Valid(old) && json.Valid(new)
	oc, _ := validate(old)
	nc, _ := validate(new)
	if valid && oc && nc {
		if err != nil {
			t.Fatalf("DiffTrusted(%q, %q): %v", old, new, err)
		}
		want, err := Diff(old, new)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		if string(patch) != string(want) {
			t.Fatalf("DiffTrusted(%q, %q) = %s, Diff = %s", old, new, patch, want)
		}
		// Diff itself does not round-trip keys that hold both an escape and
		// invalid UTF-8 (Marshal never writes them), so neither does this.
		if got, err := Apply(old, patch); utf8.Valid(old) && utf8.Valid(new) && (err != nil || string(got) != string(new)) {
			t.Fatalf("Apply(%q, %s) = %q, %v; want %q", old, patch, got, err, new)
		}
	}
	if len(old) == 0 || len(new) == 0 || string(old) == string(new) {
		return
	}
	d := &differ{}
	if err := d.loadTrusted(old, new); err != nil {
		return
	}
	var full tape
	var sc tscan
	sc.start(new, &full, -1, len(new)+1, -1)
	if err := sc.run(0, false); err != nil {
		t.Fatalf("loadTrusted accepted %q (old %q) but a full scan fails: %v", new, old, err)
	}
	if !slices.Equal(full.end, d.b.t.end) || !slices.Equal(full.next, d.b.t.next) {
		t.Fatalf("derived tape of %q (old %q) = %v %v, full scan %v %v", new, old, d.b.t.end, d.b.t.next, full.end, full.next)
	}
	if valid && oc && nc {
		for _, in := range []struct {
			b []byte
			t *tape
		}{{old, &d.a.t}, {new, &d.b.t}} {
			var vt tape
			if _, err := validateTape(in.b, &vt); err != nil || !slices.Equal(vt.end, in.t.end) || !slices.Equal(vt.next, in.t.next) {
				t.Fatalf("tape of %q: trusted %v %v, validate %v %v (%v)", in.b, in.t.end, in.t.next, vt.end, vt.next, err)
			}
		}
	}
}

// FuzzDiffTrusted: DiffTrusted never panics or loops, whatever the bytes,
// and on valid compact input it is Diff.
func FuzzDiffTrusted(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1,"b":[1,2,3]}`, `{"b":[2,3,4],"a":1}`},
		{`{"m":[{"id":1,"t":"x"},{"id":2,"t":"y"}]}`, `{"m":[{"id":2,"t":"y"},{"id":3,"t":"z"}]}`},
		{`[1,"a",null,true,{"k":[]}]`, `[1,"a",{"k":[0]},false]`},
		{`{"\u003c":12345678901234567890,"a/b":{"~":1}}`, `{"a/b":{"~":2},"\u003c":1.5e300}`},
		{`{"a":1,"a":2}`, `{"a":1,"a":3}`},
		{`{"a" : [ 1 , 2 ] }`, `{"a":[1,2,3]}`},
		{`["a\"x"]`, `["a\\","x"]`},
		{`[12]`, `[123]`},
		{`{"a":[1,2],"b":5}`, `{"a":[1,2,3,4],"b":6}`},
		{`[{"a":"\u12`, `[{"a":"\u1234"}]`},
		{`"x"`, `[]`},
		{`[1,]`, `[1,2]`},
		{`{"a":}`, `{"a":1}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, old, new []byte) {
		checkTrusted(t, old, new)
	})
}

// TestPropertyDiffTrustedGarbage edits Marshal output byte by byte (often
// into invalid JSON) and checks DiffTrusted's promises on the result.
func TestPropertyDiffTrustedGarbage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v1 := genValue(t, 4)
		old := mustMarshal(t, v1)
		v2 := deepCopy(v1)
		for range rapid.IntRange(0, 3).Draw(t, "mutations") {
			v2 = mutate(t, v2, 2)
		}
		new := mustMarshal(t, v2)
		for _, b := range []*[]byte{&old, &new} {
			for range rapid.IntRange(0, 2).Draw(t, "edits") {
				if len(*b) == 0 {
					break
				}
				i := rapid.IntRange(0, len(*b)-1).Draw(t, "at")
				c := rapid.SampledFrom([]byte(`{}[]",:\ 01-.eEtfnu`+"\x00\xff")).Draw(t, "byte")
				switch rapid.IntRange(0, 2).Draw(t, "how") {
				case 0:
					(*b)[i] = c
				case 1:
					*b = append((*b)[:i:i], (*b)[i+1:]...)
				default:
					*b = append((*b)[:i:i], append([]byte{c}, (*b)[i:]...)...)
				}
			}
		}
		checkTrusted(t, old, new)
	})
}

// TestDiffTrustedSync covers the ways new's scan meets old's state in the
// common suffix, and inputs that only look alike.
func TestDiffTrustedSync(t *testing.T) {
	long := strings.Repeat(`{"id":1,"text":"hello \"world\" \\ \u00e9"},`, 40)
	pairs := [][2]string{
		{`[` + long + `1]`, `[` + long + `1,2]`},
		{`[` + long + `1]`, `[0,` + long + `1]`},
		{`{"a":[` + long + `0],"b":{"c":[1]}}`, `{"a":[` + long + `0,{"x":[]}],"b":{"c":[1]}}`},
		{`{"a":[` + long + `0],"b":{"c":[1]}}`, `{"a":[` + long + `0],"b":{"c":[1,2]}}`},
		{`{"a":"x\\","b":1}`, `{"a":"x\\\\","b":1}`},
		{`["a\"x"]`, `["a\\","x"]`},
		{`[[[1]]]`, `[[[1]],[[1]]]`},
		{`[[[1]]]`, `[[1]]`},
		{`{"a":{}}`, `{"a":[]}`},
		{`[1]`, `{"a":1}`},
		{`1`, `12`},
	}
	for _, p := range pairs {
		checkTrusted(t, []byte(p[0]), []byte(p[1]))
		checkTrusted(t, []byte(p[1]), []byte(p[0]))
	}
	for _, bad := range []string{``, `{`, `[1,]`, `{"a":}`, `{"a" 1}`, `"\u12"`, `"abc`, `[}`, `{]`, `1 2`, `{"a":1,}`, `[1]]`} {
		if _, err := DiffTrusted([]byte(bad), []byte(`[1]`)); err == nil && bad != `1 2` {
			t.Errorf("DiffTrusted(%q) found no error", bad)
		}
		if _, err := DiffTrusted([]byte(`[1]`), []byte(bad)); err == nil && bad != `1 2` {
			t.Errorf("DiffTrusted(new=%q) found no error", bad)
		}
	}
}
