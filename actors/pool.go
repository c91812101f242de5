package actors

import (
	"sync"
	"sync/atomic"
	"time"
)

// pool runs mailbox drains on goroutines that linger briefly after their work
// instead of exiting: a new goroutine per drain would grow a fresh stack
// through JSON and JetStream on every call to an idle actor. It never queues:
// with no idle worker a new one starts, so a blocked actor cannot starve
// others; idle workers exit after idleFor, and at most maxIdle linger, so a
// burst of thousands of drains leaves no thousands of parked stacks behind.
type pool struct {
	alive   atomic.Int32 // workers running, for tests
	work    chan func()
	stop    chan struct{}
	wg      sync.WaitGroup
	idleFor time.Duration
	maxIdle int32
	idle    atomic.Int32
}

func newPool(idleFor time.Duration, maxIdle int32) *pool {
	return &pool{work: make(chan func()), stop: make(chan struct{}), idleFor: idleFor, maxIdle: maxIdle}
}

// run runs fn on an idle worker, or on a new one.
func (p *pool) run(fn func()) {
	select {
	case p.work <- fn:
	default:
		p.wg.Add(1)
		go p.worker(fn)
	}
}

func (p *pool) worker(fn func()) {
	p.alive.Add(1)
	defer p.alive.Add(-1)
	defer p.wg.Done()
	idle := time.NewTimer(p.idleFor)
	defer idle.Stop()
	for {
		fn()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		idle.Reset(p.idleFor)
		select {
		case fn = <-p.work:
			p.idle.Add(-1)
		case <-idle.C:
			p.idle.Add(-1)
			return
		case <-p.stop:
			p.idle.Add(-1)
			return
		}
	}
}

// close stops idle workers and waits for busy ones to finish.
func (p *pool) close() {
	close(p.stop)
	p.wg.Wait()
}

func (p *pool) running() int32 { return p.alive.Load() }
