package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress on stderr: drawn live (progressbar) only when stderr is a
// terminal; a log gets no carriage returns, only the final line, once.

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termCols is the width of the terminal w in columns, 0 if unknown.
func termCols(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
}

// fitCols cuts s to at most n runes, the last an ellipsis; n <= 0 keeps s.
func fitCols(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// spinnerCols is what a spinner line takes besides its text: the spinner and
// a space before the text, two spaces after it, and the last column left
// free. A line wider than the terminal wraps, and "\r" then clears only its
// last row, leaving a trail of stale rows at every redraw.
const spinnerCols = 5

// statusLine is one line of progress (a rate, a count) updated in place on a
// terminal. end prints the last line once, plainly, on any writer.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	bar  *progressbar.ProgressBar // nil: w is not a terminal
	last string
}

func newStatusLine(w io.Writer) *statusLine {
	s := &statusLine{w: w}
	if isTerminal(w) {
		s.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetElapsedTime(false))
	}
	return s
}

// set replaces the line; a nil *statusLine shows nothing.
func (s *statusLine) set(format string, args ...any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = fmt.Sprintf(format, args...)
	if s.bar != nil {
		s.bar.Describe(fitCols(s.last, termCols(s.w)-spinnerCols)) // read each time: the terminal may be resized
	}
}

// end clears the live line and prints the last one; a nil or empty line
// prints nothing.
func (s *statusLine) end() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bar != nil {
		_ = s.bar.Finish()
	}
	if s.last != "" {
		fmt.Fprintln(s.w, s.last)
		s.last = ""
	}
}

// progress is a progress bar of a bulk operation (done of total): live on a
// terminal, then one final line with the counts and the rate. Safe for
// concurrent use; a nil *progress draws nothing.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	bar   *progressbar.ProgressBar // nil: w is not a terminal
	what  string
	total int
	done  int
	start time.Time
	note  string // shown after the counts, until the next add
}

func newProgress(w io.Writer, what string, total int) *progress {
	p := &progress{w: w, what: what, total: total, start: time.Now()}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(what),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.bar != nil {
		if p.note != "" {
			p.bar.Describe(p.what)
		}
		_ = p.bar.Add(n)
	}
	p.note = ""
}

// atLeast raises the total to n when more came than expected.
func (p *progress) atLeast(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.total {
		p.total = n
		if p.bar != nil {
			p.bar.ChangeMax(n)
		}
	}
}

// setNote shows a note (such as a wait) until the next add: after the bar
// on a terminal, as a line of its own otherwise (a wait is worth a log line).
func (p *progress) setNote(note string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		if note != p.note {
			fmt.Fprintf(p.w, "(%d of %d %s; %s)\n", p.done, p.total, p.what, note)
		}
		p.note = note
		return
	}
	p.note = note
	p.bar.Describe(p.what + " (" + note + ")")
}

// finish clears the live bar and prints the final line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	fmt.Fprintln(p.w, p.line())
}

// line is the bar as text: [####......] 40%  4 of 10 sent  3/s  1.2s.
func (p *progress) line() string {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	elapsed := time.Since(p.start)
	line := fmt.Sprintf("%s %3.0f%%  %d of %d %s  %.0f/s  %s", textBar(frac), frac*100, p.done, p.total, p.what,
		float64(p.done)/max(elapsed.Seconds(), 1e-9), elapsed.Round(time.Millisecond))
	if p.note != "" {
		line += "  (" + p.note + ")"
	}
	return line
}

// textBar draws frac (0 to 1) as [###.....], 30 wide.
func textBar(frac float64) string {
	const width = 30
	done := int(min(max(frac, 0), 1) * width)
	return "[" + strings.Repeat("#", done) + strings.Repeat(".", width-done) + "]"
}
