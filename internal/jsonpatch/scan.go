package jsonpatch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects accepted by the
// validator, like encoding/json, so hostile input cannot exhaust the stack.
const maxDepth = 10000

// SyntaxError reports invalid JSON in a document or a patch.
type SyntaxError struct {
	Offset int    // byte offset of the error in the input
	Msg    string // description of the problem
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonpatch: invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// strSafe[c] is true for bytes that may appear unescaped in a JSON string
// and need no special handling by the scanners.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// keySafe[c] is true for bytes that encoding/json's Marshal emits verbatim in
// a string (with HTML escaping on) when they are ASCII.
var keySafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// tape records, for each container of a document in preorder, where it ends
// and which container follows its subtree, so the diff can step over
// containers without rescanning them.
type tape struct {
	end  []int // offset just past the k-th container
	next []int // index of the first container after the k-th one's subtree

	// Filled by DiffTrusted's scan of old only: where the k-th container
	// starts and how many containers enclose it.
	start, depth []int
}

func (t *tape) reset() {
	t.end, t.next, t.start, t.depth = t.end[:0], t.next[:0], t.start[:0], t.depth[:0]
}

// compactValid validates b and returns it unchanged when it is already
// compact, or a compacted copy otherwise.
func compactValid(b []byte) ([]byte, error) {
	compact, err := validate(b)
	if err != nil || compact {
		return b, err
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// skipString returns the index just past the string starting at b[i] == '"'.
// b must be valid JSON.
func skipString(b []byte, i int) int {
	i++
	for {
		for ; i+8 <= len(b); i += 8 {
			w := binary.LittleEndian.Uint64(b[i:])
			q := w ^ ('"' * lsb)
			e := w ^ ('\\' * lsb)
			if m := ((q-lsb)&^q | (e-lsb)&^e) & msb; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) || b[i] == '"' {
			return i + 1
		}
		i += 2 // an escape: skip the escaped byte
	}
}

// skipValue returns the index just past the value starting at b[i]. b must be
// valid compact JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', ']', '}':
				return i
			}
			i++
		}
		return i
	}
}

// appendUnquote appends the decoded form of the JSON string body s (the
// bytes between the quotes of a valid string) to dst. Invalid surrogates
// decode to U+FFFD, as in encoding/json.
func appendUnquote(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...)
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		switch e := s[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(s[i+2:]))); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		n = n<<4 | int(c)
	}
	return n
}

const hexDigits = "0123456789abcdef"

// appendQuote appends s as a JSON string exactly as encoding/json's Marshal
// encodes a Go string (HTML-safe escaping, U+2028/U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD).
func appendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if keySafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// keyIsCanonical reports whether the quoted key q is exactly what appendQuote
// produces for its decoded value, so that Apply re-creates q byte for byte
// when a patch adds that key by name.
func keyIsCanonical(q []byte) bool {
	body := q[1 : len(q)-1]
	ascii := true
	for _, c := range body {
		if c >= utf8.RuneSelf {
			ascii = false
		} else if !keySafe[c] {
			return string(appendQuote(nil, string(appendUnquote(nil, body)))) == string(q)
		}
	}
	if ascii {
		return true
	}
	return utf8.Valid(body) && !bytes.Contains(body, []byte("\u2028")) &&
		!bytes.Contains(body, []byte("\u2029"))
}

// keyName returns the decoded name of the quoted key q. The result aliases q
// when q has no escapes.
func keyName(q []byte) []byte {
	body := q[1 : len(q)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return body
	}
	return appendUnquote(nil, body)
}
