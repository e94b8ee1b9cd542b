package oauth

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/ratelimit"
)

// Defaults of Config.LoginRateLimit and Config.LoginAddrRateLimit: failed
// password attempts on the login page.
var (
	DefaultLoginRateLimit     = ratelimit.Policy{Name: "login-account", Limit: 5, Window: 15 * time.Minute}
	DefaultLoginAddrRateLimit = ratelimit.Policy{Name: "login-address", Limit: 50, Window: 15 * time.Minute}
)

// loginLimiter counts failed password attempts per account and per client
// address. Once a counter has reached its limit, the login page answers
// 429 without checking the password until the window ends. The account
// counter is keyed by an HMAC (under the session key) of the lowercased
// e-mail: no address is stored or logged in clear.
type loginLimiter struct {
	store limiter.Store
	// local counts on this instance alone while store fails (a shared
	// store down must not open the login page to guessing).
	local         limiter.Store
	account, addr limiter.Rate
	mac           func(parts ...string) string
	clientAddr    func(r *http.Request) string
	log           *slog.Logger
}

func (l *loginLimiter) keys(r *http.Request, email string) [2]string {
	return [2]string{"oauth-login-account:" + l.mac("login-account", strings.ToLower(strings.TrimSpace(email))),
		"oauth-login-address:" + l.clientAddr(r)}
}

// blocked reports whether a counter has reached its limit, and how long
// until it resets. The local counters (this instance's, kept while the
// store failed) count too, so a store that fails never lets guessing
// through: during an outage each instance limits on its own.
func (l *loginLimiter) blocked(ctx context.Context, keys [2]string) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i, rate := range []limiter.Rate{l.account, l.addr} {
		stores := []limiter.Store{l.store, l.local}
		if l.store == l.local {
			stores = stores[:1]
		}
		for _, st := range stores {
			c, err := st.Peek(ctx, keys[i], rate)
			if err != nil {
				l.log.WarnContext(ctx, "oauth: login attempt counters unavailable; this instance's counters apply",
					slog.String("error", err.Error()))
				continue
			}
			if c.Remaining <= 0 {
				return true, time.Until(time.Unix(c.Reset, 0))
			}
		}
	}
	return false, 0
}

// failed counts a failed attempt on both counters, on this instance's
// counters when the store fails.
func (l *loginLimiter) failed(ctx context.Context, keys [2]string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for i, rate := range []limiter.Rate{l.account, l.addr} {
		if _, err := l.store.Increment(ctx, keys[i], 1, rate); err != nil {
			l.log.WarnContext(ctx, "oauth: counting a failed login failed; counted on this instance",
				slog.String("error", err.Error()))
			if l.local != l.store {
				_, _ = l.local.Increment(ctx, keys[i], 1, rate)
			}
		}
	}
}

// setupLoginLimiter builds the login limiter from the configuration.
func (s *Server) setupLoginLimiter() {
	local := ratelimit.NewMemoryStore()
	st := s.cfg.RateLimitStore
	if st == nil {
		st = local
	}
	addr := s.cfg.ClientAddr
	if addr == nil {
		addr = remoteHost
	}
	s.login = &loginLimiter{store: st, local: local, mac: s.mac, log: s.log, clientAddr: addr,
		account: limiter.Rate{Period: s.cfg.LoginRateLimit.Window, Limit: s.cfg.LoginRateLimit.Limit},
		addr:    limiter.Rate{Period: s.cfg.LoginAddrRateLimit.Window, Limit: s.cfg.LoginAddrRateLimit.Limit}}
}

// tooManyLogins answers the login page with 429.
func (s *Server) tooManyLogins(w http.ResponseWriter, r *http.Request, req *authRequest, wait time.Duration) {
	minutes := max(int64((wait+time.Minute-1)/time.Minute), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(max(int64(wait/time.Second), 1), 10))
	s.cfg.OnFailure("authorize", "login_rate_limited")
	unit := "minutes"
	if minutes == 1 {
		unit = "minute"
	}
	s.loginPage(w, r, req, http.StatusTooManyRequests, "Trop de tentatives de connexion échouées. Réessayez dans "+
		strconv.FormatInt(minutes, 10)+" "+unit+".")
}

// remoteHost is the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
