package jsonpatch

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
)

// side is one validated, compact input of Diff with its container tape.
type side struct {
	buf []byte
	t   tape
}

// load validates in (compacting it if needed) and records its tape.
func (sd *side) load(in []byte) error {
	sd.t.reset()
	compact, err := validateTape(in, &sd.t)
	if err != nil {
		return err
	}
	if !compact {
		var buf bytes.Buffer
		if err := json.Compact(&buf, in); err != nil {
			return err
		}
		in = buf.Bytes()
		sd.t.reset()
		if _, err := validateTape(in, &sd.t); err != nil {
			return err
		}
	}
	sd.buf = in
	return nil
}

// val is a value inside a side: buf[s:e], and c its container's tape index
// (-1 for scalars).
type val struct{ s, e, c int }

// root returns the top-level value.
func (sd *side) root() val {
	c := -1
	if b := sd.buf[0]; b == '{' || b == '[' {
		c = 0
	}
	return val{0, len(sd.buf), c}
}

func (sd *side) bytes(v val) []byte { return sd.buf[v.s:v.e] }

// valAt returns the value starting at s; *c is the tape index of the next
// container at or after s and is advanced past the value.
func (sd *side) valAt(s int, c *int) val {
	b := sd.buf
	switch b[s] {
	case '{', '[':
		k := *c
		*c = sd.t.next[k]
		return val{s, sd.t.end[k], k}
	case '"':
		return val{s, skipString(b, s), -1}
	}
	i := s + 1
	for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' {
		i++
	}
	return val{s, i, -1}
}

// mem is an object member: its quoted key buf[ks:ke] and its value.
type mem struct {
	ks, ke int
	v      val
}

// members splits object v into its members, and reports whether any key
// contains an escape.
func (sd *side) members(v val, dst []mem) ([]mem, bool) {
	b := sd.buf
	i, c := v.s+1, v.c+1
	if b[i] == '}' {
		return dst, false
	}
	esc := false
	for {
		ke := i + 1 // keys are short: a byte loop beats skipString
		for b[ke] != '"' {
			if b[ke] == '\\' {
				esc = true
				ke++
			}
			ke++
		}
		ke++
		m := mem{ks: i, ke: ke, v: sd.valAt(ke+1, &c)}
		dst = append(dst, m)
		if b[m.v.e] == '}' {
			return dst, esc
		}
		i = m.v.e + 1
	}
}

// elements splits array v into its elements.
func (sd *side) elements(v val, dst []val) []val {
	b := sd.buf
	i, c := v.s+1, v.c+1
	if b[i] == ']' {
		return dst
	}
	for {
		e := sd.valAt(i, &c)
		dst = append(dst, e)
		if b[e.e] == ']' {
			return dst
		}
		i = e.e + 1
	}
}

// names returns the decoded names of ms (aliasing buf when unescaped).
func (d *differ) names(buf []byte, ms []mem) [][]byte {
	ns := d.getBytes()
	for _, m := range ms {
		ns = append(ns, keyName(buf[m.ks:m.ke]))
	}
	return ns
}

// keyTab is an open-addressing hash set of indexes into a [][]byte.
type keyTab struct {
	slots []int // index+1, 0 for empty
	mask  int
}

func (d *differ) newTab(n int) keyTab {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	s := d.getInts(size)
	clear(s)
	return keyTab{slots: s, mask: size - 1}
}

// find returns the index of an entry of keys equal to k, or -1, and the
// slot where k would be inserted.
func (t keyTab) find(d *differ, keys [][]byte, k []byte) (idx, slot int) {
	slot = int(maphash.Bytes(d.seed, k)) & t.mask
	for t.slots[slot] != 0 {
		if j := t.slots[slot] - 1; bytes.Equal(keys[j], k) {
			return j, slot
		}
		slot = (slot + 1) & t.mask
	}
	return -1, slot
}

// hasDup reports whether names has two equal entries.
func (d *differ) hasDup(names [][]byte) bool {
	if len(names) <= 16 {
		for i := 1; i < len(names); i++ {
			for j := range i {
				if bytes.Equal(names[i], names[j]) {
					return true
				}
			}
		}
		return false
	}
	t := d.newTab(len(names))
	defer d.putInts(t.slots)
	for i, n := range names {
		j, slot := t.find(d, names, n)
		if j >= 0 {
			return true
		}
		t.slots[slot] = i + 1
	}
	return false
}

// ---- scratch pools (a differ is used by one goroutine at a time) ----

func (d *differ) getMems() []mem {
	if n := len(d.memPool); n > 0 {
		s := d.memPool[n-1]
		d.memPool = d.memPool[:n-1]
		return s[:0]
	}
	return make([]mem, 0, 16)
}

func (d *differ) putMems(s []mem) { d.memPool = append(d.memPool, s[:0]) }

func (d *differ) getVals() []val {
	if n := len(d.valPool); n > 0 {
		s := d.valPool[n-1]
		d.valPool = d.valPool[:n-1]
		return s[:0]
	}
	return make([]val, 0, 16)
}

func (d *differ) putVals(s []val) { d.valPool = append(d.valPool, s[:0]) }

func (d *differ) getBytes() [][]byte {
	if n := len(d.bytesPool); n > 0 {
		s := d.bytesPool[n-1]
		d.bytesPool = d.bytesPool[:n-1]
		return s[:0]
	}
	return make([][]byte, 0, 16)
}

func (d *differ) putBytes(s [][]byte) {
	clear(s)
	d.bytesPool = append(d.bytesPool, s[:0])
}

func (d *differ) getInts(n int) []int {
	if k := len(d.intPool); k > 0 {
		s := d.intPool[k-1]
		d.intPool = d.intPool[:k-1]
		if cap(s) >= n {
			return s[:n]
		}
	}
	return make([]int, n, max(n, 16))
}

func (d *differ) putInts(s []int) { d.intPool = append(d.intPool, s[:0]) }

func (d *differ) getHashes() []uint64 {
	if k := len(d.hashPool); k > 0 {
		s := d.hashPool[k-1]
		d.hashPool = d.hashPool[:k-1]
		return s[:0]
	}
	return nil
}

func (d *differ) putHashes(h []uint64) { d.hashPool = append(d.hashPool, h[:0]) }
