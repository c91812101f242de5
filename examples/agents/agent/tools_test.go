package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCalc(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ in, want string }{
		{"1+2", "3"},
		{"  42 ", "42"},
		{"2*(3+4)", "14"},
		{"(12 + 30) * 2", "84"},
		{"7/2", "3.5"},
		{"10/4*2", "5"},
		{"0.1+0.2", "0.3"},
		{"-3 + 5", "2"},
		{"2 - -2", "4"},
		{"((2))", "2"},
		{"1/3", "0.3333333333333333"},
		{"010 + 1", "11"}, // decimal, not Go's octal
		{".5 * 4", "2"},
		{"2.5 * 1.5", "3.75"},
		{"99999999999999999999 * 10", "999999999999999999990"}, // exact, beyond int64
		{"1 - 0.75", "0.25"},
	} {
		got, err := Calc(ctx, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Calc(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCalcErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ in, wantMsg string }{
		{"", "empty expression"},
		{"   ", "empty expression"},
		{"1/0", "division by zero"},
		{"1/(2-2)", "division by zero"},
		{"5 / (0.5 - 0.5) + 1", "division by zero"},
		{"2+", "not an arithmetic expression"},
		{"(1+2", "not an arithmetic expression"},
		{"1.2.3", "not an arithmetic expression"},
		{"2^3", "operator ^ is not supported"},
		{"2 % 3", "operator % is not supported"},
		{"x+1", "only numbers"},
		{"f(1)", "only numbers"},
		{`"a"`, "not a decimal number"},
		{"1e3", "not a decimal number"},
		{"0x10", "not a decimal number"},
		{"1_000", "not a decimal number"},
		{"!1", "operator ! is not supported"},
		{strings.Repeat("1+", 300) + "1", "longer than 512 bytes"},
	} {
		got, err := Calc(ctx, tc.in)
		if err == nil {
			t.Errorf("Calc(%q) = %q, want an error", tc.in, got)
			continue
		}
		if !errors.Is(err, ErrToolInput) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("Calc(%q) error = %v; want ErrToolInput mentioning %q", tc.in, err, tc.wantMsg)
		}
	}
}

func TestWordCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "0"},
		{"   ", "0"},
		{"one", "1"},
		{"the quick  brown\nfox", "4"},
		{" héllo, wörld! ", "2"},
	} {
		got, err := WordCount(context.Background(), tc.in)
		if err != nil || got != tc.want {
			t.Errorf("WordCount(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, in := range []string{"paris", "Paris", "  PARIS\n"} {
		got, err := Lookup(ctx, in)
		if err != nil || got != "Paris is the capital of France." {
			t.Errorf("Lookup(%q) = %q, %v", in, got, err)
		}
	}
	for _, k := range LookupKeys() {
		if got, err := Lookup(ctx, k); err != nil || got == "" {
			t.Errorf("Lookup(%q) = %q, %v", k, got, err)
		}
	}
	_, err := Lookup(ctx, "atlantis")
	if !errors.Is(err, ErrToolInput) || !strings.Contains(err.Error(), `no entry for "atlantis"`) || !strings.Contains(err.Error(), "paris") {
		t.Errorf("Lookup(atlantis) error = %v; want ErrToolInput naming the key and the known keys", err)
	}
}

func TestRunTool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		call    ToolCall
		want    string
		wantErr bool
	}{
		{ToolCall{ToolCalc, "6*7"}, "42", false},
		{ToolCall{ToolWordCount, "a b c"}, "3", false},
		{ToolCall{ToolLookup, "tokyo"}, "Tokyo is the capital of Japan.", false},
		{ToolCall{ToolCalc, "1/0"}, "", true},
		{ToolCall{"shell", "rm -rf /"}, "", true},
		{ToolCall{"", ""}, "", true},
	} {
		got, err := RunTool(ctx, tc.call)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("RunTool(%+v) = %q, %v; want %q, error %v", tc.call, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrToolInput) {
			t.Errorf("RunTool(%+v) error %v does not match ErrToolInput", tc.call, err)
		}
	}
	if got := strings.Join(ToolNames(), ","); got != "calc,lookup,wordcount" {
		t.Errorf("ToolNames() = %s", got)
	}
}

func TestToolsHonourContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range ToolNames() {
		if _, err := RunTool(ctx, ToolCall{name, "1+1"}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", name, err)
		}
	}
}
