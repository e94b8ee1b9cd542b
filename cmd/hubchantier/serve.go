package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/hubapi/server"
)

// Timeouts of the API listener. writeTimeout also bounds how long a request
// may still write its answer after a SIGTERM (see shutdown).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 120 * time.Second
	idleTimeout       = 120 * time.Second
)

func serveCommand() command {
	return command{name: "serve",
		args:    "[--addr A] [--demo] [--metrics-addr A] [--tls-cert F --tls-key F] [--redirect-addr A] [--public-host H] [--shutdown-grace D]",
		summary: "run the API server",
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			addr := fs.String("addr", "", "listen address, host:port (default: HUB_ADDR or "+server.DefaultAddr+")")
			demo := fs.Bool("demo", false, "seed a small demo data set once and print a demo admin key valid 30 days (a rerun revokes the previous one)")
			metricsAddr := fs.String("metrics-addr", "", "serve /metrics on this address instead of the API listener (default: HUB_METRICS_ADDR)")
			tlsCert := fs.String("tls-cert", "", "PEM certificate chain: serve HTTPS (default: HUB_TLS_CERT)")
			tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert (default: HUB_TLS_KEY)")
			redirectAddr := fs.String("redirect-addr", "", "plain-HTTP listener that only redirects to HTTPS (default: HUB_REDIRECT_ADDR)")
			publicHost := fs.String("public-host", "", "host[:port] the redirects point to (default: HUB_PUBLIC_HOST, else the requested host)")
			grace := fs.Duration("shutdown-grace", 0, "time in-flight requests get after SIGTERM before a warning (default: HUB_SHUTDOWN_GRACE or 30s)")
			return func(ctx context.Context, st streams) error {
				cfg, err := config()
				if err != nil {
					return err
				}
				for dst, v := range map[*string]string{&cfg.Addr: *addr, &cfg.MetricsAddr: *metricsAddr, &cfg.TLSCertFile: *tlsCert,
					&cfg.TLSKeyFile: *tlsKey, &cfg.RedirectAddr: *redirectAddr, &cfg.PublicHost: *publicHost} {
					if v != "" {
						*dst = v
					}
				}
				if *grace < 0 {
					return usagef("--shutdown-grace must be positive")
				}
				if *grace > 0 {
					cfg.ShutdownGrace = *grace
				}
				if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
					return usagef("--tls-cert and --tls-key go together")
				}
				if cfg.RedirectAddr != "" && cfg.TLSCertFile == "" {
					return usagef("--redirect-addr needs TLS (--tls-cert and --tls-key)")
				}
				if err := server.CheckPublicHost(cfg.PublicHost); err != nil {
					return usagef("--public-host: %v", err)
				}
				return serve(ctx, cfg, *demo, st)
			}
		}}
}

// listeners are the sockets of serve, bound before anything else happens
// (a port taken stops serve before the database is opened).
type listeners struct {
	api, redirect, metrics net.Listener
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.api, l.redirect, l.metrics} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

func listen(cfg server.Config) (*listeners, error) {
	l := &listeners{}
	var err error
	if l.api, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	if cfg.RedirectAddr != "" {
		if l.redirect, err = net.Listen("tcp", cfg.RedirectAddr); err != nil {
			l.close()
			return nil, err
		}
	}
	if cfg.MetricsAddr != "" {
		if l.metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			l.close()
			return nil, err
		}
	}
	return l, nil
}

// serve binds its ports, answers health checks at once (/readyz 503 while
// it starts), builds the server (migrations, demo data), then serves the
// API until ctx ends, and shuts down without cutting in-flight requests.
func serve(ctx context.Context, cfg server.Config, demo bool, st streams) error {
	log := slog.New(slog.NewJSONHandler(st.stderr, nil))
	cfg.Logger = log
	// go-redis logs through one process-wide logger: JSON like the rest.
	redis.SetLogger(server.RedisLogging(log))
	cfg.MetricsOwnListener = cfg.MetricsAddr != ""
	var certs *server.CertReloader
	if cfg.TLSCertFile != "" {
		var err error
		if certs, err = server.NewCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return err
		}
	}
	ls, err := listen(cfg)
	if err != nil {
		return err
	}
	defer ls.close()

	handler := server.NewSwapHandler(server.StartingHandler())
	var inFlight atomic.Int64
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		handler.ServeHTTP(w, r)
	})
	hs := &http.Server{Handler: counted, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	errc := make(chan error, 3)
	if certs != nil {
		scheme = "https"
		hs.TLSConfig = certs.TLSConfig()
		go func() { errc <- hs.ServeTLS(ls.api, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ls.api) }()
	}
	servers := []*http.Server{hs}
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()

	if cfg.OAuthIssuer == "" && cfg.PublicHost == "" {
		// The OAuth issuer is where this listener answers on this machine.
		_, port, _ := net.SplitHostPort(ls.api.Addr().String())
		cfg.OAuthIssuer = scheme + "://localhost:" + port
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	var demoKey string
	var demoAuth *demoOAuth
	if demo {
		srv.SetUnready("seeding demo data")
		handler.Store(srv.Handler)
		if demoKey, err = seedDemo(ctx, srv.Service, srv.Operator); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if o := srv.OAuth(); o != nil {
			if demoAuth, err = seedDemoOAuth(ctx, srv.Operator, o, server.OAuthIssuer(cfg)); err != nil {
				return fmt.Errorf("OAuth demo: %w", err)
			}
		}
		srv.SetReady()
	} else {
		handler.Store(srv.Handler)
	}

	if ls.redirect != nil {
		_, tlsPort, _ := net.SplitHostPort(ls.api.Addr().String())
		rs := &http.Server{Handler: server.HTTPSRedirect(cfg.PublicHost, tlsPort), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, rs)
		fmt.Fprintf(st.stdout, "redirecting http://%s to HTTPS\n", ls.redirect.Addr())
		go func() { errc <- rs.Serve(ls.redirect) }()
	}
	if ls.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler)
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, ms)
		fmt.Fprintf(st.stdout, "metrics on http://%s/metrics\n", ls.metrics.Addr())
		go func() { errc <- ms.Serve(ls.metrics) }()
	}
	if certs != nil {
		stopHUP := reloadOnSIGHUP(certs, log)
		defer stopHUP()
	} else if !loopback(ls.api.Addr()) {
		log.Warn("serving plain HTTP on a non-loopback address: HTTPS is mandatory in production; set HUB_TLS_CERT and HUB_TLS_KEY, or keep a TLS-terminating proxy in front (see docs/OPERATIONS.md)")
	}
	if demoKey != "" {
		fmt.Fprintf(st.stdout, "Demo admin API key (shown once, valid 30 days; a rerun revokes it and prints a new one):\n%s\n", demoKey)
	}
	if demoAuth != nil {
		demoAuth.print(st.stdout)
	}
	fmt.Fprintf(st.stdout, "Hub Chantier listening on %s://%s (API /api/v1, docs /docs)\n", scheme, ls.api.Addr())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return shutdown(srv, servers, cfg.ShutdownGrace, &inFlight, log)
}

// shutdown stops serving without cutting requests that are being answered:
// /readyz turns 503, the listeners close (new connections are refused),
// idle connections close, and requests in flight run to their end. When
// the grace period passes, the requests still running are logged and still
// waited for, up to the write timeout (past it their answer can no longer
// be written anyway). A second SIGTERM or SIGINT closes every connection at
// once.
func shutdown(srv *server.Server, servers []*http.Server, grace time.Duration, inFlight *atomic.Int64, log *slog.Logger) error {
	srv.SetUnready("shutting down")
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	log.Info("shutting down: no new connections; waiting for in-flight requests",
		slog.Int64("in_flight", inFlight.Load()), slog.String("grace", grace.String()))
	hard, cancel := context.WithTimeout(context.Background(), max(grace, writeTimeout))
	defer cancel()
	go func() {
		select {
		case <-again:
			log.Warn("second signal: closing every connection now")
			cancel()
		case <-hard.Done():
		}
	}()
	overdue := time.AfterFunc(grace, func() {
		log.Warn("grace period over: still answering the requests in flight (a second SIGTERM closes them)",
			slog.Int64("in_flight", inFlight.Load()))
	})
	defer overdue.Stop()
	done := make(chan error, len(servers))
	for _, s := range servers {
		go func() { done <- s.Shutdown(hard) }()
	}
	var cut bool
	for range servers {
		if err := <-done; err != nil {
			cut = true
		}
	}
	if cut {
		for _, s := range servers {
			_ = s.Close()
		}
		return fmt.Errorf("shutdown: connections closed with %d request(s) still running", inFlight.Load())
	}
	log.Info("shutdown complete")
	return nil
}

// reloadOnSIGHUP reads the certificate files again on each SIGHUP; a failed
// reload keeps the certificate in use and is logged.
func reloadOnSIGHUP(certs *server.CertReloader, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := certs.Reload(); err != nil {
					log.Error("certificate reload failed: keeping the current certificate", slog.String("error", err.Error()))
				} else {
					log.Info("certificate reloaded")
				}
			case <-quit:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(quit) }
}

func loopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}
