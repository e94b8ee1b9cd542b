package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi/server"
)

// Exit statuses of Main.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// streams are the standard streams of a command.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one entry of the command table. Its flags are declared by
// setup, which returns the function that runs the command once the flags
// are parsed; Main parses them and answers --help, unknown flags and missing
// required flags the same way for every command.
type command struct {
	name     string // words after "hubchantier", e.g. "apikey create"
	args     string // synopsis of the flags, e.g. "--email E --role R"
	summary  string
	required []string // flags that must be given
	setup    func(fs *flag.FlagSet) func(ctx context.Context, io streams) error
}

// commands is the command table; `hubchantier help` lists it in this order.
func commands() []command {
	return []command{
		serveCommand(),
		migrateCommand(),
		userCreateCommand(),
		userDisableCommand(true),
		userDisableCommand(false),
		apikeyCreateCommand(),
		apikeyListCommand(),
		apikeyRevokeCommand(),
		oauthClientCreateCommand(),
		oauthClientListCommand(),
		oauthClientRevokeCommand(),
		webhookCreateCommand(),
		webhookListCommand(),
		secretsResealCommand(),
		seedCommand(),
		countersCommand("check", "compare the row counters with their tables (exit 1 when they disagree)"),
		countersCommand("rebuild", "recompute the row counters from their tables"),
		jobsStatusCommand(),
		auditVerifyCommand(),
		auditExportCommand(),
		auditPublicKeyCommand(),
	}
}

// usageError is a command line the command cannot run: Main prints the
// command's usage on stderr and exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Main runs the command line args and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	st := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, overview())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			// "hubchantier help apikey create" is "apikey create --help".
			return Main(ctx, append(args[1:], "--help"), stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, overview())
		return exitOK
	}
	c, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(stderr, "hubchantier: unknown command %q\n\n%s", strings.Join(commandWords(args), " "), overview())
		return exitUsage
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(st.stderr)
	runFn := c.setup(fs)
	fs.Usage = func() {}
	err := fs.Parse(rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, c, fs)
		return exitOK
	case err != nil:
		// The flag package has printed the reason.
		printUsage(stderr, c, fs)
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "hubchantier %s: unexpected argument %q\n", c.name, fs.Arg(0))
		printUsage(stderr, c, fs)
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []string
	for _, name := range c.required {
		if !set[name] {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "hubchantier %s: missing %s\n", c.name, strings.Join(missing, ", "))
		printUsage(stderr, c, fs)
		return exitUsage
	}
	// The changes an administration command makes are audited like the
	// API's: method "CLI", the command as user agent, a request id of
	// their own. A server's requests and jobs have records of their own.
	if c.name != "serve" {
		ctx = audit.Detached(ctx, cliRequestID(), "CLI", "hubchantier "+c.name)
	}
	err = runFn(ctx, st)
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hubchantier %s: %s\n", c.name, ue.msg)
		printUsage(stderr, c, fs)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "hubchantier: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// lookup finds the longest command name that args start with.
func lookup(args []string) (command, []string, bool) {
	var best command
	n := 0
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(words) > n && len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			best, n = c, len(words)
		}
	}
	return best, args[min(n, len(args)):], n > 0
}

// commandWords is the leading non-flag words of args (what was taken for a
// command name).
func commandWords(args []string) []string {
	var w []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(w) == 2 {
			break
		}
		w = append(w, a)
	}
	return w
}

func printUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: hubchantier %s %s\n\n%s\n", c.name, c.args, c.summary)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintln(w, "\nenvironment (flags override): see `hubchantier help`")
}

// overview lists the commands and the variables the configuration reads.
func overview() string {
	var b strings.Builder
	b.WriteString("usage: hubchantier <command> [flags]   (hubchantier <command> --help for its flags)\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-17s %s\n", c.name, c.summary)
	}
	b.WriteString("\nenvironment (flags override): " + strings.Join(server.EnvNames(), ", ") +
		"\n  HUB_DATABASE_URL: sqlite:<path> | postgres://...\n")
	return b.String()
}

// cliRequestID is a random id for a command's audit events (12 bytes,
// hex, like the server's request ids).
func cliRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
