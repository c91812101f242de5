package agent

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ToolCall is one call of a tool in a plan.
type ToolCall struct {
	Tool  string `json:"tool"`
	Input string `json:"input"`
}

// Tool is a deterministic tool: the same input gives the same output. Errors
// for bad input wrap [ErrToolInput].
type Tool func(ctx context.Context, input string) (string, error)

// Tool names, as a plan spells them.
const (
	ToolCalc      = "calc"
	ToolWordCount = "wordcount"
	ToolLookup    = "lookup"
)

// ErrToolInput is matched (with errors.Is) by every error a tool returns for
// its input (a bad expression, division by zero, an unknown key) and by
// [RunTool] for an unknown tool. Not retryable: the same input fails again.
var ErrToolInput = errors.New("agent: bad tool input")

// tools maps each tool name to its function.
var tools = map[string]Tool{
	ToolCalc:      Calc,
	ToolWordCount: WordCount,
	ToolLookup:    Lookup,
}

// ToolNames lists the tools [RunTool] knows, sorted.
func ToolNames() []string {
	names := make([]string, 0, len(tools))
	for name := range tools {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// RunTool runs call.Tool on call.Input.
func RunTool(ctx context.Context, call ToolCall) (string, error) {
	tool, ok := tools[call.Tool]
	if !ok {
		return "", fmt.Errorf("%w: unknown tool %q (known: %s)", ErrToolInput, call.Tool, strings.Join(ToolNames(), ", "))
	}
	return tool(ctx, call.Input)
}

// maxCalcInput bounds a calc expression, so a plan cannot make it work hard.
const maxCalcInput = 512

// decimal is the only literal calc accepts: digits with an optional
// fraction. Go's own literal forms (0x10, 1_000, 1e9, octal 010) are not
// arithmetic a user means.
var decimal = regexp.MustCompile(`^(\d+(\.\d*)?|\.\d+)$`)

// Calc evaluates an arithmetic expression of decimal numbers with + - * /
// (binary and unary +/-) and parentheses, exactly (rational arithmetic: 0.1+0.2
// is 0.3). An integer result is written in full; any other in the shortest
// decimal that reads back as the same float64 (1/3 is 0.3333333333333333).
// Division by zero and anything else (names, %, ^, exponents) are errors
// wrapping [ErrToolInput].
func Calc(ctx context.Context, input string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	expr := strings.TrimSpace(input)
	switch {
	case expr == "":
		return "", fmt.Errorf("%w: calc: empty expression", ErrToolInput)
	case len(expr) > maxCalcInput:
		return "", fmt.Errorf("%w: calc: expression longer than %d bytes", ErrToolInput, maxCalcInput)
	}
	node, err := parser.ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("%w: calc: %q is not an arithmetic expression: %v", ErrToolInput, expr, err)
	}
	v, err := evalArith(node)
	if err != nil {
		return "", fmt.Errorf("%w: calc: %q: %v", ErrToolInput, expr, err)
	}
	if i := constant.ToInt(v); i.Kind() == constant.Int {
		return i.ExactString(), nil
	}
	f, _ := constant.Float64Val(v)
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// evalArith evaluates the arithmetic subset of a Go expression tree.
func evalArith(n ast.Expr) (constant.Value, error) {
	switch n := n.(type) {
	case *ast.ParenExpr:
		return evalArith(n.X)
	case *ast.BasicLit:
		if (n.Kind != token.INT && n.Kind != token.FLOAT) || !decimal.MatchString(n.Value) {
			return nil, fmt.Errorf("%s is not a decimal number", n.Value)
		}
		r, ok := new(big.Rat).SetString(n.Value)
		if !ok {
			return nil, fmt.Errorf("%s is not a decimal number", n.Value)
		}
		return constant.Make(r), nil
	case *ast.UnaryExpr:
		if n.Op != token.ADD && n.Op != token.SUB {
			return nil, fmt.Errorf("operator %s is not supported", n.Op)
		}
		x, err := evalArith(n.X)
		if err != nil {
			return nil, err
		}
		return constant.UnaryOp(n.Op, x, 0), nil
	case *ast.BinaryExpr:
		switch n.Op {
		case token.ADD, token.SUB, token.MUL, token.QUO:
		default:
			return nil, fmt.Errorf("operator %s is not supported (use + - * /)", n.Op)
		}
		x, err := evalArith(n.X)
		if err != nil {
			return nil, err
		}
		y, err := evalArith(n.Y)
		if err != nil {
			return nil, err
		}
		if n.Op == token.QUO && constant.Sign(y) == 0 {
			return nil, errors.New("division by zero")
		}
		// QUO on two Int values is exact (a rational), not Go's integer division.
		return constant.BinaryOp(x, n.Op, y), nil
	}
	return nil, fmt.Errorf("only numbers, + - * / and parentheses are supported")
}

// WordCount counts the whitespace-separated words of input, in decimal.
func WordCount(ctx context.Context, input string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return strconv.Itoa(len(strings.Fields(input))), nil
}

// lookupTable is Lookup's built-in table. Keys are single lower-case words,
// so the local planner can find them in a task.
var lookupTable = map[string]string{
	"everest":    "Mount Everest is 8,849 m high, the highest mountain above sea level.",
	"golang":     "Go is a programming language announced by Google in 2009.",
	"light":      "The speed of light in vacuum is 299,792,458 m/s.",
	"nile":       "The Nile is about 6,650 km long.",
	"paris":      "Paris is the capital of France.",
	"pi":         "Pi is approximately 3.14159265358979.",
	"rivet-flow": "rivet-flow is a durable actor and workflow engine written in Go.",
	"tokyo":      "Tokyo is the capital of Japan.",
}

// LookupKeys lists the keys [Lookup] knows, sorted.
func LookupKeys() []string {
	keys := make([]string, 0, len(lookupTable))
	for k := range lookupTable {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Lookup returns the entry of a small built-in table of facts for input
// (case and surrounding space ignored); see [LookupKeys]. An unknown key is
// an error wrapping [ErrToolInput].
func Lookup(ctx context.Context, input string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	key := strings.ToLower(strings.TrimSpace(input))
	if v, ok := lookupTable[key]; ok {
		return v, nil
	}
	return "", fmt.Errorf("%w: lookup: no entry for %q (known: %s)", ErrToolInput, key, strings.Join(LookupKeys(), ", "))
}
