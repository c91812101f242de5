package actors_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftLimitCase applies a limit either as a runtime default or as a type option.
type ftLimitCase struct {
	name    string
	runtime func(*actors.RuntimeOptions)
	typ     func(*actors.Options[ftState])
}

func ftLimitCases(rt func(*actors.RuntimeOptions), typ func(*actors.Options[ftState]), typeOverRuntime func(*actors.RuntimeOptions)) []ftLimitCase {
	return []ftLimitCase{
		{"runtime option", rt, func(*actors.Options[ftState]) {}},
		{"type option", func(*actors.RuntimeOptions) {}, typ},
		{"type option over runtime option", typeOverRuntime, typ},
	}
}

func TestFeatureMaxArgsBytes(t *testing.T) {
	t.Parallel()
	const limit = 24
	cases := ftLimitCases(
		func(o *actors.RuntimeOptions) { o.MaxArgsBytes = limit },
		func(o *actors.Options[ftState]) { o.MaxArgsBytes = limit },
		func(o *actors.RuntimeOptions) { o.MaxArgsBytes = limit / 2 },
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := actors.Options[ftState]{}
			tc.typ(&opts)
			b := ftSetup(t, tc.runtime, ftType("ftargs", opts))
			ctx := ftCtx(t)
			h := ftCreate(t, b, "ftargs", "a")
			args := func(n int) json.RawMessage { return json.RawMessage(`["` + strings.Repeat("x", n-4) + `"]`) }

			seq := ftLastSeq(t, b, h.ID)
			if _, err := h.ActionJSON(ctx, "setText", args(limit+1)); !errors.Is(err, actors.ErrArgsTooLarge) {
				t.Fatalf("args one byte over: %v, want ErrArgsTooLarge", err)
			}
			if got := ftLastSeq(t, b, h.ID); got != seq {
				t.Fatal("refused args were appended")
			}
			if _, err := h.ActionJSON(ctx, "setText", args(limit)); err != nil {
				t.Fatalf("args exactly at the limit: %v", err)
			}
			if st := ftCall[ftState](t, h, "state"); len(st.Text) != limit-4 {
				t.Fatalf("text %q", st.Text)
			}

			// Create input has the same limit.
			input := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("y", n-2) + `"`) }
			cl := b.rt.Client()
			if _, err := cl.Create(ctx, "ftargs", []string{"big"}, input(limit+1)); !errors.Is(err, actors.ErrArgsTooLarge) {
				t.Fatalf("create input one byte over: %v, want ErrArgsTooLarge", err)
			}
			if _, err := cl.Get(ctx, "ftargs", []string{"big"}); !errors.Is(err, actors.ErrNotFound) {
				t.Fatalf("an actor with refused input exists: %v", err)
			}
			if _, err := cl.Create(ctx, "ftargs", []string{"big"}, input(limit)); err != nil {
				t.Fatalf("create input at the limit: %v", err)
			}
		})
	}
}

func TestFeatureMaxStateBytes(t *testing.T) {
	t.Parallel()
	size := func(n int) int { return len(ftJSONb(ftState{Text: strings.Repeat("x", n)})) }
	limit := size(40)
	cases := ftLimitCases(
		func(o *actors.RuntimeOptions) { o.MaxStateBytes = limit },
		func(o *actors.Options[ftState]) { o.MaxStateBytes = limit },
		func(o *actors.RuntimeOptions) { o.MaxStateBytes = limit / 2 },
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := actors.Options[ftState]{}
			tc.typ(&opts)
			typ := ftType("ftstate", opts).
				Action("kvput", actors.Act2(func(c *actors.Context[ftState], k, v string) (bool, error) {
					c.KV().Put(k, []byte(v))
					return true, nil
				})).
				Action("kvdel", actors.Act(func(c *actors.Context[ftState], k string) (bool, error) {
					c.KV().Delete(k)
					return true, nil
				}))
			b := ftSetup(t, tc.runtime, typ)
			ctx := ftCtx(t)
			h := ftCreate(t, b, "ftstate", "a")
			text := func(n int) string { return strings.Repeat("x", n) }

			refused := func(what string, action string, args ...any) {
				t.Helper()
				before := ftCall[ftState](t, h, "state")
				seq := ftLastSeq(t, b, h.ID)
				if _, err := h.Action(ctx, action, args...); !errors.Is(err, actors.ErrStateTooLarge) {
					t.Fatalf("%s: %v, want ErrStateTooLarge", what, err)
				}
				if got := ftLastSeq(t, b, h.ID); got != seq {
					t.Fatalf("%s: appended", what)
				}
				if after := ftCall[ftState](t, h, "state"); ftJSON(t, after) != ftJSON(t, before) {
					t.Fatalf("%s: state changed from %+v to %+v", what, before, after)
				}
			}
			refused("state one byte over", "setText", text(41))
			ftCall[string](t, h, "setText", text(40)) // exactly at the limit
			refused("state one byte over after a fit", "setText", text(41))

			// The KV counts too: key plus value.
			ftCall[string](t, h, "setText", text(30)) // 10 bytes left
			refused("KV one byte over", "kvput", "k", text(9)+"!")
			ftCall[bool](t, h, "kvput", "k", text(9)) // exactly at the limit
			refused("state growth with a full KV", "setText", text(31))
			ftCall[bool](t, h, "kvput", "k", text(8)) // replacing a value counts the new size only
			ftCall[bool](t, h, "kvput", "k", text(9))
			ftCall[bool](t, h, "kvdel", "k") // deleting frees the room
			ftCall[string](t, h, "setText", text(40))
		})
	}
}

func ftJSONb(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestFeatureMailboxSize(t *testing.T) {
	t.Parallel()
	const size = 3
	cases := ftLimitCases(
		func(o *actors.RuntimeOptions) { o.MailboxSize = size },
		func(o *actors.Options[ftState]) { o.MailboxSize = size },
		func(o *actors.RuntimeOptions) { o.MailboxSize = 1000 },
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started, release := make(chan struct{}), make(chan struct{})
			opts := actors.Options[ftState]{}
			tc.typ(&opts)
			typ := ftType("ftmailbox", opts).
				Action("block", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
					c.State.Count += 100
					close(started)
					<-release
					return c.State.Count, nil
				}))
			b := ftSetup(t, tc.runtime, typ)
			h := ftCreate(t, b, "ftmailbox", "a")
			blocked := make(chan error, 1)
			go func() { _, err := h.Action(ftCtx(t), "block"); blocked <- err }()
			ftWait(t, started, "the blocking action to start")

			// The mailbox holds size calls behind the running one: of size+1
			// callers exactly one is refused, at once, while the rest wait.
			results := make(chan error, size+1)
			for range size + 1 {
				go func() { _, err := h.Action(ftCtx(t), "inc", 1); results <- err }()
			}
			err := ftWait(t, results, "the overloaded call to be refused")
			var re *actors.Error
			if !errors.Is(err, actors.ErrOverloaded) || !errors.As(err, &re) || re.RetryAfter <= 0 {
				t.Fatalf("first answer %#v, want ErrOverloaded with RetryAfter > 0", err)
			}
			close(release)
			if err := ftWait(t, blocked, "the blocking action"); err != nil {
				t.Fatal(err)
			}
			for range size {
				if err := ftWait(t, results, "a queued call"); err != nil {
					t.Fatalf("queued call: %v", err)
				}
			}
			if got := ftCall[int64](t, h, "get"); got != 100+size {
				t.Fatalf("count %d, want %d: the refused call ran or a queued one was lost", got, 100+size)
			}
			if n := len(ftEvents(t, b, h.ID)); n != 1+1+size+1 {
				t.Fatalf("%d events, want create, block, %d incs and a get", n, size)
			}
		})
	}
}

func TestFeatureActionTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	cases := ftLimitCases(
		func(o *actors.RuntimeOptions) { o.ActionTimeout = timeout },
		func(o *actors.Options[ftState]) { o.ActionTimeout = timeout },
		func(o *actors.RuntimeOptions) { o.ActionTimeout = time.Hour },
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := actors.Options[ftState]{}
			tc.typ(&opts)
			typ := ftType("fttimeout", opts).
				Action("slow", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
					c.State.Count += 100
					c.Broadcast("slow")
					<-c.Context().Done() // only the timeout ends this call
					return c.State.Count, nil
				}))
			b := ftSetup(t, tc.runtime, typ)
			h := ftCreate(t, b, "fttimeout", "a")
			ftCall[int64](t, h, "inc", 1)
			conn, err := h.Subscribe(ftCtx(t), "slow")
			if err != nil {
				t.Fatal(err)
			}
			seq := ftLastSeq(t, b, h.ID)
			start := time.Now()
			if _, err := h.Action(ftCtx(t), "slow"); !errors.Is(err, actors.ErrActionTimeout) {
				t.Fatalf("slow: %v, want ErrActionTimeout", err)
			}
			if took := time.Since(start); took < timeout {
				t.Fatalf("timed out after %v, before the %v limit", took, timeout)
			}
			if got := ftLastSeq(t, b, h.ID); got != seq {
				t.Fatal("a timed-out action was appended")
			}
			// Serves again, with the state as before the timed-out call.
			if got := ftCall[int64](t, h, "inc", 1); got != 2 {
				t.Fatalf("count %d after a timed-out call, want 2", got)
			}
			select {
			case ev := <-conn.Events():
				t.Fatalf("a timed-out action's broadcast arrived: %+v", ev)
			default:
			}
			conn.Close()
		})
	}
}

// TestFeatureBugTimeoutReturningCtxErr: an action that honours its context
// and returns c.Context().Err() at the timeout (the idiomatic Go way) must give
// its caller ErrActionTimeout (RuntimeOptions.ActionTimeout doc). instance.execute
// only maps the timeout when the action returned nil, and report passes
// context errors through, so the caller gets a bare context.DeadlineExceeded,
// which PublicError turns into internal_error.
func TestFeatureBugTimeoutReturningCtxErr(t *testing.T) {
	t.Parallel()
	typ := ftType("fttimeouterr", actors.Options[ftState]{ActionTimeout: 50 * time.Millisecond}).
		Action("slow", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
			c.State.Count += 100
			<-c.Context().Done()
			return 0, c.Context().Err()
		}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "fttimeouterr", "a")
	_, err := h.Action(ftCtx(t), "slow")
	if !errors.Is(err, actors.ErrActionTimeout) {
		t.Errorf("slow returning ctx.Err(): %v (public: %v), want ErrActionTimeout", err, actors.PublicError(err))
	}
	if got := ftCall[int64](t, h, "get"); got != 0 {
		t.Fatalf("count %d after a timed-out call, want 0", got)
	}
}
