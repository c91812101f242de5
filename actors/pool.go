package actors

import (
	"sync"
	"time"
)

// pool runs mailbox drains on goroutines that linger briefly after their work
// instead of exiting: a new goroutine per drain would grow a fresh stack
// through JSON and JetStream on every call to an idle actor. It never queues:
// with no idle worker a new one starts, so a blocked actor cannot starve
// others, and idle workers exit after idleFor.
type pool struct {
	work    chan func()
	stop    chan struct{}
	wg      sync.WaitGroup
	idleFor time.Duration
}

func newPool(idleFor time.Duration) *pool {
	return &pool{work: make(chan func()), stop: make(chan struct{}), idleFor: idleFor}
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
	defer p.wg.Done()
	idle := time.NewTimer(p.idleFor)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(p.idleFor)
		select {
		case fn = <-p.work:
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}

// close stops idle workers and waits for busy ones to finish.
func (p *pool) close() {
	close(p.stop)
	p.wg.Wait()
}
