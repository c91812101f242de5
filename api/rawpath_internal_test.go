package api

import "testing"

// Raw requests keep the content type they were sent with; every other
// route reads a body without one as JSON.
func TestRawRequestPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/v1/actors/counter.kAmMx/request":           true,
		"/v1/actors/counter.kAmMx/request/count":     true,
		"/gateway/counter/request/x":                 true,
		"/api/rivet/gateway/counter.kAmMx@t/request": true,
		"/v1/actors/counter.kAmMx/actions/request":   false,
		"/v1/actors/counter.kAmMx/requests":          false,
		"/gateway/counter/action/increment":          false,
		"/v1/actors":                                 false,
	} {
		if got := rawRequestPath(path); got != want {
			t.Errorf("rawRequestPath(%q) = %v, want %v", path, got, want)
		}
	}
}
