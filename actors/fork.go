package actors

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Fork: a new actor of the same type whose first event carries what another
// actor was as of one of its events, folded from the log (no action code
// runs): its state, its KV, and its pending alarms and crons, re-armed. It
// reproduces a bug on a copy, or branches a workflow run at a step with the
// completed steps reused. The source is only read.

// ForkAction is the action of a fork's create event; its args (ForkArgs)
// record the source. A replay folds it as recorded.
const ForkAction = "$fork"

// ForkArgs are the recorded args of a fork's create event.
type ForkArgs struct {
	From  string `json:"from"`
	AtSeq uint64 `json:"atSeq"`
}

// forkPlan is what a fork's create event copies: the source's image as of
// atSeq and the code version that wrote it.
type forkPlan struct {
	target      string // the fork's subject: a create of any other actor in the same call is no fork
	from        string
	atSeq       uint64
	codeVersion string
	image       actorstate.Image
}

// forkKey carries a forkPlan in the context of the create op, from Fork to
// the holder's create in the target's mailbox.
type forkKey struct{}

// forkOf returns the fork plan of r's call, if it is a fork's create.
func forkOf(r *run) *forkPlan {
	if r.kind != eventlog.KindCreate || r.parent == nil {
		return nil
	}
	p, _ := r.parent.Value(forkKey{}).(*forkPlan)
	if p == nil || p.target != r.inst.subject {
		return nil
	}
	return p
}

// Fork creates the actor of srcID's type with key key whose state is
// srcID's as of the log sequence atSeq (an event of srcID). Its create event
// carries that state, the KV, and the pending alarms and crons (re-armed:
// the scheduler fires them for the fork; one already due fires at once),
// with args ForkArgs; the type's OnFork hook runs in it. The fork then wakes
// as after a create. The source is untouched.
//
// An invalid ID or key is ErrInvalidID or ErrInvalidKey; a source with no
// events ErrNotFound; an atSeq that is not one of its events, or at which
// it did not exist (destroyed), ErrInvalidArgs saying which sequences are
// valid; an existing target ErrExists. Nothing is appended on any error.
// Fork is not for code inside an action.
func (c *Client) Fork(ctx context.Context, srcID string, atSeq uint64, key []string) (*Handle, error) {
	if c.rec != nil {
		return nil, errorf(ErrInvalidArgs, "fork %s: not from inside an action (use a Runtime's Client)", srcID)
	}
	typ, srcKey, err := ParseID(srcID)
	if err != nil {
		return nil, err
	}
	_, _, srcSubj, err := c.rt.resolve(typ, srcKey)
	if err != nil {
		return nil, err
	}
	if key == nil {
		key = []string{}
	}
	def, ref, subj, err := c.rt.resolve(typ, key)
	if err != nil {
		return nil, err
	}
	if subj == srcSubj {
		return nil, errorf(ErrInvalidArgs, "fork %s: the fork's key must differ from the source's", srcID)
	}
	plan, err := c.rt.planFork(ctx, srcID, srcSubj, atSeq)
	if err != nil {
		return nil, err
	}
	args, err := json.Marshal(ForkArgs{From: srcID, AtSeq: atSeq})
	if err != nil {
		return nil, withCause(ErrInternal, err)
	}
	plan.target = subj
	res, err := c.rt.submit(context.WithValue(ctx, forkKey{}, plan), def, ref, subj,
		&op{kind: opResolve, mode: resolveCreate, action: ForkAction, args: args, caller: c.caller})
	if err != nil {
		return nil, err
	}
	return &Handle{client: c, def: def, ref: ref, subj: subj, ID: idOf(subj), Generation: res.generation}, nil
}

// Fork is Client().Fork.
func (rt *Runtime) Fork(ctx context.Context, srcID string, atSeq uint64, key []string) (*Handle, error) {
	return rt.Client().Fork(ctx, srcID, atSeq, key)
}

// planFork checks that atSeq is an event of the actor srcID (subject subj)
// at which it existed, and folds its image there.
func (rt *Runtime) planFork(ctx context.Context, srcID, subj string, atSeq uint64) (*forkPlan, error) {
	last, err := rt.log.LastSubjectSeq(ctx, subj)
	if err != nil {
		return nil, withCause(ErrInternal, err)
	}
	if last == 0 {
		return nil, errorf(ErrNotFound, "actor %s has no events: nothing to fork", srcID)
	}
	firstEv, err := rt.log.ReadActor(ctx, subj, 0, 1)
	if err != nil {
		return nil, withCause(ErrInternal, err)
	}
	if len(firstEv) == 0 {
		return nil, errorf(ErrNotFound, "actor %s has no events: nothing to fork", srcID)
	}
	first := firstEv[0].Seq
	notEvent := func() error {
		return errorf(ErrInvalidArgs, "atSeq %d is not an event of %s: pick the seq of one of its events, %d to %d (GET /v1/actors/%s/events)",
			atSeq, srcID, first, last, srcID)
	}
	if atSeq < first || atSeq > last {
		return nil, notEvent()
	}
	at, err := rt.log.ReadActor(ctx, subj, atSeq-1, 1)
	if err != nil {
		return nil, withCause(ErrInternal, err)
	}
	if len(at) == 0 || at[0].Seq != atSeq {
		return nil, notEvent()
	}
	im, err := rt.ImageAt(ctx, srcID, atSeq)
	if err != nil {
		return nil, withCause(ErrInternal, err)
	}
	if !im.Exists {
		return nil, errorf(ErrInvalidArgs, "%s did not exist at seq %d (that event destroyed it): fork at an event of a live generation, between its create and its destroy",
			srcID, atSeq)
	}
	im.Settle()
	return &forkPlan{from: srcID, atSeq: atSeq, codeVersion: at[0].CodeVersion, image: im}, nil
}

// restoreFork records, in the fork's create event, the source's KV as KV
// writes and its crons and pending alarms as the effects that set them (crons
// first: an alarm of a cron moves the cron's next fire), in a deterministic
// order, with the IDs they had, so whatever refers to an alarm by ID (a
// workflow's timer) still finds it.
func (r *run) restoreFork(im *actorstate.Image) {
	keys := make([]string, 0, len(im.KV))
	for k := range im.KV {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.kv.set(k, eventlog.KVWrite{Key: []byte(k), Value: slices.Clone(im.KV[k])})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.overlay()
	o.next = max(o.next, im.NextAlarmID)
	names := make([]string, 0, len(im.Crons))
	for n := range im.Crons {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c := im.Crons[n]
		c.History = nil // a cron.set carries none: the fork's history starts empty
		if o.crons == nil {
			o.crons = map[string]*actorstate.Cron{}
		}
		o.crons[n] = &c
		o.delta += len(c.Args)
		r.effect(actorstate.EffectCronSet, c)
	}
	alarms := make([]actorstate.Alarm, 0, len(im.Alarms))
	for _, a := range im.Alarms {
		alarms = append(alarms, a)
	}
	actorstate.SortAlarms(alarms)
	for _, a := range alarms {
		if o.set == nil {
			o.set = map[string]actorstate.Alarm{}
		}
		o.set[a.ID] = a
		o.delta += len(a.Args)
		if n, ok := actorstate.AlarmNumber(a.ID); ok && n >= o.next {
			o.next = n + 1
		}
		r.effect(actorstate.EffectAlarmSet, a)
	}
}

// forkState is the fork's state from the source's bytes, through the type's
// Migrate when another code version wrote them (as a wake does).
func (h *typed[S]) forkState(p *forkPlan) error {
	if p.codeVersion != "" && p.codeVersion != h.t.opts.CodeVersion {
		migrated, err := h.migrate(p.codeVersion, p.image.State)
		if err != nil {
			return withCause(errorf(ErrStateDecodeFailed, "fork of %s at seq %d: %v", p.from, p.atSeq, err), err)
		}
		if migrated {
			return nil
		}
	}
	if err := h.load(p.image.State); err != nil {
		return withCause(errorf(ErrStateDecodeFailed, "fork of %s at seq %d: its state does not decode: %v", p.from, p.atSeq, err), err)
	}
	return nil
}

// fork builds the fork's create: state, KV, alarms and crons from the plan,
// then the type's OnFork hook.
func (h *typed[S]) fork(r *run, p *forkPlan) error {
	if err := h.forkState(p); err != nil {
		return err
	}
	r.restoreFork(&p.image)
	if f := h.t.opts.OnFork; f != nil {
		return f(h.ctx(r), p.from)
	}
	return nil
}
