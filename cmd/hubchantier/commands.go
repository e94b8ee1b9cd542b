package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// config reads and checks every HUB_* variable (server.ConfigFromEnv): a
// bad value stops any command, with a message naming the variable.
func config() (server.Config, error) {
	return server.ConfigFromEnv(os.Environ())
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// openDB opens the configured database (HUB_DATABASE_URL) and migrates it.
func openDB(ctx context.Context) (*store.DB, error) {
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	db, err := store.Open(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openOperator opens the configured database, migrates it and returns the
// operations that check no caller (for the administration commands).
func openOperator(ctx context.Context) (*service.Operator, func(), error) {
	cfg, err := config()
	if err != nil {
		return nil, nil, err
	}
	db, err := openDB(ctx)
	if err != nil {
		return nil, nil, err
	}
	blobs, err := blob.NewDir(cfg.BlobDir)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return service.NewOperator(service.New(db, blobs)), func() { _ = db.Close() }, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := config()
	if err != nil {
		return err
	}
	fs := newFlags("serve")
	addr := fs.String("addr", cfg.Addr, "listen address")
	demo := fs.Bool("demo", false, "seed a small demo data set and print a demo admin key")
	metricsAddr := fs.String("metrics-addr", cfg.MetricsAddr, "serve /metrics on this address instead of the API listener")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg.Logger = log
	// go-redis logs through one process-wide logger: JSON like the rest.
	redis.SetLogger(server.RedisLogging(log))
	cfg.MetricsOwnListener = *metricsAddr != ""
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *demo {
		key, err := seedDemo(ctx, srv.Service, srv.Operator)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		fmt.Fprintf(stdout, "Demo admin API key (shown once):\n%s\n", key)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "Hub Chantier listening on http://%s (API /api/v1, docs /docs)\n", ln.Addr())
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	var ms *http.Server
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			_ = hs.Close()
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler)
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
		go func() { errc <- ms.Serve(mln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ms != nil {
		_ = ms.Shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("migrate")
	unlock := fs.Bool("unlock", false, "first remove a migration lock left by an earlier version (see docs/OPERATIONS.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *unlock {
		if err := unlockMigrations(ctx, stdout); err != nil {
			return err
		}
	}
	_, closeFn, err := openOperator(ctx)
	if err != nil {
		return err
	}
	closeFn()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func cmdUserCreate(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("user create")
	email := fs.String("email", "", "e-mail (required)")
	role := fs.String("role", "", "admin | conducteur | chef_chantier | compagnon (required)")
	nom := fs.String("nom", "", "family name")
	prenom := fs.String("prenom", "", "given name")
	pwStdin := fs.Bool("password-stdin", false, "read a password from the first line of stdin")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *role == "" {
		return errors.New("user create: --email and --role are required")
	}
	var password string
	if *pwStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("user create: empty password on stdin")
		}
	}
	svc, closeFn, err := openOperator(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	u := &hubapi.User{Email: *email, Role: hubapi.Role(*role), Nom: *nom, Prenom: *prenom}
	if err := svc.CreateUser(ctx, u, password); err != nil {
		return describe(err)
	}
	fmt.Fprintf(stdout, "user %d created: %s (%s)\n", u.ID, u.Email, u.Role)
	return nil
}

func cmdAPIKeyCreate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("apikey create")
	email := fs.String("user", "", "owner e-mail (required)")
	name := fs.String("name", "", "key name (required)")
	scopes := fs.String("scopes", "", "comma-separated scopes (required)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: no expiry)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" || *scopes == "" {
		return errors.New("apikey create: --user, --name and --scopes are required")
	}
	sc, err := hubapi.ParseScopes(*scopes)
	if err != nil {
		return describe(err)
	}
	svc, closeFn, err := openOperator(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	u, err := svc.FindUserByEmail(ctx, *email)
	if err != nil {
		return fmt.Errorf("apikey create: user %q: %w", *email, err)
	}
	in := hubapi.APIKeyInput{UserID: u.ID, Name: *name, Scopes: sc}
	if *expires > 0 {
		t := time.Now().Add(*expires)
		in.ExpiresAt = &t
	}
	_, secret, err := svc.IssueAPIKey(ctx, in)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// describe makes validation errors readable on a terminal.
func describe(err error) error {
	var ve *hubapi.ValidationError
	if errors.As(err, &ve) {
		return errors.New(ve.Error())
	}
	return err
}
