// Command rivet-flow runs the rivet-flow server and talks to it.
//
//	rivet-flow serve      run the server (embedded JetStream + Pebble under --data-dir)
//	rivet-flow rebuild    rebuild every snapshot from the event log, offline
//	rivet-flow healthcheck exit 0 if a running server is ready
//	rivet-flow actors     list, get, call, destroy and fork actors on a running server
//	rivet-flow events     tail the event log of a running server
//	rivet-flow projections list, rebuild or read the projections (read models) of a running server
//	rivet-flow schedules  set, list, get, preview, pause, resume, trigger and delete server schedules
//	rivet-flow queues     list, get, create, update, send, claim, ack, nack, extend, purge, history, dead-letters and redrive durable queues
//	rivet-flow workflows  list, start, get, events, signal, cancel, pause and resume the runs of the server's workflows
//	rivet-flow history    export an actor's or a workflow run's whole history as JSON Lines
//	rivet-flow replay     replay recorded histories against this binary's code (one file, or every open actor: a deploy gate)
//	rivet-flow versions   list the code versions that still have open actors and workflow runs
//	rivet-flow bench      benchmark actions over HTTP against a raw net/http handler
//	rivet-flow version    print the build's version
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "rebuild":
		return rebuild(args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheck(args[1:], stdout, stderr)
	case "actors":
		return actorsCmd(args[1:], stdout, stderr)
	case "events":
		return eventsCmd(args[1:], stdout, stderr)
	case "projections":
		return projectionsCmd(args[1:], stdout, stderr)
	case "schedules":
		return schedulesCmd(args[1:], stdout, stderr)
	case "queues":
		return queuesCmd(args[1:], stdout, stderr)
	case "workflows":
		return workflowsCmd(args[1:], stdout, stderr)
	case "history":
		return historyCmd(args[1:], stdout, stderr)
	case "replay":
		return replayCmd(args[1:], stdout, stderr)
	case "versions":
		return versionsCmd(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "rivet-flow", buildVersion())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "rivet-flow: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `rivet-flow: event-sourced actors, workflows and durable queues.

Usage:
  rivet-flow serve [flags]     run the server (try: rivet-flow serve --help)
  rivet-flow rebuild [flags]   rebuild every snapshot from the event log (server stopped)
  rivet-flow healthcheck       exit 0 if the server is ready (for container probes)
  rivet-flow actors <command>  list, get, call, destroy or fork actors on a running server
  rivet-flow events tail       stream the event log of a running server
  rivet-flow projections       list, rebuild or read the projections (read models) of a server
  rivet-flow schedules         set, list, get, preview, pause, resume, trigger or delete server schedules
  rivet-flow queues            list, get, create, update, send, claim, ack, nack, extend, purge, history, dead-letters or redrive durable queues
  rivet-flow workflows         list, start, get, events, signal, cancel, pause or resume the runs of the server's workflows
  rivet-flow history export    write an actor's or a workflow run's whole history as JSON Lines (for replay)
  rivet-flow replay            replay a history file (--history) or every open actor and run (--all) against this binary's code
  rivet-flow versions          list the code versions with open actors and runs (and, with --all, those that can be retired)
  rivet-flow bench http        benchmark actions over HTTP vs a raw net/http handler
  rivet-flow bench replay      benchmark replay --all over a data dir of N actors vs reading the same histories
  rivet-flow version           print the version

Every flag can also be set with an environment variable, shown in each command's --help.
actors, events, projections, schedules, workflows, history, replay and versions read only --addr and --token from RIVETFLOW_ADDR and RIVETFLOW_API_TOKEN.
`)
}

// buildVersion is the -ldflags version, else the module version or VCS revision.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "dev-" + rev + dirty
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}
