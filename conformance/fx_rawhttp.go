package conformance

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The raw HTTP fixtures of the suite's "raw http" and "raw http request
// properties" groups (upstream raw-http.ts and
// raw-http-request-properties.ts): actors that answer handle.fetch through
// OnRequest, which runs in the mailbox and sees the path after /request.

// rawHTTPState is rawHttpActor's state. The abort and stream fields exist
// upstream for streaming tests; a response here is buffered until the
// request's event commits, so they keep their initial values.
type rawHTTPState struct {
	RequestCount                   int64 `json:"requestCount"`
	RequestAbortStarted            bool  `json:"requestAbortStarted"`
	RequestAbortObserved           bool  `json:"requestAbortObserved"`
	ResponseAbortStarted           bool  `json:"responseAbortStarted"`
	ResponseAbortObserved          bool  `json:"responseAbortObserved"`
	StreamResponseFinished         bool  `json:"streamResponseFinished"`
	StreamDisconnectedBeforeFinish bool  `json:"streamDisconnectedBeforeFinish"`
}

// noState is the state of fixtures that keep none.
type noState struct{}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// lowerHeaders returns a request's headers as the Fetch API lists them:
// lower-case names, repeated values joined with ", ", and the host.
func lowerHeaders(r *http.Request) map[string]string {
	out := make(map[string]string, len(r.Header)+1)
	for k, vs := range r.Header {
		out[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if r.Host != "" {
		out["host"] = r.Host
	}
	return out
}

// requestURL returns a request's absolute URL, as a Fetch Request's url.
func requestURL(r *http.Request) string {
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return "http://" + host + r.URL.RequestURI()
}

// rawHttpActor: GET /api/hello, POST /api/echo (the body back, with its
// content type), /api/state, /api/headers, POST /api/upload-stream, POST
// /api/cancel-upload; anything else 404. Every request counts.
var rawHTTPActor = actors.NewType("rawHttpActor", actors.Options[rawHTTPState]{
	OnRequest: func(c *actors.Context[rawHTTPState], w http.ResponseWriter, r *http.Request) {
		c.State.RequestCount++
		switch path := r.URL.Path; {
		case path == "/api/hello":
			writeJSON(w, http.StatusOK, map[string]string{"message": "Hello from actor!"})
		case path == "/api/echo" && r.Method == http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			for k, vs := range r.Header {
				switch http.CanonicalHeaderKey(k) {
				case "Content-Length", "Connection", "Transfer-Encoding", "Keep-Alive", "Upgrade",
					"Host", "Accept-Encoding", "Te", "Trailer", "Proxy-Connection":
					continue
				}
				w.Header()[k] = vs
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		case path == "/api/upload-stream" && r.Method == http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			sizes := []int{}
			if len(body) > 0 {
				sizes = append(sizes, len(body)) // the body arrives whole
			}
			var contentLength any
			if v := r.Header.Get("Content-Length"); v != "" {
				contentLength = v
			} else if r.ContentLength >= 0 {
				contentLength = strconv.FormatInt(r.ContentLength, 10)
			}
			writeJSON(w, http.StatusOK, map[string]any{
				"chunkCount": len(sizes), "contentLength": contentLength, "sizes": sizes, "totalBytes": len(body),
			})
		case path == "/api/cancel-upload" && r.Method == http.MethodPost:
			_, _ = io.WriteString(w, "upload cancelled")
		case path == "/api/state":
			writeJSON(w, http.StatusOK, c.State)
		case path == "/api/headers":
			writeJSON(w, http.StatusOK, lowerHeaders(r))
		default:
			http.Error(w, "Not Found", http.StatusNotFound)
		}
	},
})

// rawHttpNoHandlerActor has no OnRequest: the server answers 404.
var rawHTTPNoHandlerActor = actors.NewType("rawHttpNoHandlerActor", actors.Options[noState]{})

// rawHttpVoidReturnActor's handler fails to produce a response (upstream it
// returns nothing, which RivetKit turns into a 500 "onRequest handler must
// return a Response"); the Go handler's failure is a panic, which the
// runtime turns into an internal error (500).
var rawHTTPVoidReturnActor = actors.NewType("rawHttpVoidReturnActor", actors.Options[noState]{
	OnRequest: func(c *actors.Context[noState], w http.ResponseWriter, r *http.Request) {
		panic("onRequest handler must return a Response")
	},
})

// honoUser is a user of rawHttpHonoActor's router.
type honoUser struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// honoRouter is rawHttpHonoActor's router (upstream a Hono app made in
// createVars): GET /, GET /users, GET /users/:id, POST /users, PUT
// /users/:id, DELETE /users/:id.
func honoRouter() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "Welcome to Hono actor!"})
	})
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []honoUser{{1, "Alice"}, {2, "Bob"}})
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		n, _ := strconv.ParseInt(id, 10, 64)
		name := "Bob"
		if id == "1" {
			name = "Alice"
		}
		writeJSON(w, http.StatusOK, honoUser{n, name})
	})
	// withBody answers {"id": id, ...body} with status.
	withBody := func(w http.ResponseWriter, r *http.Request, id any, status int) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "Malformed JSON in request body", http.StatusBadRequest)
			return
		}
		out := map[string]any{"id": id}
		for k, v := range body {
			out[k] = v
		}
		writeJSON(w, status, out)
	}
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		withBody(w, r, 3, http.StatusCreated)
	})
	mux.HandleFunc("PUT /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		withBody(w, r, n, http.StatusOK)
	})
	mux.HandleFunc("DELETE /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "User " + r.PathValue("id") + " deleted"})
	})
	return mux
}

// rawHttpHonoActor routes its requests with a router its vars hold.
var rawHTTPHonoActor = actors.NewType("rawHttpHonoActor", actors.Options[noState]{
	CreateVars: func(c *actors.Context[noState]) (any, error) { return honoRouter(), nil },
	OnRequest: func(c *actors.Context[noState], w http.ResponseWriter, r *http.Request) {
		c.Vars.(*http.ServeMux).ServeHTTP(w, r)
	},
})

// rawHttpRequestPropertiesActor answers every request with what it saw:
// URL parts, method, headers and body (HEAD: 200 and OPTIONS: 204, empty).
var rawHTTPRequestPropertiesActor = actors.NewType("rawHttpRequestPropertiesActor", actors.Options[noState]{
	OnRequest: func(c *actors.Context[noState], w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead:
			w.WriteHeader(http.StatusOK)
			return
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body, bodyText any // null, null: no body
		if len(raw) > 0 {
			if strings.Contains(r.Header.Get("Content-Type"), "application/json") {
				if json.Valid(raw) {
					body = json.RawMessage(raw)
				} else {
					bodyText = "" // a body that does not parse reads as null
				}
			} else {
				body, bodyText = string(raw), string(raw)
			}
		}
		search := ""
		if r.URL.RawQuery != "" {
			search = "?" + r.URL.RawQuery
		}
		params := map[string]string{}
		for k, vs := range r.URL.Query() {
			params[k] = vs[len(vs)-1] // Object.fromEntries keeps the last
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"url":          requestURL(r),
			"pathname":     r.URL.EscapedPath(),
			"search":       search,
			"searchParams": params,
			"hash":         "",
			"method":       r.Method,
			"headers":      lowerHeaders(r),
			"body":         body,
			"bodyText":     bodyText,
			"cache":        "default",
			"credentials":  "same-origin",
			"mode":         "cors",
			"redirect":     "follow",
			"referrer":     "about:client",
		})
	},
})

func init() {
	add(rawHTTPActor, rawHTTPNoHandlerActor, rawHTTPVoidReturnActor, rawHTTPHonoActor, rawHTTPRequestPropertiesActor)
}
