package jsonpatch

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
)

// validator checks that its input is one JSON value, records whether it
// contains insignificant whitespace and, if t is set, fills the container
// tape. It is iterative (an explicit stack) to keep the per-value cost low.
type validator struct {
	b     []byte
	ws    bool
	t     *tape
	stack []frame
}

var validatorPool = sync.Pool{New: func() any { return new(validator) }}

// frame is an open container: whether it is an object, and its tape index.
type frame struct {
	obj bool
	k   int
}

func (v *validator) err(i int, format string, args ...any) error {
	return &SyntaxError{Offset: i, Msg: fmt.Sprintf(format, args...)}
}

// space skips insignificant whitespace.
func (v *validator) space(i int) int {
	b := v.b
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		v.ws = true
		i++
	}
	return i
}

// validate checks b and reports whether it is compact (no insignificant
// whitespace).
func validate(b []byte) (compact bool, err error) {
	return validateTape(b, nil)
}

// validateTape is validate that also fills t (when not nil).
func validateTape(b []byte, t *tape) (compact bool, err error) {
	v := validatorPool.Get().(*validator)
	defer validatorPool.Put(v)
	v.b, v.t, v.ws, v.stack = b, t, false, v.stack[:0]
	err = v.run()
	compact = !v.ws
	v.b, v.t = nil, nil
	return compact && err == nil, err
}

func (v *validator) run() error {
	b := v.b
	i := v.space(0)
	var err error
	for {
		// Expect a value at i.
		if i >= len(b) {
			return v.err(i, "unexpected end of input")
		}
		switch c := b[i]; c {
		case '"':
			if i, err = v.str(i); err != nil {
				return err
			}
		case '{', '[':
			if len(v.stack) >= maxDepth {
				return v.err(i, "exceeded max depth %d", maxDepth)
			}
			k := -1
			if v.t != nil {
				k = len(v.t.end)
				v.t.end = append(v.t.end, 0)
				v.t.next = append(v.t.next, 0)
			}
			v.stack = append(v.stack, frame{obj: c == '{', k: k})
			if i = v.space(i + 1); i < len(b) && b[i] == c+2 { // '}' or ']'
				i++
				v.pop(i)
				break
			}
			if c == '{' {
				if i, err = v.key(i); err != nil {
					return err
				}
			}
			continue
		case 't':
			if i, err = v.lit(i, "true"); err != nil {
				return err
			}
		case 'f':
			if i, err = v.lit(i, "false"); err != nil {
				return err
			}
		case 'n':
			if i, err = v.lit(i, "null"); err != nil {
				return err
			}
		default:
			if c != '-' && (c < '0' || c > '9') {
				return v.err(i, "invalid character %q looking for value", c)
			}
			if i, err = v.number(i); err != nil {
				return err
			}
		}
		// After a value: close containers or move to the next element.
		for {
			if len(v.stack) == 0 {
				if i = v.space(i); i != len(b) {
					return v.err(i, "unexpected %q after top-level value", b[i])
				}
				return nil
			}
			if i < len(b) && b[i] <= ' ' {
				i = v.space(i)
			}
			if i >= len(b) {
				return v.err(i, "unexpected end of input")
			}
			top := v.stack[len(v.stack)-1]
			switch c := b[i]; {
			case c == ',':
				i++
				if i < len(b) && b[i] <= ' ' {
					i = v.space(i)
				}
				if top.obj {
					if i, err = v.key(i); err != nil {
						return err
					}
				}
			case (c == '}' && top.obj) || (c == ']' && !top.obj):
				i++
				v.pop(i)
				continue
			default:
				return v.err(i, "invalid character %q after element", c)
			}
			break
		}
	}
}

// pop closes the innermost container, which ended just before i.
func (v *validator) pop(i int) {
	f := v.stack[len(v.stack)-1]
	v.stack = v.stack[:len(v.stack)-1]
	if f.k >= 0 {
		v.t.end[f.k], v.t.next[f.k] = i, len(v.t.end)
	}
}

// key validates an object key and the colon after it, returning the index
// of the member value.
func (v *validator) key(i int) (int, error) {
	b := v.b
	if i >= len(b) || b[i] != '"' {
		return i, v.err(i, "expected object key")
	}
	i, err := v.str(i)
	if err != nil {
		return i, err
	}
	if i < len(b) && b[i] == ':' {
		i++
	} else if i = v.space(i); i < len(b) && b[i] == ':' {
		i++
	} else {
		return i, v.err(i, "expected ':' after object key")
	}
	if i < len(b) && b[i] <= ' ' {
		i = v.space(i)
	}
	return i, nil
}

func (v *validator) str(i int) (int, error) {
	b := v.b
	start := i
	i++
	for {
		i = safeRun(b, i)
		if i >= len(b) {
			return i, v.err(start, "unterminated string")
		}
		switch c := b[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i, v.err(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return i, v.err(i, "invalid \\u escape")
				}
				i += 6
			default:
				return i, v.err(i, "invalid escape %q", b[i+1])
			}
		default:
			return i, v.err(i, "invalid control character %#02x in string", c)
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// safeRun returns the index of the first byte at or after i that is '"',
// '\\' or a control character, or len(b). It checks 8 bytes at a time (the
// lowest flagged byte of these SWAR tests is exact).
func safeRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		q := w ^ ('"' * lsb)
		e := w ^ ('\\' * lsb)
		if m := ((w-0x20*lsb)&^w | (q-lsb)&^q | (e-lsb)&^e) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && strSafe[b[i]] {
		i++
	}
	return i
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (v *validator) number(i int) (int, error) {
	b := v.b
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return i, v.err(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == j {
			return i, v.err(start, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == j {
			return i, v.err(start, "invalid number")
		}
	}
	return i, nil
}

func (v *validator) lit(i int, want string) (int, error) {
	if len(v.b)-i < len(want) || string(v.b[i:i+len(want)]) != want {
		return i, v.err(i, "invalid literal, expected %s", want)
	}
	return i + len(want), nil
}
