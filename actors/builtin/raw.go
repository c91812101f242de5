package builtin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/rivet-flow/rivet-flow/actors"
)

// RawCounter shows the raw seams (RivetKit's onRequest and onWebSocket):
// GET /count answers {"count":n}; POST /increment adds the body's
// {"amount":n} (1 without a body) and answers {"count":n}; any other request
// is 404. Its WebSocket echoes every message, text or binary.
var RawCounter = actors.NewType("rawCounter", actors.Options[CounterState]{
	OnRequest: func(c *actors.Context[CounterState], w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/count":
		case r.Method == http.MethodPost && r.URL.Path == "/increment":
			in := CounterAdd{Amount: 1}
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
				http.Error(w, "body must be {\"amount\":n}", http.StatusBadRequest)
				return
			}
			addToCounter(c, in.Amount)
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{"count": c.State.Count})
	},
	OnWebSocket: func(s *actors.Session[CounterState], ws actors.WebSocket) {
		for {
			text, data, err := ws.Read(s.Context())
			if err != nil {
				return
			}
			if err := ws.Write(s.Context(), text, data); err != nil {
				return
			}
		}
	},
}).Action("getCount", actors.Act0(func(c *actors.Context[CounterState]) (int64, error) {
	return c.State.Count, nil
}))
