package actors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// Named returns fn with its arguments named, in order: an invalid_args error
// about an argument names it by position and by name ("argument 1 (amount)
// is missing"). Names are documentation only; calls still pass a JSON array.
func (fn ActionFunc[S]) Named(names ...string) ActionFunc[S] {
	return func(c *Context[S], args json.RawMessage) (any, error) {
		out, err := fn(c, args)
		var e *Error
		var ae *argError
		if err != nil && errors.As(err, &e) && e.Code == ErrInvalidArgs.Code && errors.As(e.cause, &ae) &&
			ae.pos >= 1 && ae.pos <= len(names) && names[ae.pos-1] != "" {
			named := *ae
			named.name = names[ae.pos-1]
			return nil, named.err()
		}
		return out, err
	}
}

// argError says what is wrong with one argument (pos counts from 1), kept as
// the cause of an ErrInvalidArgs so that Named can add the argument's name.
type argError struct {
	pos    int
	name   string
	detail string // "is missing", ": expected an integer, got a string"
}

func (a *argError) Error() string {
	label := "argument " + strconv.Itoa(a.pos)
	if a.name != "" {
		label += " (" + a.name + ")"
	}
	return label + a.detail
}

// err is the ErrInvalidArgs a client sees.
func (a *argError) err() *Error {
	e := errorf(ErrInvalidArgs, "%s", a.Error())
	e.cause = a
	return e
}

// optionalArg reports whether an argument of type t may be left out (it is
// then nil): pointers and interfaces, as in func(c, name string, opts *Opts).
func optionalArg(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface
}

// nullableArg reports whether JSON null is a value of type t.
func nullableArg(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return true
	}
	return false
}

// decodeArg decodes one argument (pos counts from 1) into dst, a pointer.
func decodeArg(pos int, raw []byte, dst any) error {
	t := reflect.TypeOf(dst).Elem()
	if string(raw) == "null" && !nullableArg(t) {
		return (&argError{pos: pos, detail: ": expected " + jsonterms.Kind(t) + ", got null"}).err()
	}
	err := json.Unmarshal(raw, dst)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		detail := ": "
		if te.Field != "" {
			detail += "field " + te.Field + ": "
		}
		return (&argError{pos: pos, detail: detail + "expected " + jsonterms.Kind(te.Type) + ", got " + jsonterms.ValueKind(te.Value)}).err()
	}
	// A type's own UnmarshalJSON (time.Time, ...) says what it wants.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return (&argError{pos: pos, detail: ": " + msg}).err()
}

// missingArgs checks the arguments after the n given: each must be optional.
func missingArgs(n int, dst []any) error {
	for i := n; i < len(dst); i++ {
		if !optionalArg(reflect.TypeOf(dst[i]).Elem()) {
			return (&argError{pos: i + 1, detail: fmt.Sprintf(" is missing: this action takes %s", plural(len(dst), "argument"))}).err()
		}
	}
	return nil
}

// tooMany is the error for more arguments than the action takes.
func tooMany(want int, got string) error {
	return errorf(ErrInvalidArgs, "expected at most %s, got %s", plural(want, "argument"), got)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// decodeTuple decodes a JSON array of arguments into dst in one pass. A
// missing argument, an extra one, a non-array, a wrong type or null where
// null is no value of the type is ErrInvalidArgs naming the argument; only
// arguments of pointer or interface type may be left out (they are nil).
//
// Valid JSON (what every call path hands it: the Client checks arguments
// before they are queued) is split into its elements by a small scanner and
// each element decoded with json.Unmarshal: a json.Decoder per call was a
// measurable share of a small action (a reader, a buffer and an internal
// syntax error per number argument). Anything else takes the Decoder, which
// reports it as before.
func decodeTuple(args json.RawMessage, dst ...any) error {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 {
		return missingArgs(0, dst)
	}
	if !json.Valid(trimmed) {
		return decodeTupleStream(trimmed, dst)
	}
	if trimmed[0] != '[' {
		return errorf(ErrInvalidArgs, "arguments must be a JSON array")
	}
	i := skipSpace(trimmed, 1)
	n := 0
	for ; trimmed[i] != ']'; n++ {
		end := skipJSONValue(trimmed, i)
		if n >= len(dst) {
			return tooMany(len(dst), strconv.Itoa(n+countValues(trimmed, end)))
		}
		if err := decodeArg(n+1, trimmed[i:end], dst[n]); err != nil {
			return err
		}
		if i = skipSpace(trimmed, end); trimmed[i] == ',' {
			i = skipSpace(trimmed, i+1)
		}
	}
	return missingArgs(n, dst)
}

// countValues counts the array elements from the one ending at end (1) to
// the closing bracket; b must be valid JSON.
func countValues(b []byte, end int) int {
	n := 1
	for i := skipSpace(b, end); b[i] == ','; n++ {
		i = skipSpace(b, skipJSONValue(b, skipSpace(b, i+1)))
	}
	return n
}

// decodeTupleStream is decodeTuple for input that is not valid JSON (no
// call path hands it any: the Client checks arguments before they queue).
func decodeTupleStream(trimmed []byte, dst []any) error {
	if err := json.Unmarshal(trimmed, new(any)); err != nil {
		return errorf(ErrInvalidArgs, "arguments are not valid JSON (%s): send an array such as [1]", strings.TrimPrefix(err.Error(), "json: "))
	}
	return errorf(ErrInvalidArgs, "arguments must be a JSON array")
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipJSONValue returns the index just past the value starting at b[i]; b
// must be valid JSON.
func skipJSONValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return i
			}
			depth--
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		if depth == 0 && (b[i] == '"' || b[i] == ']' || b[i] == '}') {
			return i + 1
		}
	}
	return i
}

// lenientArgs reports whether r's arguments were recorded before this
// decoding was strict, so they are decoded as they were then: a replay of
// the log, an alarm's or cron's fire, a delivered send or reply. Refusing
// them now would make a recorded history diverge and a stored schedule
// fail forever; new calls (HTTP, WebSocket, the gateway, a Client) are
// strict.
func (r *run) lenientArgs() bool {
	return r != nil && (r.replay != nil || r.fire != nil || r.inst.ids.recorded)
}

// decodeArgs is decodeTuple for r's call: strict, or, for arguments
// recorded earlier (lenientArgs), as they were decoded when recorded:
// missing arguments and nulls are zero values and extra ones are ignored.
func decodeArgs(r *run, args json.RawMessage, dst ...any) error {
	err := decodeTuple(args, dst...)
	if err == nil || !r.lenientArgs() {
		return err
	}
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil
	}
	var elems []json.RawMessage
	if json.Unmarshal(trimmed, &elems) != nil {
		return err
	}
	for i := 0; i < len(dst) && i < len(elems); i++ {
		if uerr := json.Unmarshal(elems[i], dst[i]); uerr != nil {
			return err
		}
	}
	return nil
}
