package startstop

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// recSvc records Start/Stop calls; startErr and stopErr inject failures and
// skipStarted makes it never report started.
type recSvc struct {
	BaseStartStop

	name        string
	rec         *recorder
	startErr    error
	stopErr     error
	skipStarted bool
}

func (s *recSvc) Start(ctx context.Context) error {
	s.rec.add("start " + s.name)
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if s.startErr != nil {
		stopped()
		return s.startErr
	}
	go func() {
		defer stopped()
		if !s.skipStarted {
			started()
		}
		<-ctx.Done()
	}()
	return nil
}

func (s *recSvc) Stop(ctx context.Context) error {
	s.rec.add("stop " + s.name)
	if err := s.BaseStartStop.Stop(ctx); err != nil {
		return err
	}
	return s.stopErr
}

func newRecSvcs(rec *recorder, names ...string) []*recSvc {
	out := make([]*recSvc, len(names))
	for i, n := range names {
		out[i] = &recSvc{name: n, rec: rec}
	}
	return out
}

func asServices(svcs []*recSvc) []Service {
	out := make([]Service, len(svcs))
	for i, s := range svcs {
		out[i] = s
	}
	return out
}

func TestStartAllStopAll(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	svcs := asServices(newRecSvcs(rec, "a", "b", "c"))

	noErr(t, StartAll(ctx, svcs...), "start all")
	noErr(t, WaitAllStarted(ctx, svcs...), "wait all started")
	noErr(t, StopAll(ctx, svcs...), "stop all")

	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Fatalf("log = %v, want %v", got, want)
	}
	for i, s := range svcs {
		if !isClosed(s.Stopped()) {
			t.Fatalf("service %d still running", i)
		}
	}
}

func TestStartAllRollsBack(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	errBoom := errors.New("boom")
	raw := newRecSvcs(rec, "a", "b", "c", "d")
	raw[2].startErr = errBoom

	err := StartAll(ctx, asServices(raw)...)
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want %v", err, errBoom)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Fatalf("log = %v, want %v", got, want)
	}
	for _, s := range raw {
		if !isClosed(s.Stopped()) {
			t.Fatalf("service %s still running", s.name)
		}
	}
}

func TestStopAllJoinsErrors(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	errB, errC := errors.New("b failed"), errors.New("c failed")
	raw := newRecSvcs(rec, "a", "b", "c")
	raw[1].stopErr, raw[2].stopErr = errB, errC
	svcs := asServices(raw)

	noErr(t, StartAll(ctx, svcs...), "start all")
	err := StopAll(ctx, svcs...)
	if !errors.Is(err, errB) || !errors.Is(err, errC) {
		t.Fatalf("err = %v, want both stop errors", err)
	}
	if got := rec.get(); got[len(got)-1] != "stop a" {
		t.Fatalf("log = %v: a not stopped after earlier failures", got)
	}
}

func TestWaitAllStartedTimeout(t *testing.T) {
	rec := &recorder{}
	raw := newRecSvcs(rec, "a", "never")
	raw[1].skipStarted = true
	svcs := asServices(raw)
	noErr(t, StartAll(context.Background(), svcs...), "start all")
	defer func() { noErr(t, StopAll(context.Background(), svcs...), "stop all") }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := WaitAllStarted(ctx, svcs...); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}
