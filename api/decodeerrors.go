package api

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// unmarshalError matches encoding/json's *UnmarshalTypeError text, which
// names Go types ("into Go struct field QueueConfigInput.maxMessages of
// type int64"): a JSON value that is valid but does not fit the field.
var unmarshalError = regexp.MustCompile(`^(?:json: )?cannot unmarshal (\w+)(?: (\S+))? into Go (?:struct field \w+\.(\S+)|value) of type (\S+)$`)

// inUserTerms rewrites a detail in encoding/json's words into the API's:
// where (body.maxMessages) and what the field takes, without Go type
// names. It reports false for any other detail.
func inUserTerms(d *huma.ErrorDetail) bool {
	m := unmarshalError.FindStringSubmatch(d.Message)
	if m == nil {
		return false
	}
	got, value, field, goType := m[1], m[2], m[3], m[4]
	if field != "" {
		d.Location = "body." + field
	}
	msg := "expected " + jsonTypeOf(goType) + ", got "
	if value != "" {
		msg += "the " + got + " " + value
	} else {
		msg += jsonterms.ValueKind(got)
	}
	d.Message = msg
	return true
}

// jsonTypeOf says in JSON's terms what a Go type takes.
func jsonTypeOf(goType string) string {
	switch {
	case strings.HasPrefix(goType, "uint"):
		bits, _ := strconv.Atoi(strings.TrimPrefix(goType, "uint"))
		if bits == 0 {
			bits = 64
		}
		return fmt.Sprintf("an integer from 0 to %d", uint64(1)<<bits-1)
	case strings.HasPrefix(goType, "int"):
		bits, _ := strconv.Atoi(strings.TrimPrefix(goType, "int"))
		if bits == 0 {
			bits = 64
		}
		return fmt.Sprintf("an integer from %d to %d", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
	case strings.HasPrefix(goType, "float"):
		return "a number no larger than about 1.8e308"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}
