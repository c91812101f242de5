package actors

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type argsOpts struct {
	Limit int `json:"limit"`
}

// Typed actions refuse missing, extra, null and mistyped arguments, naming
// the argument by position and, with Named, by name, in the caller's terms.
func TestDecodeTupleStrict(t *testing.T) {
	inc := Act(func(c *Context[int], amount int64) (int64, error) { return amount, nil }).Named("amount")
	pair := Act2(func(c *Context[int], name string, opts *argsOpts) (string, error) { return name, nil })
	obj := Act(func(c *Context[int], in argsOpts) (int, error) { return in.Limit, nil }).Named("input")
	none := Act0(func(c *Context[int]) (int, error) { return 0, nil })
	tests := []struct {
		name string
		fn   ActionFunc[int]
		args string
		want string // "" = accepted; else a part of the invalid_args message
	}{
		{"one", inc, `[5]`, ""},
		{"missing (empty array)", inc, `[]`, "argument 1 (amount) is missing"},
		{"missing (no args)", inc, ``, "argument 1 (amount) is missing"},
		{"null for a number", inc, `[null]`, "argument 1 (amount): expected an integer, got null"},
		{"string for a number", inc, `["5"]`, "argument 1 (amount): expected an integer, got a string"},
		{"fraction for an integer", inc, `[1.5]`, "argument 1 (amount): expected an integer, got 1.5"},
		{"extra", inc, `[1, 2, 3]`, "expected at most 1 argument, got 3"},
		{"not an array", inc, `{"amount":1}`, "arguments must be a JSON array"},
		{"optional pointer left out", pair, `["a"]`, ""},
		{"optional pointer null", pair, `["a", null]`, ""},
		{"unnamed position", pair, `[]`, "argument 1 is missing"},
		{"field of an object", obj, `[{"limit":"x"}]`, "argument 1 (input): field limit: expected an integer, got a string"},
		{"no arguments", none, `[]`, ""},
		{"none wanted", none, `[1]`, "expected at most 0 arguments, got 1"},
		{"invalid JSON", inc, `[1,`, "arguments are not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.fn(&Context[int]{}, json.RawMessage(tc.args))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("%s: %v, want accepted", tc.args, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalidArgs) {
				t.Fatalf("%s: %v, want invalid_args", tc.args, err)
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("%s: message %q, want %q in it", tc.args, e.Message, tc.want)
			}
			for _, goTerm := range []string{"int64", "json:", "Go value", "unmarshal"} {
				if strings.Contains(e.Message, goTerm) {
					t.Errorf("%s: message %q speaks Go (%q)", tc.args, e.Message, goTerm)
				}
			}
		})
	}
}
