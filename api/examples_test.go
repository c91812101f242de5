package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// docSchema is the part of an OpenAPI 3.1 schema the examples test reads.
type docSchema struct {
	Ref                  string                `json:"$ref"`
	Type                 json.RawMessage       `json:"type"` // a name, or a list of names
	Format               string                `json:"format"`
	Enum                 []any                 `json:"enum"`
	Properties           map[string]*docSchema `json:"properties"`
	Items                *docSchema            `json:"items"`
	AdditionalProperties json.RawMessage       `json:"additionalProperties"`
	OneOf                []*docSchema          `json:"oneOf"`
	AnyOf                []*docSchema          `json:"anyOf"`
	AllOf                []*docSchema          `json:"allOf"`
	Example              any                   `json:"example"`
	Examples             []any                 `json:"examples"`
}

// examples returns the schema's examples, in either spelling.
func (s *docSchema) examples() []any {
	if s.Example != nil {
		return append([]any{s.Example}, s.Examples...)
	}
	return s.Examples
}

// types returns the JSON types the schema names (none: any value).
func (s *docSchema) types() []string {
	if len(s.Type) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(s.Type, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(s.Type, &many)
	return many
}

type docParam struct {
	Name    string     `json:"name"`
	In      string     `json:"in"`
	Example any        `json:"example"`
	Schema  *docSchema `json:"schema"`
}

type docOp struct {
	Parameters []docParam `json:"parameters"`
	Responses  map[string]struct {
		Content map[string]struct {
			Schema *docSchema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type exampleDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]*docSchema `json:"schemas"`
	} `json:"components"`
}

// exampleWalk finds the properties of response schemas without an example.
type exampleWalk struct {
	schemas map[string]*docSchema
	visited map[string]bool
	gaps    map[string]bool // "Schema.property" (or "route status.property" for inline schemas)
	wrong   []string        // examples that do not fit their property
}

// schema walks s, named name in messages: every property needs an example,
// but a property that is a reference (or an array of references or of
// objects) is covered by its target's properties, which are walked in turn.
func (w *exampleWalk) schema(name string, s *docSchema) {
	if s == nil {
		return
	}
	if s.Ref != "" {
		w.ref(name, s.Ref)
	}
	for _, sub := range slices.Concat(s.OneOf, s.AnyOf, s.AllOf) {
		w.schema(name, sub)
	}
	if s.Items != nil {
		w.schema(name+"[]", s.Items)
	}
	if len(s.AdditionalProperties) > 0 && s.AdditionalProperties[0] == '{' {
		var ap docSchema
		if err := json.Unmarshal(s.AdditionalProperties, &ap); err == nil {
			w.schema(name+"{}", &ap)
		}
	}
	for prop, p := range s.Properties {
		path := name + "." + prop
		ex := p.examples()
		for _, e := range ex {
			if msg := w.misfit(p, e); msg != "" {
				w.wrong = append(w.wrong, fmt.Sprintf("%s: example %v %s", path, e, msg))
			}
		}
		if len(ex) == 0 && !w.structured(p) {
			w.gaps[path] = true
		}
		w.schema(path, p)
	}
}

// ref walks the component a reference names, once.
func (w *exampleWalk) ref(from, ref string) {
	name := strings.TrimPrefix(ref, "#/components/schemas/")
	target, ok := w.schemas[name]
	if !ok {
		w.wrong = append(w.wrong, fmt.Sprintf("%s: reference %s to no schema", from, ref))
		return
	}
	if w.visited[name] {
		return
	}
	w.visited[name] = true
	w.schema(name, target)
}

// structured reports whether a property's example is built from other
// schemas' examples: a reference, an object with properties, or an array
// of those.
func (w *exampleWalk) structured(p *docSchema) bool {
	for p.Items != nil && p.Ref == "" && len(p.Properties) == 0 {
		p = p.Items
	}
	return p.Ref != "" || len(p.Properties) > 0
}

// misfit says why example e does not fit schema p ("" when it does): its
// JSON type, its enum, a date-time that does not parse.
func (w *exampleWalk) misfit(p *docSchema, e any) string {
	if p.Ref != "" {
		if t, ok := w.schemas[strings.TrimPrefix(p.Ref, "#/components/schemas/")]; ok {
			p = t
		}
	}
	if types := p.types(); len(types) > 0 && !slices.Contains(types, jsonType(e)) &&
		!(jsonType(e) == "integer" && slices.Contains(types, "number")) {
		return fmt.Sprintf("is a JSON %s, want %v", jsonType(e), types)
	}
	if len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(v any) bool { return reflect.DeepEqual(v, e) }) {
		return fmt.Sprintf("is not one of %v", p.Enum)
	}
	if s, ok := e.(string); ok && p.Format == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return "is not an RFC 3339 time"
		}
	}
	return ""
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// Every property of every schema a 2xx response uses, following references,
// arrays and nested objects, has an example that fits it, so the docs page
// shows a real answer for each route instead of "string" placeholders; a new
// response field cannot come without one. The actor IDs in the examples are
// real IDs of a registered type, and Actor's example is one actor.
func TestOpenAPIExamples(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var doc exampleDoc
	if err := json.Unmarshal(servedOpenAPI(t, b), &doc); err != nil {
		t.Fatal(err)
	}
	w := &exampleWalk{schemas: doc.Components.Schemas, visited: map[string]bool{}, gaps: map[string]bool{}}
	var idParams []string
	idExamples := map[string][]string{} // example -> the routes that give it
	responses := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op docOp
			if json.Unmarshal(raw, &op) != nil { // "parameters" shared by a path's operations, not an operation
				continue
			}
			route := strings.ToUpper(method) + " " + path
			for _, p := range op.Parameters {
				if p.In == "path" && p.Name == "id" {
					idParams = append(idParams, route)
					ex := []any{p.Example}
					if p.Schema != nil {
						ex = append(ex, p.Schema.examples()...)
					}
					for _, e := range ex {
						if e != nil {
							k := fmt.Sprint(e)
							idExamples[k] = append(idExamples[k], route+" {id}")
						}
					}
					if p.Example == nil && (p.Schema == nil || len(p.Schema.examples()) == 0) {
						t.Errorf("%s: the id path parameter has no example", route)
					}
				}
			}
			for status, r := range op.Responses {
				if !strings.HasPrefix(status, "2") {
					continue
				}
				for _, c := range r.Content {
					responses++
					w.schema(route+" "+status, c.Schema)
				}
			}
		}
	}
	t.Logf("%d 2xx responses, %d schemas, %d routes with an actor id", responses, len(w.visited), len(idParams))
	if responses == 0 || len(w.visited) < 20 || len(idParams) == 0 {
		t.Fatalf("walked %d 2xx responses, %d schemas, %d id parameters: the document is not what this test reads",
			responses, len(w.visited), len(idParams))
	}
	gaps := make([]string, 0, len(w.gaps))
	for g := range w.gaps {
		gaps = append(gaps, g)
	}
	sort.Strings(gaps)
	if len(gaps) > 0 {
		t.Errorf("%d response properties have no example (add an example tag, or a TransformSchema in api/examples.go):\n  %s",
			len(gaps), strings.Join(gaps, "\n  "))
	}
	for _, msg := range w.wrong {
		t.Error(msg)
	}

	// The actor IDs: real IDs of a type the server runs.
	resp, data := b.do(t, http.MethodGet, "/v1/types", nil)
	var types struct{ Types []struct{ Name string } }
	if err := json.Unmarshal(data, &types); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/types: %d %s", resp.StatusCode, data)
	}
	registered := func(typ string) bool {
		return slices.ContainsFunc(types.Types, func(x struct{ Name string }) bool { return x.Name == typ })
	}
	actor := doc.Components.Schemas["Actor"]
	if actor == nil || actor.Properties["id"] == nil {
		t.Fatal("no Actor schema with an id")
	}
	for _, e := range actor.Properties["id"].examples() {
		k := fmt.Sprint(e)
		idExamples[k] = append(idExamples[k], "Actor.id")
	}
	for id, where := range idExamples {
		typ, _, err := actors.ParseID(id)
		if err != nil || !registered(typ) {
			sort.Strings(where)
			t.Errorf("actor ID example %q (%s): type %q, %v; want an ID of a registered type", id, strings.Join(where, ", "), typ, err)
		}
	}
	first := func(prop string) any {
		if p := actor.Properties[prop]; p != nil && len(p.examples()) > 0 {
			return p.examples()[0]
		}
		return nil
	}
	id, _ := first("id").(string)
	typ, key, _ := actors.ParseID(id)
	var keyEx []string
	if k, ok := first("key").([]any); ok {
		for _, part := range k {
			s, _ := part.(string)
			keyEx = append(keyEx, s)
		}
	}
	if first("type") != typ || !slices.Equal(keyEx, key) {
		t.Errorf("Actor's examples are not one actor: id %v is type %q key %q; type example %v, key example %v",
			first("id"), typ, key, first("type"), first("key"))
	}
}
