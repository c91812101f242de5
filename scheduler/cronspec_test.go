package scheduler

import (
	"strings"
	"testing"
	"time"
)

func TestParseCronErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec, zone, code, msg string
	}{
		{"", "", CodeInvalidCron, "empty"},
		{"bad spec", "", CodeInvalidCron, "expected 5 to 6 fields"},
		{"61 * * * *", "", CodeInvalidCron, "61"},
		{"0 0 30 2 *", "", CodeInvalidCron, "never fires"},
		{"0 9 * * *", "Mars/Olympus", CodeInvalidTimezone, "Mars/Olympus"},
		{"0 9 * * *", "Local", CodeInvalidTimezone, "Local"},
		{"CRON_TZ=Nope/X 0 9 * * *", "", CodeInvalidTimezone, "Nope/X"},
		{"CRON_TZ=Europe/Paris 0 9 * * *", "America/New_York", CodeInvalidTimezone, "set one of them"},
	} {
		_, err := ParseCron(tc.spec, tc.zone)
		se, ok := AsSpecError(err)
		if !ok || se.Code != tc.code || !strings.Contains(se.Message, tc.msg) {
			t.Errorf("ParseCron(%q, %q) = %v, want %s mentioning %q", tc.spec, tc.zone, err, tc.code, tc.msg)
		}
	}
}

func TestParseCronZones(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		spec, zone string
		want       time.Time
	}{
		{"0 9 * * *", "", time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)},
		{"0 9 * * *", "Europe/Paris", time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)},
		{"CRON_TZ=Europe/Paris 0 9 * * *", "", time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)},
		{"TZ=Europe/Paris 0 9 * * *", "Europe/Paris", time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)},
		{"30 0 9 * * *", "", time.Date(2026, 6, 1, 9, 0, 30, 0, time.UTC)}, // seconds field
		{"@hourly", "", time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC)},
		{"@every 90s", "", from.Add(90 * time.Second)},
	} {
		c, err := ParseCron(tc.spec, tc.zone)
		if err != nil {
			t.Fatalf("ParseCron(%q, %q): %v", tc.spec, tc.zone, err)
		}
		if got := c.Next(from); !got.Equal(tc.want) {
			t.Errorf("%q in %q: next %v, want %v", tc.spec, tc.zone, got, tc.want)
		}
	}
}

// In America/New_York, a wall-clock time the spring change skips does not
// fire that day; one the autumn change repeats fires at both instants; the
// offsets show the change.
func TestCronDSTNewYork(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	spring, err := ParseCron("30 2 * * *", "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	got := spring.Times(time.Date(2026, 3, 7, 0, 0, 0, 0, ny), 3)
	want := []string{"2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}
	for i, w := range want {
		if got[i].Format(time.RFC3339) != w {
			t.Errorf("spring fire %d: %s, want %s (2026-03-08 02:30 does not exist)", i, got[i].Format(time.RFC3339), w)
		}
	}
	fall, err := ParseCron("30 1 * * *", "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	got = fall.Times(time.Date(2026, 10, 31, 12, 0, 0, 0, ny), 3)
	want = []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"}
	for i, w := range want {
		if got[i].Format(time.RFC3339) != w {
			t.Errorf("fall fire %d: %s, want %s (01:30 happens twice on 2026-11-01)", i, got[i].Format(time.RFC3339), w)
		}
	}
	if got[1].Sub(got[0]) != time.Hour {
		t.Errorf("the two 01:30s are %v apart, want 1h", got[1].Sub(got[0]))
	}
}

func TestCronOccurrences(t *testing.T) {
	t.Parallel()
	c, err := ParseCron("* * * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	n, last, capped := c.occurrences(start, start.Add(10*time.Minute+30*time.Second), 3)
	if n != 11 || capped || len(last) != 3 || !last[0].Equal(start.Add(8*time.Minute)) || !last[2].Equal(start.Add(10*time.Minute)) {
		t.Fatalf("occurrences = %d %v %v, want 11, the last 3 ending at +10m", n, last, capped)
	}
	if n, last, _ := c.occurrences(start, start.Add(-time.Second), 1); n != 0 || len(last) != 0 {
		t.Fatalf("occurrences before the first = %d %v, want none", n, last)
	}
	// Every second for two days: more than maxEnumerate; the count is a
	// lower bound, the last ones are still the last.
	s, err := ParseCron("* * * * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	until := start.Add(48 * time.Hour)
	n, last, capped = s.occurrences(start, until, 2)
	if !capped || n != maxEnumerate || len(last) != 2 || !last[1].Equal(until) || !last[0].Equal(until.Add(-time.Second)) {
		t.Fatalf("capped occurrences = %d %v %v, want %d (capped) ending at %v", n, last, capped, maxEnumerate, until)
	}
}
