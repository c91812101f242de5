package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
)

// ExportHistory writes the whole history of actor id to w as the server
// streams it (GET /v1/actors/{id}/export): one JSON object per line, every
// field a replay needs. progress, if not nil, is called with the lines
// written so far, every 1,000 lines and at the end. It returns the number
// of lines (events). A workflow run's actor ID is Run's ActorID.
func (c *Client) ExportHistory(ctx context.Context, id string, w io.Writer, progress func(lines int)) (int, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/actors/"+escape(id)+"/export", nil, nil, "application/x-ndjson")
	if err != nil {
		return 0, err
	}
	defer closeBody(resp.Body)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if _, err := w.Write(append(line, '\n')); err != nil {
			return n, fmt.Errorf("client: export %s: write: %w", id, err)
		}
		n++
		if progress != nil && n%1000 == 0 {
			progress(n)
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("client: export %s: after %d events: %w", id, n, err)
	}
	if progress != nil {
		progress(n)
	}
	return n, nil
}
