package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/rivet-flow/rivet-flow/client"
)

// defaultAddr is where the client commands find the server by default: the
// address `rivet-flow serve` listens on.
const defaultAddr = "http://127.0.0.1:6420"

// clientEnv names the environment variable of each shared client flag. The
// token shares serve's variable, so one export configures both.
var clientEnv = map[string]string{
	"addr":  envPrefix + "ADDR",
	"token": envPrefix + "API_TOKEN",
}

// clientFlags are the flags every command that talks to a server shares.
type clientFlags struct {
	addr  string
	token string
	json  bool
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", defaultAddr, "the server's URL")
	fs.StringVar(&f.token, "token", "", "the server's API token, when it runs with --api-token")
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
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
	c, err := client.New(f.addr, &client.Options{Token: f.token, UserAgent: "rivet-flow-cli/" + buildVersion()})
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	f.addr = c.BaseURL()
	return c, nil
}

// clientCommand is a command that talks to a server: a command with the
// shared client flags. Its steps are parse, the command's own checks, then
// withSession for the requests.
type clientCommand struct {
	*command
	cf clientFlags
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
	return fn(c, ctx)
}

// fail is command.fail for the server at --addr.
func (cmd *clientCommand) fail(err error) int {
	return cmd.command.fail(cmd.cf.addr, err)
}

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

// command is a client subcommand: flags and positional arguments may come in
// any order, and the shared client flags also read their environment
// variables.
type command struct {
	name   string            // as typed: "actors call"
	env    map[string]string // flag name -> environment variable; defaults to clientEnv
	fs     *flag.FlagSet
	stderr io.Writer
}

// newCommand returns a command whose usage reads
// "Usage: rivet-flow <name> [flags] <args>" and then summary.
func newCommand(name, args, summary string, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &command{name: name, env: clientEnv, fs: fs, stderr: stderr}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rivet-flow %s\n\n%s\n\nFlags:\n", strings.TrimSpace(name+" [flags] "+args), summary)
		fs.VisitAll(func(f *flag.Flag) {
			env := ""
			if v, ok := c.env[f.Name]; ok {
				env = " [" + v + "]"
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  --%s%s\n      %s%s\n", f.Name, env, f.Usage, def)
		})
	}
	return c
}

// parse fills the client flags from their environment variables, then parses
// args (flags anywhere; everything after "--" is positional) and checks that
// between minArgs and maxArgs positional arguments remain.
func (c *command) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	envOf := func(flagName string) (string, bool) {
		v, ok := c.env[flagName]
		return v, ok
	}
	if err := setFromEnv(c.fs, envOf); err != nil {
		return nil, err
	}
	var pos []string
	for rest := args; len(rest) > 0; {
		if err := c.fs.Parse(rest); err != nil {
			return nil, err
		}
		left := c.fs.Args()
		if consumed := len(rest) - len(left); consumed > 0 && rest[consumed-1] == "--" {
			pos = append(pos, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		pos, rest = append(pos, left[0]), left[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, fmt.Errorf("missing arguments (see rivet-flow %s --help)", c.name)
	case len(pos) > maxArgs:
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(pos[maxArgs:], " "))
	}
	return pos, nil
}

// usageError prints a usage problem and returns exit code 2 (0 for --help).
func (c *command) usageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(c.stderr, "rivet-flow %s: %v\n", c.name, err)
	return 2
}

// fail prints err for a person (the server's code and message, then what to
// do next) and returns exit code 1.
func (c *command) fail(addr string, err error) int {
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr):
		fmt.Fprintf(c.stderr, "rivet-flow %s: %s (%d): %s\n", c.name, apiErr.Code, apiErr.Status, apiErr.Message)
		for _, d := range apiErr.Details {
			fmt.Fprintf(c.stderr, "  %s %s\n", d.Location, d.Message)
		}
		if len(apiErr.Metadata) > 0 {
			fmt.Fprintf(c.stderr, "  metadata: %s\n", apiErr.Metadata)
		}
		if hint := hintFor(apiErr); hint != "" {
			fmt.Fprintf(c.stderr, "  %s\n", hint)
		}
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(c.stderr, "rivet-flow %s: interrupted\n", c.name)
	case isNetError(err):
		fmt.Fprintf(c.stderr, "rivet-flow %s: cannot reach the server at %s: %v\n", c.name, addr, unwrapNet(err))
		fmt.Fprintf(c.stderr, "  is the server running? start it with: rivet-flow serve (or point --addr / %s at it)\n", clientEnv["addr"])
	default:
		fmt.Fprintf(c.stderr, "rivet-flow %s: %v\n", c.name, err)
	}
	return 1
}

func isNetError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// unwrapNet returns the innermost *net.OpError (its text names the address
// and the reason), else err.
func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

// hintFor says what to do about an error from the server.
func hintFor(e *client.Error) string {
	if e.Group == "user" {
		return "the actor's code rejected the call (a user error): check the arguments against what the action expects"
	}
	switch e.Code {
	case client.CodeUnauthorized:
		return "the server requires an API token: pass --token or set " + clientEnv["token"]
	case client.CodeActorNotFound:
		return "find live actors with: rivet-flow actors list --type TYPE"
	case client.CodeInvalidActorID:
		return "actor IDs look like counter.kAWE: find them with: rivet-flow actors list --type TYPE"
	case client.CodeActorTypeNotFound:
		return "check the type name (the built-in types are counter and chatRoom)"
	case client.CodeActionNotFound:
		return "check the action name: it must be one the actor's type defines (counter: increment, getCount)"
	case client.CodeInvalidArgs, client.CodeMalformedJSON, client.CodeInvalidRequest:
		return "pass the arguments as a JSON array in the action's parameter order, e.g. '[5]'"
	case client.CodeArgsTooLarge, client.CodeBodyTooLarge:
		return "send smaller arguments (the server bounds them with --max-args-bytes and --max-body-bytes)"
	case client.CodeOverloaded, client.CodeStopping, client.CodeTooManyConnections:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("the server is busy: retry in %v", e.RetryAfter)
		}
		return "the server is busy: retry shortly"
	case client.CodeActionTimeout:
		return "the action ran longer than the server's --action-timeout"
	case client.CodeInternal:
		return "the server's log has the details"
	}
	if strings.HasPrefix(e.Code, "http_") {
		return "is --addr pointing at a rivet-flow server?"
	}
	return ""
}

// writeJSON prints v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
