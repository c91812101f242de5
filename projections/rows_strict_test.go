package projections

import (
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Rows takes only a cursor of its own listing: a malformed one, one of
// another projection, or one outside the prefix is ErrInvalidCursor (an
// ErrInvalid); its own cursor continues the listing.
func TestRowsRefusesAnotherListingsCursor(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	put := func(tx Tx[map[string]any], ev *eventlog.Event) error {
		return tx.Raw().Put(ev.Action, []byte(`{"seq":1}`))
	}
	mustRegister(t, r, Define("one", Filter{}, put))
	mustRegister(t, r, Define("two", Filter{}, put))
	var last uint64
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1"} {
		last = b.act(t, k, "doc", "x")
	}
	start(t, r)
	wait(t, r, "one", last)
	wait(t, r, "two", last)
	page, err := r.Rows("one", "a/", 1, "")
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	for _, c := range []struct{ name, prefix, cursor string }{
		{"one", "", "zzz"},
		{"one", "", "!!"},
		{"two", "a/", page.NextCursor}, // another projection's
		{"one", "b/", page.NextCursor}, // outside the prefix
		{"one", "a/1/", page.NextCursor},
		{"one", "", cursorEnc.EncodeToString([]byte("one/"))}, // no key
	} {
		if _, err := r.Rows(c.name, c.prefix, 1, c.cursor); !errors.Is(err, ErrInvalidCursor) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Rows(%s, %q, cursor %q) = %v, want ErrInvalidCursor", c.name, c.prefix, c.cursor, err)
		}
	}
	for _, prefix := range []string{"a/", "a", ""} { // a wider listing of the same projection takes it
		next, err := r.Rows("one", prefix, 1, page.NextCursor)
		if err != nil || len(next.Rows) != 1 || next.Rows[0].Key != "a/2" {
			t.Errorf("Rows(one, %q) after a/1 = %+v, %v; want a/2", prefix, next, err)
		}
	}
}
