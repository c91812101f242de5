package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestQueueKill9WithLeasesHeld enqueues and claims over HTTP into the real
// binary from several producers and consumers, the consumers acking most
// messages and holding the leases of the others (every fifth body is never
// acked, so it is redelivered after each ackWaitMs and held again), kills the
// server with SIGKILL mid-load, restarts it on the same data dir and drains
// the queue. It checks, through the HTTP contract only:
//
//   - every acknowledged enqueue (202) is delivered: acked before the crash
//     or claimed after it;
//   - nothing is delivered that was never sent, and a message keeps its ID;
//   - a message whose ack was answered before the crash is not delivered
//     again, and none is delivered twice after it (it is acked at once);
//   - a message claimed before the crash and not acked comes back after its
//     lease ends with an attempt above every attempt it had before the crash;
//   - the counts add up exactly, and the queue ends with depth, inFlight and
//     deadLetters 0.
//
// consumerStateFlush bounds how long before a kill -9 a delivery may be
// forgotten: nats-server writes consumer state every 100 ms; with margin
// for a loaded machine (claims answered before the signal was sent).
const consumerStateFlush = 250 * time.Millisecond

func TestQueueKill9WithLeasesHeld(t *testing.T) {
	t.Parallel()
	const (
		queue     = "crashq"
		producers = 4
		consumers = 4
		holdEvery = 5 // bodies n%holdEvery == 0 are claimed and never acked
	)
	dir := t.TempDir()
	p := startServe(t, dir)
	h := newQueueHTTP(t, "http://"+p.addr+"/v1/queues/"+queue)
	ctx := context.Background()
	if st, err := h.do(ctx, http.MethodPut, "", map[string]any{"ackWaitMs": 1500, "maxDeliveries": 10}, nil); err != nil || st != http.StatusCreated {
		t.Fatalf("create the queue: %d %v", st, err)
	}

	var (
		mu         sync.Mutex
		sent       = map[int]bool{}      // enqueue requested
		enqID      = map[int]string{}    // enqueue answered 202: its ID
		claimedPre = map[int]int{}       // claimed before the crash: the highest attempt seen
		claimedAt  = map[int]time.Time{} // when that claim was answered
		idOf       = map[int]string{}    // the ID each body was claimed with
		ackOK      = map[int]bool{}      // ack answered with every receipt settled
		ackSent    = map[int]bool{}      // ack requested, its answer not seen (lost with the server)
		held       = map[int]bool{}      // claimed and held: never acked
		heldAgain  = map[int]bool{}      // held, and claimed again after its lease ended
		acks       int                   // receipts settled before the crash
		redelPre   int                   // deliveries of bodies acked at once with attempt > 1
		bad        []string              // contract violations seen while the server was up
	)
	violation := func(format string, args ...any) {
		mu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	enough := make(chan struct{})
	var enoughOnce sync.Once
	checkEnough := func() { // under mu
		// Enough of everything, and held leases that already ran out once,
		// so that attempts above 2 must survive too.
		if len(enqID) >= 800 && len(ackOK) >= 250 && len(held) >= 40 && len(heldAgain) >= 20 {
			enoughOnce.Do(func() { close(enough) })
		}
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for w := range producers {
		wg.Go(func() {
			for n := w; loadCtx.Err() == nil; n += producers {
				mu.Lock()
				sent[n] = true
				mu.Unlock()
				var out struct {
					ID        string `json:"id"`
					Duplicate bool   `json:"duplicate"`
				}
				st, err := h.do(loadCtx, http.MethodPost, "/messages", map[string]any{"body": map[string]int{"n": n}}, &out)
				if st == 0 {
					return // the server died under us: the enqueue's outcome is unknown
				}
				if err != nil || st != http.StatusAccepted || out.ID == "" || out.Duplicate {
					violation("enqueue %d: status %d, %+v, %v", n, st, out, err)
					return
				}
				mu.Lock()
				enqID[n] = out.ID
				checkEnough()
				mu.Unlock()
			}
		})
	}
	for range consumers {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				msgs, st, err := h.claim(loadCtx, 10, 200)
				if st == 0 {
					return // the server died under us
				}
				if err != nil {
					violation("claim: %v", err)
					return
				}
				var receipts []string
				var toAck []int
				mu.Lock()
				for _, m := range msgs {
					if m.n < 0 {
						bad = append(bad, fmt.Sprintf("claimed message %s with a body never sent: %s", m.ID, m.Body))
						continue
					}
					if m.Attempt >= claimedPre[m.n] {
						claimedPre[m.n], claimedAt[m.n] = m.Attempt, time.Now()
					}
					if id, ok := idOf[m.n]; ok && id != m.ID {
						bad = append(bad, fmt.Sprintf("body %d claimed as message %s, earlier as %s", m.n, m.ID, id))
					}
					idOf[m.n] = m.ID
					if m.n%holdEvery == 0 {
						held[m.n] = true // hold the lease: never ack
						if m.Attempt > 1 {
							heldAgain[m.n] = true
						}
						continue
					}
					if m.Attempt > 1 {
						// A delivery the server made that no claim
						// returned (its lease ran out unseen): allowed.
						redelPre++
					}
					receipts = append(receipts, m.Receipt)
					toAck = append(toAck, m.n)
					ackSent[m.n] = true
				}
				checkEnough()
				mu.Unlock()
				if len(receipts) == 0 {
					continue
				}
				settled, st, err := h.ack(loadCtx, receipts)
				if st == 0 {
					return // the ack's outcome is unknown: ackSent keeps it
				}
				if err != nil || st != http.StatusOK || settled != len(receipts) {
					violation("ack of %d receipts: status %d, settled %d, %v", len(receipts), st, settled, err)
					return
				}
				mu.Lock()
				for _, n := range toAck {
					ackOK[n] = true
					delete(ackSent, n)
				}
				acks += settled
				checkEnough()
				mu.Unlock()
			}
		})
	}

	slow := false
	select {
	case <-enough:
	case <-time.After(20 * time.Second):
		slow = true
	}
	killedAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, p, 10*time.Second)
	stopLoad()
	wg.Wait()
	if slow {
		t.Fatalf("load too slow: %d enqueued, %d acked, %d held (%d claimed again) in 20s; violations %v", len(enqID), len(ackOK), len(held), len(heldAgain), bad)
	}
	if len(bad) > 0 {
		t.Fatalf("before the crash: %d violations, first %s", len(bad), bad[0])
	}
	t.Logf("at the kill: %d enqueues sent, %d answered; %d bodies claimed, %d acks answered, %d unanswered, %d held (%d claimed again); %d redeliveries of unheld bodies",
		len(sent), len(enqID), len(claimedPre), len(ackOK), len(ackSent), len(held), len(heldAgain), redelPre)

	// Restart and drain: claim until the queue is empty, acking at once.
	p2 := startServe(t, dir)
	h2 := newQueueHTTP(t, "http://"+p2.addr+"/v1/queues/"+queue)
	post := map[int][]int{} // body -> attempts of its deliveries after the restart
	deadline := time.Now().Add(20 * time.Second)
	var stats queueStatsBody
	for {
		msgs, _, err := h2.claim(ctx, 100, 200)
		if err != nil {
			t.Fatalf("claim after the restart: %v", err)
		}
		if len(msgs) > 0 {
			receipts := make([]string, len(msgs))
			for i, m := range msgs {
				receipts[i] = m.Receipt
				if m.n < 0 {
					t.Errorf("claimed message %s after the restart with a body never sent: %s", m.ID, m.Body)
					continue
				}
				post[m.n] = append(post[m.n], m.Attempt)
				if id, ok := idOf[m.n]; ok && id != m.ID {
					t.Errorf("body %d claimed as message %s after the restart, %s before", m.n, m.ID, id)
				}
				if id, ok := enqID[m.n]; ok && id != m.ID {
					t.Errorf("body %d claimed as message %s after the restart, enqueued as %s", m.n, m.ID, id)
				}
			}
			if settled, st, err := h2.ack(ctx, receipts); err != nil || st != http.StatusOK || settled != len(receipts) {
				t.Fatalf("ack %d receipts after the restart: status %d, settled %d, %v", len(receipts), st, settled, err)
			}
			continue
		}
		stats = h2.stats(t)
		if stats.Depth == 0 && stats.InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained 20s after the restart: %+v", stats)
		}
	}
	if stats.DeadLetters != 0 {
		t.Errorf("%d dead letters after the drain, want 0 (maxDeliveries 10)", stats.DeadLetters)
	}

	// Every acknowledged enqueue, and every message seen claimed, was acked
	// before the crash or delivered after it (or its unanswered ack may have
	// taken it).
	for n := range sent {
		_, enqueued := enqID[n]
		_, claimed := claimedPre[n]
		if (enqueued || claimed) && !ackOK[n] && !ackSent[n] && len(post[n]) == 0 {
			t.Errorf("body %d (enqueued %v as %q, claimed before the crash %v) was never delivered after the restart", n, enqueued, enqID[n], claimed)
		}
	}
	heldBack, raised := 0, 0
	for _, n := range slices.Sorted(maps.Keys(post)) {
		attempts := post[n]
		switch {
		case !sent[n]:
			t.Errorf("body %d delivered after the restart was never sent", n)
		case ackOK[n]:
			t.Errorf("body %d delivered after the restart (attempts %v), its ack was answered before the crash", n, attempts)
		case len(attempts) > 1:
			t.Errorf("body %d delivered %d times after the restart (attempts %v), acked each time", n, len(attempts), attempts)
		}
		if pre, ok := claimedPre[n]; ok {
			heldBack++
			// JetStream writes a consumer's delivery counts to disk every
			// 100 ms, so a kill -9 may forget deliveries made just before it
			// (documented on queues.Message.Attempt): those may come back
			// with the same count, never a lower one.
			recent := killedAt.Sub(claimedAt[n]) < consumerStateFlush
			if attempts[0] < pre || (attempts[0] == pre && !recent) {
				t.Errorf("body %d: attempt %d after the restart, attempt %d before it (claimed %v before the kill): the delivery count was lost",
					n, attempts[0], pre, killedAt.Sub(claimedAt[n]).Round(time.Millisecond))
			} else if attempts[0] >= 2 {
				raised++
			}
		}
	}
	for n := range held {
		if len(post[n]) == 0 {
			t.Errorf("body %d was held (never acked) at the crash and not redelivered", n)
		}
	}
	if heldBack == 0 {
		t.Errorf("no message claimed before the crash came back after it: the test held no lease")
	}

	// Exact count: each stored message was acked once, before or after the
	// crash; those whose ack went unanswered count once whether it landed or not.
	ackUnknownNotBack := 0
	for n := range ackSent {
		if len(post[n]) == 0 {
			ackUnknownNotBack++
		}
	}
	stored := map[int]bool{}
	for n := range enqID {
		stored[n] = true
	}
	lostReplies := 0
	for n := range sent {
		if _, ok := enqID[n]; !ok && (len(post[n]) > 0 || claimedPre[n] > 0) {
			stored[n] = true // stored, its 202 lost with the server
			lostReplies++
		}
	}
	afterAcks := 0
	for _, a := range post {
		afterAcks += len(a)
	}
	if len(ackOK)+ackUnknownNotBack+afterAcks != len(stored) || acks != len(ackOK) {
		t.Errorf("counts: %d acked before the crash (%d receipts) + %d acks unanswered and not back + %d acked after = %d, want %d stored (%d answered enqueues + %d whose reply was lost)",
			len(ackOK), acks, ackUnknownNotBack, afterAcks, len(ackOK)+ackUnknownNotBack+afterAcks, len(stored), len(enqID), lostReplies)
	}
	t.Logf("after the restart: %d delivered (%d claimed before the crash, %d with attempt >= 2); %d acked before + %d whose unanswered ack landed + %d after = %d stored (%d answered + %d replies lost)",
		len(post), heldBack, raised, len(ackOK), ackUnknownNotBack, afterAcks, len(stored), len(enqID), lostReplies)
}

// queueHTTP speaks the /v1/queues/{name} HTTP contract to one queue.
type queueHTTP struct {
	base string
	hc   *http.Client
}

func newQueueHTTP(t *testing.T, base string) *queueHTTP {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	t.Cleanup(tr.CloseIdleConnections)
	return &queueHTTP{base: base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// do sends in as JSON (nil: no body) and decodes a 2xx answer into out. The
// status is 0 when no answer came (the server is gone).
func (h *queueHTTP) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err // cut off: no whole answer
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, nil
}

// claimed is a claimed message with its body's n.
type claimed struct {
	ID      string          `json:"id"`
	Body    json.RawMessage `json:"body"`
	Attempt int             `json:"attempt"`
	Receipt string          `json:"receipt"`
	n       int
}

// claim claims up to maxMsgs messages; a message whose body is not one the
// test sends ({"n": int}) has n -1. The status is 0 when no answer came.
func (h *queueHTTP) claim(ctx context.Context, maxMsgs, waitMs int) ([]claimed, int, error) {
	var out struct {
		Messages []claimed `json:"messages"`
	}
	st, err := h.do(ctx, http.MethodPost, "/claim", map[string]int{"max": maxMsgs, "waitMs": waitMs}, &out)
	if err != nil {
		return nil, st, err
	}
	for i := range out.Messages {
		m := &out.Messages[i]
		var b struct {
			N *int `json:"n"`
		}
		if m.n = -1; json.Unmarshal(m.Body, &b) == nil && b.N != nil && *b.N >= 0 {
			m.n = *b.N
		}
		if m.Receipt == "" || m.ID == "" || m.Attempt < 1 {
			return nil, st, fmt.Errorf("claimed message %+v lacks an ID, a receipt or an attempt", *m)
		}
	}
	return out.Messages, st, nil
}

func (h *queueHTTP) ack(ctx context.Context, receipts []string) (settled, status int, err error) {
	var out struct {
		Settled int `json:"settled"`
	}
	status, err = h.do(ctx, http.MethodPost, "/ack", map[string]any{"receipts": receipts}, &out)
	return out.Settled, status, err
}

type queueStatsBody struct {
	Depth       int64 `json:"depth"`
	InFlight    int64 `json:"inFlight"`
	DeadLetters int64 `json:"deadLetters"`
}

func (h *queueHTTP) stats(t *testing.T) queueStatsBody {
	t.Helper()
	var out struct {
		Stats *queueStatsBody `json:"stats"`
	}
	if _, err := h.do(context.Background(), http.MethodGet, "", nil, &out); err != nil || out.Stats == nil {
		t.Fatalf("get the queue: %+v %v", out.Stats, err)
	}
	return *out.Stats
}
