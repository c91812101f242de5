package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of names and paths.
const (
	// MaxNameBytes bounds a name (of a step, sleep, loop, branch...).
	MaxNameBytes = 128
	// MaxPathBytes bounds a whole path (String), so that nesting cannot grow
	// a journal key without bound.
	MaxPathBytes = 1024
)

// ValidateName checks a name given to a journaled call: 1 to MaxNameBytes
// bytes of valid UTF-8, with no '/' (it separates path segments), no '#'
// (it marks a loop iteration) and no control characters. The error wraps
// ErrInvalidName.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidName, len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidName, name)
	}
	for _, r := range name {
		switch {
		case r == '/':
			return fmt.Errorf("%w: %q contains '/' (it separates path segments)", ErrInvalidName, name)
		case r == '#':
			return fmt.Errorf("%w: %q contains '#' (it marks a loop iteration)", ErrInvalidName, name)
		case unicode.IsControl(r):
			return fmt.Errorf("%w: %q contains a control character", ErrInvalidName, name)
		}
	}
	return nil
}

// Path locates a journal entry or a scope within one epoch of a run (RivetKit
// Location): segments joined by '/', where a segment is a name, or name#i for
// iteration i of loop name. A call named n in scope s has the path s/n; a
// join or race branch b of name n is the scope n/b; iteration i of loop n is
// the scope n#i. Examples: plan, tools/search-3/call, main#41/fetch.
//
// The zero Path is the root: the scope of the run function's own calls.
// Paths are comparable values; build them with Child, Iteration and Branch,
// or ParsePath.
type Path struct{ s string }

// IsRoot reports whether p is the root scope.
func (p Path) IsRoot() bool { return p.s == "" }

// String returns the path's text, "/" for the root.
func (p Path) String() string {
	if p.s == "" {
		return "/"
	}
	return p.s
}

// Segments returns the path's segments (none for the root).
func (p Path) Segments() []string {
	if p.s == "" {
		return nil
	}
	return strings.Split(p.s, "/")
}

// Parent returns the scope p is in (the root for a top-level path and for
// the root itself).
func (p Path) Parent() Path {
	i := strings.LastIndexByte(p.s, '/')
	if i < 0 {
		return Path{}
	}
	return Path{p.s[:i]}
}

// Base returns p's last segment ("" for the root).
func (p Path) Base() string { return lastSegment(p.s) }

// Within reports whether p is scope or lies below it (every path is within
// the root).
func (p Path) Within(scope Path) bool {
	return scope.s == "" || p.s == scope.s || strings.HasPrefix(p.s, scope.s+"/")
}

// Child returns the path of the call named name in scope p.
func (p Path) Child(name string) (Path, error) {
	if err := ValidateName(name); err != nil {
		return Path{}, err
	}
	return p.join(name)
}

// Iteration returns the scope of iteration i (from 0) of loop name in
// scope p: name#i.
func (p Path) Iteration(name string, i int) (Path, error) {
	if err := ValidateName(name); err != nil {
		return Path{}, err
	}
	if i < 0 {
		return Path{}, fmt.Errorf("%w: loop %q iteration %d is negative", ErrInvalidPath, name, i)
	}
	return p.join(name + "#" + strconv.Itoa(i))
}

// Branch returns the scope of branch branch of the join or race name in
// scope p: name/branch.
func (p Path) Branch(name, branch string) (Path, error) {
	c, err := p.Child(name)
	if err != nil {
		return Path{}, err
	}
	return c.Child(branch)
}

// join appends a checked segment, within MaxPathBytes.
func (p Path) join(seg string) (Path, error) {
	s := seg
	if p.s != "" {
		s = p.s + "/" + seg
	}
	if len(s) > MaxPathBytes {
		return Path{}, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidPath, len(s), MaxPathBytes)
	}
	return Path{s}, nil
}

// ParsePath parses String's form back: "/" is the root; anything else is
// segments joined by '/', each a valid name or name#i (i a decimal without
// leading zeros). The error wraps ErrInvalidPath.
func ParsePath(s string) (Path, error) {
	if s == "/" {
		return Path{}, nil
	}
	if s == "" {
		return Path{}, fmt.Errorf("%w: empty (the root is \"/\")", ErrInvalidPath)
	}
	if len(s) > MaxPathBytes {
		return Path{}, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidPath, len(s), MaxPathBytes)
	}
	for seg := range strings.SplitSeq(s, "/") {
		if err := validateSegment(seg); err != nil {
			return Path{}, fmt.Errorf("%w: %q: %w", ErrInvalidPath, s, err)
		}
	}
	return Path{s}, nil
}

// validateSegment checks one segment: a name or name#i.
func validateSegment(seg string) error {
	name, iter, ok := strings.Cut(seg, "#")
	if err := ValidateName(name); err != nil {
		return err
	}
	if !ok {
		return nil
	}
	if _, err := parseCanonicalInt(iter); err != nil {
		return fmt.Errorf("iteration %q: %w", iter, err)
	}
	return nil
}

// parseCanonicalInt parses a non-negative decimal int written without a sign
// or leading zeros, so that formatting it back gives the same text.
func parseCanonicalInt(s string) (int, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("not a canonical non-negative integer")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a canonical non-negative integer")
	}
	return n, nil
}

// lastSegment returns what follows the last '/' of s.
func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// JournalPrefix returns the prefix of every KV key of epoch's journal,
// "j/<epoch>/": list it to load the journal.
func JournalPrefix(epoch int) string {
	if epoch < 0 {
		panic("workflows: negative epoch")
	}
	return "j/" + strconv.Itoa(epoch) + "/"
}

// EntryKey returns the KV key of the entry at p in epoch: "j/<epoch>/<p>".
// It panics if p is the root (no entry lives there) or epoch is negative.
func EntryKey(epoch int, p Path) string {
	if p.IsRoot() {
		panic("workflows: no journal entry at the root path")
	}
	return JournalPrefix(epoch) + p.s
}

// ParseEntryKey parses EntryKey's form back. The error wraps ErrInvalidPath.
func ParseEntryKey(key string) (epoch int, p Path, err error) {
	rest, ok := strings.CutPrefix(key, "j/")
	if !ok {
		return 0, Path{}, fmt.Errorf("%w: key %q does not start with j/", ErrInvalidPath, key)
	}
	e, path, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, Path{}, fmt.Errorf("%w: key %q has no path", ErrInvalidPath, key)
	}
	if epoch, err = parseCanonicalInt(e); err != nil {
		return 0, Path{}, fmt.Errorf("%w: key %q: epoch %q: %w", ErrInvalidPath, key, e, err)
	}
	if path == "/" {
		return 0, Path{}, fmt.Errorf("%w: key %q names the root", ErrInvalidPath, key)
	}
	if p, err = ParsePath(path); err != nil {
		return 0, Path{}, fmt.Errorf("key %q: %w", key, err)
	}
	return epoch, p, nil
}
