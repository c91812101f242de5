package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
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

func (s *Server) bodyTimeoutError() *Error {
	return errorOf(errcode.RequestTimeout, "the request body did not arrive within "+s.opts.BodyReadTimeout.String(), nil)
}
