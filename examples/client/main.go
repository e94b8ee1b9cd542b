// Command client uses the Go SDK (package client) on API v2: it lists the
// chantiers updated today and, with -status, moves one of them to that
// state with a conditional write.
//
//	export HUB_URL=https://hub.example.com HUB_API_KEY=hck_...
//	go run ./examples/client                        # chantiers updated today
//	go run ./examples/client -status receptionne    # … and patch the first one
//	go run ./examples/client -id 42 -status ferme   # … and patch chantier 42
//
// The list is sorted by -updatedAt and the iteration stops at the first
// chantier updated before midnight (local time): the pages after it are
// never fetched. The patch carries If-Match with the version just read;
// when someone else wrote in between (412), the program reads the
// chantier again and retries once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/client/apiv2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// run parses args (falling back on HUB_URL and HUB_API_KEY), lists the
// chantiers updated on now's day and applies the patch asked for.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	baseURL := fs.String("url", getenv("HUB_URL"), "server root URL (env HUB_URL)")
	key := fs.String("key", "", "API key hck_... (default: env HUB_API_KEY; prefer the environment, flags show in ps)")
	id := fs.Int64("id", 0, "chantier to patch (default: the most recently updated)")
	status := fs.String("status", "", "new state of the chantier: ouvert, en_cours, receptionne or ferme (default: no patch)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		*key = getenv("HUB_API_KEY")
	}
	if *baseURL == "" || *key == "" {
		return errors.New("set -url (or HUB_URL) and HUB_API_KEY")
	}
	st := apiv2.ChantierPatchStatus(*status)
	switch st {
	case "", apiv2.ChantierPatchStatusOuvert, apiv2.ChantierPatchStatusEnCours,
		apiv2.ChantierPatchStatusReceptionne, apiv2.ChantierPatchStatusFerme:
	default:
		return fmt.Errorf("-status %q: want ouvert, en_cours, receptionne or ferme", *status)
	}
	c, err := client.New(*baseURL, client.WithAPIKey(*key), client.WithUserAgent("hubchantier-example/1"))
	if err != nil {
		return err
	}

	y, m, d := now.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCODE\tNOM\tSTATUT\tUPDATED")
	var first int64
	n := 0
	params := &apiv2.ListChantiersParams{Sort: ptr("-updatedAt"), Limit: ptr(50)}
	for ch, err := range c.V2.Chantiers.List(ctx, params) {
		if err != nil {
			return err
		}
		if ch.UpdatedAt.Before(midnight) {
			break // sorted by -updatedAt: the rest is older
		}
		if first == 0 {
			first = ch.Id
		}
		n++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ch.Id, ch.Code, ch.Name, ch.Status, ch.UpdatedAt.Local().Format(time.TimeOnly))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d chantier(s) updated today\n", n)

	if *status == "" {
		return nil
	}
	target := *id
	if target == 0 {
		target = first
	}
	if target == 0 {
		return errors.New("no chantier to patch: none was updated today (use -id)")
	}
	ch, err := setStatus(ctx, c, target, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "chantier %d (%s) is now %s, version %d\n", ch.Id, ch.Code, ch.Status, ch.Version)
	return nil
}

// setStatus reads the chantier and patches it conditionally on the
// version read; after a 412 it reads again and retries once.
func setStatus(ctx context.Context, c *client.Client, id int64, st apiv2.ChantierPatchStatus) (*apiv2.Chantier, error) {
	for attempt := 1; ; attempt++ {
		cur, err := c.V2.Chantiers.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		patch := &apiv2.ChantierPatch{Status: nullable.NewNullableWithValue(st)}
		ch, err := c.V2.Chantiers.Update(ctx, id, patch, client.IfVersion(cur.Version))
		if errors.Is(err, client.ErrPreconditionFailed) && attempt == 1 {
			continue // changed since we read it: read again
		}
		return ch, err
	}
}

func ptr[T any](v T) *T { return &v }
