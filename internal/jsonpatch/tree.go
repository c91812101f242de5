package jsonpatch

import "bytes"

type kind uint8

const (
	kindLeaf kind = iota // string, number, true, false or null: raw holds the token
	kindObject
	kindArray
)

// indexThreshold is the member count above which an object gets a lazily
// built name index instead of linear lookups.
const indexThreshold = 32

// member is one object member. key holds the raw quoted key bytes.
type member struct {
	key []byte
	val *node
}

// name returns the decoded member name; it aliases key when it has no escapes.
func (m *member) name() []byte { return keyName(m.key) }

type node struct {
	kind    kind
	raw     []byte   // leaf token
	members []member // object members, in order
	elems   []*node  // array elements
	index   map[string]int
}

// Doc is an in-memory, order-preserving JSON document. Leaves and object keys
// keep their raw bytes, so Encode reproduces parsed input byte for byte (when
// it was compact). A Doc is not safe for concurrent use.
type Doc struct {
	root *node
	undo []undoRec // reused across Apply calls
}

// Parse validates b and builds a Doc from it. Parse copies b (so the caller
// may reuse it); input with insignificant whitespace is compacted first.
func Parse(b []byte) (*Doc, error) {
	c, err := compactValid(b)
	if err != nil {
		return nil, err
	}
	if &c[0] == &b[0] {
		c = bytes.Clone(b)
	}
	return &Doc{root: parseTree(c)}, nil
}

// parseTree builds a tree from valid compact JSON. Leaves alias b.
func parseTree(b []byte) *node {
	p := parser{b: b}
	n, _ := p.value(0)
	return n
}

// parser builds nodes from valid compact JSON, allocating them in slabs
// that grow from small (patches) to 256 nodes (documents).
type parser struct {
	b    []byte
	slab []node
	next int // size of the next slab
}

func (p *parser) alloc() *node {
	if len(p.slab) == 0 {
		p.next = min(max(p.next*2, 4), 256)
		p.slab = make([]node, p.next)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	return n
}

func (p *parser) value(i int) (*node, int) {
	b := p.b
	n := p.alloc()
	switch b[i] {
	case '{':
		n.kind = kindObject
		i++
		if b[i] == '}' {
			n.members = []member{}
			return n, i + 1
		}
		ms := make([]member, 0, 4)
		for {
			ke := skipString(b, i)
			key := b[i:ke:ke]
			var v *node
			v, i = p.value(ke + 1)
			ms = append(ms, member{key: key, val: v})
			if b[i] == '}' {
				n.members = ms
				return n, i + 1
			}
			i++
		}
	case '[':
		n.kind = kindArray
		i++
		if b[i] == ']' {
			n.elems = []*node{}
			return n, i + 1
		}
		es := make([]*node, 0, 4)
		for {
			var v *node
			v, i = p.value(i)
			es = append(es, v)
			if b[i] == ']' {
				n.elems = es
				return n, i + 1
			}
			i++
		}
	default:
		e := skipValue(b, i)
		n.raw = b[i:e:e]
		return n, e
	}
}

// Encode returns the compact encoding of the document.
func (d *Doc) Encode() []byte {
	return d.AppendEncode(nil)
}

// AppendEncode appends the compact encoding of the document to b and returns
// the extended slice.
func (d *Doc) AppendEncode(b []byte) []byte {
	return d.root.appendTo(b)
}

func (n *node) appendTo(b []byte) []byte {
	switch n.kind {
	case kindObject:
		b = append(b, '{')
		for i := range n.members {
			if i > 0 {
				b = append(b, ',')
			}
			m := &n.members[i]
			b = append(b, m.key...)
			b = append(b, ':')
			b = m.val.appendTo(b)
		}
		return append(b, '}')
	case kindArray:
		b = append(b, '[')
		for i, e := range n.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendTo(b)
		}
		return append(b, ']')
	default:
		return append(b, n.raw...)
	}
}

// clone returns a deep copy of n. Leaf bytes are shared; they are never
// mutated.
func (n *node) clone() *node {
	c := &node{kind: n.kind, raw: n.raw}
	switch n.kind {
	case kindObject:
		c.members = make([]member, len(n.members))
		for i, m := range n.members {
			c.members[i] = member{key: m.key, val: m.val.clone()}
		}
	case kindArray:
		c.elems = make([]*node, len(n.elems))
		for i, e := range n.elems {
			c.elems[i] = e.clone()
		}
	}
	return c
}

// lookup returns the index of the first member named name, or -1.
func (n *node) lookup(name string) int {
	if len(n.members) > indexThreshold {
		if n.index == nil {
			n.index = make(map[string]int, len(n.members))
			for i := range n.members {
				k := string(n.members[i].name())
				if _, dup := n.index[k]; !dup {
					n.index[k] = i
				}
			}
		}
		if i, ok := n.index[name]; ok {
			return i
		}
		return -1
	}
	for i := range n.members {
		if string(n.members[i].name()) == name {
			return i
		}
	}
	return -1
}
