package jsonpatch

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"

	"pgregory.net/rapid"
)

// Test documents are trees of: nil, bool, json.Number, string, []any and
// *obj (an object that marshals its members in insertion order).

type obj struct {
	keys []string
	vals []any
}

func (o *obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o *obj) has(k string) bool {
	for _, x := range o.keys {
		if x == k {
			return true
		}
	}
	return false
}

var specialKeys = []string{"", "a", "b", "c", "id", "/", "~", "a/b", "~1", "~0", "~01", "x~y/z",
	"é", "日本", "<&>", "\u2028", `q"q`, `back\slash`, "tab\t", "-", "0", "1", "\x00"}

var specialNumbers = []string{"0", "-0", "1", "-1", "12345678901234567890", "-9007199254740993",
	"9007199254740993", "1.5", "-2.25e-7", "1e+100", "3.141592653589793", "0.1", "1E3"}

var specialStrings = []string{"", "x", "<script>&amp;</script>", "line\nbreak", "quote\"", `\`,
	"\u2028\u2029", "emoji 😀", "\x01\x1f", "ünï", "~/", "\ufffd"}

func genKey(t *rapid.T, label string) string {
	if rapid.Bool().Draw(t, label+"Special") {
		return rapid.SampledFrom(specialKeys).Draw(t, label)
	}
	return rapid.StringN(0, 6, -1).Draw(t, label)
}

func genScalar(t *rapid.T) any {
	switch rapid.IntRange(0, 7).Draw(t, "scalar") {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(t, "bool")
	case 2:
		return json.Number(rapid.SampledFrom(specialNumbers).Draw(t, "num"))
	case 3:
		return json.Number(strconv.FormatInt(rapid.Int64().Draw(t, "int"), 10))
	case 4:
		f := rapid.Float64().Draw(t, "float")
		if math.IsInf(f, 0) || math.IsNaN(f) {
			f = 0.5
		}
		b, _ := json.Marshal(f)
		return json.Number(b)
	case 5:
		return rapid.SampledFrom(specialStrings).Draw(t, "sstr")
	default:
		return rapid.StringN(0, 12, -1).Draw(t, "str")
	}
}

func genValue(t *rapid.T, depth int) any {
	k := 0
	if depth > 0 {
		k = rapid.IntRange(0, 2).Draw(t, "kind")
	}
	switch k {
	case 1:
		n := rapid.IntRange(0, 6).Draw(t, "alen")
		a := make([]any, n)
		for i := range a {
			a[i] = genValue(t, depth-1)
		}
		return a
	case 2:
		o := &obj{}
		n := rapid.IntRange(0, 6).Draw(t, "olen")
		for range n {
			key := genKey(t, "key")
			if o.has(key) {
				continue
			}
			o.keys = append(o.keys, key)
			o.vals = append(o.vals, genValue(t, depth-1))
		}
		return o
	}
	return genScalar(t)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case []any:
		c := make([]any, len(v))
		for i := range v {
			c[i] = deepCopy(v[i])
		}
		return c
	case *obj:
		c := &obj{keys: append([]string(nil), v.keys...), vals: make([]any, len(v.vals))}
		for i := range v.vals {
			c.vals[i] = deepCopy(v.vals[i])
		}
		return c
	}
	return v
}

// mutate returns a modified copy-free version of v (v must be a private copy).
func mutate(t *rapid.T, v any, depth int) any {
	switch v := v.(type) {
	case []any:
		switch rapid.IntRange(0, 8).Draw(t, "amut") {
		case 0: // append
			return append(v, genValue(t, depth))
		case 1: // drop oldest, append newest
			if len(v) > 0 {
				v = v[1:]
			}
			return append(v, genValue(t, depth))
		case 2: // insert
			i := rapid.IntRange(0, len(v)).Draw(t, "ins")
			return append(v[:i], append([]any{genValue(t, depth)}, v[i:]...)...)
		case 3: // delete
			if len(v) == 0 {
				return v
			}
			i := rapid.IntRange(0, len(v)-1).Draw(t, "del")
			return append(v[:i], v[i+1:]...)
		case 4: // shrink
			return v[:rapid.IntRange(0, len(v)).Draw(t, "shrink")]
		case 5: // shuffle
			perm := rapid.Permutation(v).Draw(t, "perm")
			return perm
		case 6: // replace whole
			return genValue(t, depth+1)
		default: // nested edits
			for range rapid.IntRange(1, 3).Draw(t, "nedits") {
				if len(v) == 0 {
					break
				}
				i := rapid.IntRange(0, len(v)-1).Draw(t, "elem")
				v[i] = mutate(t, v[i], depth)
			}
			return v
		}
	case *obj:
		switch rapid.IntRange(0, 7).Draw(t, "omut") {
		case 0: // add key at end
			k := genKey(t, "newkey")
			if !v.has(k) {
				v.keys, v.vals = append(v.keys, k), append(v.vals, genValue(t, depth))
			}
		case 1: // insert key in the middle (omitempty field reappearing)
			k := genKey(t, "newkey")
			if !v.has(k) {
				i := rapid.IntRange(0, len(v.keys)).Draw(t, "at")
				v.keys = append(v.keys[:i], append([]string{k}, v.keys[i:]...)...)
				v.vals = append(v.vals[:i], append([]any{genValue(t, depth)}, v.vals[i:]...)...)
			}
		case 2: // remove key
			if len(v.keys) > 0 {
				i := rapid.IntRange(0, len(v.keys)-1).Draw(t, "rm")
				v.keys = append(v.keys[:i], v.keys[i+1:]...)
				v.vals = append(v.vals[:i], v.vals[i+1:]...)
			}
		case 3: // reorder
			perm := rapid.Permutation(seq(len(v.keys))).Draw(t, "kperm")
			c := &obj{}
			for _, i := range perm {
				c.keys, c.vals = append(c.keys, v.keys[i]), append(c.vals, v.vals[i])
			}
			return c
		case 4: // change type / replace
			return genValue(t, depth+1)
		default: // nested edits
			for range rapid.IntRange(1, 3).Draw(t, "nedits") {
				if len(v.keys) == 0 {
					break
				}
				i := rapid.IntRange(0, len(v.keys)-1).Draw(t, "mem")
				v.vals[i] = mutate(t, v.vals[i], depth)
			}
		}
		return v
	}
	if rapid.Bool().Draw(t, "scalarToContainer") {
		return genValue(t, depth+1)
	}
	return genScalar(t)
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func mustMarshal(t interface{ Fatalf(string, ...any) }, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// decodeAny decodes b with numbers kept as json.Number.
func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// semEqual reports whether two JSON texts are equal values (member order and
// whitespace ignored; numbers compared as text).
func semEqual(a, b []byte) bool {
	x, err1 := decodeAny(a)
	y, err2 := decodeAny(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(x, y)
}
