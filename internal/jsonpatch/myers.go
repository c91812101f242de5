package jsonpatch

import (
	"bytes"
	"hash/maphash"
)

// maxEdits caps the edit distance D explored by the array diff. Beyond it
// the array is replaced; Myers' cost is O((N+M)·D) in the worst case.
const maxEdits = 256

// minEditBytes is a lower bound on the patch bytes one array edit costs (a
// paired delete+insert is two edits yielding at least one ~29-byte op). It
// lets the diff stop once the ops cannot beat a plain replace.
const minEditBytes = 14

// snake is a run of n equal elements starting at a[x] and b[y].
type snake struct{ x, y, n int }

// arrayOps appends ops turning array x into array y, or returns false if the
// array should be replaced as a whole.
func (d *differ) arrayOps(x, y val) bool {
	ea := d.a.elements(x, d.getVals())
	eb := d.b.elements(y, d.getVals())
	defer d.putVals(ea)
	defer d.putVals(eb)
	eq := func(u, v val) bool {
		return u.e-u.s == v.e-v.s && bytes.Equal(d.a.bytes(u), d.b.bytes(v))
	}
	pre := 0
	for pre < len(ea) && pre < len(eb) && eq(ea[pre], eb[pre]) {
		pre++
	}
	suf := 0
	for suf < len(ea)-pre && suf < len(eb)-pre && eq(ea[len(ea)-1-suf], eb[len(eb)-1-suf]) {
		suf++
	}
	a, b := ea[pre:len(ea)-suf], eb[pre:len(eb)-suf]

	var snakes []snake
	if len(a) > 0 && len(b) > 0 {
		limit := len(a) + len(b)
		if d.sizeCheck {
			limit = min(limit, maxEdits, d.replaceCost(y.e-y.s)/minEditBytes+1)
		}
		ha, hb := d.hashes(&d.a, a), d.hashes(&d.b, b)
		var ok bool
		snakes, ok = myers(ha, hb, limit)
		d.putHashes(ha)
		d.putHashes(hb)
		if !ok {
			return false
		}
	}
	snakes = append(snakes, snake{x: len(a), y: len(b)})

	cur, n := pre, len(ea) // position in, and length of, the array being patched
	pa, pb := 0, 0
	for _, s := range snakes {
		p, q := s.x-pa, s.y-pb
		k := min(p, q)
		for i := range k {
			u, v := a[pa+i], b[pb+i]
			mark := len(d.path)
			d.pushIndex(cur + i)
			ub, vb := d.a.buf[u.s], d.b.buf[v.s]
			if (ub == '{' && vb == '{') || (ub == '[' && vb == '[') {
				d.diffValue(u, v)
			} else {
				d.writeValue("replace", d.b.bytes(v))
			}
			d.path = d.path[:mark]
		}
		cur += k
		for range p - k {
			mark := len(d.path)
			d.pushIndex(cur)
			d.writeRemove()
			d.path = d.path[:mark]
			n--
		}
		for i := k; i < q; i++ {
			mark := len(d.path)
			if cur == n {
				d.path = append(d.path, '/', '-')
			} else {
				d.pushIndex(cur)
			}
			d.writeValue("add", d.b.bytes(b[pb+i]))
			d.path = d.path[:mark]
			cur++
			n++
		}
		// Guard against hash collisions: matched elements must be equal.
		for i := range s.n {
			if !eq(a[s.x+i], b[s.y+i]) {
				return false
			}
		}
		cur += s.n
		pa, pb = s.x+s.n, s.y+s.n
	}
	return true
}

func (d *differ) hashes(sd *side, es []val) []uint64 {
	h := d.getHashes()
	for _, e := range es {
		h = append(h, maphash.Bytes(d.seed, sd.bytes(e)))
	}
	return h
}

// myers returns the common runs (in order) of a shortest edit script between
// a and b found by Myers' O(ND) algorithm, or false if D exceeds limit.
func myers(a, b []uint64, limit int) ([]snake, bool) {
	n, m := len(a), len(b)
	off := limit + 1
	v := make([]int, 2*limit+3)
	var trace [][]int // trace[d] holds V[-d..d] after step d
	for d := 0; d <= limit; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
				return backtrack(trace, n, m), true
			}
		}
		trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
	}
	return nil, false
}

func backtrack(trace [][]int, x, y int) []snake {
	var rev []snake
	for d := len(trace) - 1; d > 0; d-- {
		prev := trace[d-1] // V[-(d-1)..d-1], index k+d-1
		k := x - y
		var pk int
		if k == -d || (k != d && prev[k-1+d-1] < prev[k+1+d-1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := prev[pk+d-1]
		py := px - pk
		mx := px
		if pk == k-1 {
			mx = px + 1
		}
		if x > mx {
			rev = append(rev, snake{x: mx, y: mx - k, n: x - mx})
		}
		x, y = px, py
	}
	if x > 0 {
		rev = append(rev, snake{x: 0, y: 0, n: x})
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
