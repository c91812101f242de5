package api

import (
	"bytes"
	"encoding/json"
	"strings"
)

// RivetKit's JSON encoding marks special values as ["$Type", value]
// (["$BigInt","5"]), so a real two-element array whose first element is a
// string starting with "$" travels escaped as ["$$x", value]. The gateway
// unescapes what the client sends and escapes what it returns; the native
// /v1 API carries plain JSON.

// fromRivetJSON unescapes a value the RivetKit client sent.
func fromRivetJSON(raw json.RawMessage) json.RawMessage { return rewriteRivet(raw, false) }

// toRivetJSON escapes a value for the RivetKit client.
func toRivetJSON(raw json.RawMessage) json.RawMessage { return rewriteRivet(raw, true) }

func rewriteRivet(raw json.RawMessage, escape bool) json.RawMessage {
	if !bytes.Contains(raw, []byte(`"$`)) {
		return raw // nothing to rewrite: the common case costs one scan
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	out, err := json.Marshal(walkRivet(v, escape))
	if err != nil {
		return raw
	}
	return out
}

func walkRivet(v any, escape bool) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = walkRivet(x[i], escape)
		}
		if len(x) == 2 {
			if s, ok := x[0].(string); ok && strings.HasPrefix(s, "$") {
				if escape {
					x[0] = "$" + s
				} else if strings.HasPrefix(s, "$$") {
					x[0] = s[1:]
				}
			}
		}
		return x
	case map[string]any:
		for k, val := range x {
			x[k] = walkRivet(val, escape)
		}
	}
	return v
}
