package queues

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// The actor key is read with a JSON pointer (RFC 6901): a string is a
// one-part key, an array of strings the parts; anything else is no key.
func TestActorKeyFrom(t *testing.T) {
	t.Parallel()
	body := `{"to":"a","parts":["x","y"],"a/b":{"m~n":"esc"},"list":[{"k":"first"},{"k":"second"}],"n":7,"empty":[],"mixed":["a",1],"nil":null}`
	for _, c := range []struct {
		ptr  string
		want []string // nil: no key
	}{
		{"/to", []string{"a"}},
		{"/parts", []string{"x", "y"}},
		{"/a~1b/m~0n", []string{"esc"}},
		{"/list/1/k", []string{"second"}},
		{"/empty", []string{}},
		{"/missing", nil},
		{"/n", nil},
		{"/mixed", nil},
		{"/nil", nil},
		{"/list/2/k", nil},
		{"/list/01/k", nil},
		{"/list/-/k", nil},
		{"/to/deeper", nil},
		{"", nil}, // the whole body is an object
		{"to", nil},
	} {
		got, err := actorKeyFrom([]byte(body), c.ptr)
		if c.want == nil {
			if err == nil {
				t.Errorf("%q: key %q, want an error", c.ptr, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: %q (%v), want %q", c.ptr, got, err, c.want)
		}
	}
	if got, err := actorKeyFrom([]byte(` "whole" `), ""); err != nil || !slices.Equal(got, []string{"whole"}) {
		t.Errorf("the whole body: %q (%v)", got, err)
	}
}

func TestDeliveryKeyAndReceiptTimestamp(t *testing.T) {
	t.Parallel()
	k := deliveryKey(strings.Repeat("q", 64), 1<<62, "18446744073709551615")
	if !strings.HasPrefix(k, "queue:qqqq") || !strings.HasSuffix(k, ":18446744073709551615") || len(k) > 256 {
		t.Fatalf("delivery key %q", k)
	}
	if deliveryKey("q", 1, "5") == deliveryKey("q", 2, "5") {
		t.Fatal("two incarnations of a queue share a delivery key")
	}
	for subj, want := range map[string]int64{
		"$JS.ACK.RF_QR_q.rf-workers.2.10.12.1700000000000000000.0":             1700000000000000000,
		"$JS.ACK.dom.hash.RF_QR_q.rf-workers.2.10.12.1700000000000000001.0.tk": 1700000000000000001,
	} {
		if got, err := receiptTimestamp(subj); err != nil || got != want {
			t.Errorf("%s: %d (%v), want %d", subj, got, err, want)
		}
		rc, err := decodeReceipt("q", base64.RawURLEncoding.EncodeToString([]byte(subj)))
		if err != nil || rc.seq != 10 {
			t.Errorf("%s: decodes to %+v (%v)", subj, rc, err)
		}
	}
	if _, err := receiptTimestamp("$JS.ACK.x"); err == nil {
		t.Error("a short subject has a timestamp")
	}
}
