package workflows

import (
	"encoding/json"
	"testing"
)

// patchRow keeps a row's members in step with the state: operations on
// the members it keeps apply (nested ones too), the others are dropped,
// an operation on the whole state replaces the row, and a move across the
// row's members is refused.
func TestWorkflowRunsPatchRow(t *testing.T) {
	t.Parallel()
	state := `{"workflow":"w","runId":"r","status":"running","epoch":0,"steps":1,"inbox":[{"id":1}],"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`
	row, err := trimState([]byte(state))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"createdAt":"2026-01-01T00:00:00Z","runId":"r","status":"running","steps":1,"updatedAt":"2026-01-01T00:00:00Z","workflow":"w"}`; string(row) != want {
		t.Fatalf("trimmed %s", row)
	}
	for _, tc := range []struct {
		name, patch, want string
	}{
		{"kept and dropped", `[{"op":"replace","path":"/status","value":"failed"},{"op":"add","path":"/inbox/-","value":{"id":2}},` +
			`{"op":"add","path":"/error","value":{"code":"x","message":"m"}},{"op":"remove","path":"/inbox/0"},{"op":"replace","path":"/epoch","value":1}]`,
			`{"createdAt":"2026-01-01T00:00:00Z","error":{"code":"x","message":"m"},"runId":"r","status":"failed","steps":1,"updatedAt":"2026-01-01T00:00:00Z","workflow":"w"}`},
		{"nested", `[{"op":"add","path":"/error","value":{"code":"x","message":"m"}},{"op":"replace","path":"/error/code","value":"y"},{"op":"add","path":"/current","value":"a~1b"}]`,
			`{"createdAt":"2026-01-01T00:00:00Z","current":"a~1b","error":{"code":"y","message":"m"},"runId":"r","status":"running","steps":1,"updatedAt":"2026-01-01T00:00:00Z","workflow":"w"}`},
		{"whole state", `[{"op":"replace","path":"/steps","value":2},{"op":"replace","path":"","value":{"workflow":"w","runId":"r","status":"paused","steps":3,"inbox":[]}},{"op":"replace","path":"/steps","value":4}]`,
			`{"runId":"r","status":"paused","steps":4,"workflow":"w"}`},
	} {
		got, err := patchRow(row, []byte(tc.patch))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !jsonEqual(t, got, tc.want) {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{
		`[{"op":"move","from":"/inbox","path":"/current"}]`,
		`[{"op":"replace","path":"/current","value":"x"}]`, // the row has no current: the state and the row disagree
		`{"op":"replace"}`,
	} {
		if _, err := patchRow(row, []byte(bad)); err == nil {
			t.Errorf("patch %s applied", bad)
		}
	}
	if st, err := rowStatus(row); err != nil || st != StatusRunning {
		t.Fatalf("rowStatus = %q, %v", st, err)
	}
	if _, err := rowStatus([]byte(`{}`)); err == nil {
		t.Fatal("a row without status has a status")
	}
}

func jsonEqual(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
