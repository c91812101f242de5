package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A queue's configuration changes are recorded in one JetStream stream
// shared by every queue (a subject per queue, the last MaxHistory kept), so
// people can see who changed a limit and when, and the record outlives a
// deleted queue for as long as it is kept.

// MaxHistory is how many changes are kept per queue.
const MaxHistory = 100

const (
	historyStream = "RF_QHIST"
	historyPrefix = "rf.qhist."
)

// Change kinds.
const (
	ChangeCreated  = "created"
	ChangeReplaced = "replaced"
	ChangeUpdated  = "updated"
	ChangeDeleted  = "deleted"
)

// Change is one recorded change of a queue's configuration.
type Change struct {
	// At is when it was made.
	At time.Time `json:"at"`
	// Kind is created, replaced (PUT of an existing queue), updated (PATCH)
	// or deleted.
	Kind string `json:"kind"`
	// Fields names the configuration fields whose value changed (JSON
	// names); empty for created and deleted.
	Fields []string `json:"fields"`
	// Config is the configuration after the change (before it, for
	// deleted).
	Config Config `json:"config"`
}

// record appends a change; a failure is logged, not returned: the change
// itself took effect.
func (m *Manager) record(ctx context.Context, name, kind string, before, after Config) {
	c := Change{At: time.Now().UTC(), Kind: kind, Fields: changedFields(before, after), Config: after}
	if kind == ChangeDeleted || kind == ChangeCreated {
		c.Fields = []string{}
	}
	if kind == ChangeDeleted {
		c.Config = before
	}
	data, err := json.Marshal(c)
	if err == nil {
		err = m.ensureHistory(ctx)
	}
	if err == nil {
		_, err = m.js.Publish(ctx, historyPrefix+name, data, jetstream.WithExpectStream(historyStream))
	}
	if err != nil {
		m.lg.Error("record a queue configuration change", "queue", name, "kind", kind, "err", err)
	}
}

// ensureHistory creates the history stream once per Manager.
func (m *Manager) ensureHistory(ctx context.Context) error {
	m.mu.Lock()
	done := m.historyReady
	m.mu.Unlock()
	if done {
		return nil
	}
	_, err := m.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              historyStream,
		Description:       "rivet-flow queue configuration changes",
		Subjects:          []string{historyPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: MaxHistory,
		AllowDirect:       true,
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.historyReady = true
	m.mu.Unlock()
	return nil
}

// History returns a queue's recorded configuration changes, newest first,
// at most limit (1 to MaxHistory). A queue never changed, or never known,
// has none; a deleted queue keeps its record.
func (m *Manager) History(ctx context.Context, name string, limit int) ([]Change, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxHistory {
		return nil, fmt.Errorf("%w: limit %d: must be 1 to %d", ErrInvalid, limit, MaxHistory)
	}
	if err := m.ensureHistory(ctx); err != nil {
		return nil, fmt.Errorf("queue %s history: %w", name, err)
	}
	st, err := m.js.Stream(ctx, historyStream)
	if err != nil {
		return nil, fmt.Errorf("queue %s history: %w", name, err)
	}
	// A queue keeps at most MaxHistory changes: read them oldest first (a
	// direct get of the next one of the subject each), newest first out.
	subj := historyPrefix + name
	var all []Change
	for seq := uint64(1); ; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("queue %s history: %w", name, err)
		}
		var c Change
		if err := json.Unmarshal(raw.Data, &c); err != nil {
			return nil, fmt.Errorf("queue %s history: decode change %d: %w", name, raw.Sequence, err)
		}
		all = append(all, c)
		seq = raw.Sequence + 1
	}
	slices.Reverse(all)
	out := make([]Change, 0, min(limit, len(all)))
	return append(out, all[:min(limit, len(all))]...), nil
}

// changedFields names the configuration fields that differ, by JSON name.
func changedFields(a, b Config) []string {
	out := []string{}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := range t.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
	}
	return out
}
