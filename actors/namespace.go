package actors

import "strings"

// namespaceMark starts the reserved first key part that carries a namespace:
// a part no client sends by accident (it begins with NUL).
const namespaceMark = "\x00ns:"

// DefaultNamespace is the namespace of keys without a namespace part.
const DefaultNamespace = "default"

// NamespacedKey returns key inside namespace ns: the key itself in the
// default namespace ("" or DefaultNamespace), otherwise with a reserved first
// part naming ns, so the same key in two namespaces is two actors. The
// RivetKit gateway keeps its clients' namespaces (rvt-namespace) apart this
// way; actor code never sees the part (Context.Key, Context.Namespace).
func NamespacedKey(ns string, key []string) []string {
	if ns == "" || ns == DefaultNamespace {
		return key
	}
	return append([]string{namespaceMark + ns}, key...)
}

// SplitNamespace is the inverse of NamespacedKey: the namespace of a stored
// key and the key as its namespace sees it.
func SplitNamespace(key []string) (ns string, rest []string) {
	if len(key) > 0 {
		if name, ok := strings.CutPrefix(key[0], namespaceMark); ok {
			return name, key[1:]
		}
	}
	return DefaultNamespace, key
}
