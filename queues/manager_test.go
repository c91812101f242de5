package queues_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/queues"
)

func ptr[T any](v T) *T { return &v }

func TestCreateGetListUpdateDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	cfg, created, err := b.m.Put(c, "emails", queues.Config{MaxDeliveries: 3})
	if err != nil || !created {
		t.Fatalf("put: %v, created %v", err, created)
	}
	want := queues.Config{MaxMessages: 100_000, MaxBytes: 1 << 30, MaxMessageBytes: 256 << 10, Overflow: "reject",
		AckWaitMs: 30_000, MaxDeliveries: 3, DedupWindowMs: 120_000, BlockMs: 5000}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config %+v, want %+v", cfg, want)
	}
	if _, created, err = b.m.Put(c, "emails", queues.Config{MaxDeliveries: 3}); err != nil || created {
		t.Fatalf("put again: %v, created %v", err, created)
	}
	b.put(t, "audit", queues.Config{})

	info, err := b.m.Get(c, "emails")
	if err != nil || info.Name != "emails" || !reflect.DeepEqual(info.Config, want) || info.Stats != (queues.Stats{}) {
		t.Fatalf("get: %+v, %v", info, err)
	}
	list, err := b.m.List(c)
	if err != nil || len(list) != 2 || list[0].Name != "audit" || list[1].Name != "emails" {
		t.Fatalf("list: %+v, %v", list, err)
	}

	got, err := b.m.Update(c, "emails", queues.Patch{AckWaitMs: ptr(int64(5000)), BackoffMs: ptr([]int64{100, 1000})})
	if err != nil {
		t.Fatal(err)
	}
	want.AckWaitMs, want.BackoffMs = 5000, []int64{100, 1000}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("updated %+v, want %+v", got, want)
	}
	// The consumer's lease changed with it, and the change survives a restart.
	b.restart(t)
	c = ctx(t)
	if info, err = b.m.Get(c, "emails"); err != nil || !reflect.DeepEqual(info.Config, want) {
		t.Fatalf("after restart: %+v, %v", info.Config, err)
	}
	cons, err := b.log.JetStream().Consumer(c, "RF_QR_emails", "rf-workers")
	if err != nil {
		t.Fatal(err)
	}
	if aw := cons.CachedInfo().Config.AckWait; aw != 5*time.Second {
		t.Fatalf("consumer ack wait %v, want 5s", aw)
	}

	if err := b.m.Delete(c, "emails"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		b.m.Delete(c, "emails"),
		func() error { _, err := b.m.Get(c, "emails"); return err }(),
		func() error { _, err := b.m.Update(c, "emails", queues.Patch{}); return err }(),
		func() error { _, err := b.m.Enqueue(c, "emails", []byte(`1`), queues.EnqueueOptions{}); return err }(),
		func() error { _, err := b.m.Claim(c, "emails", queues.ClaimOptions{}); return err }(),
	} {
		if !errors.Is(err, queues.ErrNotFound) {
			t.Errorf("after delete: %v, want ErrNotFound", err)
		}
	}
	if list, err = b.m.List(c); err != nil || len(list) != 1 {
		t.Fatalf("list after delete: %+v, %v", list, err)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	for _, tc := range []struct {
		name string
		cfg  queues.Config
	}{
		{"1bad", queues.Config{}},
		{"has.dot", queues.Config{}},
		{"", queues.Config{}},
		{"q", queues.Config{MaxMessages: -1}},
		{"q", queues.Config{MaxBytes: -5}},
		{"q", queues.Config{MaxMessageBytes: 2 << 20}},
		{"q", queues.Config{MaxBytes: 10, MaxMessageBytes: 100}},
		{"q", queues.Config{Overflow: "drop"}},
		{"q", queues.Config{Overflow: "block", BlockMs: 60_000}},
		{"q", queues.Config{Concurrency: -1}},
		{"q", queues.Config{RatePerSecond: -1}},
		{"q", queues.Config{DeliverTo: &queues.DeliverTo{Type: "1x", Action: "a"}}},
		{"q", queues.Config{DeliverTo: &queues.DeliverTo{Type: "t", Action: "a", KeyFrom: "id"}}},
		{"q", queues.Config{AckWaitMs: 10}},
		{"q", queues.Config{MaxDeliveries: -1}},
		{"q", queues.Config{BackoffMs: []int64{-1}}},
		{"q", queues.Config{DedupWindowMs: -1}},
	} {
		if _, _, err := b.m.Put(c, tc.name, tc.cfg); !errors.Is(err, queues.ErrInvalid) {
			t.Errorf("put %q %+v: %v, want ErrInvalid", tc.name, tc.cfg, err)
		}
	}
	if list, err := b.m.List(c); err != nil || len(list) != 0 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	b.put(t, "q", queues.Config{})
	if _, err := b.m.Update(c, "q", queues.Patch{MaxDeliveries: ptr(0 - 2)}); !errors.Is(err, queues.ErrInvalid) {
		t.Fatalf("update: %v, want ErrInvalid", err)
	}
}
