package queues

import (
	"strings"
	"testing"
)

// A key that is not text (invalid UTF-8, an unpaired surrogate escape) is
// no key: encoding/json would turn both into U+FFFD, so that two different
// bodies name one actor. A pair of surrogate escapes is text.
func TestActorKeyFromRefusesKeysThatAreNotText(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"k":"\udc80x"}`,
		`{"k":"\udc81x"}`,
		`{"k":"a\ud800"}`,
		`{"k":"a\ud800\u0041"}`,
		`{"k":["ok","\udfff"]}`,
		"{\"k\":\"a\xff\"}",
	} {
		got, err := actorKeyFrom([]byte(body), "/k")
		if err == nil {
			t.Errorf("%q: key %q, want an error", body, got)
			continue
		}
		if !strings.Contains(err.Error(), `the key at "/k" is not text`) {
			t.Errorf("%q: error %q does not say the key is not text", body, err)
		}
	}
	for body, want := range map[string]string{
		`{"k":"\ud83d\ude00"}`: "\U0001F600",
		`{"k":"a\\udc80"}`:     `a\udc80`, // an escaped backslash: the text \udc80
		`{"k":"\u00e9"}`:       "é",
	} {
		got, err := actorKeyFrom([]byte(body), "/k")
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("%q: %q (%v), want [%q]", body, got, err, want)
		}
	}
}
