package actors

import (
	"sync"
	"testing"
	"time"
)

// A burst of drains leaves at most maxIdle workers parked, and close waits
// for every worker.
func TestPoolBoundsIdleWorkers(t *testing.T) {
	p := newPool(time.Hour, 4)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 50 {
		wg.Add(1)
		p.run(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for p.idle.Load() > 4 || p.running() > 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle, %d workers alive; want at most 4", p.idle.Load(), p.running())
		}
		time.Sleep(time.Millisecond)
	}
	// Parked workers take new work.
	done := make(chan struct{})
	p.run(func() { close(done) })
	<-done
	p.close()
	if n := p.running(); n != 0 {
		t.Fatalf("%d workers alive after close", n)
	}
}
