package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// readBody reads a request body whole, bounded in size (MaxBodyBytes; the
// error is an *http.MaxBytesError) and in time (BodyReadTimeout; see
// bodyTimedOut), before anything waits on an actor: a client trickling bytes
// holds only its own request, never an actor's mailbox.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout)) // not every writer supports it (tests' recorders)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	_ = rc.SetReadDeadline(time.Time{})
	return body, err
}

// bodyTimedOut reports a body that did not arrive within BodyReadTimeout.
func bodyTimedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// bodyTooLarge is a request body over limit bytes, with one message on every
// route (Huma's, the fast path's, raw requests').
func bodyTooLarge(limit int64) *Error {
	return errorOf(errcode.BodyTooLarge, fmt.Sprintf("request body is larger than the server's limit of %d bytes (--max-body-bytes)", limit),
		map[string]int64{"limit": limit})
}

func (s *Server) bodyTimeoutError() *Error {
	return errorOf(errcode.RequestTimeout, "the request body did not arrive within "+s.opts.BodyReadTimeout.String(), nil)
}

// keyParts is an actor key in a request body. It refuses what encoding/json
// would silently change: bytes that are not UTF-8 and unpaired surrogate
// escapes (\ud800) both become U+FFFD there, so two different byte strings
// would name one actor. Huma answers a decoding error with its own status,
// so the problem is kept in the key (a part that is not UTF-8) for the
// handler's check to answer as the runtime answers a bad key (400).
type keyParts []string

// UnmarshalJSON decodes the key, marking text that is not UTF-8.
func (k *keyParts) UnmarshalJSON(raw []byte) error {
	if err := jsonterms.CheckText(raw); err != nil {
		*k = keyParts{badKeyMark + err.Error() + "; send keys as UTF-8 text"}
		return nil
	}
	return json.Unmarshal(raw, (*[]string)(k))
}

// badKeyMark starts the one part of a key that was not text: it is not
// UTF-8 itself, so no decoded key can carry it.
const badKeyMark = "\xff"

// keyTextPrefix starts the message of a key that is not text.
const keyTextPrefix = "key is not text: "

// check refuses a key with a part that is not UTF-8 (invalid_key).
func (k keyParts) check() error {
	for _, p := range k {
		if msg, ok := strings.CutPrefix(p, badKeyMark); ok {
			return errorfKey(keyTextPrefix + msg)
		}
		if !utf8.ValidString(p) {
			return errorfKey(keyTextPrefix + "not valid UTF-8; send keys as UTF-8 text")
		}
	}
	return nil
}
