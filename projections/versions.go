package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// VersionsName is the name of the built-in code versions projection.
const VersionsName = "versions"

// VersionKind says whether a type's instances are plain actors or workflow runs.
type VersionKind string

// Version kinds.
const (
	// KindActor: an actor type; an actor is open from its create to its destroy.
	KindActor VersionKind = "actor"
	// KindWorkflow: a workflow's run actors (a type that recorded a "$wf"
	// event); a run is open until it completes, fails or is cancelled.
	KindWorkflow VersionKind = "workflow"
)

// CodeVersion is one code version of one actor type or workflow, and how many
// of its actors or runs are open with it: those whose last event recorded it.
type CodeVersion struct {
	Type        string      `json:"type"`
	CodeVersion string      `json:"codeVersion"`
	Kind        VersionKind `json:"kind"`
	Open        uint64      `json:"open"`
}

// VersionsQuery selects what Versions.List returns. The zero value lists
// every type's versions that have open actors or runs.
type VersionsQuery struct {
	// Type restricts the listing to one actor type or workflow. Empty: every type.
	Type string
	// All includes the versions no open actor or run has any more (Open 0),
	// the ones that can be retired.
	All bool
}

// MaxCodeVersionLen bounds the code versions the projection tells apart:
// longer ones are cut to this many bytes.
const MaxCodeVersionLen = 256

// Versions is the built-in projection of the code versions in use: per actor
// type (or workflow) and code version, how many actors (or runs) are open
// with it, so that people know when an old version can be retired. It
// belongs to a Runner (Runner.Versions).
//
// Its rows are one per actor, keyed by actor ID (its version and whether it
// is open), and the counters, kept as the fold goes, so that an event costs
// a read of its actor's row and, only when the actor opens, closes or moves
// to another version, two counter updates:
//
//	<actor ID>             the actor: its last event's code version, open or not
//	v/<type>/<version>     the open actors of the type with that version
//	w/<type>               the type is a workflow (it recorded a "$wf" event)
//
// Actor IDs start with a type name, which has no "/": the keyspaces do not meet.
type Versions struct {
	r *Runner
}

var _ Projection = (*Versions)(nil)

// Versions returns the built-in code versions projection.
func (r *Runner) Versions() *Versions { return &Versions{r: r} }

// Name implements Projection.
func (v *Versions) Name() string { return VersionsName }

// Filter implements Projection: every event.
func (v *Versions) Filter() Filter { return Filter{} }

const (
	versionCounterPfx = "v/"
	workflowMarkPfx   = "w/"
	// wfEvent is the system event a workflow runner records (workflows.wfEvent).
	wfEvent = "$wf"
	// forkEvent names a fork's create (actors.ForkAction).
	forkEvent = "$fork"
)

// verActor is an actor's row as the fold keeps it.
type verActor struct {
	version string
	flags   uint8
}

const (
	verAlive    = 1 << iota // created and not destroyed since
	verFinished             // a workflow run that completed, failed or was cancelled
	verWorkflow             // a workflow run (it recorded a "$wf" event)
)

func (a verActor) open() bool { return a.flags&(verAlive|verFinished) == verAlive }

// verCount is a counter row: the open actors of one type and version.
type verCount struct{ open uint64 }

// Apply implements Projection.
func (v *Versions) Apply(tx *RawTx, ev *eventlog.Event) error {
	id, ok := strings.CutPrefix(ev.Subject, eventlog.SubjectPrefix+".")
	if !ok {
		return fmt.Errorf("%q is not an actor subject", ev.Subject)
	}
	typ, _, _ := strings.Cut(id, ".")
	cur, found, err := tx.getObj(id, &verActorCodec)
	if err != nil {
		return err
	}
	var was verActor
	if found {
		was = *cur.(*verActor)
	}
	now := was
	if !found {
		now.flags = verAlive // as the directory: an actor is alive from its first event
	}
	switch ev.Kind {
	case eventlog.KindCreate:
		now.flags = now.flags&^verFinished | verAlive
		if ev.Action == forkEvent && ev.HasState {
			// A fork of a workflow run copies its state: a finished run's
			// copy is finished too (no $wf finish will ever follow).
			if st, isRun := forkedRunStatus(ev.State); isRun {
				now.flags |= verWorkflow
				if st == "completed" || st == "failed" || st == "cancelled" {
					now.flags |= verFinished
				}
			}
		}
	case eventlog.KindDestroy:
		now.flags &^= verAlive
	case eventlog.KindSystem:
		if ev.Action == wfEvent {
			now.flags |= verWorkflow
			if st := wfStatus(ev.Args); st != "" {
				now.flags &^= verFinished
				if st == "completed" || st == "failed" || st == "cancelled" {
					now.flags |= verFinished
				}
			}
		}
	}
	if now.version = ev.CodeVersion; len(now.version) > MaxCodeVersionLen {
		now.version = now.version[:MaxCodeVersionLen]
	}
	if found && now == was {
		return nil // the common case: an event that changes nothing here
	}
	moved := !found || now.version != was.version
	wasOpen, nowOpen := found && was.open(), now.open()
	if wasOpen && (!nowOpen || moved) {
		if err := addOpen(tx, typ, was.version, -1); err != nil {
			return err
		}
	}
	switch {
	case nowOpen && (!wasOpen || moved):
		err = addOpen(tx, typ, now.version, 1)
	case moved: // a version seen only closed still gets its row, at 0
		err = addOpen(tx, typ, now.version, 0)
	}
	if err != nil {
		return err
	}
	if now.flags&verWorkflow != 0 && was.flags&verWorkflow == 0 { // once per run
		if err := markWorkflow(tx, typ); err != nil {
			return err
		}
	}
	row := now
	return tx.putObj(id, &row, &verActorCodec)
}

// wfStatus is the run's status after a "$wf" event, from its args
// ({"op":...,"status":...}); "" when they say none.
// forkedRunStatus reads the status of a forked workflow run's state (a
// workflows.RunState: it names its workflow and run), and reports whether
// the state is one.
func forkedRunStatus(state []byte) (string, bool) {
	var st struct {
		Workflow string `json:"workflow"`
		RunID    string `json:"runId"`
		Status   string `json:"status"`
	}
	if json.Unmarshal(state, &st) != nil || st.Workflow == "" || st.RunID == "" {
		return "", false
	}
	return st.Status, true
}

func wfStatus(args []byte) string {
	if len(args) == 0 || !bytes.Contains(args, []byte(`"status"`)) {
		return ""
	}
	var a struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(args, &a) != nil {
		return ""
	}
	return a.Status
}

// addOpen adds delta to the open actors of typ at version, creating the
// counter (at 0) if the version is new.
func addOpen(tx *RawTx, typ, version string, delta int) error {
	key := versionCounterPfx + typ + "/" + version
	cur, found, err := tx.getObj(key, &verCountCodec)
	if err != nil {
		return err
	}
	var n uint64
	if found {
		n = cur.(*verCount).open
		if delta == 0 {
			return nil
		}
	}
	if delta < 0 && n == 0 {
		return fmt.Errorf("projection %s: the open count of %s version %q would go below 0; rebuild the projection", VersionsName, typ, version)
	}
	return tx.putObj(key, &verCount{open: uint64(int64(n) + int64(delta))}, &verCountCodec)
}

func markWorkflow(tx *RawTx, typ string) error {
	key := workflowMarkPfx + typ
	_, found, err := tx.Get(key)
	if err != nil || found {
		return err
	}
	return tx.Put(key, []byte(`{"kind":"workflow"}`))
}

// The rows are binary (JSON through rowJSON):
//
//	actor    verActorTag, flags, version bytes
//	counter  verCountTag, open count (uvarint)
//
// and the workflow marks JSON.
const (
	verActorTag = 0x01
	verCountTag = 0x02
)

var errCorruptVersionsRow = errors.New("corrupt versions row")

var (
	verActorCodec = objCodec{decode: decodeVerActor, encode: encodeVerActor}
	verCountCodec = objCodec{decode: decodeVerCount, encode: encodeVerCount}
)

func encodeVerActor(obj any) ([]byte, error) {
	a := obj.(*verActor)
	b := make([]byte, 0, 2+len(a.version))
	b = append(b, verActorTag, a.flags)
	return append(b, a.version...), nil
}

func decodeVerActor(key string, v []byte) (any, error) {
	if len(v) < 2 || v[0] != verActorTag {
		return nil, fmt.Errorf("versions row %s: %w", key, errCorruptVersionsRow)
	}
	return &verActor{flags: v[1], version: string(v[2:])}, nil
}

func encodeVerCount(obj any) ([]byte, error) {
	return binary.AppendUvarint([]byte{verCountTag}, obj.(*verCount).open), nil
}

func decodeVerCount(key string, v []byte) (any, error) {
	if len(v) > 1 && v[0] == verCountTag {
		if n, w := binary.Uvarint(v[1:]); w > 0 && 1+w == len(v) {
			return &verCount{open: n}, nil
		}
	}
	return nil, fmt.Errorf("versions row %s: %w", key, errCorruptVersionsRow)
}

// parseCounterKey splits v/<type>/<version>.
func parseCounterKey(key string) (typ, version string, ok bool) {
	rest, ok := strings.CutPrefix(key, versionCounterPfx)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}

// rowJSON implements jsonRows: an actor row as
// {"codeVersion":...,"status":"open"|"destroyed"|"finished"[,"workflow":true]},
// a counter as a CodeVersion without its kind.
func (v *Versions) rowJSON(key string, stored []byte) ([]byte, error) {
	if len(stored) > 0 && stored[0] == '{' {
		return bytes.Clone(stored), nil
	}
	if typ, version, ok := parseCounterKey(key); ok {
		obj, err := decodeVerCount(key, stored)
		if err != nil {
			return nil, err
		}
		b := append([]byte(`{"type":`), appendJSONString(nil, typ)...)
		b = append(append(b, `,"codeVersion":`...), appendJSONString(nil, version)...)
		b = strconv.AppendUint(append(b, `,"open":`...), obj.(*verCount).open, 10)
		return append(b, '}'), nil
	}
	obj, err := decodeVerActor(key, stored)
	if err != nil {
		return nil, err
	}
	a := obj.(*verActor)
	status := "open"
	switch {
	case a.flags&verAlive == 0:
		status = "destroyed"
	case a.flags&verFinished != 0:
		status = "finished"
	}
	b := append([]byte(`{"codeVersion":`), appendJSONString(nil, a.version)...)
	b = append(append(b, `,"status":"`...), status...)
	if a.flags&verWorkflow != 0 {
		return append(b, `","workflow":true}`...), nil
	}
	return append(b, `"}`...), nil
}

// List returns the code versions in use, sorted by type, then version
// (numbers in a version compare as numbers: 2 before 10): those with open
// actors or runs, and with q.All also those none has any more. A Type that
// names no type in the log lists nothing. It reads committed rows, like
// Directory.List; the work is one row per (type, version) ever seen.
func (v *Versions) List(q VersionsQuery) ([]CodeVersion, error) {
	if q.Type != "" {
		if err := eventlog.ValidateType(q.Type); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	r := v.r
	if err := r.acquire(); err != nil {
		return nil, err
	}
	defer r.release()
	base := rowPrefix(VersionsName)
	workflows := map[string]bool{}
	if err := r.scanRows(append(bytes.Clone(base), workflowMarkPfx+q.Type...), func(k, _ []byte) error {
		workflows[string(k[len(base)+len(workflowMarkPfx):])] = true
		return nil
	}); err != nil {
		return nil, err
	}
	pfx := versionCounterPfx
	if q.Type != "" {
		pfx += q.Type + "/"
	}
	out := []CodeVersion{}
	err := r.scanRows(append(bytes.Clone(base), pfx...), func(k, val []byte) error {
		key := string(k[len(base):])
		typ, version, ok := parseCounterKey(key)
		if !ok {
			return fmt.Errorf("versions: %w: key %q", errCorruptVersionsRow, key)
		}
		obj, err := decodeVerCount(key, val)
		if err != nil {
			return err
		}
		n := obj.(*verCount).open
		if n == 0 && !q.All {
			return nil
		}
		kind := KindActor
		if workflows[typ] {
			kind = KindWorkflow
		}
		out = append(out, CodeVersion{Type: typ, CodeVersion: version, Kind: kind, Open: n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b CodeVersion) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return compareVersions(a.CodeVersion, b.CodeVersion)
	})
	return out, nil
}

// scanRows calls fn with every committed key (whole) and value under pfx.
// Hold acquire.
func (r *Runner) scanRows(pfx []byte, fn func(k, v []byte) error) error {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: pfx, UpperBound: prefixEnd(pfx)})
	if err != nil {
		return fmt.Errorf("projection rows: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("projection rows: %w", err)
		}
		if err := fn(it.Key(), val); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("projection rows: %w", err)
	}
	return nil
}

// compareVersions orders code versions naturally: runs of digits compare as
// numbers ("2" < "10", "1.9" < "1.10"), the rest byte by byte.
func compareVersions(a, b string) int {
	tie := 0 // "01" after "1", if nothing else tells them apart
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if !da || !db {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		na, ra := digitRun(a)
		nb, rb := digitRun(b)
		ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
		if len(ta) != len(tb) {
			return len(ta) - len(tb)
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		if tie == 0 {
			tie = len(na) - len(nb)
		}
		a, b = ra, rb
	}
	if c := len(a) - len(b); c != 0 {
		return c
	}
	return tie
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
