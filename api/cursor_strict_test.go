package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/api"
)

// A workflow's run listing and a projection's rows take only their own
// cursors: a malformed one, another workflow's, another status's, another
// projection's or another prefix's is 400 invalid_cursor, and a cursor
// still continues its own listing.
func TestStrictListingCursors(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	for _, id := range []string{"a1", "a2"} {
		b.call(t, http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": id, "input": map[string]any{"name": id}}, http.StatusCreated, nil)
		b.waitRun(t, "greet", id)
	}
	b.call(t, http.MethodPost, "/v1/workflows/doomed/runs", map[string]any{"runId": "d1"}, http.StatusCreated, nil)
	b.waitRun(t, "doomed", "d1")
	b.actor(t, "counter", "c1")
	b.actor(t, "counter", "c2")

	var runs struct {
		Runs       []api.WorkflowRun `json:"runs"`
		NextCursor string            `json:"nextCursor"`
	}
	b.call(t, http.MethodGet, "/v1/workflows/greet/runs?limit=1", nil, http.StatusOK, &runs)
	runCursor := url.QueryEscape(runs.NextCursor)
	if runCursor == "" {
		t.Fatal("no nextCursor on a page of one of two runs")
	}
	var rows struct {
		Rows       []api.ProjectionRow `json:"rows"`
		NextCursor string              `json:"nextCursor"`
	}
	b.call(t, http.MethodGet, "/v1/projections/actors/rows?limit=1&prefix=counter.", nil, http.StatusOK, &rows)
	rowCursor := url.QueryEscape(rows.NextCursor)
	if rowCursor == "" {
		t.Fatal("no nextCursor on a page of one of two counters")
	}
	for _, path := range []string{
		"/v1/workflows/greet/runs?cursor=zzz",
		"/v1/workflows/greet/runs?cursor=%21%21",
		"/v1/workflows/doomed/runs?cursor=" + runCursor,                 // another workflow's
		"/v1/workflows/greet/runs?status=completed&cursor=" + runCursor, // another status's
		"/v1/projections/actors/rows?cursor=zzz",
		"/v1/projections/workflow_runs/rows?cursor=" + rowCursor,           // another projection's
		"/v1/projections/workflow_runs/rows?prefix=s/&cursor=" + runCursor, // the runs projection's, under another prefix
		"/v1/projections/actors/rows?prefix=tester.&cursor=" + rowCursor,
	} {
		resp, data := b.do(t, http.MethodGet, path, nil)
		p := wantProblem(t, resp, data, 400, "invalid_cursor")
		wantUserTerms(t, p.Message)
		if !strings.Contains(p.Message, "not a cursor of this listing") {
			t.Errorf("%s: message %q", path, p.Message)
		}
	}
	// Each cursor continues its own listing.
	b.call(t, http.MethodGet, "/v1/workflows/greet/runs?limit=1&cursor="+runCursor, nil, http.StatusOK, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].RunID != "a2" {
		t.Errorf("second page of runs %+v, want a2", runs.Runs)
	}
	first := rows.Rows[0].Key
	b.call(t, http.MethodGet, "/v1/projections/actors/rows?limit=1&prefix=counter.&cursor="+rowCursor, nil, http.StatusOK, &rows)
	if len(rows.Rows) != 1 || rows.Rows[0].Key <= first || !strings.HasPrefix(rows.Rows[0].Key, "counter.") {
		t.Errorf("second page of rows %+v, want the counter after %s", rows.Rows, first)
	}
	b.call(t, http.MethodGet, "/v1/projections/actors/rows?limit=1&cursor="+rowCursor, nil, http.StatusOK, &rows)
}
