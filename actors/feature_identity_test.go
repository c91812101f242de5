package actors_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestFeatureResolve(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftres", actors.Options[ftState]{}))
	left := actors.InitLeftSignal(t, b.rt)
	ctx := ftCtx(t)
	cl := b.rt.Client()
	key := []string{"org-acme", "doc.456"}
	id, err := actors.ActorID("ftres", key)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := cl.Get(ctx, "ftres", key); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("get before create: %v, want ErrNotFound", err)
	}
	if _, err := cl.GetByID(ctx, id); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("getByID before create: %v, want ErrNotFound", err)
	}
	if seq := ftLastSeq(t, b, id); seq != 0 {
		t.Fatalf("a get appended to the log (last seq %d)", seq)
	}
	ftLeft(t, b, left, id, -1) // each miss leaves memory at once
	ftLeft(t, b, left, id, 0)

	h, created, err := cl.GetOrCreate(ctx, "ftres", key, nil)
	if err != nil || !created {
		t.Fatalf("first getOrCreate: created=%v err=%v", created, err)
	}
	if h.ID != id || h.Type() != "ftres" || !slices.Equal(h.Key(), key) || h.Generation != 1 {
		t.Fatalf("handle: id %q type %q key %q gen %d", h.ID, h.Type(), h.Key(), h.Generation)
	}
	ftCall[int64](t, h, "inc", 3)

	h2, created, err := cl.GetOrCreate(ctx, "ftres", key, nil)
	if err != nil || created {
		t.Fatalf("second getOrCreate: created=%v err=%v", created, err)
	}
	if got := ftCall[int64](t, h2, "get"); got != 3 {
		t.Fatalf("second getOrCreate reached a different actor: count %d", got)
	}
	if _, err := cl.Create(ctx, "ftres", key, nil); !errors.Is(err, actors.ErrExists) {
		t.Fatalf("create existing: %v, want ErrExists", err)
	}
	for _, get := range []func() (*actors.Handle, error){
		func() (*actors.Handle, error) { return cl.Get(ctx, "ftres", key) },
		func() (*actors.Handle, error) { return cl.GetByID(ctx, id) },
	} {
		h3, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if h3.ID != id || h3.Generation != 1 || ftCall[int64](t, h3, "get") != 3 {
			t.Fatalf("get: handle %+v", h3)
		}
	}

	// Exactly one create event, at the start of the actor's history.
	evs := ftEvents(t, b, id)
	creates := 0
	for _, ev := range evs {
		if ev.Kind == eventlog.KindCreate {
			creates++
		}
	}
	if creates != 1 || evs[0].Kind != eventlog.KindCreate || evs[0].Generation != 1 {
		t.Fatalf("want one create event first, got %d creates, first %v", creates, evs[0].Kind)
	}

	// Create of a fresh key works and says so.
	h4, err := cl.Create(ctx, "ftres", []string{"other"}, nil)
	if err != nil || h4.Generation != 1 {
		t.Fatalf("create: %v %+v", err, h4)
	}
}

func TestFeatureRef(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftref", actors.Options[ftState]{}))
	ctx := ftCtx(t)
	cl := b.rt.Client()
	id, _ := actors.ActorID("ftref", []string{"a", "b"})
	h, err := cl.Ref(id)
	if err != nil || h.ID != id || h.Type() != "ftref" || !slices.Equal(h.Key(), []string{"a", "b"}) {
		t.Fatalf("Ref: %v %+v", err, h)
	}
	if _, err := h.Action(ctx, "get"); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("call through a Ref to a missing actor: %v", err)
	}
	if ftLastSeq(t, b, id) != 0 {
		t.Fatal("a Ref or a call on a missing actor appended")
	}
	ftCreate(t, b, "ftref", "a", "b")
	if got := ftCall[int64](t, h, "inc", 2); got != 2 {
		t.Fatalf("call through a Ref: %d", got)
	}
	if _, err := cl.Ref("not an id"); !errors.Is(err, actors.ErrInvalidID) {
		t.Fatalf("Ref of a bad ID: %v", err)
	}
	other, _ := actors.ActorID("ftnope", []string{"a"})
	if _, err := cl.Ref(other); !errors.Is(err, actors.ErrUnknownType) {
		t.Fatalf("Ref of an unknown type: %v", err)
	}
}

func TestFeatureActorIDRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  []string
	}{
		{"simple", []string{"a"}},
		{"compound", []string{"org-acme", "doc-456"}},
		{"dots and wildcards", []string{"a.b", "*", ">"}},
		{"spaces and unicode", []string{"hello world", "żółw 🐢"}},
		{"empty part", []string{"", "x"}},
		{"no parts", []string{}},
		{"longest", []string{strings.Repeat("k", eventlog.MaxKeyBytes-2)}},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := actors.ActorID("myType", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			typ, key, err := actors.ParseID(id)
			if err != nil {
				t.Fatalf("ParseID(%q): %v", id, err)
			}
			if typ != "myType" || !slices.Equal(key, tc.key) {
				t.Fatalf("round trip: %q %q, want myType %q", typ, key, tc.key)
			}
			if prev, dup := seen[id]; dup {
				t.Fatalf("keys %s and %s share ID %q", prev, tc.name, id)
			}
			seen[id] = tc.name
		})
	}
	// Keys that only differ in how their parts split never share an ID.
	a, _ := actors.ActorID("t", []string{"a.b"})
	c, _ := actors.ActorID("t", []string{"a", "b"})
	d, _ := actors.ActorID("t", []string{"ab"})
	if a == c || a == d || c == d {
		t.Fatalf("colliding IDs: %q %q %q", a, c, d)
	}
	// The type is part of the ID.
	x, _ := actors.ActorID("t", []string{"k"})
	y, _ := actors.ActorID("u", []string{"k"})
	if x == y {
		t.Fatalf("types share an ID: %q", x)
	}
}

func TestFeatureInvalidIDs(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftids", actors.Options[ftState]{}))
	valid, err := actors.ActorID("ftids", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	token := valid[strings.Index(valid, ".")+1:] // "k..."
	for _, id := range []string{
		"",
		"ftids",
		"ftids.",
		"ftids.x" + token[1:], // key token must start with k
		"ftids." + token + ".extra",
		"ftids.k!!!",
		"ftids.k/w",            // not base64url
		"1bad." + token,        // invalid type
		"ftids.kBQ",            // length 5, no bytes
		"ftids.kAf8",           // one-byte part 0xff: not UTF-8
		"rf.ev.ftids." + token, // a subject is not an ID
		"ftids " + token,       // no separator
		strings.ToUpper(valid), // case matters
	} {
		t.Run(id, func(t *testing.T) {
			if _, _, err := actors.ParseID(id); !errors.Is(err, actors.ErrInvalidID) {
				t.Fatalf("ParseID(%q): %v, want ErrInvalidID", id, err)
			}
			if _, err := b.rt.Client().GetByID(ftCtx(t), id); !errors.Is(err, actors.ErrInvalidID) {
				t.Fatalf("GetByID(%q): %v, want ErrInvalidID", id, err)
			}
		})
	}
}

func TestFeatureUnknownType(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftknown", actors.Options[ftState]{}))
	ctx := ftCtx(t)
	cl := b.rt.Client()
	id, err := actors.ActorID("ftunknown", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"get":         func() error { _, err := cl.Get(ctx, "ftunknown", []string{"a"}); return err },
		"getOrCreate": func() error { _, _, err := cl.GetOrCreate(ctx, "ftunknown", []string{"a"}, nil); return err },
		"create":      func() error { _, err := cl.Create(ctx, "ftunknown", []string{"a"}, nil); return err },
		"getByID":     func() error { _, err := cl.GetByID(ctx, id); return err },
		"bad name":    func() error { _, _, err := cl.GetOrCreate(ctx, "not a type", []string{"a"}, nil); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, actors.ErrUnknownType) {
			t.Errorf("%s: %v, want ErrUnknownType", name, err)
		}
	}
	if last, err := b.log.LastSeq(ctx); err != nil || last != 0 {
		t.Fatalf("unknown types appended to the log: last seq %d %v", last, err)
	}
}

func TestFeatureInvalidKeys(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftkeys", actors.Options[ftState]{}))
	cl := b.rt.Client()
	// A part of n bytes costs its uvarint length prefix (2 bytes from 128) plus n.
	atLimit := []string{strings.Repeat("x", eventlog.MaxKeyBytes-2)}
	overLimit := []string{strings.Repeat("x", eventlog.MaxKeyBytes-1)}
	twoAtLimit := []string{strings.Repeat("a", eventlog.MaxKeyBytes/2-2), strings.Repeat("b", eventlog.MaxKeyBytes/2-2)}
	twoOver := []string{strings.Repeat("a", eventlog.MaxKeyBytes/2-2), strings.Repeat("b", eventlog.MaxKeyBytes/2-1)}
	tests := []struct {
		name    string
		key     []string
		wantErr error
	}{
		{"bad utf8", []string{"ok", "\xff\xfe"}, actors.ErrInvalidKey},
		{"truncated utf8", []string{"\xe2\x82"}, actors.ErrInvalidKey},
		{"one over the limit", overLimit, actors.ErrInvalidKey},
		{"two parts over the limit", twoOver, actors.ErrInvalidKey},
		{"exactly at the limit", atLimit, nil},
		{"two parts at the limit", twoAtLimit, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ftCtx(t)
			_, idErr := actors.ActorID("ftkeys", tc.key)
			_, _, createErr := cl.GetOrCreate(ctx, "ftkeys", tc.key, nil)
			_, getErr := cl.Get(ctx, "ftkeys", tc.key)
			_, cErr := cl.Create(ctx, "ftkeys", tc.key, nil)
			if tc.wantErr == nil {
				if idErr != nil || createErr != nil || getErr != nil || !errors.Is(cErr, actors.ErrExists) {
					t.Fatalf("valid key: id %v, getOrCreate %v, get %v, create %v", idErr, createErr, getErr, cErr)
				}
				return
			}
			for what, err := range map[string]error{"ActorID": idErr, "getOrCreate": createErr, "get": getErr, "create": cErr} {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: %v, want %v", what, err, tc.wantErr)
				}
			}
		})
	}
}

func TestFeatureCreateInput(t *testing.T) {
	t.Parallel()
	type input struct {
		Start int64  `json:"start"`
		Name  string `json:"name"`
	}
	var onCreate []string
	typ := ftType("ftinput", actors.Options[ftState]{
		CreateState: func(c *actors.Context[ftState], in json.RawMessage) (ftState, error) {
			var i input
			if len(in) > 0 {
				if err := json.Unmarshal(in, &i); err != nil {
					return ftState{}, actors.NewUserError("bad_input", err.Error(), nil)
				}
			}
			if i.Start < 0 {
				return ftState{}, actors.NewUserError("negative_start", "start must be >= 0", nil)
			}
			return ftState{Count: i.Start, Text: i.Name}, nil
		},
		OnCreate: func(c *actors.Context[ftState], in json.RawMessage) error {
			onCreate = append(onCreate, string(in)) // runs in the mailbox: one at a time
			c.State.Log = append(c.State.Log, "created:"+string(in))
			return nil
		},
	})
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	cl := b.rt.Client()

	h, created, err := cl.GetOrCreate(ctx, "ftinput", []string{"a"}, input{Start: 5, Name: "five"})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	want := ftState{Count: 5, Text: "five", Log: []string{`created:{"start":5,"name":"five"}`}}
	if got := ftCall[ftState](t, h, "state"); ftJSON(t, got) != ftJSON(t, want) {
		t.Fatalf("state after create: %+v, want %+v", got, want)
	}
	evs := ftEvents(t, b, h.ID)
	if evs[0].Kind != eventlog.KindCreate || string(evs[0].Args) != `{"start":5,"name":"five"}` || !evs[0].HasState {
		t.Fatalf("create event: kind %v args %s hasState %v", evs[0].Kind, evs[0].Args, evs[0].HasState)
	}
	if string(evs[0].State) != ftJSON(t, want) {
		t.Fatalf("create event state %s, want %s (OnCreate changes belong to the create event)", evs[0].State, ftJSON(t, want))
	}

	// A second getOrCreate ignores its input.
	if _, created, err := cl.GetOrCreate(ctx, "ftinput", []string{"a"}, input{Start: 99}); err != nil || created {
		t.Fatalf("second getOrCreate: %v %v", created, err)
	}
	if got := ftCall[int64](t, h, "get"); got != 5 {
		t.Fatalf("count %d after a second getOrCreate, want 5", got)
	}
	if len(onCreate) != 1 {
		t.Fatalf("OnCreate ran %d times, want 1", len(onCreate))
	}

	// Raw JSON input is passed through; invalid JSON is refused before the actor.
	h2, err := cl.Create(ctx, "ftinput", []string{"raw"}, json.RawMessage(`{"start":7}`))
	if err != nil || ftCall[int64](t, h2, "get") != 7 {
		t.Fatalf("raw input: %v", err)
	}
	if _, err := cl.Create(ctx, "ftinput", []string{"bad"}, json.RawMessage(`{"start":`)); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("invalid raw input: %v, want ErrInvalidArgs", err)
	}
	if _, err := cl.Create(ctx, "ftinput", []string{"bad"}, make(chan int)); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("unencodable input: %v, want ErrInvalidArgs", err)
	}

	// A failing CreateState creates nothing: no event, still not found, and a
	// later create with good input is generation 1.
	_, err = cl.Create(ctx, "ftinput", []string{"neg"}, input{Start: -1})
	var ue *actors.UserError
	if !errors.As(err, &ue) || ue.Code != "negative_start" {
		t.Fatalf("failing CreateState: %v, want UserError negative_start", err)
	}
	negID, _ := actors.ActorID("ftinput", []string{"neg"})
	if seq := ftLastSeq(t, b, negID); seq != 0 {
		t.Fatalf("a failed create appended (seq %d)", seq)
	}
	if _, err := cl.Get(ctx, "ftinput", []string{"neg"}); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("get after failed create: %v", err)
	}
	h3, err := cl.Create(ctx, "ftinput", []string{"neg"}, input{Start: 1})
	if err != nil || h3.Generation != 1 || ftCall[int64](t, h3, "get") != 1 {
		t.Fatalf("create after a failed create: %v %+v", err, h3)
	}
}

func TestFeatureRegistry(t *testing.T) {
	t.Parallel()
	noop := actors.Act0(func(c *actors.Context[ftState]) (int, error) { return 0, nil })
	tests := []struct {
		name string
		defs []actors.Definition
		ok   bool
	}{
		{"valid", []actors.Definition{ftType("a1", actors.Options[ftState]{}), ftType("b-2_c", actors.Options[ftState]{})}, true},
		{"duplicate type", []actors.Definition{ftType("dup", actors.Options[ftState]{}), ftType("dup", actors.Options[ftState]{})}, false},
		{"type starting with a digit", []actors.Definition{ftType("1abc", actors.Options[ftState]{})}, false},
		{"type with a dot", []actors.Definition{ftType("a.b", actors.Options[ftState]{})}, false},
		{"type too long", []actors.Definition{ftType(strings.Repeat("a", eventlog.MaxTypeLen+1), actors.Options[ftState]{})}, false},
		{"empty action name", []actors.Definition{actors.NewType("e", actors.Options[ftState]{}).Action("", noop)}, false},
		{"nil action", []actors.Definition{actors.NewType("n", actors.Options[ftState]{}).Action("x", nil)}, false},
		{"unencodable initial state", []actors.Definition{actors.NewType("u", actors.Options[chan int]{State: make(chan int)})}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := actors.NewRegistry(tc.defs...)
			if (err == nil) != tc.ok {
				t.Fatalf("NewRegistry: %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if got := reg.Types(); !slices.Equal(got, []string{"a1", "b-2_c"}) {
				t.Fatalf("types %v", got)
			}
			acts, ok := reg.Actions("a1")
			if !ok || !slices.Equal(acts, []string{"fail", "get", "inc", "setText", "state"}) {
				t.Fatalf("actions %v %v", acts, ok)
			}
			if _, ok := reg.Actions("nope"); ok {
				t.Fatal("actions of an unknown type")
			}
		})
	}
}
