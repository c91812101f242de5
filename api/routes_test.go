package api_test

import (
	"net/http"
	"testing"
)

// Unknown routes and wrong methods answer in the API's error shape.
func TestUnknownRouteAndWrongMethod(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	resp, data := b.do(t, http.MethodGet, "/v1/nope", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "not_found")
	resp, data = b.do(t, http.MethodPatch, "/v1/actors", nil)
	wantProblem(t, resp, data, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := resp.Header.Get("Allow"); allow == "" {
		t.Errorf("405 without an Allow header")
	}
}
