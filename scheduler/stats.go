package scheduler

// Next returns up to n (at most projections.MaxPageLimit) of the earliest
// pending alarms in the index, due first.
func (s *Scheduler) Next(n int) ([]Pending, error) {
	page, err := s.runner.Rows(IndexName, DuePrefix, max(n, 1), "")
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(page.Rows))
	for _, row := range page.Rows {
		p, err := parseDue(row.Key, row.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Stats is what the scheduler has done since New.
type Stats struct {
	// Pending is the number of alarms in the index (as of its checkpoint).
	Pending int64 `json:"pending"`
	// InFlight is the number of fires in progress.
	InFlight int `json:"inFlight"`
	// Fired, Dropped, Failed and Retried count fires by result (see the
	// Result constants).
	Fired   uint64 `json:"fired"`
	Dropped uint64 `json:"dropped"`
	Failed  uint64 `json:"failed"`
	Retried uint64 `json:"retried"`
}

// Stats returns the scheduler's counters and the index's pending count.
func (s *Scheduler) Stats() (Stats, error) {
	n, err := s.pending()
	s.mu.Lock()
	inFlight := s.inFlight
	s.mu.Unlock()
	return Stats{Pending: n, InFlight: inFlight, Fired: s.fired.Load(), Dropped: s.dropped.Load(),
		Failed: s.failed.Load(), Retried: s.retried.Load()}, err
}

func (s *Scheduler) pending() (int64, error) {
	v, found, err := s.runner.Row(IndexName, countKey)
	if err != nil || !found {
		return 0, err
	}
	return decodeCount(v)
}

func (s *Scheduler) pendingGauge() float64 {
	n, _ := s.pending()
	return float64(n)
}

func (s *Scheduler) inFlightGauge() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.inFlight)
}
