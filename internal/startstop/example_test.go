package startstop_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// runtime is a toy actor runtime: a run loop processing a mailbox, with a
// graceful drain that lets queued messages finish before the hard stop.
type runtime struct {
	startstop.BaseStartStop

	mailbox chan string
	wg      sync.WaitGroup // in-flight messages
}

func (r *runtime) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := r.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		defer stopped()
		started()
		for {
			select {
			case <-ctx.Done(): // hard stop
				return
			case msg := <-r.mailbox:
				fmt.Println("handled", msg)
				r.wg.Done()
			}
		}
	}()
	return nil
}

func (r *runtime) Send(msg string) { r.wg.Add(1); r.mailbox <- msg }

// Stop drains the mailbox, bounded by ctx, then hard-stops.
func (r *runtime) Stop(ctx context.Context) error { return r.StopDrain(ctx, r.drain) }

func (r *runtime) drain(ctx context.Context) error {
	idle := make(chan struct{})
	go func() { r.wg.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func Example() {
	ctx := context.Background()
	rt := &runtime{mailbox: make(chan string, 8)}

	if err := startstop.StartAll(ctx, rt); err != nil {
		panic(err)
	}
	rt.Send("a")
	rt.Send("b")
	fmt.Println("stop:", startstop.StopAll(ctx, rt))
	// Output:
	// handled a
	// handled b
	// stop: <nil>
}
