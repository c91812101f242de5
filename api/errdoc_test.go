package api_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
)

// The API tests' HTTP clients check every error answer they get against the
// served OpenAPI document: its route must list that status, and the status
// must list its code (or, on a route that runs actor code, it is a user
// error). A route that answers an error it does not document fails the test
// that met it.

// documentedRoute is one operation of the document, as the check needs it.
type documentedRoute struct {
	id       string
	method   string
	template string // the document's path, with its {parameters}
	path     *regexp.Regexp
	anyVerb  bool // raw requests take any method
	hasBody  bool // the route takes a request body
	// codes by status; nil codes with user set: any user error.
	codes map[int][]string
	user  map[int]bool
}

// errorDoc is the served document's routes and what the tests met that it
// does not declare.
type errorDoc struct {
	routes []documentedRoute
	mu     sync.Mutex
	missed []string
}

// errorsOfDoc is what the tests read of an OpenAPI document: each route's
// error responses, Error with the codes the route answers (allOf).
type errorsOfDoc struct {
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
	Paths map[string]map[string]struct {
		OperationID string          `json:"operationId"`
		RequestBody json.RawMessage `json:"requestBody"`
		Responses   map[string]struct {
			Content map[string]struct {
				Schema struct {
					AllOf []struct {
						Ref        string `json:"$ref"`
						Properties map[string]struct {
							Enum []string `json:"enum"`
						} `json:"properties"`
					} `json:"allOf"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

// loadErrorDoc reads the node's OpenAPI document through its handler.
func loadErrorDoc(t *testing.T, n *rivetflow.Node, token string) *errorDoc {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/openapi.json", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Body)
	}
	var doc errorsOfDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	d := &errorDoc{}
	param := regexp.MustCompile(`\\\{[^}]+\\\}`)
	for path, ops := range doc.Paths {
		pattern := param.ReplaceAllStringFunc(regexp.QuoteMeta(path), func(p string) string {
			if p == `\{path\}` {
				return `.*`
			}
			return `[^/]+`
		})
		re := regexp.MustCompile("^" + pattern + "$")
		for method, op := range ops {
			r := documentedRoute{id: op.OperationID, method: strings.ToUpper(method), path: re, template: path,
				anyVerb: op.OperationID == "actorRawRequest", codes: map[int][]string{}, user: map[int]bool{},
				hasBody: op.RequestBody != nil || op.OperationID == "actorRawRequest"}
			for status, resp := range op.Responses {
				n, err := strconv.Atoi(status)
				if err != nil || n < 400 {
					continue
				}
				r.codes[n] = []string{}
				c, ok := resp.Content["application/problem+json"]
				if !ok || len(c.Schema.AllOf) < 2 {
					continue
				}
				enum := c.Schema.AllOf[1].Properties["code"].Enum
				r.user[n] = enum == nil
				r.codes[n] = enum
			}
			d.routes = append(d.routes, r)
		}
	}
	// In path order, so that probes that change state (a delete) run in the
	// same order every time.
	slices.SortFunc(d.routes, func(a, b documentedRoute) int {
		return cmp.Or(strings.Compare(a.template, b.template), strings.Compare(a.method, b.method))
	})
	return d
}

// route finds the documented route of a request, or nil.
func (d *errorDoc) route(method, path string) *documentedRoute {
	var anyVerb *documentedRoute
	for i := range d.routes {
		r := &d.routes[i]
		if !r.path.MatchString(path) {
			continue
		}
		if r.method == method || (method == http.MethodHead && r.method == http.MethodGet) {
			return r
		}
		if r.anyVerb {
			anyVerb = r
		}
	}
	return anyVerb
}

// check notes an error answer its route does not declare.
func (d *errorDoc) check(method, path string, status int, body []byte) {
	r := d.route(method, path)
	if r == nil || status == 499 { // not a documented route; no client sees 499
		return
	}
	var e struct {
		Code  string `json:"code"`
		Group string `json:"group"`
	}
	_ = json.Unmarshal(body, &e)
	codes, ok := r.codes[status]
	switch {
	case !ok:
		d.miss("%s %s (%s) answered %d %s: the document lists no %d for this route", method, path, r.id, status, e.Code, status)
	case r.user[status] && e.Group == "user":
	case !slices.Contains(codes, e.Code) && !(r.user[status] && codes == nil):
		d.miss("%s %s (%s) answered %d %s: the document lists only %v at %d", method, path, r.id, status, e.Code, codes, status)
	}
}

func (d *errorDoc) miss(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m := fmt.Sprintf(format, args...); !slices.Contains(d.missed, m) {
		d.missed = append(d.missed, m)
	}
}

// checkingTransport checks each error answer against the document.
type checkingTransport struct {
	next http.RoundTripper
	doc  *errorDoc
}

func (c checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr == nil {
		c.doc.check(req.Method, req.URL.EscapedPath(), resp.StatusCode, body)
	}
	return resp, nil
}

// checkedClient is the tests' HTTP client for a node: it fails the test if
// the node answers an error its OpenAPI document does not declare for the
// route.
func checkedClient(t *testing.T, n *rivetflow.Node, token string) *http.Client {
	t.Helper()
	doc := loadErrorDoc(t, n, token)
	t.Cleanup(func() {
		doc.mu.Lock()
		defer doc.mu.Unlock()
		for _, m := range doc.missed {
			t.Errorf("undocumented error: %s", m)
		}
	})
	return &http.Client{Transport: checkingTransport{next: &http.Transport{}, doc: doc}, Timeout: 30 * time.Second}
}

// CloseIdleConnections closes the transport's idle connections.
func (c checkingTransport) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
