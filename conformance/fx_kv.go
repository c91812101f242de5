package conformance

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/rivet-flow/rivet-flow/actors"
)

// kvTextEntry is one text entry as kvActor returns it.
type kvTextEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// kvListOptions are RivetKit's listRange options.
type kvListOptions struct {
	Reverse bool `json:"reverse"`
	Limit   int  `json:"limit"`
}

func kvTextEntries(entries []actors.Entry) []kvTextEntry {
	out := make([]kvTextEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, kvTextEntry{Key: e.Key, Value: string(e.Value)})
	}
	return out
}

// kvActor exercises the actor's KV store with text and binary values.
var kvActor = actors.NewType("kvActor", actors.Options[struct{}]{}).
	Action("putText", actors.Act2(func(c *actors.Context[struct{}], key, value string) (bool, error) {
		c.KV().Put(key, []byte(value))
		return true, nil
	})).
	Action("getText", actors.Act(func(c *actors.Context[struct{}], key string) (*string, error) {
		v, ok := c.KV().Get(key)
		if !ok {
			return nil, nil
		}
		s := string(v)
		return &s, nil
	})).
	Action("listText", actors.Act(func(c *actors.Context[struct{}], prefix string) ([]kvTextEntry, error) {
		return kvTextEntries(c.KV().List(prefix)), nil
	})).
	Action("listTextRange", kvListTextRange).
	Action("deleteTextRange", actors.Act2(func(c *actors.Context[struct{}], start, end string) (bool, error) {
		for _, e := range c.KV().Range(start, end) {
			c.KV().Delete(e.Key)
		}
		return true, nil
	})).
	Action("roundtripArrayBuffer", actors.Act2(func(c *actors.Context[struct{}], key string, values []int) ([]int, error) {
		buf := make([]byte, len(values))
		for i, v := range values {
			buf[i] = byte(v)
		}
		c.KV().Put(key, buf)
		got, ok := c.KV().Get(key)
		if !ok {
			return nil, nil
		}
		out := make([]int, len(got))
		for i, b := range got {
			out[i] = int(b)
		}
		return out, nil
	}))

// kvListTextRange is listTextRange(start, end, options?): the entries with
// start <= key < end, reversed and limited as the options say.
func kvListTextRange(c *actors.Context[struct{}], args json.RawMessage) (any, error) {
	var raw []json.RawMessage
	if len(args) > 0 {
		if err := json.Unmarshal(args, &raw); err != nil || len(raw) < 2 || len(raw) > 3 {
			return nil, actors.NewUserError("invalid_args", "listTextRange takes (start, end, options?)", nil)
		}
	}
	var start, end string
	var opts kvListOptions
	dst := []any{&start, &end, &opts}
	for i, r := range raw {
		if string(r) == "null" {
			continue
		}
		if err := json.Unmarshal(r, dst[i]); err != nil {
			return nil, actors.NewUserError("invalid_args", "listTextRange argument "+strconv.Itoa(i+1)+": "+err.Error(), nil)
		}
	}
	entries := c.KV().Range(start, end)
	if opts.Reverse {
		slices.Reverse(entries)
	}
	if opts.Limit > 0 && len(entries) > opts.Limit {
		entries = entries[:opts.Limit]
	}
	return kvTextEntries(entries), nil
}

func init() { add(kvActor) }
