package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Local is a deterministic, offline [Model]: the default of the example, so
// it and its tests run without network or key. It answers the two requests
// built by [PlanRequest] and [SummaryRequest] (recognised by their system
// prompts) and nothing else ([ErrUnknownRequest]). The same request always
// gets the same answer, streamed word by word (each piece a word and the
// whitespace after it). MaxTokens is ignored: its answers are short. Usage
// counts words, not tokens.
//
// A plan is always a JSON object (JSON mode or not) of at most 3 calls, in
// the order the task mentions them:
//
//   - calc for each arithmetic expression outside quotes, such as
//     "(12 + 30) * 2" (at least one operator between numbers);
//   - wordcount for each double-quoted text ("..." or “...”);
//   - lookup for each word of the task that is a key of [Lookup]'s table.
//
// A task none of these rules match gets one wordcount of the whole task.
//
// A summary is a template over the tool results: the task, one line per
// result (its output, or that it failed and why), and the count of calls.
type Local struct{}

// localMaxCalls is the most calls a Local plan has.
const localMaxCalls = 3

// ErrUnknownRequest is matched by [Local]'s error for a request whose system
// prompt is neither [PlanPrompt] nor [SummaryPrompt].
var ErrUnknownRequest = errors.New("agent: the local model does not recognise this request")

// Complete implements [Model].
func (Local) Complete(ctx context.Context, req ChatRequest, delta func(string)) (ChatResponse, error) {
	if err := ctx.Err(); err != nil {
		return ChatResponse{}, ctxError(err)
	}
	var content string
	switch system := firstSystem(req.Messages); system {
	case PlanPrompt:
		b, err := json.Marshal(Plan{Calls: localPlan(lastUser(req.Messages))})
		if err != nil { // strings only: cannot fail
			return ChatResponse{}, err
		}
		content = string(b)
	case SummaryPrompt:
		task, results, err := readSummaryRequest(req.Messages)
		if err != nil {
			return ChatResponse{}, err
		}
		content = localSummary(task, results)
	default:
		return ChatResponse{}, fmt.Errorf("%w: its system prompt must be PlanPrompt or SummaryPrompt (build it with PlanRequest or SummaryRequest), got %q",
			ErrUnknownRequest, shorten(system, 60))
	}
	pieces := splitWords(content)
	for _, p := range pieces {
		if err := ctx.Err(); err != nil {
			return ChatResponse{}, ctxError(err)
		}
		if delta != nil {
			delta(p)
		}
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(strings.Fields(m.Content))
	}
	return ChatResponse{Content: content, Usage: Usage{PromptTokens: prompt, CompletionTokens: len(pieces)}}, nil
}

// ctxError returns a context's error, as a timeout error for a deadline.
func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &timeoutError{err}
	}
	return err
}

func firstSystem(msgs []Message) string {
	for _, m := range msgs {
		if m.Role == "system" {
			return m.Content
		}
	}
	return ""
}

func lastUser(msgs []Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content
		}
	}
	return ""
}

// readSummaryRequest reads back what SummaryRequest wrote.
func readSummaryRequest(msgs []Message) (task string, results []ToolResult, err error) {
	var sawResults bool
	for _, m := range msgs {
		if m.Role != "user" {
			continue
		}
		if t, ok := strings.CutPrefix(m.Content, TaskPrefix); ok {
			task = t
		} else if r, ok := strings.CutPrefix(m.Content, ResultsPrefix); ok {
			var v struct {
				Results []ToolResult `json:"results"`
			}
			if err := json.Unmarshal([]byte(r), &v); err != nil {
				return "", nil, fmt.Errorf("%w: the tool results are not JSON {\"results\":[...]}: %v", ErrUnknownRequest, err)
			}
			results, sawResults = v.Results, true
		}
	}
	if !sawResults {
		return "", nil, fmt.Errorf("%w: a summary request needs a user message starting %q (build it with SummaryRequest)", ErrUnknownRequest, ResultsPrefix)
	}
	return task, results, nil
}

func localSummary(task string, results []ToolResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Task: %s\n", strings.TrimSpace(task))
	if len(results) == 0 {
		b.WriteString("No tools were called.")
		return b.String()
	}
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
			fmt.Fprintf(&b, "- %s(%s) failed: %s\n", r.Tool, r.Input, r.Error)
		} else {
			fmt.Fprintf(&b, "- %s(%s) = %s\n", r.Tool, r.Input, r.Output)
		}
	}
	noun := "calls"
	if len(results) == 1 {
		noun = "call"
	}
	fmt.Fprintf(&b, "%d tool %s, %d failed.", len(results), noun, failed)
	return b.String()
}

var (
	quoted     = regexp.MustCompile(`"([^"]+)"|“([^”]+)”`)
	arithRun   = regexp.MustCompile(`[-+*/().0-9 \t]+`)
	lookupWord = regexp.MustCompile(`[\p{L}\p{N}-]+`)
)

// localPlan applies Local's planning rules to task (see Local).
func localPlan(task string) []ToolCall {
	type found struct {
		pos  int
		call ToolCall
	}
	var all []found
	// Quoted text is counted, and hidden from the other rules (same length,
	// so positions stay comparable).
	unquoted := []byte(task)
	for _, m := range quoted.FindAllStringSubmatchIndex(task, -1) {
		var text string
		if m[2] >= 0 {
			text = task[m[2]:m[3]]
		} else {
			text = task[m[4]:m[5]]
		}
		if text = strings.TrimSpace(text); text != "" {
			all = append(all, found{m[0], ToolCall{ToolWordCount, text}})
		}
		for i := m[0]; i < m[1]; i++ {
			unquoted[i] = ' '
		}
	}
	rest := string(unquoted)
	for _, m := range arithRun.FindAllStringIndex(rest, -1) {
		if expr, ok := arithmetic(rest[m[0]:m[1]]); ok {
			all = append(all, found{m[0], ToolCall{ToolCalc, expr}})
		}
	}
	for _, m := range lookupWord.FindAllStringIndex(rest, -1) {
		if key := strings.ToLower(rest[m[0]:m[1]]); lookupTable[key] != "" {
			all = append(all, found{m[0], ToolCall{ToolLookup, key}})
		}
	}
	slices.SortStableFunc(all, func(a, b found) int { return cmp.Compare(a.pos, b.pos) })
	calls := []ToolCall{}
	for _, f := range all {
		if len(calls) == localMaxCalls {
			break
		}
		if !slices.Contains(calls, f.call) {
			calls = append(calls, f.call)
		}
	}
	if len(calls) == 0 {
		if t := strings.TrimSpace(task); t != "" {
			calls = append(calls, ToolCall{ToolWordCount, t})
		}
	}
	return calls
}

// arithmetic trims a run of arithmetic characters to an expression with at
// least one binary operator, balancing its parentheses; ok is false when
// there is none.
func arithmetic(run string) (string, bool) {
	s := run
	for prev := ""; s != prev; {
		prev = s
		s = strings.TrimSpace(s)
		s = strings.TrimRight(s, "+-*/.(")
		s = strings.TrimLeft(s, "+*/.)")
		opens, closes := strings.Count(s, "("), strings.Count(s, ")")
		if closes > opens {
			s = strings.TrimSuffix(s, ")")
		} else if opens > closes {
			s = strings.TrimPrefix(s, "(")
		}
	}
	if !strings.ContainsAny(s, "0123456789") {
		return "", false
	}
	node, err := parser.ParseExpr(s)
	if err != nil {
		return "", false
	}
	for {
		p, ok := node.(*ast.ParenExpr)
		if !ok {
			break
		}
		node = p.X
	}
	_, binary := node.(*ast.BinaryExpr)
	return s, binary
}

// splitWords splits s into pieces of a word and the whitespace after it
// (leading whitespace goes with the first), so that they join back to s.
func splitWords(s string) []string {
	var pieces []string
	start, inSpace := 0, false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if !space && inSpace && i > start && strings.TrimSpace(s[start:i]) != "" {
			pieces = append(pieces, s[start:i])
			start = i
		}
		inSpace = space
	}
	if start < len(s) {
		pieces = append(pieces, s[start:])
	}
	return pieces
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
