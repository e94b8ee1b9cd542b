package metrics

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// Environment variables read by AccessConfigFromEnv.
const (
	// EnvAllowedCIDRs lists the networks allowed to scrape, comma-separated
	// CIDRs or addresses ("10.0.0.0/8,192.168.1.7"), or "any" to check
	// credentials only. Unset: loopback only.
	EnvAllowedCIDRs = "HUB_METRICS_ALLOWED_CIDRS"
	// EnvUser is the Basic authentication user name.
	EnvUser = "HUB_METRICS_USER"
	// EnvPasswordHash is the bcrypt hash of the Basic authentication
	// password (see HashPassword).
	EnvPasswordHash = "HUB_METRICS_PASSWORD_HASH" // #nosec G101 -- the variable name, not a credential
)

// ContentType is the media type of the exposition (Prometheus text format
// 0.0.4).
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// HashCost is the bcrypt cost HashPassword uses. The handler verifies the
// password once per distinct credential and remembers a keyed digest of the
// credentials it accepted, so the cost is paid once, not at every scrape.
const HashCost = 12

// DefaultAllowedNetworks is the allow-list used when AccessConfig names no
// network: the loopback addresses.
var DefaultAllowedNetworks = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// AccessConfig says who may read /metrics. The zero value allows loopback
// clients only. When credentials are set, a client must come from an allowed
// network and authenticate; with AnyNetwork it need only authenticate.
type AccessConfig struct {
	// AllowedNetworks lists the client networks allowed. Empty means
	// DefaultAllowedNetworks.
	AllowedNetworks []netip.Prefix
	// AnyNetwork skips the network check. It requires credentials: an
	// anonymous /metrics open to every address is refused.
	AnyNetwork bool

	// Username and PasswordHash (bcrypt) require HTTP Basic authentication
	// (RFC 7617). Both or neither must be set. The user name cannot contain
	// a colon (RFC 7617 §2).
	Username     string
	PasswordHash []byte

	// ClientIP establishes the client address: give it the resolver (and
	// so the trusted proxies) the rest of the server uses, so that /metrics
	// judges a request by the same address as the access log and the rate
	// limiter. Nil: X-Forwarded-For is ignored and the client is
	// r.RemoteAddr, which is right when /metrics is served on its own
	// listener with no proxy in front.
	ClientIP *clientip.Resolver
}

// AccessConfigFromEnv reads EnvAllowedCIDRs, EnvUser and EnvPasswordHash
// through getenv (os.Getenv). Errors name the variable, never a secret.
func AccessConfigFromEnv(getenv func(string) string) (AccessConfig, error) {
	var c AccessConfig
	if v := strings.TrimSpace(getenv(EnvAllowedCIDRs)); v != "" {
		if strings.EqualFold(v, "any") {
			c.AnyNetwork = true
		} else {
			nets, err := ParseNetworks(v)
			if err != nil {
				return AccessConfig{}, fmt.Errorf("metrics: %s: %w", EnvAllowedCIDRs, err)
			}
			c.AllowedNetworks = nets
		}
	}
	c.Username = getenv(EnvUser)
	if h := strings.TrimSpace(getenv(EnvPasswordHash)); h != "" {
		c.PasswordHash = []byte(h)
	}
	return c, nil
}

// ParseNetworks parses a comma-separated list of CIDR prefixes or single
// addresses (a /32 or /128 network), as clientip.ParsePrefixes does, and
// refuses an empty list.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	nets, err := clientip.ParsePrefixes(s)
	if err != nil {
		return nil, err
	}
	if len(nets) == 0 {
		return nil, errors.New("no network given")
	}
	return nets, nil
}

// HashPassword returns the bcrypt hash (cost HashCost) to put in
// EnvPasswordHash. bcrypt reads at most 72 bytes: longer passwords are
// refused.
func HashPassword(password []byte) (string, error) {
	if len(password) == 0 {
		return "", errors.New("metrics: empty password")
	}
	h, err := bcrypt.GenerateFromPassword(password, HashCost)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	return string(h), nil
}

// Handler returns the /metrics handler: the exposition of m (WritePrometheus)
// for GET and HEAD, behind the access rules of cfg. A client outside the
// allowed networks gets 403, missing or wrong credentials get 401 with a
// WWW-Authenticate challenge, other methods 405; all as RFC 9457 problem
// documents whose types are under hubapi.ProblemTypeBase. It fails when cfg
// is inconsistent (see AccessConfig). The handler can be mounted on the API
// router or served alone on a separate listener.
func (m *Metrics) Handler(cfg AccessConfig) (http.Handler, error) {
	g, err := newGuard(cfg)
	if err != nil {
		return nil, err
	}
	// Its own type base: on a separate listener no API middleware sets one.
	return problem.WithTypeBase(hubapi.ProblemTypeBase)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.allow(w, r) {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed",
				"The metrics endpoint answers GET and HEAD only."))
			return
		}
		var buf bytes.Buffer
		m.WritePrometheus(&buf)
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(buf.Bytes())
		}
	})), nil
}

// guard enforces an AccessConfig.
type guard struct {
	networks []netip.Prefix // nil with AnyNetwork
	clientIP *clientip.Resolver

	auth     bool
	userSum  [sha256.Size]byte
	hash     []byte
	macKey   [32]byte
	accepted atomic.Pointer[[sha256.Size]byte] // MAC of the last accepted credentials
	bcryptOK chan struct{}                     // bounds concurrent bcrypt checks
}

func newGuard(cfg AccessConfig) (*guard, error) {
	g := &guard{clientIP: cfg.ClientIP}
	if g.clientIP == nil {
		g.clientIP, _ = clientip.New(clientip.Config{}) // no proxy: the TCP peer
	}
	switch {
	case cfg.AnyNetwork && len(cfg.AllowedNetworks) > 0:
		return nil, errors.New("metrics: AnyNetwork and AllowedNetworks are exclusive")
	case cfg.AnyNetwork:
	case len(cfg.AllowedNetworks) == 0:
		g.networks = DefaultAllowedNetworks
	default:
		for _, p := range cfg.AllowedNetworks {
			if !p.IsValid() || p.Addr().Zone() != "" {
				return nil, fmt.Errorf("metrics: invalid allowed network %v", p)
			}
			// The same normal form as clientip (masked, IPv4-mapped
			// unmapped): the string round trip cannot fail for a valid p.
			n, err := clientip.ParsePrefixes(p.String())
			if err != nil {
				return nil, fmt.Errorf("metrics: invalid allowed network %v", p)
			}
			g.networks = append(g.networks, n...)
		}
	}
	switch {
	case cfg.Username == "" && len(cfg.PasswordHash) == 0:
		if cfg.AnyNetwork {
			return nil, errors.New("metrics: AnyNetwork requires Basic authentication credentials")
		}
	case cfg.Username == "" || len(cfg.PasswordHash) == 0:
		return nil, fmt.Errorf("metrics: set both %s and %s, or neither", EnvUser, EnvPasswordHash)
	case strings.ContainsRune(cfg.Username, ':'):
		return nil, errors.New("metrics: the user name cannot contain ':' (RFC 7617)")
	default:
		if _, err := bcrypt.Cost(cfg.PasswordHash); err != nil {
			return nil, fmt.Errorf("metrics: %s is not a bcrypt hash", EnvPasswordHash)
		}
		g.auth = true
		g.userSum = sha256.Sum256([]byte(cfg.Username))
		g.hash = append([]byte(nil), cfg.PasswordHash...)
		if _, err := rand.Read(g.macKey[:]); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		g.bcryptOK = make(chan struct{}, 1)
	}
	return g, nil
}

// allow reports whether r may read the metrics; when not, it has answered.
func (g *guard) allow(w http.ResponseWriter, r *http.Request) bool {
	if g.networks != nil {
		addr := g.clientIP.Resolve(r)
		if !addr.IsValid() || !clientip.Contains(g.networks, addr) {
			problem.Write(w, r, problem.New(http.StatusForbidden, "metrics-forbidden",
				"The metrics endpoint is not available from this network."))
			return false
		}
	}
	if !g.auth {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if ok {
		switch g.checkCredentials(user, pass) {
		case credOK:
			return true
		case credBusy:
			w.Header().Set("Retry-After", "1")
			problem.Write(w, r, problem.New(http.StatusTooManyRequests, "metrics-busy",
				"Too many authentication attempts in progress; retry shortly."))
			return false
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="metrics", charset="UTF-8"`)
	problem.Write(w, r, problem.New(http.StatusUnauthorized, "metrics-unauthorized",
		"Valid Basic credentials are required for the metrics endpoint."))
	return false
}

type credResult int

const (
	credBad credResult = iota
	credOK
	credBusy
)

// checkCredentials compares the user name in constant time and the password
// with bcrypt. Accepted credentials are remembered as an HMAC under a key
// drawn at start-up, so a scraper's repeated requests skip bcrypt; a wrong
// password always pays it, one check at a time.
func (g *guard) checkCredentials(user, pass string) credResult {
	mac := hmac.New(sha256.New, g.macKey[:])
	mac.Write(binary.BigEndian.AppendUint64(nil, uint64(len(user)))) // unambiguous user/password split
	mac.Write([]byte(user))
	mac.Write([]byte(pass))
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	if prev := g.accepted.Load(); prev != nil && hmac.Equal(prev[:], sum[:]) {
		return credOK
	}
	select {
	case g.bcryptOK <- struct{}{}:
		defer func() { <-g.bcryptOK }()
	default:
		return credBusy
	}
	userSum := sha256.Sum256([]byte(user))
	userOK := subtle.ConstantTimeCompare(userSum[:], g.userSum[:]) == 1
	passOK := bcrypt.CompareHashAndPassword(g.hash, []byte(pass)) == nil // always run: no user-name timing oracle
	if !userOK || !passOK {
		return credBad
	}
	g.accepted.Store(&sum)
	return credOK
}
