package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/api"
)

// A schedule's target key is text, as PUT /v1/actors's is: null is refused
// (it was stored as [] and fired at another actor), and text that is not
// UTF-8 is refused rather than replaced by U+FFFD; nothing is stored.
func TestStrictScheduleTargetKey(t *testing.T) {
	t.Parallel()
	b := scheduleSetup(t)
	body := func(key string) string {
		return `{"cron":"@every 1h","target":{"actor":{"type":"counter","key":` + key + `},"action":"increment","args":[1]}}`
	}
	resp, data := b.do(t, http.MethodPut, "/v1/schedules/nullkey", body("null"))
	if p := wantProblem(t, resp, data, 422, "invalid_request"); !strings.Contains(p.Message, "key") {
		t.Errorf("null key: message %q, want it to name the key", p.Message)
	}
	for _, key := range []string{`["\udc80"]`, `["a\ud800"]`, "[\"a\xff\"]"} {
		resp, data := b.do(t, http.MethodPut, "/v1/schedules/badkey", []byte(body(key)))
		if p := wantProblem(t, resp, data, 400, "invalid_key"); !strings.HasPrefix(p.Message, "target: key is not text") {
			t.Errorf("key %s: message %q", key, p.Message)
		}
	}
	for _, name := range []string{"nullkey", "badkey"} {
		resp, data := b.do(t, http.MethodGet, "/v1/schedules/"+name, nil)
		wantProblem(t, resp, data, 404, "actor_not_found")
	}
	// [] is the empty key, and a valid surrogate pair is text.
	var sc api.Schedule
	b.call(t, http.MethodPut, "/v1/schedules/empty", body(`[]`), http.StatusCreated, &sc)
	if k := sc.Spec.Target.Actor.Key; k == nil || len(k) != 0 {
		t.Errorf("empty key stored as %#v", k)
	}
	b.call(t, http.MethodPut, "/v1/schedules/emoji", body(`["\ud83d\ude00"]`), http.StatusCreated, &sc)
	if k := sc.Spec.Target.Actor.Key; len(k) != 1 || k[0] != "\U0001F600" {
		t.Errorf("emoji key stored as %q", k)
	}
}

// A fork's key is text: null is 422 (it was read as [] and met the
// source's own key), text that is not UTF-8 400 invalid_key; no actor is
// created.
func TestStrictForkKey(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	src := b.actor(t, "counter", "k")
	b.action(t, src.ID, "increment", 1)
	at := b.actorSeq(t, src.ID)
	resp, data := b.do(t, http.MethodPost, "/v1/actors/"+src.ID+"/fork", `{"atSeq":`+seqText(at)+`,"key":null}`)
	if p := wantProblem(t, resp, data, 422, "invalid_request"); !strings.Contains(p.Message, "body.key") {
		t.Errorf("null key: message %q, want it to name body.key", p.Message)
	}
	for _, key := range []string{`["\udc80"]`, `["x\udc81"]`, "[\"x\xfe\"]"} {
		resp, data := b.do(t, http.MethodPost, "/v1/actors/"+src.ID+"/fork", []byte(`{"atSeq":`+seqText(at)+`,"key":`+key+`}`))
		if p := wantProblem(t, resp, data, 400, "invalid_key"); !strings.Contains(p.Message, "not text") {
			t.Errorf("key %s: message %q", key, p.Message)
		}
	}
	var list struct {
		Actors []api.Actor `json:"actors"`
	}
	b.call(t, http.MethodGet, "/v1/actors?type=counter", nil, http.StatusOK, &list)
	if len(list.Actors) != 1 || list.Actors[0].ID != src.ID {
		t.Errorf("counters %+v, want only the source: a refused fork was created", list.Actors)
	}
	var fork api.ActorResult
	b.call(t, http.MethodPost, "/v1/actors/"+src.ID+"/fork", `{"atSeq":`+seqText(at)+`,"key":["\ud83d\ude00"]}`, http.StatusCreated, &fork.Body)
	if k := fork.Body.Actor.Key; len(k) != 1 || k[0] != "\U0001F600" {
		t.Errorf("fork key %q", k)
	}
}

// Messages list the registered types and a type's actions as text (no Go
// slices), without the server's own rf_ types.
func TestStrictRegistryMessages(t *testing.T) {
	t.Parallel()
	b := scheduleSetup(t)
	resp, data := b.do(t, http.MethodPut, "/v1/actors", `{"type":"nope","key":[]}`)
	p := wantProblem(t, resp, data, 404, "actor_type_not_found")
	if !strings.Contains(p.Message, `unknown actor type "nope" (registered: counter, tester)`) {
		t.Errorf("unknown type: message %q", p.Message)
	}
	spec := func(typ, action string) string {
		return `{"cron":"@every 1h","target":{"actor":{"type":"` + typ + `","key":["c"]},"action":"` + action + `"}}`
	}
	resp, data = b.do(t, http.MethodPut, "/v1/schedules/s", spec("nope", "increment"))
	p = wantProblem(t, resp, data, 400, "actor_type_not_found")
	if !strings.Contains(p.Message, `unknown actor type "nope" (registered: counter, tester)`) {
		t.Errorf("schedule, unknown type: message %q", p.Message)
	}
	resp, data = b.do(t, http.MethodPut, "/v1/schedules/s", spec("counter", "nope"))
	p = wantProblem(t, resp, data, 400, "action_not_found")
	if !strings.Contains(p.Message, `actor type counter has no action "nope" (it has: add, getCount, getKey, increment, setCount)`) {
		t.Errorf("schedule, unknown action: message %q", p.Message)
	}
	if strings.ContainsAny(p.Message, "[]") {
		t.Errorf("message %q prints a Go slice", p.Message)
	}
}

func seqText(n uint64) string { return strconv.FormatUint(n, 10) }
