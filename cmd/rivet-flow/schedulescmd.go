package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rivet-flow/rivet-flow/client"
)

// schedulesCommand is `rivet-flow schedules ...`.
func schedulesCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("schedules <command>", "set, list, get, preview, pause, resume, trigger and delete server schedules",
		"A schedule fires an action on an actor, or enqueues a message into a durable queue, at each time of a cron expression (5 fields, an optional leading seconds field, or @hourly, @every 90s ...) in a time zone. Every command takes --addr (default "+defaultAddr+", or RIVETFLOW_ADDR), --token (or RIVETFLOW_API_TOKEN) and --json.", stderr,
		withAliases(schedulesList(stdout, stderr), "ls"),
		schedulesGet(stdout, stderr),
		schedulesSet(stdout, stderr),
		withAliases(schedulesDelete(stdout, stderr), "rm"),
		schedulesAct("pause", stdout, stderr),
		schedulesAct("resume", stdout, stderr),
		schedulesAct("trigger", stdout, stderr),
		schedulesPreview(stdout, stderr),
	)
}

// scheduleFail prints err with what to do about it for schedules (as one
// JSON object with --json), and returns exit code 1.
func scheduleFail(cmd *clientCommand, name string, err error) int {
	return cmd.failHinted(err, func(r reporter, e *client.Error) string {
		switch e.Code {
		case client.CodeActorNotFound:
			return "no schedule named " + name + ": list them with: rivet-flow schedules list"
		case client.CodeInvalidCron:
			return "--cron takes 5 fields (minute hour day-of-month month day-of-week), e.g. '0 9 * * 1-5', an optional leading seconds field, or @hourly, @daily, @every 90s"
		case client.CodeInvalidTimezone:
			return "--timezone takes an IANA zone name such as America/New_York, Europe/Paris or UTC"
		case client.CodeQueueNotFound:
			return "--queue must name an existing queue: list them with: rivet-flow queues list; create one with: rivet-flow queues create NAME"
		case client.CodeActorTypeNotFound, client.CodeActionNotFound:
			return scheduleTargetHint(r, e.Code)
		case client.CodeInvalidRequest:
			return "check the flags: see rivet-flow schedules set --help"
		}
		return ""
	})
}

// scheduleTargetHint says what --type and --action may name, from the
// server's registry (GET /v1/types) when it answers.
func scheduleTargetHint(r reporter, code string) string {
	const want = "--type and --action must name an actor type the server serves and one of its actions"
	if code == client.CodeActionNotFound {
		if typ, actions := r.actionsOf(); typ != "" {
			return fmt.Sprintf("%s: a %s has %s (rivet-flow types lists every type's)", want, typ, actions)
		}
	} else if names := r.typeNames(); names != "" {
		return want + ": this server's types are " + names + " (rivet-flow types lists them with their actions)"
	}
	return want + ": list them with: rivet-flow types"
}

func schedulesList(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("schedules list", "", "List the server's schedules in name order: cron and zone, target, next fire, state and counters.", stderr)
	return cmd.leaf(0, 0, func(_ []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			list := []client.Schedule{}
			for cursor := ""; ; {
				page, err := c.Schedules(ctx, &client.ScheduleListOptions{Cursor: cursor})
				if err != nil {
					return cmd.fail(err)
				}
				list = append(list, page.Schedules...)
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(stdout, "no schedules; create one with: rivet-flow schedules set NAME --cron '0 9 * * *' --type T --key K --action A")
				return 0
			}
			printTable(stdout, "NAME\tCRON\tZONE\tTARGET\tNEXT\tSTATE\tFIRED\tOK\tFAILED\tSKIPPED\tMISSED", list, func(w io.Writer, s client.Schedule) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", s.Name, s.Spec.Cron, zoneOf(s.Spec), targetOf(s.Spec.Target),
					nextOf(s), stateOf(s), s.Counters.Fired, s.Counters.Succeeded, s.Counters.Failed+s.Counters.Unknown, s.Counters.Skipped, s.Counters.Missed)
			})
			return 0
		})
	})
}

func zoneOf(s client.ScheduleSpec) string {
	if s.Timezone == "" {
		return "UTC"
	}
	return s.Timezone
}

func targetOf(t client.ScheduleTarget) string {
	if t.IsQueue() {
		return fmt.Sprintf("queue %s %s", t.Queue, t.Body)
	}
	key, _ := json.Marshal(t.Actor.Key)
	args := string(t.Args)
	if args == "" {
		args = "[]"
	}
	return fmt.Sprintf("%s %s %s %s", t.Actor.Type, key, t.Action, args)
}

func nextOf(s client.Schedule) string {
	if s.NextTick == nil {
		return "-"
	}
	return fmtTime(*s.NextTick)
}

func stateOf(s client.Schedule) string {
	switch {
	case s.Paused:
		return "paused"
	case len(s.Running) > 0:
		return fmt.Sprintf("running (%d)", len(s.Running))
	}
	return "active"
}

func fmtTime(t client.ScheduleTime) string {
	return t.Time.Format("2006-01-02 15:04:05") + " " + t.Zone + " (" + t.Offset + ")"
}

func schedulesGet(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("schedules get", "NAME", "Show the schedule NAME: its definition, state, next fire times, fires running and its recent fires with their outcomes, and counters.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			s, err := c.Schedule(ctx, pos[0])
			if err != nil {
				return scheduleFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, s)
			}
			printSchedule(stdout, s)
			return 0
		})
	})
}

// printSchedule shows a schedule for a person.
func printSchedule(w io.Writer, s *client.Schedule) {
	sp := s.Spec
	fmt.Fprintf(w, "schedule  %s\n", s.Name)
	fmt.Fprintf(w, "cron      %s (%s)\n", sp.Cron, zoneOf(sp))
	fmt.Fprintf(w, "target    %s\n", targetOf(sp.Target))
	fmt.Fprintf(w, "policies  overlap %s, catch-up %s (at most %d), jitter %s, run timeout %s\n", sp.Overlap, sp.CatchUp, sp.MaxCatchUp,
		time.Duration(sp.JitterMs)*time.Millisecond, time.Duration(sp.RunTimeoutMs)*time.Millisecond)
	state := stateOf(*s)
	if s.Paused {
		state += " since " + s.PausedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "state     %s\n", state)
	c := s.Counters
	fmt.Fprintf(w, "counters  fired %d, succeeded %d, failed %d, unknown %d, skipped %d, missed %d\n", c.Fired, c.Succeeded, c.Failed, c.Unknown, c.Skipped, c.Missed)
	if len(s.NextFireTimes) > 0 {
		fmt.Fprintln(w, "next fires")
		for _, t := range s.NextFireTimes {
			fmt.Fprintf(w, "  %s\n", fmtTime(t))
		}
	}
	if len(s.Running) > 0 || s.Buffered != nil {
		fmt.Fprintln(w, "running")
		for _, f := range s.Running {
			fmt.Fprintf(w, "  %s\n", fireLine(f))
		}
		if s.Buffered != nil {
			fmt.Fprintf(w, "  %s\n", fireLine(*s.Buffered))
		}
	}
	if len(s.RecentFires) > 0 {
		fmt.Fprintln(w, "recent fires (newest first)")
		for _, f := range s.RecentFires {
			fmt.Fprintf(w, "  %s\n", fireLine(f))
		}
	}
}

// fireLine is one fire, skip or miss on one line.
func fireLine(f client.ScheduleFire) string {
	var b strings.Builder
	if f.ID > 0 {
		fmt.Fprintf(&b, "#%-4d ", f.ID)
	} else {
		b.WriteString("      ")
	}
	fmt.Fprintf(&b, "%s  %s", f.Nominal.UTC().Format(time.RFC3339), f.Outcome)
	switch {
	case f.Count > 1 || f.Outcome == client.FireMissed:
		more := ""
		if f.CountCapped {
			more = "+"
		}
		fmt.Fprintf(&b, " x%d%s through %s", f.Count, more, f.Until.UTC().Format(time.RFC3339))
	}
	if f.Reason != "" {
		b.WriteString(" (" + f.Reason + ")")
	}
	if f.Manual {
		b.WriteString(" [trigger]")
	}
	if f.Code != "" || f.Error != "" {
		fmt.Fprintf(&b, ": %s %s", f.Code, oneLine(f.Error))
	}
	return b.String()
}

func schedulesSet(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("schedules set", "NAME", "Create the schedule NAME, or replace its definition, and arm its next tick. "+
		"Each fire calls --action on the actor of --type and --key with --args, or, with --queue, enqueues --body into that queue (exactly once per fire). "+
		"Nothing is stored if anything is wrong.", stderr)
	cron := cmd.fs.String("cron", "", "the cron expression, e.g. '0 9 * * 1-5' (5 fields, an optional leading seconds field, or @hourly, @every 90s); required")
	zone := cmd.fs.String("timezone", "", "the IANA time zone it runs in, e.g. America/New_York (default UTC)")
	typ := cmd.fs.String("type", "", "the target actor's type (required)")
	var key stringList
	cmd.fs.Var(&key, "key", "the target actor's key; repeat for each part, in order")
	action := cmd.fs.String("action", "", "the target's action (required)")
	argsJSON := cmd.fs.String("args", "[]", "the action's arguments, a JSON array, e.g. '[5]'")
	queue := cmd.fs.String("queue", "", "instead of an actor: the durable queue each fire enqueues --body into (it must exist)")
	body := cmd.fs.String("body", "", "with --queue: the message each fire enqueues, any JSON value, e.g. '{\"report\":\"daily\"}'")
	overlap := cmd.fs.String("overlap", "skip", "when a fire comes while the previous one runs: skip, bufferOne or allow")
	catchUp := cmd.fs.String("catch-up", "latest", "after downtime, fire none, the latest, or all (up to --max-catch-up) of the missed ticks")
	maxCatchUp := cmd.fs.Int("max-catch-up", 10, "most fires one catch-up makes (--catch-up all)")
	jitter := cmd.fs.Duration("jitter", 0, "delay each tick by a random duration up to this")
	runTimeout := cmd.fs.Duration("run-timeout", 5*time.Minute, "a fire with no outcome after this long counts as finished, outcome unknown")
	paused := cmd.fs.Bool("paused", false, "create or keep the schedule paused")
	return cmd.leaf(1, 1, func(pos []string) int {
		set := map[string]bool{}
		cmd.fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
		actorForm := set["type"] || set["key"] || set["action"] || set["args"]
		queueForm := set["queue"] || set["body"]
		var raw []json.RawMessage
		switch {
		case *cron == "":
			return cmd.usageError(fmt.Errorf("--cron is required, e.g. --cron '0 9 * * 1-5'"))
		case actorForm && queueForm:
			return cmd.usageError(fmt.Errorf("give either an actor target (--type, --key, --action, --args) or a queue target (--queue, --body), not both"))
		case queueForm && (*queue == "" || *body == ""):
			return cmd.usageError(fmt.Errorf("--queue and --body go together: the queue each fire enqueues into and the message, e.g. --queue reports --body '{\"report\":\"daily\"}'"))
		case queueForm && !json.Valid([]byte(*body)):
			return cmd.usageError(fmt.Errorf("--body %s: want a JSON value, e.g. '{\"report\":\"daily\"}' or '\"text\"'", *body))
		case !queueForm && (*typ == "" || *action == ""):
			return cmd.usageError(fmt.Errorf("--type and --action are required: the actor type and action each fire calls, e.g. --type counter --key a --action increment --args '[1]'; or --queue and --body"))
		case !queueForm && json.Unmarshal([]byte(*argsJSON), &raw) != nil:
			return cmd.usageError(fmt.Errorf("--args %s: want a JSON array, e.g. '[5]' or '[\"text\"]'", *argsJSON))
		case !slices.Contains([]string{client.OverlapSkip, client.OverlapBufferOne, client.OverlapAllow}, *overlap):
			return cmd.usageError(fmt.Errorf("--overlap %q: want skip, bufferOne or allow", *overlap))
		case !slices.Contains([]string{client.CatchUpNone, client.CatchUpLatest, client.CatchUpAll}, *catchUp):
			return cmd.usageError(fmt.Errorf("--catch-up %q: want none, latest or all", *catchUp))
		case *maxCatchUp < 1:
			return cmd.usageError(fmt.Errorf("--max-catch-up %d: want at least 1", *maxCatchUp))
		case *jitter < 0 || *runTimeout <= 0:
			return cmd.usageError(fmt.Errorf("--jitter and --run-timeout take positive durations, e.g. 30s, 5m"))
		case slices.Contains(key, ""):
			return cmd.usageError(fmt.Errorf("--key parts cannot be empty"))
		}
		if key == nil {
			key = stringList{}
		}
		spec := client.ScheduleSpec{Cron: *cron, Timezone: *zone, Overlap: *overlap, CatchUp: *catchUp, MaxCatchUp: *maxCatchUp,
			JitterMs: jitter.Milliseconds(), RunTimeoutMs: runTimeout.Milliseconds(), Paused: *paused,
			Target: client.ActorTarget(*typ, key, *action, json.RawMessage(*argsJSON))}
		if queueForm {
			spec.Target = client.QueueTarget(*queue, json.RawMessage(*body))
		} else {
			cmd.actorType = *typ // an action_not_found hint names its actions
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			s, created, err := c.SetSchedule(ctx, pos[0], spec)
			if err != nil {
				return scheduleFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, s)
			}
			verb := "updated"
			if created {
				verb = "created"
			}
			fmt.Fprintf(stdout, "%s schedule %s; next fire %s\n", verb, s.Name, nextOf(*s))
			return 0
		})
	})
}

func schedulesDelete(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("schedules delete", "NAME", "Delete the schedule NAME: no more ticks. A fire already sent still runs.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			if err := c.DeleteSchedule(ctx, pos[0]); err != nil {
				return scheduleFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, map[string]any{"deleted": pos[0]})
			}
			fmt.Fprintf(stdout, "deleted schedule %s\n", pos[0])
			return 0
		})
	})
}

// schedulesAct runs pause, resume or trigger.
func schedulesAct(verb string, stdout, stderr io.Writer) *cobra.Command {
	summary := map[string]string{
		"pause":   "Pause the schedule NAME: no ticks until resumed. Fires running go on.",
		"resume":  "Resume the schedule NAME: its next tick is the first time after now; the times that passed while paused count as skipped.",
		"trigger": "Fire the schedule NAME now, outside its cron times (paused or not), under its overlap policy: while a fire runs it may be buffered or skipped.",
	}[verb]
	cmd := newClientCommand("schedules "+verb, "NAME", summary, stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		var err error
		name := pos[0]
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			if verb == "trigger" {
				r, err := c.TriggerSchedule(ctx, name)
				if err != nil {
					return scheduleFail(cmd, name, err)
				}
				if cmd.cf.json {
					return cmd.printJSON(stdout, r)
				}
				switch r.Status {
				case "fired":
					fmt.Fprintf(stdout, "fired schedule %s (fire #%d); its outcome shows in: rivet-flow schedules get %s\n", name, r.Fire.ID, name)
				case "buffered":
					fmt.Fprintf(stdout, "buffered: a fire of %s is running; this one starts when it finishes (overlap bufferOne)\n", name)
				default:
					fmt.Fprintf(stdout, "skipped: a fire of %s is running (%s); see rivet-flow schedules get %s\n", name, r.Fire.Reason, name)
				}
				return 0
			}
			var s *client.Schedule
			if verb == "pause" {
				s, err = c.PauseSchedule(ctx, name)
			} else {
				s, err = c.ResumeSchedule(ctx, name)
			}
			if err != nil {
				return scheduleFail(cmd, name, err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, s)
			}
			if verb == "pause" {
				fmt.Fprintf(stdout, "paused schedule %s\n", name)
			} else {
				fmt.Fprintf(stdout, "resumed schedule %s; next fire %s\n", name, nextOf(*s))
			}
			return 0
		})
	})
}

func schedulesPreview(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("schedules preview", "NAME", "Show the next fire times of the schedule NAME in its time zone, each with its UTC offset, so daylight saving changes show "+
		"(a wall-clock time a change skips does not fire that day; one it repeats fires at each of its instants).", stderr)
	n := cmd.fs.Int("n", 20, "how many times (at most 1000)")
	from := cmd.fs.String("from", "", "list the times after this one, RFC 3339 (default now), e.g. 2026-03-07T00:00:00-05:00")
	return cmd.leaf(1, 1, func(pos []string) int {
		var err error
		opts := &client.PreviewOptions{N: *n}
		if *n < 1 || *n > 1000 {
			return cmd.usageError(fmt.Errorf("--n %d: want 1 to 1000", *n))
		}
		if *from != "" {
			if opts.From, err = time.Parse(time.RFC3339, *from); err != nil {
				return cmd.usageError(fmt.Errorf("--from %q: want an RFC 3339 time, e.g. 2026-03-07T00:00:00-05:00", *from))
			}
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			p, err := c.PreviewSchedule(ctx, pos[0], opts)
			if err != nil {
				return scheduleFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, p)
			}
			fmt.Fprintf(stdout, "next %d fire times of %s in %s\n", len(p.Times), p.Name, p.Timezone)
			for _, t := range p.Times {
				dst := ""
				if t.DST {
					dst = "  DST"
				}
				fmt.Fprintf(stdout, "  %s  %s%s\n", t.Time.Format(time.RFC3339), t.Zone, dst)
			}
			return 0
		})
	})
}
