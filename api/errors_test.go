package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// serveNoRuntime serves the API with no runtime behind it: enough for what
// Huma answers before a handler runs (the OpenAPI document, validation).
func serveNoRuntime(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(api.New(nil, nil, api.Options{Logger: quietLogger()}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// The OpenAPI document lists the catalogue as the enum of the error code.
func TestOpenAPIErrorCodeEnum(t *testing.T) {
	t.Parallel()
	srv := serveNoRuntime(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/openapi.json", nil)
	resp, data := get(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range errcode.All() {
		want = append(want, string(e.Code))
	}
	schema, ok := doc.Components.Schemas["Error"]
	if !ok {
		t.Fatal("no Error schema")
	}
	if got := schema.Properties["code"].Enum; !slices.Equal(got, want) {
		t.Errorf("Error.code enum = %v, want the catalogue %v", got, want)
	}
	if _, ok := doc.Components.Schemas["ErrorModel"]; ok {
		t.Error("the document describes huma.ErrorModel: Huma's errors are documented as ours")
	}
	ref := doc.Paths["/v1/actors"]["put"].Responses["404"].Content["application/problem+json"].Schema.Ref
	if ref != "#/components/schemas/Error" {
		t.Errorf("PUT /v1/actors 404 is documented as %q, want #/components/schemas/Error", ref)
	}
}

// Creating the API leaves Huma's defaults alone: another Huma API in the same
// process keeps huma.ErrorModel, and ours keeps its own shape.
func TestOtherHumaAPIKeepsDefaults(t *testing.T) {
	t.Parallel()
	ours := serveNoRuntime(t)

	if _, ok := huma.NewError(http.StatusBadRequest, "x").(*huma.ErrorModel); !ok {
		t.Errorf("huma.NewError returns %T, want *huma.ErrorModel", huma.NewError(http.StatusBadRequest, "x"))
	}
	if _, ok := huma.NewErrorWithContext(nil, http.StatusBadRequest, "x").(*huma.ErrorModel); !ok {
		t.Error("huma.NewErrorWithContext does not return *huma.ErrorModel")
	}

	mux := http.NewServeMux()
	theirs := humago.New(mux, huma.DefaultConfig("theirs", "1"))
	type in struct {
		N int `query:"n" minimum:"1"`
	}
	huma.Get(theirs, "/things", func(context.Context, *in) (*struct{}, error) { return nil, nil })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/things?n=0", nil)
	resp, data := get(t, req)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("theirs: status %d; body %s", resp.StatusCode, data)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"code", "group", "message"} {
		if _, ok := body[k]; ok {
			t.Errorf("theirs: the error has our %q field: %s", k, data)
		}
	}
	if body["detail"] != "validation failed" || body["title"] != "Unprocessable Entity" || !strings.Contains(string(data), "ErrorModel.json") {
		t.Errorf("theirs: not huma.ErrorModel: %s", data)
	}
	if _, ok := theirs.OpenAPI().Components.Schemas.Map()["ErrorModel"]; !ok {
		t.Error("theirs: the document has no ErrorModel schema")
	}
	if _, ok := theirs.OpenAPI().Components.Schemas.Map()["Error"]; ok {
		t.Error("theirs: the document has our Error schema")
	}

	req, _ = http.NewRequest(http.MethodPut, ours.URL+"/v1/actors", strings.NewReader(`{"type":""}`))
	req.Header.Set("Content-Type", "application/json")
	resp, data = get(t, req)
	p := wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	// Ours carry no $schema (neither do the fast path's nor the hand routes').
	if p.Group != "api" || strings.Contains(string(data), "$schema") {
		t.Errorf("ours: %s", data)
	}
	req, _ = http.NewRequest(http.MethodPut, ours.URL+"/v1/actors", strings.NewReader(`{"type":`))
	req.Header.Set("Content-Type", "application/json")
	resp, data = get(t, req)
	wantProblem(t, resp, data, http.StatusBadRequest, "malformed_json")
}
