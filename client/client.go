package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Version is the SDK version sent in the User-Agent.
const Version = "0.1.0"

// DefaultUserAgent identifies the SDK; WithUserAgent puts the
// application's name in front of it.
const DefaultUserAgent = "hubchantier-go/" + Version

// DefaultMaxResponseBytes bounds the body of a response the client reads.
const DefaultMaxResponseBytes = 32 << 20

// Client calls a Hub Chantier server. It is safe for concurrent use; make
// one per credential (its ETag cache holds what that credential may see).
type Client struct {
	base      *url.URL
	http      *http.Client
	apiKey    string
	tokens    oauth2.TokenSource
	userAgent string
	insecure  bool
	maxBody   int64
	retry     RetryPolicy
	budget    *retryBudget
	cache     *etagCache
	onRetry   func(RetryEvent)
	sleep     func(context.Context, time.Duration) error

	onDeprecation func(Deprecation)
	deprecations  deprecationNotes

	// V2 is REST API v2 (/api/v2).
	V2 *V2
	// V1 is REST API v1 (/api/v1), deprecated: see WithOnDeprecation.
	V1 *V1
}

// Option configures a Client (New).
type Option func(*Client) error

// WithAPIKey authenticates every request with an API key
// ("Authorization: Bearer hck_..."). The key must start with "hck_".
func WithAPIKey(key string) Option {
	return func(c *Client) error {
		if !strings.HasPrefix(key, "hck_") {
			return errors.New(`hubchantier: an API key starts with "hck_"`)
		}
		c.apiKey, c.tokens = key, nil
		return nil
	}
}

// WithTokenSource authenticates every request (every retry included) with
// an OAuth 2 access token from ts, e.g. a clientcredentials.Config's
// TokenSource; wrap it in oauth2.ReuseTokenSource if it does not cache.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *Client) error {
		if ts == nil {
			return errors.New("hubchantier: nil token source")
		}
		c.tokens, c.apiKey = ts, ""
		return nil
	}
}

// WithHTTPClient sends requests through hc (timeouts, proxies, transport,
// instrumentation). The default is a client with a 60 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("hubchantier: nil http.Client")
		}
		c.http = hc
		return nil
	}
}

// WithUserAgent names the application in the User-Agent, before the SDK's
// own product token: "myapp/1.2 hubchantier-go/0.1.0".
func WithUserAgent(product string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(product, "\r\n") {
			return errors.New("hubchantier: user agent holds a line break")
		}
		c.userAgent = strings.TrimSpace(product + " " + DefaultUserAgent)
		return nil
	}
}

// WithRetryPolicy replaces the default retry policy (see RetryPolicy).
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) error {
		c.retry = p.withDefaults()
		return nil
	}
}

// WithETagCache sets how many responses the conditional-GET cache keeps
// (default 256); 0 turns the cache off.
func WithETagCache(entries int) Option {
	return func(c *Client) error {
		if entries < 0 {
			return errors.New("hubchantier: negative cache size")
		}
		c.cache = newETagCache(entries, defaultCacheEntryBytes)
		return nil
	}
}

// WithMaxResponseBytes bounds the size of a response body the client
// reads (default DefaultMaxResponseBytes); a longer body is an error.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return errors.New("hubchantier: response limit must be positive")
		}
		c.maxBody = n
		return nil
	}
}

// WithOnRetry calls fn before each retry, e.g. to log or count retries.
func WithOnRetry(fn func(RetryEvent)) Option {
	return func(c *Client) error {
		c.onRetry = fn
		return nil
	}
}

// WithInsecureHTTP allows credentials over plain http to a host other than
// the loopback interface (a test network). Without it New refuses such a
// base URL, so that a key never crosses a network in clear text.
func WithInsecureHTTP() Option {
	return func(c *Client) error {
		c.insecure = true
		return nil
	}
}

// New returns a client of the server at baseURL: its root, without
// /api/v1 ("https://hub.example.com", or with the path prefix the server
// is mounted under).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("hubchantier: base URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("hubchantier: base URL %q: want http(s)://host[/prefix]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("hubchantier: base URL %q: no query, fragment or user info", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &Client{
		base:      u,
		http:      &http.Client{Timeout: 60 * time.Second},
		userAgent: DefaultUserAgent,
		maxBody:   DefaultMaxResponseBytes,
		retry:     RetryPolicy{}.withDefaults(),
		cache:     newETagCache(defaultCacheEntries, defaultCacheEntryBytes),
		sleep:     sleepCtx,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if u.Scheme == "http" && (c.apiKey != "" || c.tokens != nil) && !c.insecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("hubchantier: base URL %q sends credentials in clear text: use https (or WithInsecureHTTP on a test network)", baseURL)
	}
	c.budget = newRetryBudget(c.retry.Budget)
	c.V1 = newV1(c)
	c.V2 = newV2(c)
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// request is one API call before it is sent.
type request struct {
	method      string
	path        string // from the server root, e.g. /api/v1/chantiers/42
	query       string // encoded
	body        []byte
	contentType string
	header      http.Header
}

// response is a read answer; body is the cached copy when the server
// answered 304 to the cache's If-None-Match.
type response struct {
	status int
	header http.Header
	body   []byte
	cached bool
}

func (c *Client) url(path, query string) string {
	u := *c.base
	u.Path += path
	u.RawQuery = query
	return u.String()
}

// do sends r with authentication, conditional-GET caching and retries, and
// turns an error status into *Error.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	if ctx == nil {
		return nil, errors.New("hubchantier: nil context")
	}
	target := c.url(r.path, r.query)
	var cached *cacheEntry
	if r.method == http.MethodGet && r.header.Get("If-None-Match") == "" {
		cached = c.cache.get(target)
	}
	for attempt := 1; ; attempt++ {
		res, err := c.send(ctx, r, target, cached)
		if err != nil {
			return nil, err
		}
		if res.status == http.StatusNotModified && cached != nil {
			c.budget.success()
			return &response{status: http.StatusOK, header: res.header, body: cached.body, cached: true}, nil
		}
		if res.status < 400 {
			c.budget.success()
			if r.method == http.MethodGet && res.status == http.StatusOK {
				c.cache.put(target, res.header.Get("ETag"), res.body)
			}
			return res, nil
		}
		perr := decodeError(r.method, r.path, res)
		wait, retry := c.retry.decide(r, res, attempt)
		if !retry {
			if !retryableStatus(res.status) {
				c.budget.success()
			}
			return nil, perr
		}
		if !c.budget.take() {
			return nil, errors.Join(perr, ErrRetryBudgetExhausted)
		}
		if c.onRetry != nil {
			c.onRetry(RetryEvent{Method: r.method, Path: r.path, Attempt: attempt, Status: res.status, Wait: wait, Err: perr})
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, errors.Join(perr, err)
		}
	}
}

// send makes one attempt and reads the whole body (bounded).
func (c *Client) send(ctx context.Context, r *request, target string, cached *cacheEntry) (*response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("hubchantier: %s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", c.userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, application/problem+json")
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if cached != nil {
		req.Header.Set("If-None-Match", cached.etag)
	}
	switch {
	case c.tokens != nil:
		tok, err := c.tokens.Token()
		if err != nil {
			return nil, fmt.Errorf("hubchantier: %s %s: token: %w", r.method, r.path, err)
		}
		tok.SetAuthHeader(req)
	case c.apiKey != "":
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	res, err := c.http.Do(req) // #nosec G704 -- the URL is the configured server's
	if err != nil {
		return nil, fmt.Errorf("hubchantier: %s %s: %w", r.method, r.path, scrubURLError(err))
	}
	defer res.Body.Close()
	if c.onDeprecation != nil {
		if d, ok := deprecationOf(r.method, r.path, res.Header); ok {
			c.deprecations.note(d, c.onDeprecation)
		}
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("hubchantier: %s %s: reading the response: %w", r.method, r.path, err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("hubchantier: %s %s: response larger than %d bytes", r.method, r.path, c.maxBody)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// scrubURLError drops the URL from a transport error: its query may hold a
// pagination cursor, which must not reach logs.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
