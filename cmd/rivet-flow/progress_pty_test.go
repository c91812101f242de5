package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/creack/pty"
)

// Progress on a real terminal: each command that shows progress runs once
// with stdout and stderr on a pseudo-terminal, as a user at a shell sees it,
// and once on pipes, as a log or a script gets it.

// ptyCols is the width of the test's terminal: narrower than the longest
// progress lines, so a line that does not fit shows as a trail of rows.
const ptyCols = 60

// runOnPty runs the binary with stdin, stdout and stderr on a new
// pseudo-terminal ptyCols wide, as the session's controlling terminal, and
// returns everything the terminal received and the exit code. It skips the
// test where no pseudo-terminal can be opened.
func runOnPty(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("cannot open a pseudo-terminal (/dev/ptmx): %v; the progress output on a terminal is not tested here", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: ptyCols}); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	tty.Close() // the child holds it now: the master reads EOF when the child exits
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, ptmx)
		if errors.Is(err, syscall.EIO) { // Linux: the other side is closed
			err = nil
		}
		read <- err
	}()
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("rivet-flow %v on a terminal did not finish in a minute", args)
	}
	select {
	case rerr := <-read:
		if rerr != nil {
			t.Fatalf("read the terminal of rivet-flow %v: %v", args, rerr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the terminal of rivet-flow %v did not close after it exited", args)
	}
	return out.String(), exitCode(err)
}

// screen is what a terminal cols wide shows after out, row by row. It knows
// what the progress output uses: printable runes, carriage returns, line
// feeds, tabs and wrapping at the right margin (a rune past the last column
// goes to the next row); anything else, such as an escape sequence, fails the
// test, so a change in how the bar is drawn is noticed here.
func screen(t *testing.T, out string, cols int) []string {
	t.Helper()
	rows := [][]rune{nil}
	col := 0
	put := func(r rune) {
		if col == cols {
			rows, col = append(rows, nil), 0
		}
		row := &rows[len(rows)-1]
		for len(*row) <= col {
			*row = append(*row, ' ')
		}
		(*row)[col] = r
		col++
	}
	for _, r := range out {
		switch {
		case r == '\r':
			col = 0
		case r == '\n':
			rows, col = append(rows, nil), 0
		case r == '\t':
			for put(' '); col%8 != 0 && col < cols; {
				put(' ')
			}
		case unicode.IsControl(r):
			t.Fatalf("the terminal got the control character %q; screen() cannot show it:\n%q", r, out)
		default:
			put(r)
		}
	}
	lines := make([]string, len(rows))
	for i, row := range rows {
		lines[i] = strings.TrimRight(string(row), " ")
	}
	return lines
}

// liveGlyphs are drawn only by the live progress: the bar's blocks and the
// spinner's braille frames. None may be left on the screen or be in a log.
var liveGlyphs = regexp.MustCompile(`[█\x{2800}-\x{28FF}]`)

// countRows counts the rows that match re.
func countRows(rows []string, re *regexp.Regexp) int {
	n := 0
	for _, r := range rows {
		if re.MatchString(r) {
			n++
		}
	}
	return n
}

// On a terminal each command draws its progress live (carriage returns, the
// spinner or the bar with counts and rate), clears it, prints the last
// progress line once and then its result, each on its own row, nothing of
// the live drawing left on screen even though the terminal is narrower than
// the lines. On pipes the same command writes no carriage return and no bar,
// only the last progress line, and the same result.
func TestCLIProgressPty(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=" + p.addr
	for i := range 3 {
		createActor(t, p.addr, "counter", fmt.Sprint("pty-", i))
	}
	cli(t, nil, "queues", "create", "pty", addr).want(t, 0, "created queue pty")

	re := regexp.MustCompile
	for _, tc := range []struct {
		name string
		args []string
		// live is one frame of the live progress as progressbar draws it.
		live *regexp.Regexp
		// last is the last progress line, printed once when it ends; result
		// is the command's result on stdout. Each starts a row (the start of
		// a row: longer lines wrap on the narrow terminal).
		last   *regexp.Regexp
		result []*regexp.Regexp
	}{{
		name: "bench http",
		args: []string{"bench", "http", "--duration", "1s", "--rounds", "1", "--concurrency", "2", "--actors", "3"},
		live: re(`\r[\x{2800}-\x{28FF}] round 1/1  raw net/http +\d+ req/s`),
		last: re(`^round 1/1  raw net/http +\d+ req/s  actions +\d+`),
		result: []*regexp.Regexp{re(`^raw net/http +\d+ +0 +\d+ req/s`), re(`^actions +\d+ +0 +\d+ actions/s`),
			re(`^ratio: actions/s over raw req/s = \d`)},
	}, {
		name:   "queues send",
		args:   []string{"queues", "send", "pty", addr, "--count", "500", "--body", `{"n":1}`, "--batch", "20", "--concurrency", "2"},
		live:   re(`\rsent +\d+% \|[█ ]*\| \(\d+/500, \d+ sent/s\)`),
		last:   re(`^\[#{30}\] 100%  500 of 500 sent`),
		result: []*regexp.Regexp{re(`^queue pty: 500 sent, 0 duplicates, 0 failed of 500 in `)},
	}, {
		name:   "projections rebuild",
		args:   []string{"projections", "rebuild", "actors", addr},
		live:   re(`\r[\x{2800}-\x{28FF}] \[[#.]{30}\] +\d+%  \d+ of \d+ events`),
		last:   re(`^\[#{30}\] 100%  \d+ of \d+ events`),
		result: []*regexp.Regexp{re(`^rebuilt projection actors: 3 rows from \d+ events in `)},
	}} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			out, code := runOnPty(t, tc.args...)
			if code != 0 {
				t.Fatalf("on a terminal: exit code %d:\n%q", code, out)
			}
			// The terminal turns each \n into \r\n; the other \r are the drawing's.
			drawn := strings.ReplaceAll(out, "\r\n", "\n")
			if !strings.Contains(drawn, "\r") || !tc.live.MatchString(drawn) {
				t.Errorf("on a terminal: no live progress like %s:\n%q", tc.live, out)
			}
			rows := screen(t, out, ptyCols)
			shown := strings.Join(rows, "\n")
			if liveGlyphs.MatchString(shown) {
				t.Errorf("on a terminal: the live progress is left on the screen:\n%s\n(received %q)", shown, out)
			}
			if n := countRows(rows, tc.last); n != 1 {
				t.Errorf("on a terminal: %d rows start like %s, want 1:\n%s\n(received %q)", n, tc.last, shown, out)
			}
			for _, want := range tc.result {
				if countRows(rows, want) != 1 {
					t.Errorf("on a terminal: no row starts like %s:\n%s\n(received %q)", want, shown, out)
				}
			}

			r := cli(t, nil, tc.args...)
			r.want(t, 0)
			if strings.ContainsRune(r.stdout+r.stderr, '\r') || liveGlyphs.MatchString(r.stdout+r.stderr) {
				t.Errorf("on pipes: carriage returns or live progress:\nstdout: %q\nstderr: %q", r.stdout, r.stderr)
			}
			if n := countRows(strings.Split(r.stderr, "\n"), tc.last); n != 1 {
				t.Errorf("on pipes: %d lines of stderr start like %s, want 1:\n%s", n, tc.last, r.stderr)
			}
			for _, want := range tc.result {
				if countRows(strings.Split(r.stdout, "\n"), want) != 1 {
					t.Errorf("on pipes: no stdout line starts like %s:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// A status line is cut to the terminal's width, ending in an ellipsis;
// an unknown width (0) keeps it whole.
func TestProgressFitCols(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"round 1/1  errors 0", 0, "round 1/1  errors 0"}, {"round 1/1  errors 0", -4, "round 1/1  errors 0"},
		{"round 1/1  errors 0", 19, "round 1/1  errors 0"}, {"round 1/1  errors 0", 10, "round 1/1…"},
		{"[###...] 40%  4µs", 15, "[###...] 40%  …"}, {"abc", 1, "…"},
	} {
		if got := fitCols(tc.s, tc.n); got != tc.want {
			t.Errorf("fitCols(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
