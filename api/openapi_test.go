package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rivet-flow/rivet-flow/api"
)

// servedOpenAPI fetches /openapi.json from a running node.
func servedOpenAPI(t *testing.T, b *bundle) []byte {
	t.Helper()
	resp, data := b.do(t, http.MethodGet, "/openapi.json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/openapi.json: %d %s", resp.StatusCode, data)
	}
	return data
}

// validateOpenAPI runs kin-openapi's validator (OpenAPI 3.1: path
// parameters declared, responses described, references resolved).
func validateOpenAPI(data []byte) error {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return err
	}
	return doc.Validate(context.Background())
}

// The served document validates, with and without a token; it declares the
// bearer scheme (required when a token is set) and a server; and the
// validator would catch an undeclared path parameter.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", "s3cret"} {
		b := setup(t, testOpts{API: api.Options{Token: token}})
		if token != "" {
			b.header.Set("Authorization", "Bearer "+token)
		}
		data := servedOpenAPI(t, b)
		if err := validateOpenAPI(data); err != nil {
			t.Fatalf("token %q: the served OpenAPI document does not validate: %v", token, err)
		}
		var doc struct {
			Servers    []map[string]any      `json:"servers"`
			Security   []map[string][]string `json:"security"`
			Components struct {
				SecuritySchemes map[string]struct{ Type, Scheme string } `json:"securitySchemes"`
			} `json:"components"`
			Paths map[string]map[string]struct {
				Parameters []struct {
					Name, In string
					Example  any `json:"example"`
					Schema   struct {
						Examples []any `json:"examples"`
					} `json:"schema"`
				} `json:"parameters"`
				Responses map[string]struct {
					Description string `json:"description"`
				} `json:"responses"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Servers) == 0 {
			t.Error("no servers")
		}
		if s := doc.Components.SecuritySchemes["bearer"]; s.Type != "http" || s.Scheme != "bearer" {
			t.Errorf("bearer scheme %+v", s)
		}
		wantBearer := token != ""
		if len(doc.Security) != 1 || (len(doc.Security[0]) == 1) != wantBearer {
			t.Errorf("token %q: security %v", token, doc.Security)
		}
		for path, ops := range doc.Paths {
			for method, op := range ops {
				for status, r := range op.Responses {
					if r.Description == "" {
						t.Errorf("%s %s: response %s has no description", method, path, status)
					}
				}
				for _, p := range op.Parameters {
					if p.In == "path" && p.Name == "id" && p.Example == nil && len(p.Schema.Examples) == 0 {
						t.Errorf("%s %s: the actor ID has no example", method, path)
					}
				}
			}
		}
	}
	// Responses either all carry $schema or none do: none.
	b := setup(t, testOpts{})
	doc := servedOpenAPI(t, b)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if !strings.Contains(string(doc), `"`+path+`":{"get"`) {
			t.Errorf("OpenAPI lacks GET %s", path)
		}
	}
	if strings.Contains(string(doc), `"$schema"`) {
		t.Error("the document still declares $schema properties")
	}
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPut, "/v1/actors", `{"type":"counter","key":["s"]}`},
		{http.MethodGet, "/v1/actors?type=counter", ""},
		{http.MethodPut, "/v1/actors", `{"type":"counter","key":["s"],"x":1}`},
		{http.MethodPost, "/v1/actors/" + mustID(t, "counter", "s") + "/actions/increment", `{"args":[1]}`},
		{http.MethodPost, "/v1/actors/" + mustID(t, "counter", "s") + "/actions/increment", `{}`},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		if _, data := b.do(t, req.method, req.path, body); strings.Contains(string(data), `"$schema"`) {
			t.Errorf("%s %s answers with $schema: %s", req.method, req.path, data)
		}
	}
	// The validator catches what redocly reported: an undeclared {path}.
	broken := strings.Replace(string(doc), `"name":"path"`, `"name":"other"`, 1)
	if err := validateOpenAPI([]byte(broken)); err == nil {
		t.Error("a document with an undeclared path parameter validates")
	}
}
