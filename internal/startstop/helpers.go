package startstop

import (
	"context"
	"errors"
	"fmt"
)

// StartAll starts services in order. If one fails, it stops that service and
// every service started before it, in reverse order and bounded by ctx, and
// returns the start error joined with any stop errors.
func StartAll(ctx context.Context, services ...Service) error {
	for i, svc := range services {
		if err := svc.Start(ctx); err != nil {
			err = fmt.Errorf("startstop: start service %d (%T): %w", i, svc, err)
			return errors.Join(err, StopAll(ctx, services[:i+1]...))
		}
	}
	return nil
}

// StopAll stops services in reverse order (the reverse of StartAll), each
// bounded by ctx, and returns all their errors joined. A failure does not
// prevent the remaining services from being stopped; once ctx has ended, the
// remaining drains become immediate hard stops.
func StopAll(ctx context.Context, services ...Service) error {
	var errs []error
	for i := len(services) - 1; i >= 0; i-- {
		if err := services[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("startstop: stop service %d (%T): %w", i, services[i], err))
		}
	}
	return errors.Join(errs...)
}

// WaitAllStarted waits until every service's Started channel is closed, or
// returns an error once ctx ends.
func WaitAllStarted(ctx context.Context, services ...Service) error {
	for i, svc := range services {
		select {
		case <-svc.Started():
		case <-ctx.Done():
			return fmt.Errorf("startstop: waiting for service %d (%T) to start: %w", i, svc, context.Cause(ctx))
		}
	}
	return nil
}

// FuncService is a Service built from a single start function by
// StartStopFunc, for services too small to deserve their own type.
type FuncService struct {
	BaseStartStop

	startFunc func(ctx context.Context, shouldStart bool, started, stopped func()) error
}

var _ Service = (*FuncService)(nil)

// StartStopFunc returns a Service whose Start passes the results of
// StartInit to startFunc. startFunc must return nil at once when shouldStart
// is false, and otherwise follow the StartInit contract.
func StartStopFunc(startFunc func(ctx context.Context, shouldStart bool, started, stopped func()) error) *FuncService {
	return &FuncService{startFunc: startFunc}
}

// Start implements Service.Start.
func (s *FuncService) Start(ctx context.Context) error {
	return s.startFunc(s.StartInit(ctx))
}
