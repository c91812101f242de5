package api_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/api"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// scrape reads /metrics over HTTP and returns its samples and raw text.
func (b *bundle) scrape(t *testing.T) ([]sample, string) {
	t.Helper()
	resp, data := b.do(t, http.MethodGet, "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, data)
	}
	var out []sample
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := sample{value: v, labels: map[string]string{}}
		head := line[:i]
		if j := strings.IndexByte(head, '{'); j >= 0 {
			s.name = head[:j]
			for _, m := range labelRE.FindAllStringSubmatch(head[j:], -1) {
				s.labels[m[1]] = m[2]
			}
		} else {
			s.name = head
		}
		out = append(out, s)
	}
	return out, string(data)
}

// value sums the samples of name whose labels include want.
func value(samples []sample, name string, want map[string]string) (float64, bool) {
	var sum float64
	found := false
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
		found = true
	}
	return sum, found
}

// HTTP requests are counted by route pattern, never by raw path: the fast
// path and Huma's routes share one label, an actor ID or a token in the path
// never becomes a label, and user mistakes are counted apart from server
// errors, with their code.
func TestHTTPMetricsByRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{Token: "s3cret-token"}})
	b.header.Set("Authorization", "Bearer s3cret-token")
	id := b.actor(t, "tester", "metrics").ID

	b.action(t, id, "add", 2)
	b.action(t, id, "add", 3)
	if resp, data := b.do(t, http.MethodPost, "/v1/actors/"+id+"/actions/fail", map[string]any{"args": []any{1}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("fail: %d %s", resp.StatusCode, data)
	}
	if resp, data := b.do(t, http.MethodPost, "/v1/actors/"+id+"/actions/add", map[string]any{"args": []any{"x"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("add(string): %d %s", resp.StatusCode, data)
	}
	if resp, data := b.do(t, http.MethodGet, "/v1/actors/tester.doesnotexist", nil); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("get unknown actor: %d %s", resp.StatusCode, data)
	}
	if resp, _ := b.do(t, http.MethodGet, "/no/such/route/"+id, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
	if resp, _ := b.do(t, http.MethodGet, "/v1/actors/"+id, nil, "Authorization", "Bearer wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	// The RivetKit client may put the token in the gateway path.
	if code, data := b.gwAction(t, id+"@s3cret-token", "get", "", "[]"); code != http.StatusOK {
		t.Fatalf("gateway action: %d %s", code, data)
	}

	samples, text := b.scrape(t)
	if strings.Contains(text, id) || strings.Contains(text, "s3cret") || strings.Contains(text, "/no/such") {
		t.Fatalf("/metrics holds a raw path, an actor ID or the token:\n%s", grepLines(text, "rivetflow_http_"))
	}
	actionRoute := map[string]string{"method": "POST", "route": "/v1/actors/{id}/actions/{action}"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rivetflow_http_requests_total", with(actionRoute, "status", "200"), 2},
		{"rivetflow_http_requests_total", with(actionRoute, "status", "400"), 2},
		{"rivetflow_http_request_duration_seconds_count", actionRoute, 4},
		{"rivetflow_http_errors_total", with(with(actionRoute, "code", "user_error"), "class", "user"), 1},
		{"rivetflow_http_errors_total", with(with(actionRoute, "code", "invalid_args"), "class", "user"), 1},
		{"rivetflow_http_requests_total", map[string]string{"route": "unmatched", "status": "404"}, 1},
		{"rivetflow_http_requests_total", map[string]string{"method": "GET", "route": "/v1/actors/{id}", "status": "401"}, 1},
		{"rivetflow_http_errors_total", map[string]string{"route": "/v1/actors/{id}", "code": "unauthorized", "class": "user"}, 1},
		{"rivetflow_http_requests_total", map[string]string{"route": "/gateway/{target}/action/{action}", "status": "200"}, 1},
		{"rivetflow_http_errors_total", map[string]string{"class": "server"}, 0},
	} {
		got, _ := value(samples, tc.name, tc.labels)
		if got != tc.want {
			t.Errorf("%s%v = %v, want %v\n%s", tc.name, tc.labels, got, tc.want, grepLines(text, "rivetflow_http_"))
		}
	}
	if _, ok := value(samples, "rivetflow_http_requests_in_flight", nil); !ok {
		t.Error("no rivetflow_http_requests_in_flight")
	}
}

// with returns a copy of m with k set to v.
func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		if mk != k {
			out[mk] = mv
		}
	}
	return out
}

// grepLines returns the lines of text that contain s, for failure messages.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
