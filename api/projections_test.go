package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

type projectionList struct {
	Projections []api.Projection `json:"projections"`
}

type rowPage struct {
	Rows       []api.ProjectionRow `json:"rows"`
	NextCursor string              `json:"nextCursor"`
}

// waitProjection polls GET /v1/projections/{name} until ok holds.
func (b *bundle) waitProjection(t *testing.T, name string, ok func(api.Projection) bool) api.Projection {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		var p api.Projection
		b.call(t, http.MethodGet, "/v1/projections/"+name, nil, http.StatusOK, &p)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("projection %s: still %+v", name, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// caughtUp is a live projection with no lag and a checkpoint at least seq.
func caughtUp(seq uint64) func(api.Projection) bool {
	return func(p api.Projection) bool { return p.Status == "live" && p.Lag == 0 && p.Checkpoint >= seq }
}

// allRows reads every row of a projection, a page of limit at a time.
func (b *bundle) allRows(t *testing.T, name, prefix string, limit int) []api.ProjectionRow {
	t.Helper()
	var rows []api.ProjectionRow
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		var page rowPage
		q := url.Values{"prefix": {prefix}, "limit": {itoa(limit)}, "cursor": {cursor}}
		b.call(t, http.MethodGet, "/v1/projections/"+name+"/rows?"+q.Encode(), nil, http.StatusOK, &page)
		if len(page.Rows) > limit {
			t.Fatalf("page of %d rows, limit %d", len(page.Rows), limit)
		}
		rows = append(rows, page.Rows...)
		if cursor = page.NextCursor; cursor == "" {
			return rows
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// The actor directory is listed with its progress, catches up with lag 0,
// and its rows (one per actor, keyed by ID) read as JSON, in pages.
func TestProjectionsListAndRows(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	ids := map[string]bool{}
	for _, k := range []string{"a", "b", "c"} {
		a := b.actor(t, "tester", k)
		b.action(t, a.ID, "add", 2)
		ids[a.ID] = true
	}
	c := b.actor(t, "counter", "x")
	ids[c.ID] = true
	head, err := b.n.Events().LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir := b.waitProjection(t, "actors", caughtUp(head))
	if dir.Rows != 4 || dir.Head < head || dir.Error != "" {
		t.Fatalf("directory %+v: want 4 rows, head %d, no error", dir, head)
	}

	var list projectionList
	b.call(t, http.MethodGet, "/v1/projections", nil, http.StatusOK, &list)
	if len(list.Projections) == 0 || list.Projections[0].Name != "actors" {
		t.Fatalf("GET /v1/projections: %+v, want the directory first", list)
	}
	if got := list.Projections[0]; got.Status != "live" || got.Lag != 0 || got.Checkpoint < head || got.Rows != 4 {
		t.Fatalf("directory in the list: %+v", got)
	}

	rows := b.allRows(t, "actors", "", 3)
	if len(rows) != 4 {
		t.Fatalf("rows %+v: want 4", rows)
	}
	for _, r := range rows {
		var a api.Actor
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatalf("row %s: %s: %v", r.Key, r.Value, err)
		}
		if !ids[r.Key] || a.ID != r.Key || a.Status != "active" || a.Events == 0 || a.CreatedAt.IsZero() {
			t.Errorf("row %s: %s", r.Key, r.Value)
		}
		if a.Type == "tester" && a.Events != 2 {
			t.Errorf("row %s: %d events, want 2 (create, add)", r.Key, a.Events)
		}
	}
	if got := b.allRows(t, "actors", "tester.", 100); len(got) != 3 {
		t.Errorf("rows with prefix tester.: %d, want 3", len(got))
	}

	resp, data := b.do(t, http.MethodGet, "/v1/projections/nosuch", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "projection_not_found")
	resp, data = b.do(t, http.MethodGet, "/v1/projections/nosuch/rows", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "projection_not_found")
	resp, data = b.do(t, http.MethodPost, "/v1/projections/nosuch/rebuild", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "projection_not_found")
	resp, data = b.do(t, http.MethodGet, "/v1/projections/actors/rows?cursor=%25%25", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_cursor")
}

// POST .../rebuild answers 202 at once; the projection comes back live with
// the same rows.
func TestProjectionRebuild(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	for _, k := range []string{"a", "b", "c", "d"} {
		a := b.actor(t, "tester", k)
		if k == "b" {
			b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
		}
	}
	head, err := b.n.Events().LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b.waitProjection(t, "actors", caughtUp(head))
	before := b.allRows(t, "actors", "", 100)

	var started api.Projection
	b.call(t, http.MethodPost, "/v1/projections/actors/rebuild", nil, http.StatusAccepted, &started)
	if started.Name != "actors" || (started.Status != "rebuilding" && started.Status != "live") {
		t.Fatalf("POST rebuild: %+v, want rebuilding or already live", started)
	}
	after := b.waitProjection(t, "actors", caughtUp(head))
	if after.Rows != int64(len(before)) {
		t.Fatalf("after the rebuild: %+v, want %d rows", after, len(before))
	}
	if got := b.allRows(t, "actors", "", 100); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows after the rebuild:\n%+v\nwant\n%+v", got, before)
	}
	// The rebuilt directory serves listings, and follows new events.
	e := b.actor(t, "tester", "e")
	var res actorList
	b.call(t, http.MethodGet, "/v1/actors?type=tester", nil, http.StatusOK, &res)
	if len(res.Actors) != 4 || !slices.ContainsFunc(res.Actors, func(a api.Actor) bool { return a.ID == e.ID }) {
		t.Fatalf("list after the rebuild: %+v, want a, c, d and e", res.Actors)
	}
}

// GET /v1/actors without key lists the directory: every type, one type, by
// key prefix, by status; a create is listed at once (read-your-writes).
func TestListActorsFromDirectory(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	acmeA := b.actor(t, "tester", "acme", "a")
	acmeB := b.actor(t, "counter", "acme", "b")
	acmeC := b.actor(t, "tester", "acme", "c")
	other := b.actor(t, "counter", "globex", "a")
	gone := b.actor(t, "tester", "acme", "gone")
	b.call(t, http.MethodDelete, "/v1/actors/"+gone.ID, nil, http.StatusNoContent, nil)

	ids := func(path string) []string {
		t.Helper()
		var out []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			var res actorList
			sep := "&"
			if !strings.Contains(path, "?") {
				sep = "?"
			}
			b.call(t, http.MethodGet, path+sep+"limit=2&cursor="+url.QueryEscape(cursor), nil, http.StatusOK, &res)
			for _, a := range res.Actors {
				out = append(out, a.ID)
			}
			if cursor = res.NextCursor; cursor == "" {
				return out
			}
		}
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		// type, then key order
		{"/v1/actors", []string{acmeB.ID, other.ID, acmeA.ID, acmeC.ID}},
		{"/v1/actors?type=counter", []string{acmeB.ID, other.ID}},
		{"/v1/actors?prefix=acme", []string{acmeB.ID, acmeA.ID, acmeC.ID}},
		{"/v1/actors?type=tester&prefix=acme", []string{acmeA.ID, acmeC.ID}},
		{"/v1/actors?prefix=acme&prefix=a", []string{acmeA.ID}},
		{"/v1/actors?prefix=acm", nil}, // whole parts only
		{"/v1/actors?status=destroyed", []string{gone.ID}},
		{"/v1/actors?status=all&type=tester", []string{acmeA.ID, acmeC.ID, gone.ID}},
	} {
		if got := ids(tc.path); !slices.Equal(got, tc.want) {
			t.Errorf("GET %s: %v, want %v", tc.path, got, tc.want)
		}
	}

	var res actorList
	b.call(t, http.MethodGet, "/v1/actors?type=tester&prefix=acme&prefix=a", nil, http.StatusOK, &res)
	if len(res.Actors) != 1 {
		t.Fatalf("one actor: %+v", res)
	}
	a := res.Actors[0]
	if a.ID != acmeA.ID || a.Type != "tester" || !slices.Equal(a.Key, []string{"acme", "a"}) || a.Generation != 1 ||
		a.Status != "active" || a.CreatedAt.IsZero() || a.LastEventAt.IsZero() || a.Events != 1 {
		t.Fatalf("listed %+v", a)
	}

	resp, data := b.do(t, http.MethodGet, "/v1/actors?status=sleeping", nil)
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	resp, data = b.do(t, http.MethodGet, "/v1/actors?cursor=%25", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_cursor")
	resp, data = b.do(t, http.MethodGet, "/v1/actors?key=a", nil)
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")

	// Read-your-writes: each create is listed by the next request.
	for i := range 20 {
		fresh := b.actor(t, "counter", "ryw", itoa(i))
		var res actorList
		b.call(t, http.MethodGet, "/v1/actors?type=counter&prefix=ryw&prefix="+itoa(i), nil, http.StatusOK, &res)
		if len(res.Actors) != 1 || res.Actors[0].ID != fresh.ID {
			t.Fatalf("create %d not listed at once: %+v", i, res.Actors)
		}
	}
}
