package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
)

// awakeClock is a clock the test moves, so that actors sleep only when it says.
type awakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *awakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *awakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sleepAll puts every actor to sleep and waits until none is in memory.
func sleepAll(t *testing.T, b *bundle, clock *awakeClock) {
	t.Helper()
	clock.Advance(24 * time.Hour)
	rt := b.n.Runtime()
	for deadline := time.Now().Add(waitFor); ; {
		rt.SleepIdle()
		if rt.Awake() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d actors still awake", rt.Awake())
		}
		time.Sleep(time.Millisecond)
	}
}

// listAll pages through a listing, limit at a time, and returns every actor
// listed and the number of pages.
func (b *bundle) listAll(t *testing.T, query string, limit int) (listed []api.Actor, pages int) {
	t.Helper()
	cursor := ""
	for ; ; pages++ {
		if pages > 100 {
			t.Fatalf("GET /v1/actors?%s: paging does not end", query)
		}
		var res actorList
		b.call(t, http.MethodGet, "/v1/actors?"+query+"&limit="+itoa(limit)+"&cursor="+url.QueryEscape(cursor), nil, http.StatusOK, &res)
		if len(res.Actors) > limit {
			t.Fatalf("GET /v1/actors?%s: a page of %d, limit %d", query, len(res.Actors), limit)
		}
		listed = append(listed, res.Actors...)
		if cursor = res.NextCursor; cursor == "" {
			return listed, pages + 1
		}
	}
}

// GET /v1/actors says, for each actor, whether it is awake (in memory) on
// the node: after a call it is, after it slept it is not. awake=true|false
// filters on it, in pages that look at a bounded number of actors.
func TestListActorsAwake(t *testing.T) {
	t.Parallel()
	clock := &awakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := setup(t, testOpts{Actors: actors.RuntimeOptions{Clock: clock}})
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = b.actor(t, "tester", "k"+itoa(100+i)).ID // key order is creation order
	}

	// Every actor was just created: awake, and the field is there.
	var res actorList
	b.call(t, http.MethodGet, "/v1/actors?type=tester&limit=100", nil, http.StatusOK, &res)
	if len(res.Actors) != len(ids) {
		t.Fatalf("listed %d actors, want %d", len(res.Actors), len(ids))
	}
	for _, a := range res.Actors {
		if a.Awake == nil || !*a.Awake {
			t.Fatalf("just created, listed as %+v: want awake true", a)
		}
	}

	// All asleep, then a call wakes one: only it is awake.
	sleepAll(t, b, clock)
	woken := ids[len(ids)-1]
	b.action(t, woken, "add", 1)
	if !b.n.Runtime().IsAwake(woken) {
		t.Fatal("the actor called is not awake")
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors?type=tester&limit=100", nil)
	if resp.StatusCode != http.StatusOK || strings.Count(string(data), `"awake":false`) != len(ids)-1 ||
		strings.Count(string(data), `"awake":true`) != 1 {
		t.Fatalf("listing: %d %s\nwant %d actors with \"awake\":false and one with true", resp.StatusCode, data, len(ids)-1)
	}
	b.call(t, http.MethodGet, "/v1/actors?type=tester&limit=100", nil, http.StatusOK, &res)
	for _, a := range res.Actors {
		if want := a.ID == woken; a.Awake == nil || *a.Awake != want {
			t.Fatalf("%s listed with awake %v, want %v", a.ID, a.Awake, want)
		}
	}
	// A lookup by key shows it too (a lookup wakes the actor it finds).
	b.call(t, http.MethodGet, "/v1/actors?type=tester&key=k119", nil, http.StatusOK, &res)
	if len(res.Actors) != 1 || res.Actors[0].ID != woken || res.Actors[0].Awake == nil || !*res.Actors[0].Awake {
		t.Fatalf("lookup: %+v", res.Actors)
	}
	// The other routes do not carry the field.
	if _, data := b.do(t, http.MethodGet, "/v1/actors/"+woken, nil); strings.Contains(string(data), "awake") {
		t.Errorf("GET /v1/actors/{id}: %s, want no awake", data)
	}

	// awake=false: every sleeping actor, in key order, a full page at a time.
	asleep, pages := b.listAll(t, "type=tester&awake=false", 3)
	var got []string
	for _, a := range asleep {
		if a.Awake == nil || *a.Awake {
			t.Fatalf("awake=false listed %+v", a)
		}
		got = append(got, a.ID)
	}
	if want := ids[:len(ids)-1]; !slices.Equal(got, want) || pages != 7 {
		t.Fatalf("awake=false: %v in %d pages, want %v in 7", got, pages, want)
	}

	// awake=true: the one awake actor is last in key order. A page looks at
	// no more than 4 x limit actors, so with limit 2 the listing gets there
	// in ceil(20/8) = 3 pages, the first two empty but with a cursor.
	awake, pages := b.listAll(t, "type=tester&awake=true", 2)
	if len(awake) != 1 || awake[0].ID != woken || pages != 3 {
		t.Fatalf("awake=true: %+v in %d pages, want only %s in 3 pages", awake, pages, woken)
	}
	// ... across every type and with the default status too.
	if awake, _ := b.listAll(t, "awake=true", 100); len(awake) != 1 || awake[0].ID != woken {
		t.Fatalf("awake=true across types: %+v", awake)
	}

	resp, data = b.do(t, http.MethodGet, "/v1/actors?awake=maybe", nil)
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
}
