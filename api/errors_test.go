package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	b := setup(t, testOpts{}) // every route group: queues, schedules, workflows, projections
	resp, data := b.do(t, http.MethodGet, "/openapi.json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var doc errorsOfDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.Schemas["ErrorModel"]; ok {
		t.Error("the document describes huma.ErrorModel: Huma's errors are documented as ours")
	}
	if _, ok := doc.Components.Schemas["Error"]; !ok {
		t.Fatal("no Error schema")
	}
	// Every error response is an Error whose code is one of its route's
	// codes at that status, each catalogued with that status (or, on a
	// route that runs actor code, a user error's).
	listed := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if _, ok := op.Responses["500"]; !ok && op.OperationID != "healthz" && op.OperationID != "readyz" {
				t.Errorf("%s %s (%s) declares no errors: add it to errorsByRoute", method, path, op.OperationID)
			}
			for status, r := range op.Responses {
				n, _ := strconv.Atoi(status)
				c, ok := r.Content["application/problem+json"]
				if n < 400 || !ok {
					continue
				}
				if len(c.Schema.AllOf) != 2 || c.Schema.AllOf[0].Ref != "#/components/schemas/Error" {
					t.Errorf("%s %s %s is not an Error with its route's codes", method, path, status)
					continue
				}
				for _, code := range c.Schema.AllOf[1].Properties["code"].Enum {
					listed[code] = true
					e, ok := errcode.Lookup(errcode.Code(code))
					if !ok {
						t.Errorf("%s %s %s lists %s, which is not in the catalogue", method, path, status, code)
					}
					if e.HTTPStatus != n && !routeOwnStatus[op.OperationID+" "+code] {
						t.Errorf("%s %s lists %s at %d, the catalogue at %d", method, path, code, n, e.HTTPStatus)
					}
				}
			}
		}
	}
	// Every catalogued code with a status is answered by some route, but
	// those only the RivetKit gateway, the router or the server's log see.
	notOnV1 := map[errcode.Code]bool{errcode.DuplicateKey: true, errcode.InvalidMethod: true, errcode.NotFound: true,
		errcode.MethodNotAllowed: true, errcode.ClientClosed: true, errcode.Unauthorized: true,
		errcode.QueueNotSupported: true, errcode.RunNotReplayable: true}
	for _, e := range errcode.All() {
		if e.HTTPStatus != 0 && e.Group != errcode.GroupUser && !notOnV1[e.Code] && !listed[string(e.Code)] {
			t.Errorf("no route's errors list %s", e.Code)
		}
	}
}

// routeOwnStatus: codes a route answers at a status other than the
// catalogue's (a request that names a missing target is a bad request).
var routeOwnStatus = map[string]bool{
	"setSchedule actor_type_not_found": true, "setSchedule action_not_found": true, "setSchedule queue_not_found": true,
	"setSchedule invalid_request": true, "tailEvents invalid_request": true,
	"putQueue actor_type_not_found": true, "putQueue action_not_found": true, "patchQueue actor_type_not_found": true, "patchQueue action_not_found": true,
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
