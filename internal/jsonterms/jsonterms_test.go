package jsonterms_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// Decode errors come out in JSON's terms, with the field's path, and never
// name a Go type.
func TestDescribe(t *testing.T) {
	type inner struct {
		N int64 `json:"n"`
	}
	var v struct {
		Name  string          `json:"name"`
		In    inner           `json:"in"`
		List  []bool          `json:"list"`
		Raw   json.RawMessage `json:"raw"`
		Float float64         `json:"float"`
	}
	for body, want := range map[string]string{
		`"x"`:                  "expected an object, got a string",
		`{"name":5}`:           "field name: expected a string, got a number",
		`{"in":{"n":"x"}}`:     "field in.n: expected an integer, got a string",
		`{"in":{"n":1.5}}`:     "field in.n: expected an integer, got 1.5",
		`{"list":{}}`:          "field list: expected an array, got an object",
		`{"list":[1]}`:         "field list: expected true or false, got a number",
		`{"float":"1"}`:        "field float: expected a number, got a string",
		`{"name":["a"],"x":1}`: "field name: expected a string, got an array",
	} {
		err := json.Unmarshal([]byte(body), &v)
		if err == nil {
			t.Fatalf("%s decoded", body)
		}
		got := jsonterms.Describe(err)
		if got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
		for _, goTerm := range []string{"int64", "Go ", "struct", "jsonterms_test"} {
			if strings.Contains(got, goTerm) {
				t.Errorf("%s: %q names Go (%q)", body, got, goTerm)
			}
		}
	}
}

// Text encoding/json would decode lossily is refused, saying why; paired
// surrogates and other escapes are text.
func TestCheckText(t *testing.T) {
	for raw, want := range map[string]string{
		`"a\ud83d\ude00b"`: "",
		`["x\n\"\\"]`:      "",
		"\"a\xffb\"":       "not valid UTF-8",
		`"\udc80x"`:        `an unpaired surrogate escape (\udc80)`,
		`"x\ud800"`:        `an unpaired surrogate escape (\ud800)`,
		`"\ud800\u0041"`:   `an unpaired surrogate escape (\ud800)`,
		`"\uzzzz"`:         `a malformed \u escape`,
	} {
		err := jsonterms.CheckText([]byte(raw))
		if got := fmt.Sprint(err); (want == "" && err != nil) || (want != "" && got != want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}
