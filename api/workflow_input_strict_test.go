package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A run whose input does not decode into the workflow's input type is
// refused at start (400 invalid_input, in JSON's terms), and nothing is
// started.
func TestStrictRunInput(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	for _, tc := range []struct {
		name, body, says string
	}{
		{"greet", `{"runId":"s1","input":"hello"}`, "input: expected an object, got a string"},
		{"greet", `{"runId":"s2","input":{"name":5}}`, "input: field name: expected a string, got a number"},
		{"greet", `{"runId":"s3","input":[1]}`, "input: expected an object, got an array"},
		{"approval", `{"runId":"s4","input":true}`, "input: expected an object, got true or false"},
	} {
		resp, data := b.do(t, http.MethodPost, "/v1/workflows/"+tc.name+"/runs", tc.body)
		p := wantProblem(t, resp, data, 400, "invalid_input")
		if p.Message != tc.says {
			t.Errorf("%s %s: message %q, want %q", tc.name, tc.body, p.Message, tc.says)
		}
		wantUserTerms(t, p.Message)
		var runID struct {
			RunID string `json:"runId"`
		}
		if err := json.Unmarshal([]byte(tc.body), &runID); err != nil {
			t.Fatal(err)
		}
		resp, data = b.do(t, http.MethodGet, "/v1/workflows/"+tc.name+"/runs/"+runID.RunID, nil)
		wantProblem(t, resp, data, 404, "run_not_found")
	}
	// Input of the right type, or none, still starts a run.
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", `{"runId":"ok","input":{"name":"x"}}`, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", `{"runId":"none"}`, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", `{"runId":"null","input":null}`, http.StatusCreated, nil)
	if run, _ := b.waitRun(t, "greet", "ok"); run.Status != "completed" {
		t.Errorf("run ok: %+v", run)
	}
	// Starting is idempotent on runId: a run that exists is answered as it
	// is (200), whatever input comes with the repeat.
	var again struct {
		RunID  string `json:"runId"`
		Status string `json:"status"`
	}
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", `{"runId":"ok","input":"not an object"}`, http.StatusOK, &again)
	if again.RunID != "ok" || again.Status != "completed" {
		t.Errorf("a repeat start of run ok with other input: %+v, want the run as it is", again)
	}
}
