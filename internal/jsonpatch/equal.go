package jsonpatch

import (
	"bytes"
	"strconv"
)

// nodeEqual reports whether a and b are equal JSON values in the sense of
// RFC 6902's "test": strings compare by decoded value, numbers by numeric
// value, objects regardless of member order, arrays element by element.
func nodeEqual(a, b *node) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindArray:
		if len(a.elems) != len(b.elems) {
			return false
		}
		for i := range a.elems {
			if !nodeEqual(a.elems[i], b.elems[i]) {
				return false
			}
		}
		return true
	case kindObject:
		if len(a.members) != len(b.members) {
			return false
		}
		for i := range a.members {
			j := b.lookup(string(a.members[i].name()))
			if j < 0 || !nodeEqual(a.members[i].val, b.members[j].val) {
				return false
			}
		}
		return true
	}
	x, y := a.raw, b.raw
	if bytes.Equal(x, y) {
		return true
	}
	switch {
	case x[0] == '"' && y[0] == '"':
		return bytes.Equal(appendUnquote(nil, x[1:len(x)-1]), appendUnquote(nil, y[1:len(y)-1]))
	case isNum(x[0]) && isNum(y[0]):
		return numEqual(x, y)
	}
	return false
}

func isNum(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// decimal is a normalized JSON number: value = sign * 0.digits * 10^point.
type decimal struct {
	neg    bool
	digits string
	point  int
}

func parseDecimal(b []byte) (decimal, bool) {
	var d decimal
	s := string(b)
	if s[0] == '-' {
		d.neg = true
		s = s[1:]
	}
	mant, exp := s, 0
	if i := bytes.IndexAny(b, "eE"); i >= 0 {
		off := len(b) - len(s)
		mant = s[:i-off]
		e, err := strconv.Atoi(s[i-off+1:])
		if err != nil {
			return d, false
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := bytes.IndexByte([]byte(mant), '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	point := len(intPart) + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		point--
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if digits == "" {
		return decimal{}, true // zero, sign ignored
	}
	d.digits, d.point = digits, point
	return d, true
}

// numEqual compares two valid JSON numbers exactly by value.
func numEqual(x, y []byte) bool {
	a, ok1 := parseDecimal(x)
	b, ok2 := parseDecimal(y)
	if !ok1 || !ok2 { // absurd exponents: fall back to float comparison
		f, err1 := strconv.ParseFloat(string(x), 64)
		g, err2 := strconv.ParseFloat(string(y), 64)
		return err1 == nil && err2 == nil && f == g
	}
	return a == b
}
