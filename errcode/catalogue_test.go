package errcode_test

import (
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/errcode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite ../docs/errors.md from the catalogue")

// docsPath is the catalogue's documentation, generated from All.
const docsPath = "../docs/errors.md"

var codeSyntax = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

func TestCatalogue(t *testing.T) {
	t.Parallel()
	all := errcode.All()
	if len(all) == 0 {
		t.Fatal("empty catalogue")
	}
	seen := map[errcode.Code]bool{}
	for _, e := range all {
		if seen[e.Code] {
			t.Errorf("%s: listed twice", e.Code)
		}
		seen[e.Code] = true
		if !codeSyntax.MatchString(string(e.Code)) {
			t.Errorf("%q: not snake_case", e.Code)
		}
		switch e.Group {
		case errcode.GroupActor, errcode.GroupAPI, errcode.GroupUser:
		default:
			t.Errorf("%s: unknown group %q", e.Code, e.Group)
		}
		// 0 marks a code sent only inside a stream; 499 (client closed) is
		// nginx's, not net/http's.
		if e.HTTPStatus != 0 && e.HTTPStatus != 499 && (http.StatusText(e.HTTPStatus) == "" || e.HTTPStatus < 400) {
			t.Errorf("%s: %d is not an HTTP error status", e.Code, e.HTTPStatus)
		}
		if e.HTTPStatus == 0 && !strings.Contains(strings.ToLower(e.Meaning), "websocket") && !strings.Contains(e.Meaning, "stream") {
			t.Errorf("%s: no HTTP status, so its meaning must say which stream carries it", e.Code)
		}
		if m := e.Meaning; m == "" || strings.ContainsAny(m, "\n|") || !strings.HasSuffix(m, ".") {
			t.Errorf("%s: meaning %q must be one sentence-like line ending in a period, without '|'", e.Code, m)
		}
		got, ok := errcode.Lookup(e.Code)
		if !ok || got != e {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v, true", e.Code, got, ok, e)
		}
		if s := errcode.Status(e.Code); s != e.HTTPStatus {
			t.Errorf("Status(%s) = %d, want %d", e.Code, s, e.HTTPStatus)
		}
	}
	if _, ok := errcode.Lookup("quota_exceeded"); ok {
		t.Error("Lookup found an uncatalogued code")
	}
	if s := errcode.Status("quota_exceeded"); s != http.StatusInternalServerError {
		t.Errorf("Status of an uncatalogued code = %d, want 500", s)
	}
	all[0].Code = "changed"
	if errcode.All()[0].Code == "changed" {
		t.Error("All returned the catalogue itself, not a copy")
	}
}

// The statuses the API and the client document stay put.
func TestStatuses(t *testing.T) {
	t.Parallel()
	for code, want := range map[errcode.Code]int{
		errcode.ActorNotFound: 404, errcode.ActorTypeNotFound: 404, errcode.ActionNotFound: 404,
		errcode.NoRequestHandler: 404, errcode.ActorExists: 409, errcode.ActorConflict: 409,
		errcode.InvalidArgs: 400, errcode.InvalidKey: 400, errcode.InvalidActorID: 400,
		errcode.ArgsTooLarge: 413, errcode.StateTooLarge: 422, errcode.Overloaded: 429,
		errcode.TooManyConnections: 429, errcode.ActionTimeout: 504, errcode.Stopping: 503,
		errcode.ConnectionClosed: 410, errcode.InternalError: 500,
		errcode.NotFound: 404, errcode.MethodNotAllowed: 405, errcode.Unauthorized: 401, errcode.OriginNotAllowed: 403,
		errcode.MalformedRequest: 400, errcode.MalformedJSON: 400, errcode.InvalidRequest: 422,
		errcode.BodyTooLarge: 413, errcode.UnsupportedMediaType: 415, errcode.RequestTimeout: 408,
		errcode.ClientClosed: 499, errcode.LogUnavailable: 503,
	} {
		if got := errcode.Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
}

// docs/errors.md is the catalogue as a table; go test ./errcode -update
// rewrites it.
func TestDocsInSync(t *testing.T) {
	t.Parallel()
	want := markdown(errcode.All())
	if *update {
		if err := os.WriteFile(docsPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v (run: go test ./errcode -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date with the catalogue; run: go test ./errcode -update\n%s", docsPath, lineDiff(string(got), want))
	}
}

func markdown(all []errcode.Entry) string {
	var b strings.Builder
	b.WriteString(`# Error codes

<!-- Generated from package errcode (errcode/catalogue.go) by: go test ./errcode -update. Do not edit. -->

Every error rivet-flow returns carries a stable ` + "`code`" + `, a human ` + "`message`" + `, a ` + "`group`" + ` and
optional ` + "`metadata`" + `. Match on the code, never on the message. The group says who raised it:
` + "`actor`" + ` (the runtime), ` + "`api`" + ` (the HTTP layer, about the request itself) or ` + "`user`" + ` (an actor's
own code, on purpose: such errors carry the code the actor chose, answered with status 400).

Codes without a status travel only inside a stream: a WebSocket message or close reason, or a
Server-Sent Event. A 429 or 503 carries Retry-After. In Go, the codes are constants of package
` + "`github.com/rivet-flow/rivet-flow/errcode`" + `.

| Code | Status | Group | Meaning |
|------|--------|-------|---------|
`)
	for _, e := range all {
		status := "—"
		if e.HTTPStatus != 0 {
			status = fmt.Sprint(e.HTTPStatus)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Code, status, e.Group, e.Meaning)
	}
	return b.String()
}

// lineDiff lists the lines only one side has.
func lineDiff(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// Every code the server's packages spell as a literal (a user error the
// server raises, a code in a struct) is catalogued. Actor types' own codes
// (the built-in examples', the conformance fixtures') and the CLI's are not
// the server's.
func TestLiteralCodesAreCatalogued(t *testing.T) {
	literal := regexp.MustCompile(`(?:Code: *|NewUserError\()"([a-z_]+)"`)
	skip := []string{"conformance", "examples", "cmd", "node_modules", "test", filepath.Join("actors", "builtin")}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if d.IsDir() && slices.Contains(skip, rel) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllSubmatch(src, -1) {
			if _, ok := errcode.Lookup(errcode.Code(m[1])); !ok {
				t.Errorf("%s: code %q is not in the catalogue", rel, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
