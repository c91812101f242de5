package workflows

import "context"

// ForEachRunning exposes forEachRunning to the external tests.
func (e *Engine) ForEachRunning(ctx context.Context, name string, fn func(runID string) error) (bool, error) {
	return e.forEachRunning(ctx, name, fn)
}
