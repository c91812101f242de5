package actors

import (
	"slices"
	"strings"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// kvOverlay is the committed KV plus a call's uncommitted writes.
type kvOverlay struct {
	base   map[string][]byte
	writes map[string]*eventlog.KVWrite
	order  []string // keys in first-write order, for a deterministic event
}

// KV is an actor's key-value store, seen from inside one call.
type KV struct {
	o *kvOverlay
	// ns, when set, is a reserved namespace's key prefix (ReservedKV):
	// keys are stored under it, and it is stripped from listed keys.
	ns string
}

// Keys starting with a NUL byte ("\x00") are the runtime's (the actor's
// queues): Get, List and Range never show them, and Put and Delete of one
// fail the call.

// Get returns the value of key and whether it exists.
func (k *KV) Get(key string) ([]byte, bool) {
	if k.ns != "" {
		key = k.ns + key
	} else if strings.HasPrefix(key, reservedKVPrefix) {
		return nil, false
	}
	if w, ok := k.o.writes[key]; ok {
		if w.Delete {
			return nil, false
		}
		return slices.Clone(w.Value), true
	}
	v, ok := k.o.base[key]
	return slices.Clone(v), ok
}

// Put sets key to value.
func (k *KV) Put(key string, value []byte) {
	key = k.key(key)
	k.o.set(key, eventlog.KVWrite{Key: []byte(key), Value: slices.Clone(value)})
}

// Delete removes key.
func (k *KV) Delete(key string) {
	key = k.key(key)
	k.o.set(key, eventlog.KVWrite{Key: []byte(key), Delete: true})
}

// key is the stored key of key: in the namespace, or checked as a user's.
func (k *KV) key(key string) string {
	if k.ns != "" {
		return k.ns + key
	}
	checkUserKey(key)
	return key
}

// checkUserKey fails the call (a panic the mailbox turns into its error)
// for a key the runtime reserves.
func checkUserKey(key string) {
	if strings.HasPrefix(key, reservedKVPrefix) {
		panic(errorf(ErrInvalidArgs, "KV key %q is reserved: keys starting with a NUL byte belong to the runtime", key))
	}
}

func (o *kvOverlay) set(key string, w eventlog.KVWrite) {
	if o.writes == nil {
		o.writes = map[string]*eventlog.KVWrite{}
	}
	if _, seen := o.writes[key]; !seen {
		o.order = append(o.order, key)
	}
	if w.Value == nil && !w.Delete {
		w.Value = []byte{}
	}
	o.writes[key] = &w
}

// Entry is one key and value.
type Entry struct {
	Key   string
	Value []byte
}

// List returns the entries whose keys start with prefix, in key order.
func (k *KV) List(prefix string) []Entry {
	return k.Range(prefix, prefixEnd(prefix))
}

// Range returns the entries with start <= key < end (end "" = no upper bound),
// in key order.
func (k *KV) Range(start, end string) []Entry {
	if k.ns != "" {
		end = k.ns + end
		if end == k.ns {
			end = prefixEnd(k.ns)
		}
		out := k.o.rangeRaw(k.ns+start, end)
		for i := range out {
			out[i].Key = strings.TrimPrefix(out[i].Key, k.ns)
		}
		return out
	}
	out := k.o.rangeRaw(start, end)
	return slices.DeleteFunc(out, func(e Entry) bool { return strings.HasPrefix(e.Key, reservedKVPrefix) })
}

// rangeRaw is Range with the runtime's keys.
func (o *kvOverlay) rangeRaw(start, end string) []Entry {
	in := func(key string) bool { return key >= start && (end == "" || key < end) }
	seen := map[string]bool{}
	var out []Entry
	for key, w := range o.writes {
		seen[key] = true
		if !w.Delete && in(key) {
			out = append(out, Entry{Key: key, Value: slices.Clone(w.Value)})
		}
	}
	for key, v := range o.base {
		if !seen[key] && in(key) {
			out = append(out, Entry{Key: key, Value: slices.Clone(v)})
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// prefixEnd returns the smallest string greater than every string with prefix.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// events returns the writes in first-write order for the event.
func (o *kvOverlay) events() []eventlog.KVWrite {
	out := make([]eventlog.KVWrite, 0, len(o.order))
	for _, key := range o.order {
		out = append(out, *o.writes[key])
	}
	return out
}

// validReservedNS reports whether ns may name a ReservedKV namespace.
func validReservedNS(ns string) bool {
	if ns == "" || len(ns) > 32 || ns == "q" {
		return false
	}
	for _, r := range ns {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
