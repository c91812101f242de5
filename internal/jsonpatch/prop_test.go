package jsonpatch

import (
	"bytes"
	"encoding/json"
	"math/big"
	"testing"
	"unicode/utf8"

	evanphx "github.com/evanphx/json-patch/v5"
	"github.com/wI2L/jsondiff"
	"pgregory.net/rapid"
)

// checkRoundTrip asserts the package's invariants for one (old, new) pair.
func checkRoundTrip(t interface {
	Fatalf(string, ...any)
	Helper()
}, old, new []byte, sizeCheck bool) []byte {
	t.Helper()
	patch, err := diff(old, new, sizeCheck)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	if !json.Valid(patch) {
		t.Fatalf("Diff produced invalid JSON: %s", patch)
	}
	// DiffTrusted gives the same patch for compact input.
	oc, _ := validate(old)
	nc, _ := validate(new)
	if oc && nc {
		tp, err := diffTrusted(old, new, sizeCheck)
		if err != nil {
			t.Fatalf("DiffTrusted: %v", err)
		}
		if string(tp) != string(patch) {
			t.Fatalf("DiffTrusted differs from Diff:\n old %s\n new %s\n got %s\nwant %s", old, new, tp, patch)
		}
		d, err := Parse(old)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if err := d.Apply(tp); err != nil {
			t.Fatalf("Apply(DiffTrusted %s): %v", tp, err)
		}
		if got := d.Encode(); string(got) != string(new) {
			t.Fatalf("DiffTrusted not byte-exact:\n old %s\n new %s\n got %s\npatch %s", old, new, got, tp)
		}
	}
	d, err := Parse(old)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := d.Encode(); string(got) != string(old) {
		t.Fatalf("Parse+Encode not byte-exact:\n got %s\nwant %s", got, old)
	}
	if err := d.Apply(patch); err != nil {
		t.Fatalf("Apply(%s): %v\nold %s\nnew %s", patch, err, old, new)
	}
	if got := d.Encode(); string(got) != string(new) {
		t.Fatalf("not byte-exact:\n old %s\n new %s\n got %s\npatch %s", old, new, got, patch)
	}
	return patch
}

func TestPropertyDiffApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v1 := genValue(t, 4)
		old := mustMarshal(t, v1)
		v2 := deepCopy(v1)
		for range rapid.IntRange(1, 4).Draw(t, "mutations") {
			v2 = mutate(t, v2, 2)
		}
		new := mustMarshal(t, v2)
		patch := checkRoundTrip(t, old, new, rapid.Bool().Draw(t, "sizeCheck"))

		if !isContainer(old) || !isContainer(new) || hasEmptyKeyPath(patch) {
			// evanphx/json-patch only handles object and array roots, and
			// mishandles empty member names in pointers.
			return
		}
		// Oracle: evanphx/json-patch applies our patch to an equal value.
		p, err := evanphx.DecodePatch(patch)
		if err != nil {
			t.Fatalf("evanphx decode %s: %v", patch, err)
		}
		got, err := p.Apply(old)
		if err != nil {
			t.Fatalf("evanphx apply %s to %s: %v", patch, old, err)
		}
		if !semEqual(got, new) {
			t.Fatalf("evanphx result differs:\n old %s\n new %s\n got %s\npatch %s", old, new, got, patch)
		}

		// Our Apply of a patch made by another tool.
		jp, err := jsondiff.CompareJSON(old, new)
		if err != nil {
			t.Fatalf("jsondiff: %v", err)
		}
		foreign := mustMarshal(t, jp)
		if ref, err := evanphx.DecodePatch(foreign); err == nil {
			if want, err := ref.Apply(old); err == nil && semEqual(want, new) {
				got, err := Apply(old, foreign)
				if err != nil {
					t.Fatalf("Apply(jsondiff patch %s): %v", foreign, err)
				}
				if !semEqual(got, new) {
					t.Fatalf("Apply(jsondiff patch) differs:\n old %s\n new %s\n got %s\npatch %s", old, new, got, foreign)
				}
			}
		}
	})
}

// TestPropertyQuote checks appendQuote against encoding/json.
func TestPropertyQuote(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s string
		if rapid.Bool().Draw(t, "bytes") {
			s = string(rapid.SliceOf(rapid.Byte()).Draw(t, "b"))
		} else {
			s = rapid.String().Draw(t, "s")
		}
		want := mustMarshal(t, s)
		if got := appendQuote(nil, s); string(got) != string(want) {
			t.Fatalf("appendQuote(%q) = %s, want %s", s, got, want)
		}
		var dec string
		if err := json.Unmarshal(want, &dec); err != nil {
			t.Fatal(err)
		}
		if got := string(appendUnquote(nil, want[1:len(want)-1])); got != dec {
			t.Fatalf("appendUnquote(%s) = %q, want %q", want, got, dec)
		}
		if utf8.ValidString(s) && !keyIsCanonical(want) {
			t.Fatalf("keyIsCanonical(%s) = false", want)
		}
	})
}

// TestPropertyEqual checks the test op's equality against decoding.
func TestPropertyTestOp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genValue(t, 3)
		b := mustMarshal(t, v)
		d, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		patch := `[{"op":"test","path":"","value":` + string(b) + `}]`
		if err := d.Apply([]byte(patch)); err != nil {
			t.Fatalf("test op on identical value failed: %v", err)
		}
		v2 := mutate(t, deepCopy(v), 2)
		b2 := mustMarshal(t, v2)
		err = d.Apply([]byte(`[{"op":"test","path":"","value":` + string(b2) + `}]`))
		if (err == nil) != numEqualJSON(b, b2) {
			t.Fatalf("test op: %s vs %s: err=%v", b, b2, err)
		}
	})
}

func isContainer(b []byte) bool { return b[0] == '{' || b[0] == '[' }

func hasEmptyKeyPath(patch []byte) bool {
	return bytes.Contains(patch, []byte(`//`)) || bytes.Contains(patch, []byte(`/"`))
}

// numEqualJSON is semEqual with numbers compared by exact value.
func numEqualJSON(a, b []byte) bool {
	x, err1 := decodeAny(a)
	y, err2 := decodeAny(b)
	return err1 == nil && err2 == nil && valEqual(x, y)
}

func valEqual(x, y any) bool {
	switch x := x.(type) {
	case json.Number:
		y, ok := y.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case []any:
		y, ok := y.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := y.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valEqual(v, w) {
				return false
			}
		}
		return true
	}
	return x == y
}
