package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
)

// GET /v1/types lists the registry the node runs: its own types with their
// actions, the server's types marked system.
func TestListActorTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var res struct {
		Types []api.ActorType `json:"types"`
	}
	b.call(t, http.MethodGet, "/v1/types", nil, http.StatusOK, &res)
	byName := map[string]api.ActorType{}
	var names []string
	for _, typ := range res.Types {
		byName[typ.Name] = typ
		names = append(names, typ.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("types not sorted by name: %v", names)
	}
	reg := b.n.Runtime().Registry()
	if want := reg.Types(); !reflect.DeepEqual(names, want) {
		t.Fatalf("types %v, want the registry's %v", names, want)
	}
	if got := byName["blocker"]; !reflect.DeepEqual(got.Actions, []string{"add", "block"}) || got.System {
		t.Errorf("blocker = %+v, want actions [add block], not system", got)
	}
	counter, ok := byName["counter"]
	want, _ := reg.Actions("counter")
	if !ok || !reflect.DeepEqual(counter.Actions, want) {
		t.Errorf("counter = %+v, want actions %v", counter, want)
	}
	system := 0
	for _, typ := range res.Types {
		if typ.System != strings.HasPrefix(typ.Name, "rf_") {
			t.Errorf("%s: system %v", typ.Name, typ.System)
		}
		if typ.System {
			system++
		}
	}
	if system == 0 {
		t.Errorf("no system type listed (the node registers its schedules and dead letters): %v", names)
	}
}

// The actions the server calls itself ($timer, $child: a workflow's) are not
// listed: callers cannot use them.
func TestListActorTypesHidesInternalActions(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	var res struct {
		Types []api.ActorType `json:"types"`
	}
	b.call(t, http.MethodGet, "/v1/types", nil, http.StatusOK, &res)
	internal := 0
	for _, typ := range res.Types {
		all, _ := b.n.Runtime().Registry().Actions(typ.Name)
		var want []string
		for _, a := range all {
			if strings.HasPrefix(a, "$") {
				internal++
			} else {
				want = append(want, a)
			}
		}
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(typ.Actions, want) {
			t.Errorf("%s: actions %v, want %v", typ.Name, typ.Actions, want)
		}
	}
	if internal == 0 {
		t.Fatal("no type has internal actions: the test checks nothing")
	}
}

// GET /v1/actors/{id}/state answers the committed state without waking the
// actor or appending anything; a missing, destroyed or malformed ID is an
// error in the usual codes.
func TestActorStateIsARead(t *testing.T) {
	t.Parallel()
	clock := &awakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := setup(t, testOpts{Actors: actors.RuntimeOptions{Clock: clock}})
	a := b.actor(t, "blocker", "s1")
	b.action(t, a.ID, "add", 5)
	b.action(t, a.ID, "add", 2)

	var st api.ActorState
	b.call(t, http.MethodGet, "/v1/actors/"+a.ID+"/state", nil, http.StatusOK, &st)
	var state struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal(st.State, &state); err != nil || state.N != 7 || st.ID != a.ID || st.Type != "blocker" ||
		!reflect.DeepEqual(st.Key, []string{"s1"}) || st.Generation != 1 {
		t.Fatalf("state = %+v (%v), want blocker [s1] generation 1 with n 7", st, err)
	}

	// Asleep: the read folds the snapshot and the log, and leaves it asleep
	// with the same history.
	events := len(b.history(t, a.ID))
	sleepAll(t, b, clock)
	b.call(t, http.MethodGet, "/v1/actors/"+a.ID+"/state", nil, http.StatusOK, &st)
	if err := json.Unmarshal(st.State, &state); err != nil || state.N != 7 {
		t.Fatalf("state while asleep = %s (%v), want n 7", st.State, err)
	}
	if b.n.Runtime().IsAwake(a.ID) {
		t.Error("reading the state woke the actor")
	}
	if n := len(b.history(t, a.ID)); n != events {
		t.Errorf("history has %d events after the read, want %d: the read appended", n, events)
	}

	nobody, err := actors.ActorID("blocker", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+nobody+"/state", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	resp, data = b.do(t, http.MethodGet, "/v1/actors/not-an-id/state", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_actor_id")
	b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
	resp, data = b.do(t, http.MethodGet, "/v1/actors/"+a.ID+"/state", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
}
