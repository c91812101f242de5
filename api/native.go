package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
	"github.com/rivet-flow/rivet-flow/projections"
)

// Actor describes one actor.
type Actor struct {
	ID         string   `json:"id" doc:"Stable actor ID" example:"counter.kCm15LWNvdW50ZXI"`
	Type       string   `json:"type" doc:"Actor type" example:"counter"`
	Key        []string `json:"key" doc:"Actor key" example:"[\"my-counter\"]"`
	Generation uint64   `json:"generation" doc:"1 for the first create, +1 after each destroy and create" example:"1"`
	// The fields below come from the actor directory: listings carry them.
	Status      string    `json:"status,omitempty" enum:"active,destroyed" doc:"Listings only: active, or destroyed (its last event is a tombstone)" example:"active"`
	CreatedAt   time.Time `json:"createdAt,omitzero" doc:"Listings only: when the current generation was created" example:"2026-12-03T11:14:56.989502928Z"`
	DestroyedAt time.Time `json:"destroyedAt,omitzero" doc:"Listings only: when it was destroyed" example:"2026-12-03T12:40:11.204518077Z"`
	LastEventAt time.Time `json:"lastEventAt,omitzero" doc:"Listings only: the time of its last event" example:"2026-12-03T11:14:57.012518099Z"`
	Events      uint64    `json:"events,omitempty" doc:"Listings only: its events in the log, every generation" example:"2"`
	// Awake is set by GET /v1/actors (listings and lookups), absent elsewhere.
	Awake *bool `json:"awake,omitempty" doc:"GET /v1/actors only: whether the actor is in memory (awake) on the node that answered, as of the answer" example:"true"`
}

func actorOf(h *actors.Handle) Actor {
	key := h.Key()
	if key == nil {
		key = []string{} // the empty key is [], never null
	}
	return Actor{ID: h.ID, Type: h.Type(), Key: key, Generation: h.Generation}
}

// ActorRequest names an actor to get or create.
type ActorRequest struct {
	Type  string          `json:"type" minLength:"1" maxLength:"64" doc:"Actor type" example:"counter"`
	Key   keyParts        `json:"key" nullable:"false" doc:"Actor key: an array of strings ([] for the empty key; null is refused), UTF-8 text" example:"[\"my-counter\"]"`
	Input json.RawMessage `json:"input,omitempty" doc:"Create input, passed to createState/onCreate"`
}

type actorBody struct {
	Body ActorRequest
}

// ActorResult is an actor and whether this request created it.
type ActorResult struct {
	Body struct {
		Actor   Actor `json:"actor"`
		Created bool  `json:"created" doc:"true if this request created the actor" example:"true"`
	}
}

type idParam struct {
	ID string `path:"id" doc:"Actor ID" example:"counter.kCm15LWNvdW50ZXI"`
}

// ActionRequest is an action call.
type ActionRequest struct {
	Args []json.RawMessage `json:"args" doc:"The action's arguments" example:"[5]"`
}

type actionInput struct {
	ID     string `path:"id" doc:"Actor ID" example:"counter.kCm15LWNvdW50ZXI"`
	Action string `path:"action" doc:"Action name" example:"increment"`
	// IdempotencyKey makes a retry safe: documented on the route.
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"256" doc:"Makes retries safe: the actor remembers the first successful call with this key (24 h by default, its last 1,000 keys); a repeat gets that call's output and appends nothing; the same key with another action or other arguments is 422 idempotency_key_reused. Failed calls are not remembered."`
	ConnParams     string `header:"x-rivet-conn-params" doc:"Connection parameters (JSON) for this call: it runs through a connection of its own, so the actor's onBeforeConnect and createConnState see them (and may refuse the call) before the action runs; the params query parameter does the same"`
	Body           ActionRequest
}

type actionOutput struct {
	Body struct {
		Output json.RawMessage `json:"output" doc:"The action's result" example:"5"`
	}
}

// Event is one event of an actor's history.
// Event is one event of an actor's history (history.Event).
type Event = history.Event

// BroadcastJSON is a realtime event.
type BroadcastJSON = history.BroadcastJSON

func eventOf(ev *eventlog.Event) Event { return history.EventOf(ev) }

func (s *Server) registerActors() {
	tags := []string{"actors"}
	huma.Register(s.api, huma.Operation{
		OperationID: "getOrCreateActor", Method: http.MethodPut, Path: "/v1/actors", Tags: tags,
		Summary: "Get or create an actor", Description: "Returns the actor with this type and key, creating it with `input` if it does not exist. Creation is atomic in the log.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, func(ctx context.Context, in *actorBody) (*ActorResult, error) {
		if err := in.Body.Key.check(); err != nil {
			return nil, fromActors(err)
		}
		h, created, err := s.client(ctx).GetOrCreate(ctx, in.Body.Type, in.Body.Key, in.Body.Input)
		if err != nil {
			return nil, fromActors(err)
		}
		noteActor(ctx, h.ID)
		out := &ActorResult{}
		out.Body.Actor, out.Body.Created = actorOf(h), created
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "createActor", Method: http.MethodPost, Path: "/v1/actors", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Create an actor", Description: "Fails with 409 `actor_exists` if it exists.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, func(ctx context.Context, in *actorBody) (*ActorResult, error) {
		if err := in.Body.Key.check(); err != nil {
			return nil, fromActors(err)
		}
		h, err := s.client(ctx).Create(ctx, in.Body.Type, in.Body.Key, in.Body.Input)
		if err != nil {
			return nil, fromActors(err)
		}
		noteActor(ctx, h.ID)
		out := &ActorResult{}
		out.Body.Actor, out.Body.Created = actorOf(h), true
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "listActors", Method: http.MethodGet, Path: "/v1/actors", Tags: tags,
		Summary: "Look up or list actors", Description: "With `type` and `key`, looks up the one actor of that type and key (an empty list if it does not exist). " +
			"Without `key`, lists actors from the actor directory (a read model of the log), in type then key order, `limit` at a time: every type, or one with `type`; " +
			"those whose key starts with the parts of `prefix`; `status` active (the default), destroyed or all. Pass `cursor` from the previous page. " +
			"Each actor says whether it is `awake` (in memory on the node that answered); `awake=true` or `false` keeps only those, looking at no more than 4 x `limit` actors per page. " +
			"A page costs the same whatever the number of actors. The listing first waits (briefly) for the directory to reach the log's head, so it shows the caller's own creates and destroys.",
	}, s.listActors)
	huma.Register(s.api, huma.Operation{
		OperationID: "getActor", Method: http.MethodGet, Path: "/v1/actors/{id}", Tags: tags,
		Summary: "Get an actor by ID",
	}, func(ctx context.Context, in *idParam) (*actorOutput, error) {
		h, err := s.client(ctx).GetByID(ctx, in.ID)
		if err != nil {
			return nil, fromActors(err)
		}
		return &actorOutput{Body: actorOf(h)}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "destroyActor", Method: http.MethodDelete, Path: "/v1/actors/{id}", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Destroy an actor", Description: "Runs onDestroy, appends a tombstone and closes its connections. A later create with the same key starts a new generation.",
	}, func(ctx context.Context, in *idParam) (*struct{}, error) {
		h, err := s.client(ctx).GetByID(ctx, in.ID)
		if err == nil {
			err = h.Destroy(ctx)
		}
		if err != nil {
			return nil, fromActors(err)
		}
		return nil, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "callAction", Method: http.MethodPost, Path: "/v1/actors/{id}/actions/{action}", Tags: tags,
		Summary: "Call an action", Description: "Runs the action in the actor's mailbox and answers once its event is appended to the log. The call runs through a connection of its own: the actor's connection hooks (onBeforeConnect, createConnState, onConnect) run first with the `x-rivet-conn-params` header as parameters and may refuse it; onDisconnect runs after. A full mailbox answers 429 with Retry-After.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, func(ctx context.Context, in *actionInput) (*actionOutput, error) {
		h, err := s.client(ctx).Ref(in.ID) // the action itself answers actor_not_found
		if err != nil {
			return nil, fromActors(err)
		}
		args, err := json.Marshal(in.Body.Args)
		if err != nil || in.Body.Args == nil {
			args = []byte("[]")
		}
		if in.IdempotencyKey != "" {
			ctx = actors.WithIdempotencyKey(ctx, in.IdempotencyKey)
		}
		var params json.RawMessage
		if in.ConnParams != "" {
			if !json.Valid([]byte(in.ConnParams)) {
				return nil, errorOf(errcode.MalformedJSON, "the connection parameters ("+ConnParamsHeader+") are not valid JSON", nil)
			}
			params = json.RawMessage(in.ConnParams)
		}
		raw, err := h.StatelessAction(ctx, params, in.Action, args)
		if err != nil {
			return nil, fromActors(err)
		}
		out := &actionOutput{}
		out.Body.Output = raw
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "actorEvents", Method: http.MethodGet, Path: "/v1/actors/{id}/events", Tags: tags,
		Summary: "Read an actor's event history", Description: "Events after sequence `after`, oldest first, straight from the log. Page with `nextAfter`.",
	}, s.history)
}

type actorOutput struct {
	Body Actor
}

type listInput struct {
	Type   string   `query:"type" doc:"Actor type; required with key. Omit to list every type" example:"counter"`
	Key    []string `query:"key,explode" doc:"Look up the actor with this key: its parts, in order; repeat the parameter for each part"`
	Prefix []string `query:"prefix,explode" doc:"List the actors whose key starts with these whole parts, in order; repeat the parameter for each part"`
	Status string   `query:"status" enum:"active,destroyed,all" default:"active" doc:"List active actors, destroyed ones, or all"`
	Cursor string   `query:"cursor" doc:"Continue from the previous page: pass its nextCursor (opaque)"`
	Limit  int      `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size (at most the server's limit)"`
	Awake  string   `query:"awake" enum:"true,false" doc:"List only the actors in memory on this node (true) or only those asleep (false). A page then looks at most 4 x limit actors, so it can hold fewer than limit while more follow: continue with nextCursor"`
}

// awakeFilterPages bounds the directory pages one listing filtered by awake
// reads: a page of the answer costs at most this many pages of the
// directory, whatever the number of actors and however few are awake.
const awakeFilterPages = 4

// awake reports whether the actor is in memory on this node, as the
// listings show it.
func (s *Server) awake(id string) *bool {
	v := s.rt.IsAwake(id)
	return &v
}

type listOutput struct {
	Body struct {
		Actors     []Actor `json:"actors"`
		NextCursor string  `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last" example:"Y291bnRlcgBteS1jb3VudGVyAAE"`
	}
}

func (s *Server) listActors(ctx context.Context, in *listInput) (*listOutput, error) {
	out := &listOutput{}
	out.Body.Actors = []Actor{}
	var wantAwake *bool
	switch in.Awake {
	case "":
	case "true", "false":
		v := in.Awake == "true"
		wantAwake = &v
	default:
		return nil, errorOf(errcode.InvalidRequest, "awake "+in.Awake+": want true or false", nil)
	}
	for _, parts := range [][]string{in.Key, in.Prefix} {
		for _, p := range parts {
			if !utf8.ValidString(p) {
				return nil, fromActors(errorfKey(keyTextPrefix + "not valid UTF-8; send keys as UTF-8 text (percent-encoded in a query)"))
			}
		}
	}
	if s.projs != nil && in.Cursor != "" && in.Type != "" {
		// A directory cursor is <type> 0x00 <key>: one from another type's
		// listing would quietly list from the wrong place.
		if raw, err := base64.RawURLEncoding.DecodeString(in.Cursor); err == nil && !bytes.HasPrefix(raw, append([]byte(in.Type), 0)) {
			return nil, invalidCursor("cursor", "cursor "+strconv.Quote(in.Cursor)+" comes from another listing (not of type "+in.Type+")")
		}
	}
	if in.Key != nil {
		if in.Type == "" {
			return nil, errorOf(errcode.InvalidRequest, "a lookup by key needs type", nil)
		}
		h, err := s.client(ctx).Get(ctx, in.Type, in.Key)
		if err != nil && !isNotFound(err) {
			return nil, fromActors(err)
		}
		if err == nil {
			a := actorOf(h)
			if a.Awake = s.awake(a.ID); wantAwake == nil || *a.Awake == *wantAwake {
				out.Body.Actors = append(out.Body.Actors, a)
			}
		}
		return out, nil
	}
	if in.Type != "" {
		if _, ok := s.rt.Registry().Actions(in.Type); !ok {
			return nil, fromActors(actors.ErrUnknownType)
		}
	}
	limit := min(max(in.Limit, 1), s.opts.MaxListActors)
	if s.projs == nil {
		return s.listFromLog(ctx, in, limit, wantAwake)
	}
	q := projections.ActorQuery{Type: in.Type, Prefix: in.Prefix, Limit: limit, Cursor: in.Cursor}
	switch in.Status {
	case "", "active":
		q.Status = projections.ActorActive
	case "destroyed":
		q.Status = projections.ActorDestroyed
	case "all":
	default:
		return nil, errorOf(errcode.InvalidRequest, "status "+in.Status+": want active, destroyed or all", nil)
	}
	s.awaitDirectory(ctx)
	// Without a filter, one directory page; with one, up to
	// awakeFilterPages of them until the page is full.
	pages := 1
	if wantAwake != nil {
		pages = awakeFilterPages
	}
	for range pages {
		page, err := s.projs.Directory().List(q)
		if err != nil {
			return nil, s.fromProjections(err)
		}
		for i, a := range page.Actors {
			listed := listedActor(a, s.awake(a.ID))
			if wantAwake != nil && *listed.Awake != *wantAwake {
				continue
			}
			out.Body.Actors = append(out.Body.Actors, listed)
			if len(out.Body.Actors) == limit && i < len(page.Actors)-1 {
				// Full in the middle of a directory page: continue after it.
				out.Body.NextCursor = projections.ActorCursor(a.Type, a.Key)
				return out, nil
			}
		}
		out.Body.NextCursor = page.NextCursor
		if page.NextCursor == "" || len(out.Body.Actors) == limit {
			break
		}
		q.Cursor = page.NextCursor
	}
	return out, nil
}

// listedActor is a directory entry as GET /v1/actors lists it.
func listedActor(a projections.Actor, awake *bool) Actor {
	key := a.Key
	if key == nil {
		key = []string{}
	}
	return Actor{ID: a.ID, Type: a.Type, Key: key, Generation: a.Generation, Status: string(a.Status),
		CreatedAt: a.CreatedAt, DestroyedAt: a.DestroyedAt, LastEventAt: a.LastEventAt, Events: a.Events, Awake: awake}
}

// listFromLog lists a type's live actors from the log, for a server without
// projections: a page reads the type's subjects and one event per actor it
// looks at.
func (s *Server) listFromLog(ctx context.Context, in *listInput, limit int, wantAwake *bool) (*listOutput, error) {
	out := &listOutput{}
	out.Body.Actors = []Actor{}
	if in.Type == "" {
		return nil, errorOf(errcode.InvalidRequest, "type is required: this server lists one type at a time", nil)
	}
	filter, err := eventlog.TypeFilter(in.Type)
	if err != nil {
		return nil, fromActors(actors.ErrUnknownType)
	}
	subjects, err := s.log.Subjects(ctx, filter)
	if err != nil {
		s.lg.Error("list actors", "err", err)
		return nil, fromActors(err)
	}
	ids := make([]string, 0, len(subjects))
	for subj := range subjects {
		ids = append(ids, subj[len(eventlog.SubjectPrefix)+1:])
	}
	slices.Sort(ids)
	start, _ := slices.BinarySearch(ids, in.Cursor)
	if start < len(ids) && ids[start] == in.Cursor {
		start++
	}
	// One log read per actor looked at, live or destroyed: a page looks at
	// most 4 x limit, so a type with many destroyed actors can return a
	// short page (with a cursor) but never an unbounded amount of work.
	maxReads := 4 * limit
	for i, id := range ids[start:] {
		if len(out.Body.Actors) == limit {
			out.Body.NextCursor = out.Body.Actors[limit-1].ID
			break
		}
		if i == maxReads {
			out.Body.NextCursor = ids[start+i-1]
			break
		}
		ev, err := s.log.LastEvent(ctx, eventlog.SubjectPrefix+"."+id)
		if err != nil {
			return nil, fromActors(err)
		}
		if ev == nil || ev.Kind == eventlog.KindDestroy {
			continue // destroyed: not a live actor
		}
		typ, key, err := actors.ParseID(id)
		if err != nil {
			continue
		}
		awake := s.awake(id)
		if wantAwake != nil && *awake != *wantAwake {
			continue
		}
		out.Body.Actors = append(out.Body.Actors, Actor{ID: id, Type: typ, Key: key, Generation: ev.Generation, Awake: awake})
	}
	return out, nil
}

type historyInput struct {
	ID    string `path:"id" doc:"Actor ID" example:"counter.kCm15LWNvdW50ZXI"`
	After uint64 `query:"after" doc:"Return events after this log sequence (0 = from the start)"`
	Limit int    `query:"limit" minimum:"1" maximum:"10000" default:"100" doc:"Page size (at most the server's limit)"`
	State bool   `query:"state" doc:"Add the whole state after each event, folded from the log (events store patches)"`
}

type historyOutput struct {
	Body struct {
		Events    []Event `json:"events"`
		NextAfter uint64  `json:"nextAfter,omitempty" doc:"Pass as after for the next page; absent on the last" example:"2"`
	}
}

func (s *Server) history(ctx context.Context, in *historyInput) (*historyOutput, error) {
	typ, key, err := actors.ParseID(in.ID)
	if err != nil {
		return nil, fromActors(err)
	}
	subject, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		return nil, fromActors(actors.ErrInvalidID)
	}
	limit := min(max(in.Limit, 1), s.opts.MaxHistory)
	evs, more, err := s.log.ReadActorPage(ctx, subject, in.After, limit)
	if err != nil {
		s.lg.Error("read history", "actor", in.ID, "err", err)
		return nil, fromActors(err)
	}
	if len(evs) == 0 && in.After == 0 {
		return nil, fromActors(actors.ErrNotFound)
	}
	out := &historyOutput{}
	out.Body.Events = make([]Event, 0, len(evs))
	for _, ev := range evs {
		out.Body.Events = append(out.Body.Events, eventOf(ev))
	}
	if in.State && len(evs) > 0 {
		if err := s.foldStates(ctx, in.ID, in.After, evs, out.Body.Events); err != nil {
			s.lg.Error("fold history", "actor", in.ID, "err", err)
			return nil, fromActors(err)
		}
	}
	if more && len(evs) > 0 {
		out.Body.NextAfter = evs[len(evs)-1].Seq
	}
	return out, nil
}

// foldStates sets the state after each event of a page, folding from the
// actor as of after (its snapshot or the log) through the page.
func (s *Server) foldStates(ctx context.Context, id string, after uint64, evs []*eventlog.Event, out []Event) error {
	im, err := s.rt.ImageAt(ctx, id, after)
	if err != nil {
		return err
	}
	for i, ev := range evs {
		if err := im.Apply(ev); err != nil {
			return err
		}
		if im.Exists {
			out[i].State = json.RawMessage(im.CurrentState())
		}
	}
	return nil
}

// client is the runtime's client tagged with the caller's address.
func (s *Server) client(ctx context.Context) *actors.Client {
	c := s.rt.Client()
	if r, ok := ctx.Value(remoteKey{}).(string); ok {
		return c.WithCaller("http:" + r)
	}
	return c.WithCaller("http")
}

type remoteKey struct{}

func isNotFound(err error) bool { return errorsIs(err, actors.ErrNotFound) }

// errorfKey is an invalid_key error with a message of the API's own.
func errorfKey(msg string) error {
	return &actors.Error{Code: actors.ErrInvalidKey.Code, Message: msg}
}
