package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// /docs needs nothing from the internet: its page names only its own assets,
// served from the binary without the token (with their license), and it
// carries the OpenAPI document, so it works with --api-token.
func TestDocsOffline(t *testing.T) {
	t.Parallel()
	const token = "docs-token"
	b := setup(t, testOpts{API: api.Options{Token: token}})
	resp, data := b.do(t, http.MethodGet, "/docs", nil)
	if p := wantProblem(t, resp, data, http.StatusUnauthorized, "unauthorized"); !strings.Contains(p.Message, "/docs?rvt-token=") {
		t.Errorf("/docs without the token: %q does not say how a browser passes it", p.Message)
	}
	resp, page := b.do(t, http.MethodGet, "/docs?rvt-token="+token, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs with the token: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllSubmatch(page, -1) {
		if !strings.HasPrefix(string(m[1]), "/docs/assets/") {
			t.Errorf("the docs page loads %s, not one of its own assets", m[1])
		}
	}
	if !bytes.Contains(page, []byte("apiDescriptionDocument=")) || !bytes.Contains(page, []byte("getOrCreateActor")) {
		t.Error("the docs page does not carry the OpenAPI document")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, asset := range []string{"web-components.min.js", "styles.min.css", "LICENSE"} {
		resp, data := b.do(t, http.MethodGet, "/docs/assets/"+asset, nil) // no token
		if resp.StatusCode != http.StatusOK || len(data) < 1000 {
			t.Errorf("%s: %d, %d bytes", asset, resp.StatusCode, len(data))
		}
	}
	if _, data := b.do(t, http.MethodGet, "/docs/assets/LICENSE", nil); !bytes.Contains(data, []byte("Apache License")) {
		t.Error("the assets' license is not served")
	}
	resp, data = b.do(t, http.MethodGet, "/docs/assets/nosuch.js", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "not_found")

	t.Run("chromium", func(t *testing.T) {
		bin := ""
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
		if bin == "" {
			t.Skip("Chromium is not installed (Debian: apt-get install -y chromium): the docs page was not rendered in a browser")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
			"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", b.base+"/docs?rvt-token="+token+"#/operations/getOrCreateActor")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		dom, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		// Rendered by the page's script (the document's own text is in an
		// attribute, never between tags): the sidebar, the operation
		// opened by the URL's hash, and Try it with the token's header.
		for _, want := range []string{"ElementsTableOfContentsItem", ">Get or create an actor<", "Send API Request", "Authorization"} {
			if !bytes.Contains(dom, []byte(want)) {
				t.Errorf("the rendered docs lack %q", want)
			}
		}
		if bytes.Contains(dom, []byte("could not be loaded")) {
			t.Error("the docs page says the document could not be loaded")
		}
	})
}
