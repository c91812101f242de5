package jsonpatch

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// FuzzDiffApply checks, for arbitrary inputs, that Diff rejects exactly the
// invalid JSON (like json.Valid) and that its patch reproduces new byte for
// byte (for compact inputs) or semantically (otherwise).
func FuzzDiffApply(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1,"b":[1,2,3]}`, `{"b":[2,3,4],"a":1}`},
		{`{"m":[{"id":1,"t":"x"},{"id":2,"t":"y"}]}`, `{"m":[{"id":2,"t":"y"},{"id":3,"t":"z"}]}`},
		{`[1,"a",null,true,{"k":[]}]`, `[1,"a",{"k":[0]},false]`},
		{`{"\u003c":12345678901234567890,"a/b":{"~":1}}`, `{"a/b":{"~":2},"\u003c":1.5e300}`},
		{`{"a":1,"a":2}`, `{"a":1,"a":3}`},
		{`{"a" : [ 1 , 2 ] }`, `{"a":[1,2,3]}`},
		{`"x"`, `[]`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, old, new []byte) {
		patch, err := Diff(old, new)
		valid := json.Valid(old) && json.Valid(new)
		if (err == nil) != valid {
			t.Fatalf("Diff(%q, %q) error = %v, json.Valid = %v", old, new, err, valid)
		}
		if !valid {
			return
		}
		if !json.Valid(patch) {
			t.Fatalf("invalid patch %s", patch)
		}
		got, err := Apply(old, patch)
		if err != nil {
			t.Fatalf("Apply(%q, %s): %v", old, patch, err)
		}
		compact, _ := validate(new)
		oldCompact, _ := validate(old)
		if compact && oldCompact {
			if string(got) != string(new) {
				t.Fatalf("not byte-exact:\n old %q\n new %q\n got %q\npatch %s", old, new, got, patch)
			}
		} else if c, _ := compactValid(new); string(got) != string(c) {
			t.Fatalf("not equal to compacted new:\n old %q\n new %q\n got %q\npatch %s", old, new, got, patch)
		}
	})
}

// TestPropertyValidate compares the validator with json.Valid on mutated
// documents.
func TestPropertyValidate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := mustMarshal(t, genValue(t, 3))
		for range rapid.IntRange(0, 3).Draw(t, "edits") {
			if len(b) == 0 {
				break
			}
			i := rapid.IntRange(0, len(b)-1).Draw(t, "at")
			c := rapid.SampledFrom([]byte(`{}[]",:\ 01-.eE+tfnu`+"\x00\x1f\xff")).Draw(t, "byte")
			switch rapid.IntRange(0, 2).Draw(t, "how") {
			case 0:
				b[i] = c
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			}
		}
		_, err := validate(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("validate(%q) = %v, json.Valid = %v", b, err, json.Valid(b))
		}
	})
}

// pointers lists the pointers of all values in v (as built by genValue).
func pointers(v any, prefix string, out *[]string) {
	*out = append(*out, prefix)
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			pointers(e, prefix+"/"+strconv.Itoa(i), out)
		}
	case *obj:
		r := strings.NewReplacer("~", "~0", "/", "~1")
		for i, k := range v.keys {
			pointers(v.vals[i], prefix+"/"+r.Replace(k), out)
		}
	}
}

// TestPropertyAtomicApply applies random (often failing) patches and checks
// that a failing patch leaves the document unchanged and that a patch
// behaves like its operations applied one at a time.
func TestPropertyAtomicApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genValue(t, 3)
		doc := mustMarshal(t, v)
		var ptrs []string
		pointers(v, "", &ptrs)
		ptrs = append(ptrs, "/nope", "/0/-", "/-", "/~2")
		ptr := func(label string) string {
			p := rapid.SampledFrom(ptrs).Draw(t, label)
			if rapid.IntRange(0, 4).Draw(t, label+"Dash") == 0 {
				p += "/-"
			}
			return p
		}
		var ops []string
		for range rapid.IntRange(1, 5).Draw(t, "nops") {
			op := rapid.SampledFrom([]string{"add", "remove", "replace", "move", "copy", "test"}).Draw(t, "op")
			o := map[string]any{"op": op, "path": ptr("path")}
			switch op {
			case "add", "replace", "test":
				o["value"] = genValue(t, 2)
			case "move", "copy":
				o["from"] = ptr("from")
			}
			ops = append(ops, string(mustMarshal(t, o)))
		}
		// Reference: one op at a time.
		ref, _ := Parse(doc)
		failAt := -1
		for i, op := range ops {
			if err := ref.Apply([]byte("[" + op + "]")); err != nil {
				failAt = i
				break
			}
		}
		d, _ := Parse(doc)
		err := d.Apply([]byte("[" + strings.Join(ops, ",") + "]"))
		if failAt < 0 {
			if err != nil {
				t.Fatalf("patch failed but its ops succeed one by one: %v", err)
			}
			if got, want := d.Encode(), ref.Encode(); string(got) != string(want) {
				t.Fatalf("got %s, want %s", got, want)
			}
			return
		}
		var oe *OpError
		if !errors.As(err, &oe) || oe.Index != failAt {
			t.Fatalf("want OpError at %d, got %v", failAt, err)
		}
		if got := d.Encode(); string(got) != string(doc) {
			t.Fatalf("failed patch changed the doc:\n was %s\n now %s", doc, got)
		}
	})
}
