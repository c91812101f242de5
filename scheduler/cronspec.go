package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Cron expressions: parsing (github.com/robfig/cron/v3, used for parsing and
// Schedule.Next only), the zone they run in, and the times they name.

// cronParser takes five fields (minute hour day-of-month month day-of-week),
// an optional leading seconds field, and descriptors (@daily, @every 1h).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Error codes of a bad cron expression or zone.
const (
	CodeInvalidCron     = string(errcode.InvalidCron)
	CodeInvalidTimezone = string(errcode.InvalidTimezone)
)

// SpecError is a cron expression or time zone that does not parse: Code is
// CodeInvalidCron or CodeInvalidTimezone, Message the parser's words.
type SpecError struct {
	Code    string
	Message string
}

func (e *SpecError) Error() string { return e.Code + ": " + e.Message }

// Cron is a parsed cron expression and the zone it runs in.
type Cron struct {
	spec  string
	sched cron.Schedule
	loc   *time.Location
}

// ParseCron parses spec in the IANA time zone zone ("" is UTC). spec may
// name its own zone with a CRON_TZ= (or TZ=) prefix; if zone is set too, the
// two must agree. A bad expression is a *SpecError with CodeInvalidCron and
// the parser's message, a bad zone one with CodeInvalidTimezone; an
// expression that never fires is invalid too.
func ParseCron(spec, zone string) (*Cron, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, &SpecError{CodeInvalidCron, "the cron expression is empty (want e.g. \"0 9 * * 1-5\" or \"@hourly\")"}
	}
	if rest, ok := cutZonePrefix(spec); ok {
		name, expr, _ := strings.Cut(rest, " ")
		if zone != "" && zone != name {
			return nil, &SpecError{CodeInvalidTimezone, fmt.Sprintf("the cron expression names the zone %q but timezone is %q: set one of them", name, zone)}
		}
		zone, spec = name, strings.TrimSpace(expr)
	}
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return nil, &SpecError{CodeInvalidCron, fmt.Sprintf("cron expression %q: %v", spec, err)}
	}
	c := &Cron{spec: spec, sched: sched, loc: loc}
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, &SpecError{CodeInvalidCron, fmt.Sprintf("cron expression %q never fires", spec)}
	}
	return c, nil
}

// cutZonePrefix returns spec without its CRON_TZ= or TZ= prefix.
func cutZonePrefix(spec string) (string, bool) {
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(spec, p); ok {
			return rest, true
		}
	}
	return spec, false
}

// LoadZone loads an IANA time zone ("" is UTC). "Local" is refused: a
// schedule must mean the same on every node.
func LoadZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, &SpecError{CodeInvalidTimezone, "time zone \"Local\" depends on the server: name an IANA zone such as America/New_York, or UTC"}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &SpecError{CodeInvalidTimezone, fmt.Sprintf("unknown time zone %q: want an IANA name such as America/New_York, Europe/Paris or UTC", name)}
	}
	return loc, nil
}

// Location returns the zone the expression runs in.
func (c *Cron) Location() *time.Location { return c.loc }

// Next returns the first time the expression names strictly after t, in its
// zone, or the zero time if there is none. Wall-clock times that a DST
// change skips do not fire that day; those it repeats fire at each of their
// instants (robfig/cron's rules).
func (c *Cron) Next(t time.Time) time.Time {
	n := c.sched.Next(t.In(c.loc))
	if n.IsZero() {
		return n
	}
	return n.In(c.loc)
}

// Times returns the next n times after t.
func (c *Cron) Times(after time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for range n {
		after = c.Next(after)
		if after.IsZero() {
			break
		}
		out = append(out, after)
	}
	return out
}

// maxEnumerate bounds the occurrences one count walks (an every-second
// schedule down for a day has 86,400): past it, counts are lower bounds.
const maxEnumerate = 100_000

// occurrences walks the times from first (included, if not zero) up to and
// including until: it returns how many there are (at most maxEnumerate;
// capped says it stopped there) and the last keep of them, oldest first.
// When capped, the last keep are those up to until all the same, found by
// walking back from until.
func (c *Cron) occurrences(first, until time.Time, keep int) (n int, last []time.Time, capped bool) {
	n, last, capped = c.walk(first, until, keep)
	if !capped || keep == 0 {
		return n, last, capped
	}
	// Too many to count: look for the last keep in ever longer windows
	// before until.
	for back := time.Minute; ; back *= 2 {
		from := until.Add(-back)
		if !from.After(first) {
			from = first
		}
		m, recent, more := c.walk(c.Next(from.Add(-time.Nanosecond)), until, keep)
		if m >= keep || more || from.Equal(first) {
			return n, recent, true
		}
	}
}

// walk counts the times from first through until, at most maxEnumerate,
// keeping the last keep in a ring.
func (c *Cron) walk(first, until time.Time, keep int) (n int, last []time.Time, capped bool) {
	ring := make([]time.Time, 0, min(keep, 64))
	next := 0 // the oldest, once the ring is full
	for t := first; !t.IsZero() && !t.After(until); t = c.Next(t) {
		if n == maxEnumerate {
			capped = true
			break
		}
		n++
		switch {
		case keep == 0:
		case len(ring) < keep:
			ring = append(ring, t)
		default:
			ring[next] = t
			next = (next + 1) % keep
		}
	}
	return n, slices.Concat(ring[next:], ring[:next]), capped
}

// AsSpecError returns err's *SpecError, if it is one.
func AsSpecError(err error) (*SpecError, bool) {
	var se *SpecError
	ok := errors.As(err, &se)
	return se, ok
}
