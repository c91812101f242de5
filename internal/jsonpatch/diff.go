package jsonpatch

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"sync"
)

// Diff returns an RFC 6902 patch, as a compact JSON array, that turns old
// into new. Both must be valid JSON; the error is a *SyntaxError otherwise.
// For compact inputs, applying the patch with Doc.Apply reproduces new byte
// for byte (see the package documentation). Inputs with insignificant
// whitespace are compacted first.
func Diff(old, new []byte) ([]byte, error) {
	return diff(old, new, true)
}

// diff implements Diff; tests turn sizeCheck off to exercise the fine-grained
// ops on small documents, where replacing is usually smaller.
func diff(old, new []byte, sizeCheck bool) ([]byte, error) {
	d := differPool.Get().(*differ)
	defer d.release()
	if err := d.a.load(old); err != nil {
		return nil, err
	}
	if err := d.b.load(new); err != nil {
		return nil, err
	}
	d.out = append(d.out[:0], '[')
	d.path = d.path[:0]
	d.sizeCheck = sizeCheck
	d.diffValue(d.a.root(), d.b.root())
	out := append(make([]byte, 0, len(d.out)+1), d.out...)
	return append(out, ']'), nil
}

var differPool = sync.Pool{New: func() any { return &differ{seed: maphash.MakeSeed()} }}

func (d *differ) release() {
	d.a.buf, d.b.buf, d.sc.b, d.sc.t = nil, nil, nil, nil
	if cap(d.out) > 1<<20 { // don't pin huge buffers in the pool
		d.out = nil
	}
	differPool.Put(d)
}

// differ holds the inputs, output and scratch space of one Diff call.
type differ struct {
	a, b side   // old and new
	out  []byte // the patch being built
	path []byte // current pointer, already escaped for a JSON string body
	seed maphash.Seed

	sizeCheck bool // replace a container when that is smaller than its ops

	sc tscan // DiffTrusted's scanner

	memPool   [][]mem
	valPool   [][]val
	bytesPool [][][]byte
	intPool   [][]int
	hashPool  [][]uint64
}

// ---- output ----------------------------------------------------------------

func (d *differ) opStart(op string) {
	if d.out[len(d.out)-1] != '[' {
		d.out = append(d.out, ',')
	}
	d.out = append(d.out, `{"op":"`...)
	d.out = append(d.out, op...)
	d.out = append(d.out, `","path":"`...)
	d.out = append(d.out, d.path...)
	d.out = append(d.out, '"')
}

func (d *differ) writeRemove() {
	d.opStart("remove")
	d.out = append(d.out, '}')
}

func (d *differ) writeValue(op string, v []byte) {
	d.opStart(op)
	d.out = append(d.out, `,"value":`...)
	d.out = append(d.out, v...)
	d.out = append(d.out, '}')
}

// replaceCost is the number of bytes a replace of the current path with a
// value of n bytes adds to the output.
func (d *differ) replaceCost(n int) int {
	if !d.sizeCheck {
		return 1 << 62
	}
	return len(`,{"op":"replace","path":"","value":}`) + len(d.path) + n
}

// pushKey appends the member name of quoted key q to the path.
func (d *differ) pushKey(q []byte) {
	d.path = append(d.path, '/')
	body := q[1 : len(q)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		for _, c := range body {
			switch c {
			case '~':
				d.path = append(d.path, '~', '0')
			case '/':
				d.path = append(d.path, '~', '1')
			default:
				d.path = append(d.path, c)
			}
		}
		return
	}
	var esc []byte
	for _, c := range appendUnquote(nil, body) {
		switch c {
		case '~':
			esc = append(esc, '~', '0')
		case '/':
			esc = append(esc, '~', '1')
		default:
			esc = append(esc, c)
		}
	}
	q2 := appendQuote(nil, string(esc))
	d.path = append(d.path, q2[1:len(q2)-1]...)
}

func (d *differ) pushIndex(i int) {
	d.path = append(d.path, '/')
	d.path = strconv.AppendInt(d.path, int64(i), 10)
}

// ---- structure ---------------------------------------------------------------

// diffValue appends ops turning x (in old) into y (in new) at the current
// path.
func (d *differ) diffValue(x, y val) {
	xb, yb := d.a.bytes(x), d.b.bytes(y)
	if bytes.Equal(xb, yb) {
		return
	}
	var ok bool
	mark := len(d.out)
	switch {
	case xb[0] == '{' && yb[0] == '{':
		ok = d.objectOps(x, y)
	case xb[0] == '[' && yb[0] == '[':
		ok = d.arrayOps(x, y)
	}
	if !ok || len(d.out)-mark > d.replaceCost(len(yb)) {
		d.out = d.out[:mark]
		d.writeValue("replace", yb)
	}
}

// objectOps appends ops turning object x into object y, or returns false if
// the object must be replaced as a whole.
func (d *differ) objectOps(x, y val) bool {
	ab, bb := d.a.buf, d.b.buf
	om, _ := d.a.members(x, d.getMems())
	nm, esc := d.b.members(y, d.getMems())
	defer d.putMems(om)
	defer d.putMems(nm)
	same := len(om) == len(nm)
	for i := 0; same && i < len(om); i++ {
		same = bytes.Equal(ab[om[i].ks:om[i].ke], bb[nm[i].ks:nm[i].ke])
	}
	if same { // typical struct: identical keys in identical order
		// Ops on a member are only right if its name is unique; check the
		// changed members (cheap), or all names when many changed.
		changed := 0
		for i := range om {
			if !d.sameVal(om[i].v, nm[i].v) {
				if changed++; changed*len(nm) > 256 {
					break
				}
				if !uniqueName(bb, nm, i, esc) {
					return false
				}
			}
		}
		if changed*len(nm) > 256 && d.dupNames(bb, nm) {
			return false
		}
		for i := range om {
			d.diffMember(bb[nm[i].ks:nm[i].ke], om[i].v, nm[i].v)
		}
		return true
	}
	if d.dupNames(ab, om) || d.dupNames(bb, nm) {
		return false
	}
	// Match members by raw key bytes: Apply keeps the old raw key when it
	// replaces a value, so keys spelled differently are removed and re-added.
	okeys, nkeys := d.getBytes(), d.getBytes()
	defer d.putBytes(okeys)
	defer d.putBytes(nkeys)
	for _, m := range om {
		okeys = append(okeys, ab[m.ks:m.ke])
	}
	for _, m := range nm {
		nkeys = append(nkeys, bb[m.ks:m.ke])
	}
	tab := d.newTab(len(okeys))
	defer d.putInts(tab.slots)
	for i, k := range okeys {
		_, slot := tab.find(d, okeys, k)
		tab.slots[slot] = i + 1
	}
	oi := d.getInts(len(nm)) // oi[j]: index in om of nm[j]'s key, or -1
	defer d.putInts(oi)
	for j, k := range nkeys {
		oi[j], _ = tab.find(d, okeys, k)
	}
	// nm[:p] keeps old members in their old relative order; nm[p:] is
	// appended, after removing those of its members that already existed.
	p, last := 0, -1
	for p < len(nm) && oi[p] > last {
		last = oi[p]
		p++
	}
	for _, k := range nkeys[p:] {
		if !keyIsCanonical(k) {
			return false
		}
	}
	kept := d.getInts(len(om))
	defer d.putInts(kept)
	clear(kept)
	for _, i := range oi[:p] {
		kept[i] = 1
	}
	for i, k := range okeys {
		if kept[i] == 0 {
			mark := len(d.path)
			d.pushKey(k)
			d.writeRemove()
			d.path = d.path[:mark]
		}
	}
	for j, k := range nkeys[:p] {
		d.diffMember(k, om[oi[j]].v, nm[j].v)
	}
	for j, k := range nkeys[p:] {
		mark := len(d.path)
		d.pushKey(k)
		d.writeValue("add", d.b.bytes(nm[p+j].v))
		d.path = d.path[:mark]
	}
	return true
}

func (d *differ) sameVal(x, y val) bool {
	return x.e-x.s == y.e-y.s && bytes.Equal(d.a.bytes(x), d.b.bytes(y))
}

// dupNames reports whether two members of ms have the same decoded name.
func (d *differ) dupNames(buf []byte, ms []mem) bool {
	ns := d.names(buf, ms)
	defer d.putBytes(ns)
	return d.hasDup(ns)
}

// uniqueName reports whether no other member of ms has the name of ms[i];
// esc tells whether any key of ms has an escape.
func uniqueName(buf []byte, ms []mem, i int, esc bool) bool {
	k := buf[ms[i].ks:ms[i].ke]
	var name []byte
	for j, m := range ms {
		if j == i {
			continue
		}
		o := buf[m.ks:m.ke]
		if len(o) == len(k) && string(o) == string(k) {
			return false
		}
		if esc {
			if name == nil {
				name = keyName(k)
			}
			if bytes.Equal(keyName(o), name) {
				return false
			}
		}
	}
	return true
}

// diffMember diffs the values of member key (a quoted key from new).
func (d *differ) diffMember(key []byte, x, y val) {
	if d.sameVal(x, y) {
		return
	}
	mark := len(d.path)
	d.pushKey(key)
	d.diffValue(x, y)
	d.path = d.path[:mark]
}
