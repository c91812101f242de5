// Command rivet-flow runs the rivet-flow server and talks to it.
//
//	rivet-flow serve      run the server (embedded JetStream + Pebble under --data-dir)
//	rivet-flow rebuild    rebuild every snapshot from the event log, offline
//	rivet-flow healthcheck exit 0 if a running server is ready
//	rivet-flow actors     list, get, call, destroy, fork and inspect (state, history) actors on a running server
//	rivet-flow types      list the server's actor types and their actions
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
//	rivet-flow completion write a shell completion script (bash, zsh, fish or powershell)
package main

import (
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
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
