package client_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

// Versions lists the code versions with open actors, the retired ones with
// All, one type with Type; an invalid type is refused.
func TestVersions(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	for _, k := range []string{"a", "b"} {
		if _, _, err := c.GetOrCreate(ctx, "counter", []string{k}, nil); err != nil {
			t.Fatal(err)
		}
	}
	room, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"lobby"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	counter := client.CodeVersion{Type: "counter", CodeVersion: "1", Kind: client.VersionKindActor, Open: 2}
	room1 := client.CodeVersion{Type: "chatRoom", CodeVersion: "1", Kind: client.VersionKindActor, Open: 0}
	for _, tc := range []struct {
		q    *client.VersionsQuery
		want []client.CodeVersion
	}{
		{nil, []client.CodeVersion{counter}},
		{&client.VersionsQuery{All: true}, []client.CodeVersion{room1, counter}},
		{&client.VersionsQuery{Type: "chatRoom"}, []client.CodeVersion{}},
		{&client.VersionsQuery{Type: "chatRoom", All: true}, []client.CodeVersion{room1}},
	} {
		got, err := c.Versions(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Versions(%+v) = %+v, want %+v", tc.q, got, tc.want)
		}
	}
	_, err = c.Versions(ctx, &client.VersionsQuery{Type: "no such"})
	wantCode(t, err, http.StatusBadRequest, client.CodeMalformedRequest)
}
