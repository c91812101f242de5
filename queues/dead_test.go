package queues_test

import (
	"time"

	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/queues"
)

// deliverAndNack claims the message and releases it, times times.
func (b *bundle) deliverAndNack(t *testing.T, name string, times int) {
	t.Helper()
	for i := range times {
		m := b.claimOne(t, name)
		if m.Attempt != i+1 {
			t.Fatalf("attempt %d, want %d", m.Attempt, i+1)
		}
		if _, err := b.m.Nack(ctx(t), name, []string{m.Receipt}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// After maxDeliveries, the message is a dead letter with its reason and
// attempts; redriven with an edited body, it is claimable again.
func TestDeadLetterAndRedrive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxDeliveries: 2})
	id := b.enqueue(t, "jobs", `{"v":1}`).ID
	b.deliverAndNack(t, "jobs", 2)
	if got := b.claim(t, "jobs", 1, 0); len(got) != 0 {
		t.Fatalf("claimed past maxDeliveries: %+v", got)
	}
	if st := b.stats(t, "jobs"); st.Depth != 0 || st.InFlight != 0 || st.DeadLetters != 1 {
		t.Fatalf("stats %+v", st)
	}
	page, err := b.m.ListDeadLetters(ctx(t), "jobs", 10, "")
	if err != nil || len(page.Items) != 1 || page.NextCursor != "" {
		t.Fatalf("dead letters %+v, %v", page, err)
	}
	dl := page.Items[0]
	if dl.MessageID != id || dl.Reason != queues.ReasonMaxDeliveries || dl.Attempts != 2 || string(dl.Body) != `{"v":1}` ||
		dl.EnqueuedAt.IsZero() || dl.DeadAt.Before(dl.EnqueuedAt) {
		t.Fatalf("dead letter %+v", dl)
	}

	res, err := b.m.Redrive(ctx(t), "jobs", queues.RedriveOptions{IDs: []string{dl.ID, "999"}, Body: []byte(`{"v":2}`)})
	if err != nil || res.Redriven != 1 || len(res.Missing) != 1 || res.Missing[0] != "999" {
		t.Fatalf("redrive %+v, %v", res, err)
	}
	m := b.claimOne(t, "jobs")
	if string(m.Body) != `{"v":2}` || m.Attempt != 1 || m.ID == id {
		t.Fatalf("redriven %+v", m)
	}
	if st := b.stats(t, "jobs"); st.DeadLetters != 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := b.m.Ack(ctx(t), "jobs", []string{m.Receipt}); err != nil {
		t.Fatal(err)
	}
}

// Lowering maxDeliveries takes effect at the next claim.
func TestDeadLetterAfterPatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxDeliveries: 10})
	b.enqueue(t, "jobs", `1`)
	b.deliverAndNack(t, "jobs", 2)
	if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{MaxDeliveries: new(1)}); err != nil {
		t.Fatal(err)
	}
	if got := b.claim(t, "jobs", 1, 0); len(got) != 0 {
		t.Fatalf("claimed past maxDeliveries: %+v", got)
	}
	if st := b.stats(t, "jobs"); st.DeadLetters != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Pages, redrive all and purge.
func TestDeadLetterPagesRedriveAllPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxDeliveries: 1})
	for range 5 {
		b.enqueue(t, "jobs", `1`)
	}
	for range 5 {
		b.deliverAndNack(t, "jobs", 1)
	}
	// One claim meets all five again and moves them.
	if got := b.claim(t, "jobs", 10, 0); len(got) != 0 {
		t.Fatalf("claimed %+v", got)
	}
	var all []queues.DeadLetter
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := b.m.ListDeadLetters(ctx(t), "jobs", 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(all) != 5 {
		t.Fatalf("%d dead letters, want 5", len(all))
	}
	res, err := b.m.Redrive(ctx(t), "jobs", queues.RedriveOptions{All: true})
	if err != nil || res.Redriven != 5 {
		t.Fatalf("redrive all %+v, %v", res, err)
	}
	if st := b.stats(t, "jobs"); st.Depth != 5 || st.DeadLetters != 0 {
		t.Fatalf("stats %+v", st)
	}
	for range 5 {
		b.deliverAndNack(t, "jobs", 1)
	}
	if got := b.claim(t, "jobs", 10, 0); len(got) != 0 {
		t.Fatalf("claimed %+v", got)
	}
	if n, err := b.m.PurgeDeadLetters(ctx(t), "jobs"); err != nil || n != 5 {
		t.Fatalf("purge %d, %v", n, err)
	}
	if st := b.stats(t, "jobs"); st != (queues.Stats{}) {
		t.Fatalf("stats %+v", st)
	}
	for _, o := range []queues.RedriveOptions{{}, {All: true, IDs: []string{"1"}}, {IDs: []string{"x"}}} {
		if _, err := b.m.Redrive(ctx(t), "jobs", o); !errors.Is(err, queues.ErrInvalid) {
			t.Errorf("redrive %+v: %v, want ErrInvalid", o, err)
		}
	}
}

// A claim that meets only a dead letter goes on to the next ready message.
func TestClaimSkipsDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxDeliveries: 1})
	first := b.enqueue(t, "jobs", `1`).ID
	b.deliverAndNack(t, "jobs", 1)
	second := b.enqueue(t, "jobs", `2`).ID
	got := b.claim(t, "jobs", 1, 10*time.Second)
	if len(got) != 1 || got[0].ID != second {
		t.Fatalf("claimed %+v, want %s (%s is dead)", got, second, first)
	}
	if st := b.stats(t, "jobs"); st.DeadLetters != 1 || st.InFlight != 1 {
		t.Fatalf("stats %+v", st)
	}
}
