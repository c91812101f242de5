package jsonpatch

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// RFC 6902 appendix A. Results are given in this package's member order
// (new members appended).
func TestRFC6902Examples(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string // want "" means an error is expected
	}{
		{"A.1 add member", `{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux"}]`, `{"foo":"bar","baz":"qux"}`},
		{"A.2 add element", `{"foo":["bar","baz"]}`, `[{"op":"add","path":"/foo/1","value":"qux"}]`, `{"foo":["bar","qux","baz"]}`},
		{"A.3 remove member", `{"baz":"qux","foo":"bar"}`, `[{"op":"remove","path":"/baz"}]`, `{"foo":"bar"}`},
		{"A.4 remove element", `{"foo":["bar","qux","baz"]}`, `[{"op":"remove","path":"/foo/1"}]`, `{"foo":["bar","baz"]}`},
		{"A.5 replace", `{"baz":"qux","foo":"bar"}`, `[{"op":"replace","path":"/baz","value":"boo"}]`, `{"baz":"boo","foo":"bar"}`},
		{"A.6 move member", `{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}`,
			`[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]`, `{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`},
		{"A.7 move element", `{"foo":["all","grass","cows","eat"]}`, `[{"op":"move","from":"/foo/1","path":"/foo/3"}]`,
			`{"foo":["all","cows","eat","grass"]}`},
		{"A.8 test ok", `{"baz":"qux","foo":["a",2,"c"]}`,
			`[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]`, `{"baz":"qux","foo":["a",2,"c"]}`},
		{"A.9 test error", `{"baz":"qux"}`, `[{"op":"test","path":"/baz","value":"bar"}]`, ""},
		{"A.10 nested object", `{"foo":"bar"}`, `[{"op":"add","path":"/child","value":{"grandchild":{}}}]`,
			`{"foo":"bar","child":{"grandchild":{}}}`},
		{"A.11 unrecognized", `{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux","xyz":123}]`, `{"foo":"bar","baz":"qux"}`},
		{"A.12 nonexistent target", `{"foo":"bar"}`, `[{"op":"add","path":"/baz/bat","value":"qux"}]`, ""},
		{"A.13 duplicate op", `{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux","op":"remove"}]`, ""},
		{"A.14 escape ordering", `{"/":9,"~1":10}`, `[{"op":"test","path":"/~01","value":10}]`, `{"/":9,"~1":10}`},
		{"A.15 string vs number", `{"/":9,"~1":10}`, `[{"op":"test","path":"/~01","value":"10"}]`, ""},
		{"A.16 add array value", `{"foo":["bar"]}`, `[{"op":"add","path":"/foo/-","value":["abc","def"]}]`, `{"foo":["bar",["abc","def"]]}`},
		// More.
		{"copy", `{"a":{"b":[1]},"c":1}`, `[{"op":"copy","from":"/a","path":"/d"},{"op":"add","path":"/d/b/-","value":2}]`,
			`{"a":{"b":[1]},"c":1,"d":{"b":[1,2]}}`},
		{"add existing keeps place", `{"a":1,"b":2}`, `[{"op":"add","path":"/a","value":3}]`, `{"a":3,"b":2}`},
		{"replace root", `{"a":1}`, `[{"op":"replace","path":"","value":[1]}]`, `[1]`},
		{"add root", `{"a":1}`, `[{"op":"add","path":"","value":null}]`, `null`},
		{"move to self", `{"a":1,"b":2}`, `[{"op":"move","from":"/a","path":"/a"}]`, `{"a":1,"b":2}`},
		{"whitespace values compacted", `{"a":1}`, "[ {\"op\" : \"add\", \"path\":\"/b\", \"value\": { \"x\" : [ 1 , 2 ] } } ]",
			`{"a":1,"b":{"x":[1,2]}}`},
		{"big ints exact", `{"n":12345678901234567890}`, `[{"op":"add","path":"/m","value":98765432109876543210}]`,
			`{"n":12345678901234567890,"m":98765432109876543210}`},
		{"escaped key lookup", `{"\u003c":1}`, `[{"op":"replace","path":"/<","value":2}]`, `{"\u003c":2}`},
		{"new key html escaped", `{}`, `[{"op":"add","path":"/<a&b>","value":1}]`, `{"\u003ca\u0026b\u003e":1}`},
		{"test numbers by value", `{"a":1.0}`, `[{"op":"test","path":"/a","value":1}]`, `{"a":1.0}`},
		{"test object order", `{"a":{"x":1,"y":2}}`, `[{"op":"test","path":"/a","value":{"y":2,"x":1}}]`, `{"a":{"x":1,"y":2}}`},
		{"null patch", `{"a":1}`, `null`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply([]byte(tt.doc), []byte(tt.patch))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("want error, got %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	const doc = `{"a":{"b":[1,2,3]},"s":"x","n":null}`
	tests := []struct {
		name, patch string
		index       int    // op index in the OpError (-1: not an OpError)
		msg         string // substring of the error
	}{
		{"pointer without slash", `[{"op":"add","path":"a","value":1}]`, 0, "does not start with '/'"},
		{"bad tilde escape", `[{"op":"remove","path":"/a/~2"}]`, 0, "invalid ~ escape"},
		{"index out of range", `[{"op":"remove","path":"/a/b/3"}]`, 0, "out of range"},
		{"add index beyond end", `[{"op":"add","path":"/a/b/4","value":0}]`, 0, "out of range"},
		{"leading zero index", `[{"op":"replace","path":"/a/b/01","value":0}]`, 0, "invalid array index"},
		{"negative index", `[{"op":"remove","path":"/a/b/-1"}]`, 0, "invalid array index"},
		{"dash on remove", `[{"op":"remove","path":"/a/b/-"}]`, 0, "nonexistent element"},
		{"missing member", `[{"op":"remove","path":"/zz"}]`, 0, "not found"},
		{"missing parent", `[{"op":"add","path":"/zz/y","value":1}]`, 0, "not found"},
		{"through scalar", `[{"op":"add","path":"/s/y","value":1}]`, 0, "not a container"},
		{"deep through scalar", `[{"op":"test","path":"/s/y/z","value":1}]`, 0, "cannot index scalar"},
		{"test fails", `[{"op":"test","path":"/s","value":"y"}]`, 0, "test failed"},
		{"remove root", `[{"op":"remove","path":""}]`, 0, "root"},
		{"unknown op", `[{"op":"frobnicate","path":"/a"}]`, 0, "unknown op"},
		{"missing op", `[{"path":"/a"}]`, 0, `missing "op"`},
		{"missing path", `[{"op":"remove"}]`, 0, `missing "path"`},
		{"missing value", `[{"op":"add","path":"/x"}]`, 0, `missing "value"`},
		{"missing from", `[{"op":"move","path":"/x"}]`, 0, `missing "from"`},
		{"path not string", `[{"op":"remove","path":1}]`, 0, "must be a string"},
		{"op not object", `[1]`, 0, "not a JSON object"},
		{"move into child", `[{"op":"move","from":"/a","path":"/a/c"}]`, 0, "own child"},
		{"move missing from", `[{"op":"move","from":"/q","path":"/r"}]`, 0, "not found"},
		{"later op fails", `[{"op":"add","path":"/x","value":1},{"op":"remove","path":"/a/b/0"},{"op":"remove","path":"/nope"}]`, 2, "not found"},
		{"patch not array", `{"op":"remove","path":"/a"}`, -1, "not a JSON array"},
		{"invalid json", `[{"op":]`, -1, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			err = d.Apply([]byte(tt.patch))
			if err == nil {
				t.Fatalf("want error, got %s", d.Encode())
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			var oe *OpError
			if errors.As(err, &oe) && oe.Index != tt.index {
				t.Errorf("OpError.Index = %d, want %d (%v)", oe.Index, tt.index, err)
			}
			if got := string(d.Encode()); got != doc {
				t.Errorf("doc changed after failed patch: %s", got)
			}
		})
	}
	var oe *OpError
	_, err := Apply([]byte(doc), []byte(`[{"op":"test","path":"/s","value":1}]`))
	if !errors.As(err, &oe) || !errors.Is(err, ErrTestFailed) || oe.Op != "test" || oe.Path != "/s" {
		t.Errorf("test failure error = %#v", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	bad := []string{``, ` `, `{`, `[1,]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `01`, `1.`, `1e`, `-`, `tru`, `nul`,
		`"\x"`, "\"a\x01\"", `"\u12"`, `[1 2]`, `{"a":1 "b":2}`, `{1:2}`, `1 2`, `"abc`, `[`, `]`}
	for _, b := range bad {
		if _, err := Diff([]byte(b), []byte(`1`)); err == nil {
			t.Errorf("Diff(%q) accepted invalid JSON", b)
		}
		if _, err := Diff([]byte(`1`), []byte(b)); err == nil {
			t.Errorf("Diff(new=%q) accepted invalid JSON", b)
		}
		if _, err := Parse([]byte(b)); err == nil {
			t.Errorf("Parse(%q) accepted invalid JSON", b)
		}
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if _, err := Parse([]byte(deep)); err == nil {
		t.Error("Parse accepted nesting deeper than maxDepth")
	}
}

func TestDiffShapes(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"equal", `{"a":[1,2]}`, `{"a":[1,2]}`, `[]`},
		{"append", `{"m":[{"id":1,"text":"aaaaaaaaaaaaaaaaaaaa"},{"id":2,"text":"bbbbbbbbbbbbbbbbbbbbbb"}]}`,
			`{"m":[{"id":1,"text":"aaaaaaaaaaaaaaaaaaaa"},{"id":2,"text":"bbbbbbbbbbbbbbbbbbbbbb"},{"id":3,"text":"c"}]}`,
			`[{"op":"add","path":"/m/-","value":{"id":3,"text":"c"}}]`},
		{"drop oldest append", `{"m":["aaaaaaaaaaaaaaaaaaaaaaaa","bbbbbbbbbbbbbbbbbbbbbbbbbbb","cccccccccccccccccccccccc"]}`,
			`{"m":["bbbbbbbbbbbbbbbbbbbbbbbbbbb","cccccccccccccccccccccccc","d"]}`,
			`[{"op":"remove","path":"/m/0"},{"op":"add","path":"/m/-","value":"d"}]`},
		{"nested field", `{"items":[{"id":1,"title":"write the docs","done":false},{"id":2,"title":"ship it","done":false}]}`,
			`{"items":[{"id":1,"title":"write the docs","done":false},{"id":2,"title":"ship it","done":true}]}`,
			`[{"op":"replace","path":"/items/1/done","value":true}]`},
		{"key escaping", `{"a/b":{"c~d":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`,
			`{"a/b":{"c~d":2,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`,
			`[{"op":"replace","path":"/a~1b/c~0d","value":2}]`},
		{"omitempty reappears", `{"a":"` + strings.Repeat("x", 200) + `","c":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy","d":1}`,
			`{"a":"` + strings.Repeat("x", 200) + `","b":true,"c":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy","d":1}`,
			`[{"op":"remove","path":"/c"},{"op":"remove","path":"/d"},{"op":"add","path":"/b","value":true},` +
				`{"op":"add","path":"/c","value":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"},{"op":"add","path":"/d","value":1}]`},
		{"duplicate keys replaced", `{"a":1,"a":2,"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`, `{"a":1,"a":3,"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`,
			`[{"op":"replace","path":"","value":{"a":1,"a":3,"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}]`},
		{"scalar root", `1`, `2`, `[{"op":"replace","path":"","value":2}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkRoundTrip(t, []byte(tt.old), []byte(tt.new), true)
			if string(got) != tt.want {
				t.Errorf("Diff:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestLargeObjectIndex exercises the lazily built member index (objects with
// more than indexThreshold members), including after a rollback.
func TestLargeObjectIndex(t *testing.T) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range 60 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	sb.WriteByte('}')
	doc := sb.String()
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// Fails at op 3 after mutating: everything must roll back.
	bad := `[{"op":"remove","path":"/k5"},{"op":"add","path":"/zz","value":1},{"op":"replace","path":"/k59","value":0},` +
		`{"op":"remove","path":"/k5"}]`
	if err := d.Apply([]byte(bad)); err == nil {
		t.Fatal("want error")
	}
	if got := string(d.Encode()); got != doc {
		t.Fatalf("rollback failed: %s", got)
	}
	ok := `[{"op":"test","path":"/k59","value":59},{"op":"remove","path":"/k0"},{"op":"add","path":"/k0","value":"x"},` +
		`{"op":"replace","path":"/k30","value":true},{"op":"move","from":"/k31","path":"/moved"},{"op":"test","path":"/moved","value":31}]`
	if err := d.Apply([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(strings.Replace(doc, `"k0":0,`, ``, 1), `"k30":30,"k31":31`, `"k30":true`, 1),
		`}`, `,"k0":"x","moved":31}`, 1)
	if got := string(d.Encode()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
