package agent

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []ToolCall
	}{
		{"object", `{"calls":[{"tool":"calc","input":"1+1"},{"tool":"lookup","input":"pi"}]}`,
			[]ToolCall{{"calc", "1+1"}, {"lookup", "pi"}}},
		{"empty", `{"calls":[]}`, []ToolCall{}},
		{"no calls key", `{}`, []ToolCall{}},
		{"fenced", "```json\n{\"calls\":[{\"tool\":\"wordcount\",\"input\":\"a b\"}]}\n```", []ToolCall{{"wordcount", "a b"}}},
		{"extra keys ignored", `{"reasoning":"easy","calls":[{"tool":"calc","input":"2*3","why":"x"}]}`, []ToolCall{{"calc", "2*3"}}},
	} {
		got, err := ParsePlan(tc.in)
		if err != nil || !reflect.DeepEqual(got.Calls, tc.want) {
			t.Errorf("%s: ParsePlan = %+v, %v; want %+v", tc.name, got.Calls, err, tc.want)
		}
	}
}

func TestParsePlanErrors(t *testing.T) {
	t.Parallel()
	many := `{"calls":[` + strings.Repeat(`{"tool":"calc","input":"1+1"},`, MaxPlanCalls) + `{"tool":"calc","input":"1+1"}]}`
	for _, tc := range []struct{ name, in, wantMsg string }{
		{"not JSON", "I would call calc", "not a JSON object"},
		{"array", `[{"tool":"calc","input":"1"}]`, "not a JSON object"},
		{"trailing text", `{"calls":[]} and more`, "text after"},
		{"unknown tool", `{"calls":[{"tool":"shell","input":"ls"}]}`, `unknown tool "shell"`},
		{"empty input", `{"calls":[{"tool":"calc","input":" "}]}`, "empty input"},
		{"too many", many, "17 calls, at most 16"},
	} {
		_, err := ParsePlan(tc.in)
		if !errors.Is(err, ErrBadPlan) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: ParsePlan error = %v; want ErrBadPlan mentioning %q", tc.name, err, tc.wantMsg)
		}
	}
}

func TestRequestShapes(t *testing.T) {
	t.Parallel()
	p := PlanRequest("task")
	if !p.JSON || len(p.Messages) != 2 || p.Messages[0] != (Message{"system", PlanPrompt}) || p.Messages[1] != (Message{"user", "task"}) {
		t.Errorf("PlanRequest = %+v", p)
	}
	s := SummaryRequest("task", nil)
	want := []Message{{"system", SummaryPrompt}, {"user", TaskPrefix + "task"}, {"user", ResultsPrefix + `{"results":[]}`}}
	if s.JSON || !reflect.DeepEqual(s.Messages, want) {
		t.Errorf("SummaryRequest = %+v", s)
	}
}
