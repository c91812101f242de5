package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestFeatureActorToActor(t *testing.T) {
	t.Parallel()
	caller := ftType("ftcaller", actors.Options[ftState]{}).
		Action("callOther", actors.Act2(func(c *actors.Context[ftState], key string, n int64) (int64, error) {
			h, _, err := c.Client().GetOrCreate(c.Context(), "ftcallee", []string{key}, nil)
			if err != nil {
				return 0, err
			}
			out, err := actors.Call[int64](c.Context(), h, "inc", n)
			if err != nil {
				return 0, err
			}
			c.State.Count = out
			return out, nil
		})).
		Action("callFail", actors.Act(func(c *actors.Context[ftState], key string) (string, error) {
			h, err := c.Client().Get(c.Context(), "ftcallee", []string{key})
			if err != nil {
				return "", err
			}
			_, err = h.Action(c.Context(), "fail", "user")
			var ue *actors.UserError
			if errors.As(err, &ue) {
				return ue.Code, nil
			}
			return "", err
		}))
	b := ftSetup(t, nil, caller, ftType("ftcallee", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftcaller", "a")
	calleeID, _ := actors.ActorID("ftcallee", []string{"x"})

	if got := ftCall[int64](t, h, "callOther", "x", 7); got != 7 {
		t.Fatalf("callOther %d", got)
	}
	if got := ftCall[int64](t, h, "callOther", "x", 3); got != 10 {
		t.Fatalf("callOther %d", got)
	}
	if got := ftCall[string](t, h, "callFail", "x"); got != "quota_exceeded" {
		t.Fatalf("callFail %q", got)
	}
	type step struct {
		Name string
		Data map[string]any
	}
	var steps [][]step
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Kind != eventlog.KindAction {
			continue
		}
		var ss []step
		for _, s := range ev.Steps {
			var d map[string]any
			if err := json.Unmarshal(s.Data, &d); err != nil {
				t.Fatalf("step data %s: %v", s.Data, err)
			}
			ss = append(ss, step{s.Name, d})
		}
		steps = append(steps, ss)
	}
	if len(steps) != 3 {
		t.Fatalf("%d caller events, want 3", len(steps))
	}
	for i, wantCreated := range []bool{true, false} {
		s := steps[i]
		if len(s) != 2 || s[0].Name != "resolve" || s[0].Data["created"] != wantCreated || s[1].Name != "call" {
			t.Fatalf("event %d steps %+v", i, s)
		}
		if s[1].Data["actor"] != calleeID || s[1].Data["action"] != "inc" || s[1].Data["output"] != float64([]int{7, 10}[i]) {
			t.Fatalf("event %d call step %+v", i, s[1].Data)
		}
	}
	if s := steps[2]; len(s) != 2 || s[1].Data["code"] != "quota_exceeded" || s[1].Data["error"] == nil {
		t.Fatalf("failed call step %+v", s)
	}
	// The callee sees the caller.
	for _, ev := range ftEvents(t, b, calleeID) {
		if ev.Caller != "actor:"+h.ID {
			t.Fatalf("callee event %s caller %q", ev.Action, ev.Caller)
		}
	}
}

// ftSeqWriter notes the actor's last log sequence when the response starts.
type ftSeqWriter struct {
	*httptest.ResponseRecorder
	onStart func()
	started bool
}

func (w *ftSeqWriter) start() {
	if !w.started {
		w.started = true
		w.onStart()
	}
}

func (w *ftSeqWriter) WriteHeader(code int) { w.start(); w.ResponseRecorder.WriteHeader(code) }

func (w *ftSeqWriter) Write(p []byte) (int, error) { w.start(); return w.ResponseRecorder.Write(p) }

func TestFeatureOnRequest(t *testing.T) {
	t.Parallel()
	typ := ftType("ftreq", actors.Options[ftState]{
		MaxStateBytes: 200,
		OnRequest: func(c *actors.Context[ftState], w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				fmt.Fprintf(w, "count=%d", c.State.Count)
				return
			}
			body, _ := io.ReadAll(r.Body)
			c.State.Count++
			c.State.Text = string(body)
			if c.State.Text == "huge" {
				c.State.Text = strings.Repeat("x", 300)
			}
			w.Header().Set("X-Count", strconv.FormatInt(c.State.Count, 10))
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "count=%d", c.State.Count)
		},
	})
	b := ftSetup(t, nil, typ, ftType("ftnoreq", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftreq", "a")
	serve := func(method, body string) (*ftSeqWriter, uint64, error) {
		var seqAtStart uint64
		w := &ftSeqWriter{ResponseRecorder: httptest.NewRecorder()}
		w.onStart = func() { seqAtStart = ftLastSeq(t, b, h.ID) }
		req := httptest.NewRequest(method, "/actors/ftreq/a", strings.NewReader(body))
		err := h.ServeHTTP(w, req)
		return w, seqAtStart, err
	}

	w, seqAtStart, err := serve(http.MethodPost, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusCreated || w.Body.String() != "count=1" || w.Header().Get("X-Count") != "1" {
		t.Fatalf("response %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	evs := ftEvents(t, b, h.ID)
	ev := evs[len(evs)-1]
	if ev.Kind != eventlog.KindSystem || ev.Action != "$request" || string(ev.State) != `{"count":1,"text":"hello"}` {
		t.Fatalf("request event %v %q %s", ev.Kind, ev.Action, ev.State)
	}
	if seqAtStart != ev.Seq {
		t.Fatalf("the response started at log seq %d, before its event %d was appended", seqAtStart, ev.Seq)
	}

	// A request that changes nothing appends nothing.
	w, _, err = serve(http.MethodGet, "")
	if err != nil || w.Code != http.StatusOK || w.Body.String() != "count=1" {
		t.Fatalf("GET: %v %d %q", err, w.Code, w.Body.String())
	}
	if ftLastSeq(t, b, h.ID) != ev.Seq {
		t.Fatal("a read-only request appended")
	}

	// A request whose change fails sends nothing and changes nothing.
	w, _, err = serve(http.MethodPost, "huge")
	if !errors.Is(err, actors.ErrStateTooLarge) {
		t.Fatalf("huge: %v, want ErrStateTooLarge", err)
	}
	if w.started || w.Body.Len() != 0 {
		t.Fatalf("a failed request's response was sent: %q", w.Body.String())
	}
	if st := ftCall[ftState](t, h, "state"); st.Count != 1 || st.Text != "hello" {
		t.Fatalf("state after a failed request %+v", st)
	}

	other := ftCreate(t, b, "ftnoreq", "a")
	w = &ftSeqWriter{ResponseRecorder: httptest.NewRecorder(), onStart: func() {}}
	if err := other.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil)); !errors.Is(err, actors.ErrNoRequestHandler) {
		t.Fatalf("type without OnRequest: %v", err)
	}
	if err := other.ServeWebSocket(ftCtx(t), nil); !errors.Is(err, actors.ErrNoRequestHandler) {
		t.Fatalf("type without OnWebSocket: %v", err)
	}
}

// ftWS is an in-memory raw WebSocket.
type ftWS struct {
	in  chan string
	out chan string
}

func (w *ftWS) Read(ctx context.Context) (bool, []byte, error) {
	select {
	case m, ok := <-w.in:
		if !ok {
			return false, nil, io.EOF
		}
		return true, []byte(m), nil
	case <-ctx.Done():
		return false, nil, ctx.Err()
	}
}

func (w *ftWS) Write(_ context.Context, _ bool, data []byte) error { w.out <- string(data); return nil }

func (w *ftWS) Close(int, string) error { return nil }

func TestFeatureOnWebSocket(t *testing.T) {
	t.Parallel()
	typ := ftType("ftws", actors.Options[ftState]{
		OnWebSocket: func(s *actors.Session[ftState], ws actors.WebSocket) {
			for {
				_, data, err := ws.Read(s.Context())
				if err != nil {
					return
				}
				var count int64
				err = s.Do(func(c *actors.Context[ftState]) error {
					c.State.Text += string(data)
					c.State.Count++
					count = c.State.Count
					return nil
				})
				_ = ws.Write(s.Context(), true, []byte(fmt.Sprintf("%s:%d:%v", s.ActorID(), count, err)))
			}
		},
	})
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "ftws", "a")
	ws := &ftWS{in: make(chan string), out: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- h.ServeWebSocket(ftCtx(t), ws) }()
	ws.in <- "a"
	if got := ftWait(t, ws.out, "ack"); got != h.ID+":1:<nil>" {
		t.Fatalf("ack %q", got)
	}
	b.clock.Advance(time.Hour)
	if n := b.rt.SleepIdle(); n != 0 {
		t.Fatal("an actor with an open WebSocket was put to sleep")
	}
	ws.in <- "b"
	ftWait(t, ws.out, "ack")
	close(ws.in)
	if err := ftWait(t, done, "ServeWebSocket to return"); err != nil {
		t.Fatal(err)
	}
	if st := ftCall[ftState](t, h, "state"); st.Text != "ab" || st.Count != 2 {
		t.Fatalf("state %+v", st)
	}
	n := 0
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Action == "$websocket" && ev.HasState {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d WebSocket events, want 2", n)
	}
}

func TestFeatureConcurrentCallsOneActor(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftconc", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftconc", "a")
	const workers, each = 16, 25
	outs := make(chan int64, workers*each)
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				n, err := actors.Call[int64](context.Background(), h, "inc", 1)
				if err != nil {
					errs <- err
					continue
				}
				outs <- n
			}
		})
	}
	wg.Wait()
	close(outs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var got []int64
	for n := range outs {
		got = append(got, n)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("outputs are not 1..%d: position %d holds %d (two calls saw the same state)", workers*each, i, n)
		}
	}
	if c := ftCall[int64](t, h, "get"); c != workers*each {
		t.Fatalf("count %d, want %d", c, workers*each)
	}
	if n := len(ftEvents(t, b, h.ID)); n != 1+workers*each+1 {
		t.Fatalf("%d events, want %d", n, 2+workers*each)
	}
}

func TestFeatureActorsRunInParallel(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	typ := ftType("ftpar", actors.Options[ftState]{}).
		Action("block", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
			close(started)
			<-release
			return true, nil
		}))
	b := ftSetup(t, nil, typ)
	a := ftCreate(t, b, "ftpar", "a")
	blocked := make(chan error, 1)
	go func() { _, err := a.Action(ftCtx(t), "block"); blocked <- err }()
	ftWait(t, started, "A's action to start")
	defer close(release)

	// While A is busy, other actors (many at once) are created and served.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			h, _, err := b.rt.Client().GetOrCreate(context.Background(), "ftpar", []string{"k" + strconv.Itoa(i)}, nil)
			if err == nil {
				_, err = h.Action(context.Background(), "inc", i)
			}
			errs <- err
		})
	}
	for range 40 {
		if err := ftWait(t, errs, "another actor's call while A is blocked"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	select {
	case err := <-blocked:
		t.Fatalf("A's action returned while blocked: %v", err)
	default:
	}
}

func TestFeatureBuiltinActors(t *testing.T) {
	t.Parallel()
	b := setup(t, builtin.Registry())
	ctx := ftCtx(t)
	counter := ftCreate(t, b, "counter", "c")
	conn, err := counter.Subscribe(ctx, "newCount")
	if err != nil {
		t.Fatal(err)
	}
	ftCall[int64](t, counter, "increment", 5)
	ftCall[int64](t, counter, "increment", -2)
	if got := ftCall[int64](t, counter, "getCount"); got != 3 {
		t.Fatalf("count %d", got)
	}
	for _, want := range []string{"[5]", "[3]"} {
		if ev := ftWait(t, conn.Events(), "newCount"); string(ev.Args) != want {
			t.Fatalf("newCount %s, want %s", ev.Args, want)
		}
	}
	conn.Close()

	room := ftCreate(t, b, "chatRoom", "r")
	msgs, err := room.Subscribe(ctx, "newMessage")
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(1500 * time.Millisecond)
	at := b.clock.Now().UnixMilli()
	m1 := ftCall[builtin.Message](t, room, "sendMessage", "hi")
	m2 := ftCall[builtin.Message](t, room, "sendMessage", "bob", "yo")
	if m1 != (builtin.Message{Sender: "anonymous", Text: "hi", At: at}) || m2 != (builtin.Message{Sender: "bob", Text: "yo", At: at}) {
		t.Fatalf("messages %+v %+v", m1, m2)
	}
	_, err = room.Action(ctx, "sendMessage", "  ")
	var ue *actors.UserError
	if !errors.As(err, &ue) || ue.Code != "empty_message" {
		t.Fatalf("empty message: %v", err)
	}
	if h := ftCall[[]builtin.Message](t, room, "getHistory"); !slices.Equal(h, []builtin.Message{m1, m2}) {
		t.Fatalf("history %+v", h)
	}
	for _, want := range []builtin.Message{m1, m2} {
		ev := ftWait(t, msgs.Events(), "newMessage")
		var got []builtin.Message
		if err := json.Unmarshal(ev.Args, &got); err != nil || len(got) != 1 || got[0] != want {
			t.Fatalf("newMessage %s, want %+v", ev.Args, want)
		}
	}
	msgs.Close()
}
