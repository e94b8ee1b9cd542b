// Command hubchantier is the Hub Chantier reference server and its
// administration CLI.
//
//	hubchantier serve [--addr 127.0.0.1:8080] [--demo] [--metrics-addr 127.0.0.1:9464]
//	hubchantier migrate [--unlock]
//	hubchantier user create --email E --role R [--nom N] [--prenom P] [--password-stdin]
//	hubchantier user disable|enable --email E
//	hubchantier apikey create --user E --name N --scopes a,b [--expires 720h]
//	hubchantier apikey list --user E
//	hubchantier apikey revoke --id N
//	hubchantier seed --chantiers N
//	hubchantier counters check|rebuild
//
// Configuration comes from the HUB_* environment variables that
// server.ConfigFromEnv reads and checks (server.EnvNames lists them); flags
// override them. A bad value stops the command with a message naming the
// variable.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hubchantier/hubchantier/hubapi/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hubchantier:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  hubchantier serve [--addr 127.0.0.1:8080] [--demo] [--metrics-addr 127.0.0.1:9464]
  hubchantier migrate [--unlock]
  hubchantier user create --email E --role admin|conducteur|chef_chantier|compagnon [--nom N] [--prenom P] [--password-stdin]
  hubchantier user disable|enable --email E
  hubchantier apikey create --user E --name N --scopes a,b [--expires 720h]
  hubchantier apikey list --user E
  hubchantier apikey revoke --id N
  hubchantier seed --chantiers N [--users U] [--seed-value S] [--append] [--now YYYY-MM-DD] [--years Y]
  hubchantier counters check|rebuild
`

// usageText is usage followed by the variables the configuration reads.
func usageText() string {
	return usage + "\nenvironment (flags override): " + strings.Join(server.EnvNames(), ", ") + "\n  HUB_DATABASE_URL: sqlite:<path> | postgres://..."
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usageText())
		return fmt.Errorf("missing command")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], stdout)
	case "user":
		if len(args) > 1 {
			switch args[1] {
			case "create":
				return cmdUserCreate(ctx, args[2:], stdin, stdout)
			case "disable":
				return cmdUserDisable(ctx, args[2:], true, stdout, stderr)
			case "enable":
				return cmdUserDisable(ctx, args[2:], false, stdout, stderr)
			}
		}
	case "apikey":
		if len(args) > 1 {
			switch args[1] {
			case "create":
				return cmdAPIKeyCreate(ctx, args[2:], stdout)
			case "list":
				return cmdAPIKeyList(ctx, args[2:], stdout)
			case "revoke":
				return cmdAPIKeyRevoke(ctx, args[2:], stdout, stderr)
			}
		}
	case "seed":
		return cmdSeed(ctx, args[1:], stdout, stderr)
	case "counters":
		return cmdCounters(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usageText())
		return nil
	}
	fmt.Fprintln(stderr, usageText())
	return fmt.Errorf("unknown command %q", args[0])
}
