package api

import (
	"embed"
	"html"
	"net/http"
	"strings"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// docsUI holds the docs page's assets (see docsui/README.md).
//
//go:embed docsui/web-components.min.js docsui/styles.min.css docsui/LICENSE docsui/web-components.min.js.LICENSE.txt
var docsUI embed.FS

// docsAssets is where the docs page's assets are served; they are public
// (static, the same in every build), so a browser loads them without the
// API token.
const docsAssets = "/docs/assets/"

// docsCSP lets the page load only its own assets and call this server
// ("Try it").
const docsCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'"

// registerDocs serves /docs: Stoplight Elements from the binary, with the
// OpenAPI document inlined in the page. A page loaded with the API token
// (Authorization header, or /docs?rvt-token=...) thus needs no second,
// token-less fetch of /openapi.json, which is what failed with a token set.
func (s *Server) registerDocs() {
	s.mux.HandleFunc("GET /docs", s.docsPage)
	s.mux.Handle("GET "+docsAssets+"{file}", http.HandlerFunc(serveDocsAsset))
}

func (s *Server) docsPage(w http.ResponseWriter, r *http.Request) {
	spec, err := s.api.OpenAPI().MarshalJSON()
	if err != nil {
		s.lg.Error("docs: encode the OpenAPI document", "err", err)
		writeError(w, errorOf(errcode.InternalError, "internal error", nil))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Cache-Control", "no-store") // it carries the document, maybe behind a token
	page := `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>rivet-flow API</title>
    <link rel="stylesheet" href="` + docsAssets + `styles.min.css">
    <script src="` + docsAssets + `web-components.min.js"></script>
  </head>
  <body style="height: 100vh;">
    <elements-api apiDescriptionDocument="` + html.EscapeString(string(spec)) + `" router="hash" layout="sidebar" tryItCredentialsPolicy="same-origin"></elements-api>
  </body>
</html>
`
	_, _ = w.Write([]byte(page))
}

// serveDocsAsset serves one embedded asset.
func serveDocsAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	data, err := docsUI.ReadFile("docsui/" + name)
	if err != nil || strings.Contains(name, "/") {
		writeError(w, errorOf(errcode.NotFound, "no docs asset "+name, nil))
		return
	}
	ct := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(data)
}
