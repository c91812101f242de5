package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Keys reaching the RivetKit gateway must be text, as on the native API:
// bytes that are not UTF-8 (or a lone surrogate escape) would decode as
// U+FFFD, making two different keys one. Each is refused with the
// gateway's invalid-key error and creates nothing.
func TestGatewayKeysMustBeText(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	for name, body := range map[string][]byte{
		"invalid UTF-8":   []byte("{\"name\":\"tester\",\"key\":\"a\xffb\"}"),
		"lone surrogate":  []byte(`{"name":"tester","key":"a\ud800b"}`),
		"second bad byte": []byte("{\"name\":\"tester\",\"key\":\"a\xfeb\"}"),
	} {
		resp, data := b.do(t, http.MethodPut, "/actors", body)
		var e gwError
		if err := json.Unmarshal(data, &e); err != nil || resp.StatusCode != http.StatusBadRequest || e.Group != "actor" {
			t.Errorf("%s: PUT /actors answered %d %s, want 400 from group actor", name, resp.StatusCode, data)
		}
	}
	for _, path := range []string{"/actors?name=tester&key=a%FFb", "/gateway/tester/request/x?rvt-method=getOrCreate&rvt-key=a%FFb"} {
		resp, data := b.do(t, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", path, resp.StatusCode, data)
		}
	}
	// The valid key still works, and no actor was made of the refused ones.
	var res struct {
		Actors []gwActor `json:"actors"`
	}
	b.call(t, http.MethodGet, "/actors?name=tester&key=a%EF%BF%BDb", nil, http.StatusOK, &res)
	if len(res.Actors) != 0 {
		t.Fatalf("a refused key made an actor: %+v", res.Actors)
	}
}
