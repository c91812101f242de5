package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// queueEcho takes messages of any queue, completable, until one of queue
// "stop": it completes each with {"echo": body, "input": the run's
// input}, except those of queue "hold", which it leaves uncompleted.
func queueEcho() workflows.Definition {
	return workflows.Define("qgw", func(w *workflows.W, in json.RawMessage) (int, error) {
		for i := 0; ; i++ {
			m, err := w.Queue().Next(fmt.Sprintf("m-%d", i), workflows.NextOptions{Completable: true})
			if err != nil {
				return 0, err
			}
			if m.Name == "hold" {
				continue
			}
			if err := m.Complete(map[string]json.RawMessage{"echo": m.Body, "input": in}); err != nil {
				return 0, err
			}
			if m.Name == "stop" {
				return i + 1, nil
			}
		}
	}, workflows.Options{ParkAfter: 20 * time.Millisecond})
}

// mailbag is an actor type with a queue of its own, "letters": its action
// takeOne waits for one letter and completes it with {"read": body}.
var mailbag = actors.NewType("mailbag", actors.Options[struct{}]{
	Queues:               map[string]actors.QueueSpec[struct{}]{"letters": {}},
	MaxQueueMessageBytes: 1024,
}).Action("takeOne", actors.Act0(func(c *actors.Context[struct{}]) (json.RawMessage, error) {
	m, err := c.Queue().Next(c.Context(), actors.NextOptions{Completable: true, Timeout: 10 * time.Second})
	if err != nil || m == nil {
		return nil, err
	}
	return m.Body, m.Complete(map[string]json.RawMessage{"read": m.Body})
}))

// setupQueue starts a node serving queueEcho, counter and mailbag.
func setupQueue(t *testing.T) *bundle {
	t.Helper()
	reg, err := actors.NewRegistry(builtin.Counter, mailbag)
	if err != nil {
		t.Fatal(err)
	}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Registry: reg, Workflows: []workflows.Definition{queueEcho()}, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	b := &bundle{n: n, base: "http://" + n.Addr(), header: http.Header{}, release: make(chan struct{})}
	b.http = checkedClient(t, b.n, "")
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

// gwSend posts a queue send the way the RivetKit client does: a chunked
// JSON body {"body","wait","timeout","name"} and the rvt-* parameters.
func (b *bundle) gwSend(t *testing.T, target, queue, query, body string) (int, []byte) {
	t.Helper()
	req := b.request(t, http.MethodPost, "/gateway/"+target+"/queue/"+url.PathEscape(queue)+"?"+query, nil)
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-rivet-encoding", "json")
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

func TestGatewayQueueSend(t *testing.T) {
	t.Parallel()
	b := setupQueue(t)
	input := cborInput(t, base64.RawURLEncoding, map[string]any{"tag": "x"})
	q := "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=g1&rvt-crash-policy=sleep&rvt-input=" + input

	// getOrCreate creates the run with rvt-input; wait returns the response
	// (a real ["$x", y] array travels escaped both ways).
	status, data := b.gwSend(t, "qgw", "ask", q, `{"body":{"a":["$$lit",5]},"wait":true,"timeout":10000,"name":"ask"}`)
	if want := `{"response":{"echo":{"a":["$$lit",5]},"input":{"tag":"x"}},"status":"completed"}`; status != http.StatusOK || strings.TrimSpace(string(data)) != want {
		t.Fatalf("send with wait: %d %s, want %s", status, data, want)
	}
	// Without wait: completed once sent, no response.
	status, data = b.gwSend(t, "qgw", "ask", q, `{"body":1,"wait":false,"name":"ask"}`)
	if status != http.StatusOK || strings.TrimSpace(string(data)) != `{"status":"completed"}` {
		t.Fatalf("send without wait: %d %s", status, data)
	}
	// Nobody completes a message of hold: the wait times out.
	status, data = b.gwSend(t, "qgw", "hold", q, `{"body":null,"wait":true,"timeout":100,"name":"hold"}`)
	if status != http.StatusOK || strings.TrimSpace(string(data)) != `{"status":"timedOut"}` {
		t.Fatalf("send with a short wait: %d %s", status, data)
	}
	// The run's actor ID as the target; stop ends the run.
	id, err := actors.ActorID("qgw", []string{"g1"})
	if err != nil {
		t.Fatal(err)
	}
	status, data = b.gwSend(t, id, "stop", "", `{"body":"bye","wait":true,"timeout":10000,"name":"stop"}`)
	if status != http.StatusOK || !strings.Contains(string(data), `"echo":"bye"`) {
		t.Fatalf("send to the actor ID: %d %s", status, data)
	}
	run, _ := b.waitRun(t, "qgw", "g1")
	if run.Status != "completed" || string(run.Result) != "4" {
		t.Fatalf("run %+v", run)
	}
	// A finished run takes no more messages.
	status, data = b.gwSend(t, id, "ask", "", `{"body":1,"name":"ask"}`)
	if e := decodeGwError(t, data); status != http.StatusConflict || e.Code != "run_finished" {
		t.Fatalf("send to a finished run: %d %s", status, data)
	}
}

func TestGatewayQueueRefused(t *testing.T) {
	t.Parallel()
	b := setupQueue(t)
	q := "rvt-method=getOrCreate&rvt-key=c1"
	// An actor type without queues: dropped as RivetKit drops it ("completed",
	// a warning in the log), before anything is created.
	status, data := b.gwSend(t, "counter", "ask", q, `{"body":1,"wait":true,"timeout":1000,"name":"ask"}`)
	if status != http.StatusOK || strings.TrimSpace(string(data)) != `{"status":"completed"}` {
		t.Fatalf("send to counter: %d %s, want 200 completed (dropped)", status, data)
	}
	status, data = b.gwAction(t, "counter", "getCount", "rvt-method=get&rvt-key=c1", `[]`)
	if e := decodeGwError(t, data); status != http.StatusNotFound || e.Code != "not_found" {
		t.Fatalf("counter c1 after the refused send: %d %s", status, data)
	}
	// A key that is not one run ID.
	status, data = b.gwSend(t, "qgw", "ask", "rvt-method=getOrCreate&rvt-key=a,b", `{"body":1,"name":"ask"}`)
	if e := decodeGwError(t, data); status != http.StatusBadRequest || e.Code != "invalid_run_id" {
		t.Fatalf("send with a two-part key: %d %s", status, data)
	}
	// get of a run that does not exist.
	status, data = b.gwSend(t, "qgw", "ask", "rvt-method=get&rvt-key=none", `{"body":1,"name":"ask"}`)
	if e := decodeGwError(t, data); status != http.StatusNotFound || e.Code != "not_found" {
		t.Fatalf("send to a missing run: %d %s", status, data)
	}
	// An invalid queue name and a body that is not JSON.
	status, data = b.gwSend(t, "qgw", "bad#name", "rvt-method=getOrCreate&rvt-key=r1", `{"body":1}`)
	if e := decodeGwError(t, data); status != http.StatusUnprocessableEntity || e.Code != "invalid_request" {
		t.Fatalf("send to an invalid queue name: %d %s", status, data)
	}
	status, data = b.gwSend(t, "qgw", "ask", "rvt-method=getOrCreate&rvt-key=r1", `{"body":`)
	if e := decodeGwError(t, data); status != http.StatusBadRequest || e.Code != "malformed_json" {
		t.Fatalf("send of malformed JSON: %d %s", status, data)
	}
}

func decodeGwError(t *testing.T, data []byte) gwError {
	t.Helper()
	var e gwError
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("error body %s: %v", data, err)
	}
	return e
}

func TestGatewayActorQueue(t *testing.T) {
	t.Parallel()
	b := setupQueue(t)
	q := "rvt-method=getOrCreate&rvt-key=m1"
	// A waiting action gets a letter sent while it waits; the sender gets the
	// completion's response.
	taken := make(chan []byte, 1)
	go func() {
		_, data := b.gwAction(t, "mailbag", "takeOne", q, `[]`)
		taken <- data
	}()
	// Either order works: a letter sent before the action waits is queued
	// and taken when it runs; the sender waits for the completion both ways.
	status, data := b.gwSend(t, "mailbag", "letters", q, `{"body":{"hi":1},"wait":true,"timeout":5000,"name":"letters"}`)
	if status != http.StatusOK || strings.TrimSpace(string(data)) != `{"response":{"read":{"hi":1}},"status":"completed"}` {
		t.Fatalf("send with wait: %d %s", status, data)
	}
	if got := <-taken; !strings.Contains(string(got), `{"hi":1}`) {
		t.Fatalf("takeOne answered %s", got)
	}
	// Over MaxQueueMessageBytes: queue/message_too_large; a queue the type does
	// not declare: dropped as RivetKit drops it; over the gateway's message
	// limit: message/incoming_too_long before anything is read.
	status, data = b.gwSend(t, "mailbag", "letters", q, `{"body":"`+strings.Repeat("a", 2000)+`","name":"letters"}`)
	if e := decodeGwError(t, data); status != http.StatusRequestEntityTooLarge || e.Group != "queue" || e.Code != "message_too_large" {
		t.Fatalf("oversized letter: %d %s", status, data)
	}
	status, data = b.gwSend(t, "mailbag", "parcels", q, `{"body":1,"name":"parcels"}`)
	if status != http.StatusOK || strings.TrimSpace(string(data)) != `{"status":"completed"}` {
		t.Fatalf("undeclared queue: %d %s", status, data)
	}
	status, data = b.gwSend(t, "mailbag", "letters", q, `{"body":"`+strings.Repeat("a", 70<<10)+`","name":"letters"}`)
	if e := decodeGwError(t, data); status != http.StatusBadRequest || e.Code != "incoming_too_long" {
		t.Fatalf("over the gateway's limit: %d %s", status, data)
	}
}
