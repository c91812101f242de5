package agent

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// complete runs m on req and returns the answer and the deltas it streamed.
func complete(t *testing.T, m Model, req ChatRequest) (ChatResponse, []string) {
	t.Helper()
	var deltas []string
	resp, err := m.Complete(context.Background(), req, func(s string) { deltas = append(deltas, s) })
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if joined := strings.Join(deltas, ""); joined != resp.Content {
		t.Fatalf("deltas join to %q, Content is %q", joined, resp.Content)
	}
	return resp, deltas
}

func TestLocalPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, task string
		want       []ToolCall
	}{
		{"all three tools in task order",
			`What is (12 + 30) * 2, how many words are in "the quick brown fox", and what about Paris?`,
			[]ToolCall{{"calc", "(12 + 30) * 2"}, {"wordcount", "the quick brown fox"}, {"lookup", "paris"}}},
		{"expression trimmed of sentence punctuation",
			"Compute 2.5 * 4.", []ToolCall{{"calc", "2.5 * 4"}}},
		{"unbalanced parenthesis from the prose",
			"(please add 2+2) then 10 / 4", []ToolCall{{"calc", "2+2"}, {"calc", "10 / 4"}}},
		{"quoted text is counted, not calculated",
			`Count “1 + 1 is two” please`, []ToolCall{{"wordcount", "1 + 1 is two"}}},
		{"division by zero is still planned", "what is 1/0", []ToolCall{{"calc", "1/0"}}},
		{"lone numbers are not expressions",
			"In 2024 I climbed Everest and swam the Nile", []ToolCall{{"lookup", "everest"}, {"lookup", "nile"}}},
		{"duplicates once", "pi and PI and Pi", []ToolCall{{"lookup", "pi"}}},
		{"at most 3 calls",
			"1+1, 2+2, 3+3, 4+4 and Tokyo", []ToolCall{{"calc", "1+1"}, {"calc", "2+2"}, {"calc", "3+3"}}},
		{"hyphenated key", "tell me about rivet-flow", []ToolCall{{"lookup", "rivet-flow"}}},
		{"nothing matches: count the task", "  Write a haiku  ", []ToolCall{{"wordcount", "Write a haiku"}}},
		{"empty task", "", []ToolCall{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := PlanRequest(tc.task)
			resp, deltas := complete(t, Local{}, req)
			plan, err := ParsePlan(resp.Content)
			if err != nil {
				t.Fatalf("ParsePlan(%q): %v", resp.Content, err)
			}
			if !reflect.DeepEqual(plan.Calls, tc.want) {
				t.Errorf("plan = %+v\nwant   %+v", plan.Calls, tc.want)
			}
			// Deterministic: the same request gets the same answer, piece by piece.
			again, deltas2 := complete(t, Local{}, req)
			if again != resp || !reflect.DeepEqual(deltas, deltas2) {
				t.Errorf("second answer differs: %+v %q vs %+v %q", again, deltas2, resp, deltas)
			}
			// Without JSON mode the answer is the same JSON.
			req.JSON = false
			if plain, _ := complete(t, Local{}, req); plain.Content != resp.Content {
				t.Errorf("without JSON mode: %q, with: %q", plain.Content, resp.Content)
			}
		})
	}
}

func TestLocalSummaryStreamsWordByWord(t *testing.T) {
	t.Parallel()
	req := SummaryRequest("what is 6*7 and where is Paris", []ToolResult{
		{Tool: "calc", Input: "6*7", Output: "42"},
		{Tool: "lookup", Input: "paris", Output: "Paris is the capital of France."},
		{Tool: "calc", Input: "1/0", Error: "division by zero"},
	})
	resp, deltas := complete(t, Local{}, req)
	want := "Task: what is 6*7 and where is Paris\n" +
		"- calc(6*7) = 42\n" +
		"- lookup(paris) = Paris is the capital of France.\n" +
		"- calc(1/0) failed: division by zero\n" +
		"3 tool calls, 1 failed."
	if resp.Content != want {
		t.Errorf("summary =\n%s\nwant\n%s", resp.Content, want)
	}
	if len(deltas) != len(strings.Fields(want)) {
		t.Errorf("%d deltas for %d words: %q", len(deltas), len(strings.Fields(want)), deltas)
	}
	for i, d := range deltas {
		if w := strings.TrimSpace(d); w == "" || strings.ContainsFunc(w, func(r rune) bool { return r == ' ' || r == '\n' }) {
			t.Errorf("delta %d = %q, want one word and its trailing space", i, d)
		}
	}
	if resp.Usage.CompletionTokens != len(deltas) || resp.Usage.PromptTokens == 0 {
		t.Errorf("usage = %+v", resp.Usage)
	}

	empty, _ := complete(t, Local{}, SummaryRequest("nothing", nil))
	if empty.Content != "Task: nothing\nNo tools were called." {
		t.Errorf("summary without results = %q", empty.Content)
	}
}

func TestLocalNilDelta(t *testing.T) {
	t.Parallel()
	resp, err := Local{}.Complete(context.Background(), PlanRequest("1+1"), nil)
	if err != nil || resp.Content != `{"calls":[{"tool":"calc","input":"1+1"}]}` {
		t.Errorf("Complete with nil delta = %+v, %v", resp, err)
	}
}

func TestLocalUnknownRequest(t *testing.T) {
	t.Parallel()
	for _, req := range []ChatRequest{
		{},
		{Messages: []Message{{Role: "user", Content: "hello"}}},
		{Messages: []Message{{Role: "system", Content: "You are a pirate."}, {Role: "user", Content: "hello"}}},
		{Messages: []Message{{Role: "system", Content: SummaryPrompt}, {Role: "user", Content: "Task: x"}}},
		{Messages: []Message{{Role: "system", Content: SummaryPrompt}, {Role: "user", Content: ResultsPrefix + "{"}}},
	} {
		_, err := Local{}.Complete(context.Background(), req, nil)
		if !errors.Is(err, ErrUnknownRequest) {
			t.Errorf("Complete(%+v) error = %v, want ErrUnknownRequest", req, err)
		}
	}
}

func TestLocalContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Local{}.Complete(ctx, SummaryRequest("a long task", nil), func(string) {
		if n++; n == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) || n != 2 {
		t.Errorf("cancelled mid-stream: err = %v after %d deltas; want context.Canceled after 2", err, n)
	}

	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = Local{}.Complete(ctx, PlanRequest("1+1"), nil)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !Retryable(err) {
		t.Errorf("past deadline: err = %v; want ErrTimeout and context.DeadlineExceeded, retryable", err)
	}
}

func TestSplitWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"a b  c", []string{"a ", "b  ", "c"}},
		{"  lead\ntrail \n", []string{"  lead\n", "trail \n"}},
		{"héllo wörld", []string{"héllo ", "wörld"}},
	} {
		if got := splitWords(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
