package workflows

import "github.com/rivet-flow/rivet-flow/actors"

// HistoryCheckOf exposes the history check Register sets on d's run type,
// for tests that check a history without the actors replayer.
func HistoryCheckOf(d Definition) actors.HistoryCheck { return historyCheck(d.core()) }
