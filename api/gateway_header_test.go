package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// RivetKit's header routing: x-rivet-target: actor with x-rivet-actor
// reaches the same actor paths as /gateway/{id}/...
func TestGatewayHeaderRouting(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "by-header")
	resp, data := b.do(t, http.MethodPost, "/action/increment", map[string]any{"args": []int{4}},
		"x-rivet-target", "actor", "x-rivet-actor", a.ID, "x-rivet-encoding", "json")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != `{"output":4}` {
		t.Fatalf("header-routed action: %d %s", resp.StatusCode, data)
	}
	resp, data = b.do(t, http.MethodPost, "/action/increment", map[string]any{"args": []int{4}}, "x-rivet-target", "actor")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(data), "x-rivet-actor") {
		t.Fatalf("no x-rivet-actor: %d %s, want 422 naming the header", resp.StatusCode, data)
	}
	// Without x-rivet-target the path is an ordinary (unknown) route.
	if resp, _ := b.do(t, http.MethodPost, "/action/increment", map[string]any{"args": []int{4}}, "x-rivet-actor", a.ID); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("x-rivet-actor alone: %d, want 404", resp.StatusCode)
	}
}
