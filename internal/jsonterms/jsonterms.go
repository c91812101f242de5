// Package jsonterms says what JSON a Go type takes, and what JSON value came
// instead, in a caller's terms: error messages about arguments, inputs and
// bodies name JSON kinds ("expected an integer, got a string"), never Go
// types (int64, struct { ... }), which mean nothing to a caller in another
// language.
package jsonterms

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind names the JSON a Go type takes: "an integer", "an object".
func Kind(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		if t == reflect.TypeFor[json.RawMessage]() {
			return "a JSON value"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return Kind(t.Elem())
	}
	return "a JSON value"
}

// ValueKind names a JSON value as encoding/json's UnmarshalTypeError reports
// it ("string", "number 3.5", "bool"): "a string", "3.5", "true or false".
func ValueKind(v string) string {
	switch {
	case v == "string":
		return "a string"
	case v == "array", v == "object":
		return "an " + v
	case v == "bool":
		return "true or false"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return v[len("number "):]
	}
	return v
}

// Describe says why JSON did not decode: "expected an object, got a
// string", with the field's path when the mismatch is inside the value.
func Describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg := "expected " + Kind(te.Type) + ", got " + ValueKind(te.Value)
		if te.Field != "" {
			msg = "field " + te.Field + ": " + msg
		}
		return msg
	}
	// A type's own UnmarshalJSON (time.Time, ...) says what it wants.
	return strings.TrimPrefix(err.Error(), "json: ")
}

// CheckText reports JSON text that encoding/json would decode lossily,
// replacing what it cannot decode with U+FFFD (so two different byte strings
// would become one key): invalid UTF-8, or a \u escape of a surrogate that
// is not half of a pair. The error says which, for a message.
func CheckText(raw []byte) error {
	if !utf8.Valid(raw) {
		return errors.New("not valid UTF-8")
	}
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' || i+6 > len(raw) {
			i++ // \" \\ \n ...: skip the escaped byte
			continue
		}
		r, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		if err != nil {
			return errors.New("a malformed \\u escape")
		}
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
			if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if lo, err := strconv.ParseUint(string(raw[i+8:i+12]), 16, 16); err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return fmt.Errorf("an unpaired surrogate escape (\\u%s)", raw[i+2:i+6])
		case r >= 0xDC00 && r <= 0xDFFF:
			return fmt.Errorf("an unpaired surrogate escape (\\u%s)", raw[i+2:i+6])
		default:
			i += 5
		}
	}
	return nil
}
