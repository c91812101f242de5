package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rivet-flow/rivet-flow/client"
)

// defaultAddr is where the client commands find the server by default: the
// address `rivet-flow serve` listens on.
const defaultAddr = "http://127.0.0.1:6420"

// clientEnv names the environment variable of each shared client flag. The
// token shares serve's variable, so one export configures both.
var clientEnv = map[string]string{
	"addr":       envPrefix + "ADDR",
	"token":      envPrefix + "API_TOKEN",
	"token-file": envPrefix + "API_TOKEN_FILE",
}

// clientFlags are the flags every command that talks to a server shares.
type clientFlags struct {
	fs        *pflag.FlagSet
	addr      string
	token     string
	tokenFile string
	json      bool
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.addr, "addr", defaultAddr, "the server's URL")
	fs.StringVar(&f.token, "token", "", "the server's API token, when it runs with --api-token")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the API token from this file (its first line, trimmed) instead of --token")
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table, and errors as one JSON object on stderr")
}

// session builds the client and a context that ends on SIGINT or SIGTERM;
// call done when the command finishes.
func (f *clientFlags) session() (*client.Client, context.Context, func(), error) {
	c, err := f.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, stop := interruptible()
	return c, ctx, func() { stop(); c.CloseIdleConnections() }, nil
}

// client returns a client for --addr, and normalizes f.addr to its base URL
// for messages.
func (f *clientFlags) client() (*client.Client, error) {
	if f.tokenFile != "" {
		if f.fs.Changed("token") {
			return nil, fmt.Errorf("set --token or --token-file, not both")
		}
		token, err := readTokenFile("--token-file", f.tokenFile)
		if err != nil {
			return nil, err
		}
		f.token = token
	}
	c, err := client.New(f.addr, &client.Options{Token: f.token, UserAgent: "rivet-flow-cli/" + buildVersion()})
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	f.addr = c.BaseURL()
	return c, nil
}

// clientCommand is a command that talks to a server: a command with the
// shared client flags. Its leaf function runs the command's own checks, then
// withSession for the requests.
type clientCommand struct {
	*command
	cf clientFlags
	c  *client.Client // the session's client, once open: hints ask its server
	// actorType is the type of the actor the command addresses, for hints.
	actorType string
}

// newClientCommand returns a command (see newCommand) with the client
// flags registered.
func newClientCommand(name, args, summary string, stderr io.Writer) *clientCommand {
	cmd := &clientCommand{command: newCommand(name, args, summary, stderr)}
	cmd.cf.register(cmd.fs)
	return cmd
}

// withSession opens the session (a bad --addr is a usage error), runs fn
// with its client and a context that ends on SIGINT or SIGTERM, closes the
// session and returns fn's exit code.
func (cmd *clientCommand) withSession(fn func(c *client.Client, ctx context.Context) int) int {
	c, ctx, done, err := cmd.cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	cmd.c = c
	return fn(c, ctx)
}

// fail is command.fail for the server at --addr; its hints ask that server
// for its actor types.
func (cmd *clientCommand) fail(err error) int { return cmd.failHinted(err, nil) }

// printJSON prints v as one line of JSON and returns exit code 0, or fails
// when it cannot be written.
func (cmd *clientCommand) printJSON(w io.Writer, v any) int {
	if err := writeJSON(w, v); err != nil {
		return cmd.fail(err)
	}
	return 0
}

// printJSONLines prints each item as one line of JSON and returns exit code
// 0, or fails at the first line that cannot be written.
func printJSONLines[T any](cmd *clientCommand, w io.Writer, items []T) int {
	for _, item := range items {
		if code := cmd.printJSON(w, item); code != 0 {
			return code
		}
	}
	return 0
}

// printTable prints rows as columns aligned under header (column names,
// tab-separated); row prints one row's cells, tab-separated, and a newline.
func printTable[T any](w io.Writer, header string, rows []T, row func(w io.Writer, r T)) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		row(tw, r)
	}
	_ = tw.Flush()
}

// printMoreHint says that a list stopped at --limit.
func printMoreHint(w io.Writer, limit int) {
	fmt.Fprintf(w, "(showing the first %d; pass a larger --limit for more)\n", limit)
}

// command is one leaf command: flags and positional arguments may come in
// any order (pflag), and the flags named in env also read their environment
// variables.
type command struct {
	name   string            // as typed: "actors call"
	env    map[string]string // flag name -> environment variable; defaults to clientEnv
	envAll bool              // every flag reads RIVETFLOW_<NAME> (serve, rebuild, healthcheck)
	fs     *pflag.FlagSet
	cc     *cobra.Command
	stderr io.Writer
}

// newCommand returns a command whose usage reads
// "Usage: rivet-flow <name> <args> [flags]" and then summary. Register its
// flags on fs, then finish it with leaf.
func newCommand(name, args, summary string, stderr io.Writer) *command {
	use := name[strings.LastIndex(name, " ")+1:]
	if args != "" {
		use += " " + args
	}
	cc := &cobra.Command{Use: use, Short: shortOf(summary), Long: summary, Args: cobra.ArbitraryArgs}
	return &command{name: name, env: clientEnv, fs: cc.Flags(), cc: cc, stderr: stderr}
}

// shortOf is summary's first sentence, for the list of commands.
func shortOf(summary string) string {
	s := strings.Join(strings.Fields(summary), " ")
	for _, sep := range []string{". ", ": ", " (", "; "} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > 1 && s[0] >= 'A' && s[0] <= 'Z' && (s[1] < 'A' || s[1] > 'Z') {
		s = strings.ToLower(s[:1]) + s[1:] // like the groups' and cobra's lists
	}
	return s
}

// envOf names the environment variable of flag name, if it has one.
func (c *command) envOf(name string) (string, bool) {
	if c.envAll {
		return envName(name), true
	}
	v, ok := c.env[name]
	return v, ok
}

// leaf finishes the command: run fills the flags not given from their
// environment variables, checks that between minArgs and maxArgs positional
// arguments were given, then calls fn with them; fn returns the exit code.
func (c *command) leaf(minArgs, maxArgs int, fn func(pos []string) int) *cobra.Command {
	annotateEnv(c.fs, c.envOf)
	c.cc.RunE = func(_ *cobra.Command, pos []string) error {
		if err := setFromEnv(c.fs, c.envOf); err != nil {
			return exitWith(c.usageError(err))
		}
		switch {
		case len(pos) < minArgs:
			return exitWith(c.usageError(fmt.Errorf("missing arguments (see rivet-flow %s --help)", c.name)))
		case len(pos) > maxArgs:
			return exitWith(c.usageError(fmt.Errorf("unexpected arguments: %s", strings.Join(pos[maxArgs:], " "))))
		}
		return exitWith(fn(pos))
	}
	return c.cc
}

// reporter prints a command's errors for a person, or as one JSON object
// ({"code","message","hint"}) with --json.
func (c *command) reporter() reporter {
	on := false
	if f := c.fs.Lookup("json"); f != nil && f.Value.Type() == "bool" {
		on = f.Value.String() == "true"
	}
	return reporter{name: c.name, stderr: c.stderr, json: on}
}

// usageError prints a usage problem and returns exit code 2.
func (c *command) usageError(err error) int { return c.reporter().usageError(err) }

// fail prints err for a person (the server's code and message, then what to
// do next) and returns exit code 1.
func (c *command) fail(addr string, err error) int { return c.reporter().fail(addr, err) }

// writeJSON prints v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
