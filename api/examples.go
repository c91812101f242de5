package api

import (
	"github.com/danielgtaylor/huma/v2"
)

// Examples for the response types whose fields are declared in other
// packages (their tags cannot carry them): the docs page builds each
// route's example answer from its properties' examples. The values are
// from a real server, consistent with the README's nightly-report schedule
// on the counter counter.kCm15LWNvdW50ZXI.

// setExamples gives each named property of s its example and, where it
// has none, its description.
func setExamples(s *huma.Schema, props map[string]propDoc) *huma.Schema {
	for name, d := range props {
		p := s.Properties[name]
		if p == nil {
			continue // a field removed: the examples test names what lacks one
		}
		p.Examples = []any{d.example}
		if p.Description == "" {
			p.Description = d.doc
		}
	}
	return s
}

// propDoc is a property's example and description.
type propDoc struct {
	example any
	doc     string
}

// TransformSchema implements huma.SchemaTransformer: scheduler.Fire's
// fields have no tags.
func (ScheduleFire) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return setExamples(s, map[string]propDoc{
		"id":          {1, "Numbers the schedule's fires from 1; absent for skips and misses"},
		"nominal":     {"2026-12-03T11:15:28.551536535Z", "The occurrence the fire is for (the trigger time for a manual fire); the first one an entry of skips or misses covers"},
		"at":          {"2026-12-03T11:15:28.551536535Z", "When it fired, or was skipped or found missed"},
		"finished":    {"2026-12-03T11:15:28.553579208Z", "When its outcome came (absent while running)"},
		"outcome":     {"succeeded", "running (sent, no reply yet), succeeded, failed, unknown (no reply within runTimeoutMs), buffered (waits for the running fire), skipped (see reason) or missed (occurrences a late tick did not fire: count)"},
		"reason":      {"overlap", "Why it was skipped: overlap (a fire was running), buffer_full, too_many_running or paused"},
		"code":        {"actor_not_found", "A failed fire's error code"},
		"error":       {"actor counter.kCm15LWNvdW50ZXI does not exist", "A failed fire's error message"},
		"count":       {7, "The occurrences an entry of skips or misses covers, from nominal to until"},
		"until":       {"2026-12-10T07:00:00Z", "The last occurrence an entry of skips or misses covers"},
		"countCapped": {false, "There were at least count occurrences (too many to count)"},
		"manual":      {true, "Fired by POST /v1/schedules/{name}/trigger"},
		"effect":      {"5/0", "The send's effect ID, which the target remembers so the fire takes effect once (absent for a queue target)"},
	})
}

// TransformSchema implements huma.SchemaTransformer: scheduler.Counters'
// fields have no tags.
func (ScheduleCounters) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return setExamples(s, map[string]propDoc{
		"fired":     {1, "Fires sent, ticks and triggers"},
		"succeeded": {1, "Fires whose action succeeded"},
		"failed":    {0, "Fires whose action failed, or that could not be sent"},
		"unknown":   {0, "Fires with no outcome within runTimeoutMs"},
		"skipped":   {0, "Occurrences skipped under the overlap policy or while paused"},
		"missed":    {0, "Occurrences a late tick did not fire (catchUp)"},
	})
}
