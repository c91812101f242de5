package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/workflows"
)

type versionsList struct {
	Versions []api.CodeVersion `json:"versions"`
}

// startDeploy starts a node on dir with svc at version (a Migrate hook past
// "1") and the workflow job, and returns a bundle over its loopback socket,
// stopped at the end of the test unless stopped before.
func startDeploy(t *testing.T, dir, version string) *bundle {
	t.Helper()
	opts := actors.Options[countState]{CodeVersion: version}
	if version != "1" {
		opts.Migrate = func(_ string, raw json.RawMessage) (s countState, err error) {
			err = json.Unmarshal(raw, &s)
			return s, err
		}
	}
	svc := actors.NewType("svc", opts).Action("add", actors.Act(func(c *actors.Context[countState], n int) (int, error) {
		c.State.N += n
		return c.State.N, nil
	}))
	reg, err := actors.NewRegistry(svc)
	if err != nil {
		t.Fatal(err)
	}
	job := workflows.Define("job", func(w *workflows.W, _ struct{}) (string, error) {
		p, _, err := w.WaitSignal("wait", "go", 0)
		return string(p), err
	})
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Registry: reg,
		Workflows: []workflows.Definition{job}, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	b := &bundle{n: n, base: "http://" + n.Addr(), http: checkedClient(t, n, ""),
		header: http.Header{}, release: make(chan struct{})}
	t.Cleanup(func() {
		b.http.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	return b
}

// GET /v1/versions over two deploys: actors of svc version 1 migrate or
// are destroyed under version 2, a finished run stops counting, and
// all=true shows the version that can be retired.
func TestVersionsRoute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()

	b := startDeploy(t, dir, "1")
	ids := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		ids[k] = b.actor(t, "svc", k).ID
	}
	for _, run := range []string{"j1", "j2"} {
		if _, _, err := b.n.Workflows().StartRun(ctx, "job", run, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.n.Workflows().Signal(ctx, "job", "j1", "go", []byte(`"done"`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(waitFor); ; time.Sleep(10 * time.Millisecond) {
		run, err := b.n.Workflows().Get(ctx, "job", "j1")
		if err != nil {
			t.Fatal(err)
		}
		if run.Status.Finished() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run j1 did not finish: %+v", run)
		}
	}
	var got versionsList
	b.call(t, http.MethodGet, "/v1/versions", nil, http.StatusOK, &got)
	want := []api.CodeVersion{{Type: "job", CodeVersion: "1", Kind: "workflow", Open: 1}, {Type: "svc", CodeVersion: "1", Kind: "actor", Open: 3}}
	if !reflect.DeepEqual(got.Versions, want) {
		t.Fatalf("deploy 1: versions %+v, want %+v", got.Versions, want)
	}
	if err := b.stop(ctx); err != nil {
		t.Fatal(err)
	}

	b = startDeploy(t, dir, "2")
	b.action(t, ids["a"], "add", 1) // migrated to 2
	for _, k := range []string{"b", "c"} {
		b.call(t, http.MethodDelete, "/v1/actors/"+ids[k], nil, http.StatusNoContent, nil)
	}
	b.actor(t, "svc", "d")
	svc1 := api.CodeVersion{Type: "svc", CodeVersion: "1", Kind: "actor", Open: 0}
	svc2 := api.CodeVersion{Type: "svc", CodeVersion: "2", Kind: "actor", Open: 2}
	job := api.CodeVersion{Type: "job", CodeVersion: "1", Kind: "workflow", Open: 1}
	for _, tc := range []struct {
		query string
		want  []api.CodeVersion
	}{
		{"", []api.CodeVersion{job, svc2}},
		{"?all=true", []api.CodeVersion{job, svc1, svc2}},
		{"?type=svc&all=true", []api.CodeVersion{svc1, svc2}},
		{"?type=svc", []api.CodeVersion{svc2}},
		{"?type=nosuch&all=true", []api.CodeVersion{}},
	} {
		var got versionsList
		b.call(t, http.MethodGet, "/v1/versions"+tc.query, nil, http.StatusOK, &got)
		if !reflect.DeepEqual(got.Versions, tc.want) {
			t.Errorf("GET /v1/versions%s = %+v, want %+v", tc.query, got.Versions, tc.want)
		}
	}
	resp, data := b.do(t, http.MethodGet, "/v1/versions?type=no%20such", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "malformed_request")
	resp, data = b.do(t, http.MethodGet, "/v1/versions?all=maybe", nil)
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("all=maybe: status %d %s, want a 4xx", resp.StatusCode, data)
	}

	// A rebuild from the log reaches the same counts.
	b.call(t, http.MethodPost, "/v1/projections/versions/rebuild", nil, http.StatusAccepted, nil)
	last, err := b.n.Events().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.waitProjection(t, "versions", caughtUp(last))
	b.call(t, http.MethodGet, "/v1/versions?all=true", nil, http.StatusOK, &got)
	if want := []api.CodeVersion{job, svc1, svc2}; !reflect.DeepEqual(got.Versions, want) {
		t.Errorf("after a rebuild: %+v, want %+v", got.Versions, want)
	}
}
