package jsonpatch

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrTestFailed is wrapped by the *OpError returned when a "test" operation
// finds a different value.
var ErrTestFailed = errors.New("test failed")

// OpError describes the failure of one operation of a patch. The patch was
// rolled back: the document is unchanged.
type OpError struct {
	Index int    // position of the operation in the patch
	Op    string // "add", "remove", ... (may be empty if the op is malformed)
	Path  string // the operation's path, as given
	Err   error  // the cause
}

// Error implements error.
func (e *OpError) Error() string {
	return fmt.Sprintf("jsonpatch: op %d (%s %q): %v", e.Index, e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Apply parses doc, applies patch to it and returns the compact encoding of
// the result.
func Apply(doc, patch []byte) ([]byte, error) {
	d, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	if err := d.Apply(patch); err != nil {
		return nil, err
	}
	return d.Encode(), nil
}

// operation is one decoded patch operation.
type operation struct {
	op, path, from string
	hasPath        bool
	hasFrom        bool
	value          *node
}

// Apply applies an RFC 6902 patch to the document. The patch applies
// atomically: on error the document is left unchanged and the error is a
// *SyntaxError (malformed patch JSON) or an *OpError naming the failing
// operation. A patch of "null" (a nil patch marshalled by Go) is accepted
// as empty. Apply does not retain patch.
func (d *Doc) Apply(patch []byte) error {
	p, err := compactValid(patch)
	if err != nil {
		return err
	}
	if len(p) > 0 && &p[0] == &patch[0] {
		p = bytes.Clone(patch)
	}
	tree := parseTree(p)
	if tree.kind == kindLeaf && string(tree.raw) == "null" {
		return nil // as marshalled by Go for a nil patch slice
	}
	if tree.kind != kindArray {
		return &OpError{Index: -1, Err: errors.New("patch is not a JSON array")}
	}
	a := applier{d: d, undo: d.undo[:0]}
	for i, e := range tree.elems {
		op, err := decodeOp(e)
		if err == nil {
			err = a.apply(op)
		}
		if err != nil {
			a.rollback()
			return &OpError{Index: i, Op: op.op, Path: op.path, Err: err}
		}
	}
	clear(a.undo)
	d.undo = a.undo[:0]
	return nil
}

func decodeOp(e *node) (operation, error) {
	var op operation
	if e.kind != kindObject {
		return op, errors.New("operation is not a JSON object")
	}
	str := func(n *node, field string) (string, error) {
		if n.kind != kindLeaf || n.raw[0] != '"' {
			return "", fmt.Errorf("%q must be a string", field)
		}
		return string(appendUnquote(nil, n.raw[1:len(n.raw)-1])), nil
	}
	var err error
	hasOp := false
	for _, m := range e.members {
		name := string(m.name())
		dup := false
		switch name {
		case "op":
			dup = hasOp
			op.op, err = str(m.val, "op")
			hasOp = true
		case "path":
			dup = op.hasPath
			op.path, err = str(m.val, "path")
			op.hasPath = true
		case "from":
			dup = op.hasFrom
			op.from, err = str(m.val, "from")
			op.hasFrom = true
		case "value":
			dup = op.value != nil
			op.value = m.val
		}
		if dup { // RFC 6902 appendix A.13
			return op, fmt.Errorf("duplicate %q member", name)
		}
		if err != nil {
			return op, err
		}
	}
	switch {
	case !hasOp:
		return op, errors.New(`missing "op"`)
	case !op.hasPath:
		return op, errors.New(`missing "path"`)
	}
	switch op.op {
	case "add", "replace", "test":
		if op.value == nil {
			return op, errors.New(`missing "value"`)
		}
	case "move", "copy":
		if !op.hasFrom {
			return op, errors.New(`missing "from"`)
		}
	case "remove":
	default:
		return op, fmt.Errorf("unknown op %q", op.op)
	}
	return op, nil
}

// parsePointer splits an RFC 6901 pointer into unescaped reference tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("pointer %q does not start with '/'", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if strings.IndexByte(s, '~') < 0 {
			continue
		}
		var sb strings.Builder
		for j := 0; j < len(s); j++ {
			if s[j] != '~' {
				sb.WriteByte(s[j])
				continue
			}
			if j+1 < len(s) && (s[j+1] == '0' || s[j+1] == '1') {
				sb.WriteByte("~/"[s[j+1]-'0'])
				j++
				continue
			}
			return nil, fmt.Errorf("pointer %q has an invalid ~ escape", p)
		}
		segs[i] = sb.String()
	}
	return segs, nil
}

// arrayIndex parses an array reference token; allowEnd admits "-" and len.
func arrayIndex(tok string, n int, allowEnd bool) (int, error) {
	if tok == "-" {
		if allowEnd {
			return n, nil
		}
		return 0, errors.New(`index "-" refers to a nonexistent element`)
	}
	if tok == "" || (tok[0] == '0' && len(tok) > 1) || tok[0] < '0' || tok[0] > '9' {
		return 0, fmt.Errorf("invalid array index %q", tok)
	}
	i, err := strconv.Atoi(tok)
	if err != nil {
		return 0, fmt.Errorf("invalid array index %q", tok)
	}
	if i > n || (i == n && !allowEnd) {
		return 0, fmt.Errorf("array index %d out of range (length %d)", i, n)
	}
	return i, nil
}

type undoKind uint8

const (
	undoRoot undoKind = iota
	undoObjSet
	undoObjAppend
	undoObjRemove
	undoArrSet
	undoArrInsert
	undoArrRemove
)

type undoRec struct {
	kind   undoKind
	parent *node
	idx    int
	val    *node
	key    []byte
}

type applier struct {
	d    *Doc
	undo []undoRec
}

func (a *applier) rollback() {
	for i := len(a.undo) - 1; i >= 0; i-- {
		u := &a.undo[i]
		p := u.parent
		switch u.kind {
		case undoRoot:
			a.d.root = u.val
		case undoObjSet:
			p.members[u.idx].val = u.val
		case undoObjAppend:
			p.members[len(p.members)-1] = member{}
			p.members = p.members[:len(p.members)-1]
			p.index = nil
		case undoObjRemove:
			p.members = append(p.members, member{})
			copy(p.members[u.idx+1:], p.members[u.idx:])
			p.members[u.idx] = member{key: u.key, val: u.val}
			p.index = nil
		case undoArrSet:
			p.elems[u.idx] = u.val
		case undoArrInsert:
			p.elems = removeElem(p.elems, u.idx)
		case undoArrRemove:
			p.elems = insertElem(p.elems, u.idx, u.val)
		}
	}
	clear(a.undo)
	a.d.undo = a.undo[:0]
}

func removeElem(es []*node, i int) []*node {
	copy(es[i:], es[i+1:])
	es[len(es)-1] = nil
	return es[:len(es)-1]
}

func insertElem(es []*node, i int, v *node) []*node {
	es = append(es, nil)
	copy(es[i+1:], es[i:])
	es[i] = v
	return es
}

func (a *applier) apply(op operation) error {
	segs, err := parsePointer(op.path)
	if err != nil {
		return err
	}
	switch op.op {
	case "add":
		return a.add(segs, op.value)
	case "remove":
		_, err := a.remove(segs)
		return err
	case "replace":
		return a.replace(segs, op.value)
	case "test":
		got, err := a.get(segs)
		if err != nil {
			return err
		}
		if !nodeEqual(got, op.value) {
			return ErrTestFailed
		}
		return nil
	}
	from, err := parsePointer(op.from)
	if err != nil {
		return fmt.Errorf("from: %w", err)
	}
	v, err := a.get(from)
	if err != nil {
		return fmt.Errorf("from %q: %w", op.from, err)
	}
	if op.op == "copy" {
		return a.add(segs, v.clone())
	}
	if op.from == op.path {
		return nil
	}
	if len(from) < len(segs) && isPrefix(from, segs) {
		return fmt.Errorf("cannot move %q into its own child", op.from)
	}
	if _, err := a.remove(from); err != nil {
		return err
	}
	return a.add(segs, v)
}

func isPrefix(p, s []string) bool {
	for i := range p {
		if p[i] != s[i] {
			return false
		}
	}
	return true
}

// walk returns the node addressed by segs.
func (a *applier) walk(segs []string) (*node, error) {
	n := a.d.root
	for i, s := range segs {
		switch n.kind {
		case kindObject:
			j := n.lookup(s)
			if j < 0 {
				return nil, fmt.Errorf("member %q not found at %s", s, joinPointer(segs[:i]))
			}
			n = n.members[j].val
		case kindArray:
			j, err := arrayIndex(s, len(n.elems), false)
			if err != nil {
				return nil, fmt.Errorf("%w at %s", err, joinPointer(segs[:i]))
			}
			n = n.elems[j]
		default:
			return nil, fmt.Errorf("cannot index scalar at %s with %q", joinPointer(segs[:i]), s)
		}
	}
	return n, nil
}

func joinPointer(segs []string) string {
	if len(segs) == 0 {
		return `""`
	}
	var sb strings.Builder
	for _, s := range segs {
		sb.WriteByte('/')
		sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
	}
	return strconv.Quote(sb.String())
}

func (a *applier) get(segs []string) (*node, error) { return a.walk(segs) }

func (a *applier) parent(segs []string) (*node, string, error) {
	p, err := a.walk(segs[:len(segs)-1])
	if err != nil {
		return nil, "", err
	}
	if p.kind == kindLeaf {
		return nil, "", fmt.Errorf("parent %s is not a container", joinPointer(segs[:len(segs)-1]))
	}
	return p, segs[len(segs)-1], nil
}

func (a *applier) setRoot(v *node) {
	a.undo = append(a.undo, undoRec{kind: undoRoot, val: a.d.root})
	a.d.root = v
}

func (a *applier) add(segs []string, v *node) error {
	if len(segs) == 0 {
		a.setRoot(v)
		return nil
	}
	p, last, err := a.parent(segs)
	if err != nil {
		return err
	}
	if p.kind == kindObject {
		if i := p.lookup(last); i >= 0 {
			a.undo = append(a.undo, undoRec{kind: undoObjSet, parent: p, idx: i, val: p.members[i].val})
			p.members[i].val = v
			return nil
		}
		p.members = append(p.members, member{key: appendQuote(nil, last), val: v})
		if p.index != nil {
			p.index[last] = len(p.members) - 1
		}
		a.undo = append(a.undo, undoRec{kind: undoObjAppend, parent: p})
		return nil
	}
	i, err := arrayIndex(last, len(p.elems), true)
	if err != nil {
		return err
	}
	p.elems = insertElem(p.elems, i, v)
	a.undo = append(a.undo, undoRec{kind: undoArrInsert, parent: p, idx: i})
	return nil
}

func (a *applier) remove(segs []string) (*node, error) {
	if len(segs) == 0 {
		return nil, errors.New("cannot remove the document root")
	}
	p, last, err := a.parent(segs)
	if err != nil {
		return nil, err
	}
	if p.kind == kindObject {
		i := p.lookup(last)
		if i < 0 {
			return nil, fmt.Errorf("member %q not found", last)
		}
		m := p.members[i]
		copy(p.members[i:], p.members[i+1:])
		p.members[len(p.members)-1] = member{}
		p.members = p.members[:len(p.members)-1]
		p.index = nil
		a.undo = append(a.undo, undoRec{kind: undoObjRemove, parent: p, idx: i, key: m.key, val: m.val})
		return m.val, nil
	}
	i, err := arrayIndex(last, len(p.elems), false)
	if err != nil {
		return nil, err
	}
	v := p.elems[i]
	p.elems = removeElem(p.elems, i)
	a.undo = append(a.undo, undoRec{kind: undoArrRemove, parent: p, idx: i, val: v})
	return v, nil
}

func (a *applier) replace(segs []string, v *node) error {
	if len(segs) == 0 {
		a.setRoot(v)
		return nil
	}
	p, last, err := a.parent(segs)
	if err != nil {
		return err
	}
	if p.kind == kindObject {
		i := p.lookup(last)
		if i < 0 {
			return fmt.Errorf("member %q not found", last)
		}
		a.undo = append(a.undo, undoRec{kind: undoObjSet, parent: p, idx: i, val: p.members[i].val})
		p.members[i].val = v
		return nil
	}
	i, err := arrayIndex(last, len(p.elems), false)
	if err != nil {
		return err
	}
	a.undo = append(a.undo, undoRec{kind: undoArrSet, parent: p, idx: i, val: p.elems[i]})
	p.elems[i] = v
	return nil
}
