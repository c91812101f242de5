package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitError carries a command's exit code out of cobra: the command has
// already said what went wrong.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

// exitWith turns an exit code into RunE's error: nil for 0.
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return exitError(code)
}

// usageTemplate is cobra's usage with each command's arguments and the
// environment variable of each flag (in its usage text).
const usageTemplate = `Usage: {{.UseLine}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad (fullUse .) (fullUsePadding .)}} {{.Short}}{{end}}{{end}}{{end}}{{if gt (len .Aliases) 0}}

Aliases: {{.NameAndAliases}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

See {{.CommandPath}} <command> --help.{{end}}
`

func init() {
	cobra.AddTemplateFunc("fullUse", fullUse)
	cobra.AddTemplateFunc("fullUsePadding", func(cc *cobra.Command) int {
		width := 0
		for _, sib := range cc.Parent().Commands() {
			width = max(width, len(fullUse(sib)))
		}
		return width + 1
	})
}

// fullUse is how a command is typed, from the top: rivet-flow actors call
// ID ACTION [ARGS_JSON].
func fullUse(cc *cobra.Command) string {
	return cc.Parent().CommandPath() + " " + cc.Use
}

// newRoot builds the whole command tree; stdout and stderr are the
// commands' outputs.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "rivet-flow",
		Short: "event-sourced actors, workflows and durable queues",
		Long: `rivet-flow: event-sourced actors, workflows and durable queues.

Every flag of serve, rebuild and healthcheck can also be set with an environment variable
(RIVETFLOW_ and the flag's name: --data-dir is RIVETFLOW_DATA_DIR), shown in each command's --help.
The client commands read only --addr, --token and --token-file from the environment: RIVETFLOW_ADDR,
RIVETFLOW_API_TOKEN and RIVETFLOW_API_TOKEN_FILE.`,
		Version:       buildVersion(),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cc *cobra.Command, _ []string) error {
			cc.SetOut(stderr)
			_ = cc.Usage()
			return exitError(2)
		},
	}
	root.SetVersionTemplate("rivet-flow {{.Version}}\n")
	root.AddCommand(
		serveCommand(stdout, stderr),
		rebuildCommand(stdout, stderr),
		healthcheckCommand(stdout, stderr),
		actorsCommand(stdout, stderr),
		typesCommand(stdout, stderr),
		eventsCommand(stdout, stderr),
		projectionsCommand(stdout, stderr),
		schedulesCommand(stdout, stderr),
		queuesCommand(stdout, stderr),
		workflowsCommand(stdout, stderr),
		historyCommand(stdout, stderr),
		replayCmd(stdout, stderr),
		versionsCmd(stdout, stderr),
		benchCommand(stdout, stderr),
		&cobra.Command{
			Use:   "version",
			Short: "print the version",
			Args:  cobra.NoArgs,
			Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, "rivet-flow", buildVersion()) },
		},
	)
	// cobra's completion command, with an unknown shell a usage error (exit
	// 2) like any unknown command.
	root.InitDefaultCompletionCmd()
	for _, cc := range root.Commands() {
		if cc.Name() == "completion" {
			cc.Args, cc.RunE = cobra.ArbitraryArgs, groupRun("completion", stderr)
		}
	}
	root.SetFlagErrorFunc(flagError)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetUsageTemplate(usageTemplate)
	return root
}

// run runs the command line args and returns the process's exit code: 0
// success, 1 a failure (the server's or the work's), 2 a usage mistake.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(longDashes(root, args))
	cc, err := root.ExecuteC()
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	// A mistake cobra or pflag found (unknown command or flag, bad value):
	// said once, as a usage error.
	name := strings.TrimPrefix(strings.TrimPrefix(cc.CommandPath(), "rivet-flow"), " ")
	r := reporter{name: name, stderr: stderr, json: wantsJSON(cc, args)}
	return r.usageError(err)
}

// flagError words pflag's unknown-flag error as Go's flag package did (with
// the two dashes the flag takes), and points at the command's help.
func flagError(cc *cobra.Command, err error) error {
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: "); ok {
		return fmt.Errorf("flag provided but not defined: %s (see %s --help)", name, cc.CommandPath())
	}
	// A value the flag cannot take: say what it takes, not Go's parse error.
	var bad *pflag.InvalidValueError
	if errors.As(err, &bad) {
		return fmt.Errorf("--%s %q: %s", bad.GetFlag().Name, bad.GetValue(), flagWants(bad.GetFlag(), bad.GetValue(), bad.Unwrap()))
	}
	return err
}

// wantsJSON reports whether --json was given, even when parsing stopped
// before it.
func wantsJSON(cc *cobra.Command, args []string) bool {
	if f := cc.Flags().Lookup("json"); f != nil && f.Changed {
		return f.Value.String() == "true"
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// longDashes rewrites -name and -name=v to --name when name is a long flag
// of the command args run: Go's flag package, which the CLI used before,
// accepted one dash, and scripts may still pass it.
func longDashes(root *cobra.Command, args []string) []string {
	cc, _, err := root.Find(args)
	if err != nil || cc == nil {
		return args
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 && cc.Flags().Lookup(name) != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// group is a command with subcommands: alone it prints its usage (exit 2);
// with an unknown subcommand it says so.
func group(use, short, long string, stderr io.Writer, subs ...*cobra.Command) *cobra.Command {
	name, _, _ := strings.Cut(use, " ")
	cc := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.ArbitraryArgs, RunE: groupRun(name, stderr)}
	cc.AddCommand(subs...)
	return cc
}

// groupRun is the RunE of a group: its usage on stderr (exit 2) alone, its
// help for "help", else an unknown command.
func groupRun(name string, stderr io.Writer) func(*cobra.Command, []string) error {
	return func(cc *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			cc.SetOut(stderr)
			_ = cc.Usage()
			return exitError(2)
		case args[0] == "help":
			return cc.Help()
		}
		return fmt.Errorf("unknown command %q for %q (see rivet-flow %s --help)", args[0], cc.CommandPath(), name)
	}
}

// annotateEnv appends each flag's environment variable to its usage text.
func annotateEnv(fs *pflag.FlagSet, envOf func(string) (string, bool)) {
	fs.VisitAll(func(f *pflag.Flag) {
		if v, ok := envOf(f.Name); ok {
			f.Usage += " [" + v + "]"
		}
	})
}

// setFromEnv sets each flag not given on the command line from its
// environment variable (envOf names it), when that is set. It sets the
// value only, so the flag still counts as not given (pflag's Changed).
func setFromEnv(fs *pflag.FlagSet, envOf func(flagName string) (string, bool)) error {
	var errs []string
	fs.VisitAll(func(f *pflag.Flag) {
		name, ok := envOf(f.Name)
		if !ok || f.Changed {
			return
		}
		if v, ok := lookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q (--%s): %s", name, v, f.Name, flagWants(f, v, err)))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// withAliases gives cc other names (ls for list, rm for delete).
func withAliases(cc *cobra.Command, aliases ...string) *cobra.Command {
	cc.Aliases = append(cc.Aliases, aliases...)
	return cc
}
