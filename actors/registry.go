package actors

import (
	"fmt"
	"slices"
	"strings"
)

// Registry is the set of actor types a runtime serves.
type Registry struct {
	types  map[string]Definition
	checks map[string]HistoryCheck // replay checks of whole histories (SetHistoryCheck)
}

// NewRegistry returns a registry holding defs.
func NewRegistry(defs ...Definition) (*Registry, error) {
	r := &Registry{types: map[string]Definition{}}
	for _, d := range defs {
		if err := r.Register(d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds an actor type; names must be unique. Registering the very
// same definition again does nothing (a node restarted in the same process
// on the same registry registers its built-in types again).
func (r *Registry) Register(d Definition) error {
	if err := d.definitionError(); err != nil {
		return err
	}
	if prev, dup := r.types[d.Name()]; dup {
		if prev == d {
			return nil
		}
		return fmt.Errorf("actor type %s is registered twice", d.Name())
	}
	r.types[d.Name()] = d
	return nil
}

// Types returns the registered type names, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.types))
	for name := range r.types {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Actions returns a type's action names, sorted, and whether the type exists.
func (r *Registry) Actions(typ string) ([]string, bool) {
	d, ok := r.types[typ]
	if !ok {
		return nil, false
	}
	names := d.actionNames()
	slices.Sort(names)
	return names, true
}

// CallableActions returns the actions of a type that callers may name, sorted
// (those the runtime and the server call themselves, named with a leading
// "$", such as a workflow's $timer, left out), and whether the type exists.
// Listings, hints and the checks of schedule and queue targets use it.
func (r *Registry) CallableActions(typ string) ([]string, bool) {
	names, ok := r.Actions(typ)
	if !ok {
		return nil, false
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, "$") {
			out = append(out, n)
		}
	}
	return out, true
}

// registeredList names the user's registered types for a message:
// "registered: agent, counter", without the server's own (rf_ names).
func (r *Registry) registeredList() string {
	var names []string
	for _, n := range r.Types() {
		if !strings.HasPrefix(n, systemTypePrefix) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "no actor types are registered"
	}
	return "registered: " + strings.Join(names, ", ")
}

// systemTypePrefix starts the names of the types the server registers for
// itself (schedules, dead letters): left out of messages to users.
const systemTypePrefix = "rf_"

func (r *Registry) lookup(typ string) (Definition, error) {
	d, ok := r.types[typ]
	if !ok {
		return nil, errorf(ErrUnknownType, "unknown actor type %q (%s)", typ, r.registeredList())
	}
	return d, nil
}
