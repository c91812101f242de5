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
// others; idle workers exit after idleFor (to twice that), and at most maxIdle linger, so a
// burst of thousands of drains leaves no thousands of parked stacks behind.
type pool struct {
	alive   atomic.Int32 // workers running, for tests
	work    chan job
	stop    chan struct{}
	wg      sync.WaitGroup
	idleFor time.Duration
	maxIdle int32
	idle    atomic.Int32
}

// job is work for the pool. An *instance is one (its drain): passing it needs
// no closure per drain, as a method value would.
type job interface{ runJob() }

type funcJob func()

func (f funcJob) runJob() { f() }

func newPool(idleFor time.Duration, maxIdle int32) *pool {
	return &pool{work: make(chan job), stop: make(chan struct{}), idleFor: idleFor, maxIdle: maxIdle}
}

// run runs fn on an idle worker, or on a new one.
func (p *pool) run(fn func()) { p.runJob(funcJob(fn)) }

// runJob runs j on an idle worker, or on a new one.
func (p *pool) runJob(j job) {
	select {
	case p.work <- j:
	default:
		p.wg.Add(1)
		go p.worker(j)
	}
}

// worker runs jobs until it has been idle for idleFor to twice that: its
// timer is not reset per job (a measurable cost at one job per call), but
// when it fires after work was done, the worker waits one more idleFor.
func (p *pool) worker(j job) {
	p.alive.Add(1)
	defer p.alive.Add(-1)
	defer p.wg.Done()
	idle := time.NewTimer(p.idleFor)
	defer idle.Stop()
	for {
		j.runJob()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		worked := true
	wait:
		select {
		case j = <-p.work:
			p.idle.Add(-1)
		case <-idle.C:
			if worked {
				worked = false
				idle.Reset(p.idleFor)
				goto wait
			}
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
