package client_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// The Go client lists projections, reads rows, rebuilds, and lists the
// actor directory across types and by prefix.
func TestProjectionsAndDirectory(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	a, _, err := c.GetOrCreate(ctx, "counter", []string{"acme", "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	room, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"acme", "lobby"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetOrCreate(ctx, "counter", []string{"globex"}, nil); err != nil {
		t.Fatal(err)
	}

	page, err := c.ListActors(ctx, &client.ActorQuery{Prefix: []string{"acme"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range page.Actors {
		ids = append(ids, x.ID)
		if x.Status != "active" || x.Events != 1 || x.CreatedAt.IsZero() {
			t.Errorf("listed %+v", x)
		}
	}
	if want := []string{room.ID, a.ID}; !slices.Equal(ids, want) { // chatRoom < counter
		t.Fatalf("ListActors(prefix acme) = %v, want %v", ids, want)
	}

	list, err := c.Projections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || list[0].Name != client.DirectoryProjection || list[0].Rows != 3 || list[0].Lag != 0 {
		t.Fatalf("Projections = %+v", list)
	}
	rows, err := c.ProjectionRows(ctx, client.DirectoryProjection, &client.RowsOptions{Prefix: "counter.", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Rows) != 1 || rows.NextCursor == "" || !json.Valid(rows.Rows[0].Value) {
		t.Fatalf("ProjectionRows = %+v", rows)
	}

	if _, err := c.RebuildProjection(ctx, client.DirectoryProjection); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		p, err := c.Projection(ctx, client.DirectoryProjection)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == client.ProjectionLive && p.Lag == 0 && p.Rows == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rebuild: %+v", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = c.Projection(ctx, "nosuch")
	wantCode(t, err, http.StatusNotFound, client.CodeProjectionNotFound)
}
