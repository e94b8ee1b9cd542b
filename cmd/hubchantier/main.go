// Command hubchantier is the Hub Chantier reference server and its
// administration CLI.
//
//	hubchantier serve [--addr 127.0.0.1:8080] [--demo] [--metrics-addr A] [--tls-cert F --tls-key F] [--redirect-addr A]
//	hubchantier migrate [--unlock]
//	hubchantier user create --email E --role R [--nom N] [--prenom P] [--password-stdin]
//	hubchantier user disable|enable --email E
//	hubchantier apikey create --user E --name N --scopes a,b [--expires 720h] [--allow-ip CIDR ...] [--auto-rotate [--rotation-days 90]]
//	hubchantier apikey list --user E
//	hubchantier apikey revoke --id N
//	hubchantier webhook create --user E --url U --events a,b [--description D]
//	hubchantier webhook list
//	hubchantier secrets reseal
//	hubchantier seed --chantiers N
//	hubchantier counters check|rebuild
//	hubchantier jobs status
//
// Configuration comes from the HUB_* environment variables that
// server.ConfigFromEnv reads and checks (server.EnvNames lists them); flags
// override them. A bad value stops the command with a message naming the
// variable.
//
// Exit status: 0 on success and for --help, 1 when the command fails, 2 on
// a usage error (unknown command or flag, a missing or invalid flag value).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
