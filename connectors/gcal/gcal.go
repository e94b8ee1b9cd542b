// Package gcal is the Google Calendar connector: affectations (planning)
// of the Hub become events of one calendar, and the calendar's changes come
// back through push notifications and incremental sync.
//
// It speaks the Calendar API v3 over plain HTTP (net/http and
// golang.org/x/oauth2, which the framework already uses) rather than
// google.golang.org/api/calendar/v3: that client pulls some 68 modules
// (gRPC, OpenCensus/OpenTelemetry, Google auth libraries) for the six
// endpoints used here, and its errors would need the same classification
// anyway. The endpoints:
//
//	GET    /calendar/v3/calendars/{calendarId}/events             list (pageToken, syncToken, showDeleted, privateExtendedProperty)
//	POST   /calendar/v3/calendars/{calendarId}/events             insert (client-chosen id)
//	GET    /calendar/v3/calendars/{calendarId}/events/{eventId}   get (cancelled events too)
//	PATCH  /calendar/v3/calendars/{calendarId}/events/{eventId}   patch
//	DELETE /calendar/v3/calendars/{calendarId}/events/{eventId}   delete
//	POST   /calendar/v3/calendars/{calendarId}/events/watch       open a push channel
//	POST   /calendar/v3/channels/stop                             close it
//
// authenticated by OAuth 2 (offline access, so a refresh token; scope
// calendar.events only). The access token comes from the product through
// connectors.WithTokenSource; a 401 refreshes it once and retries.
//
// Hub → Calendar: an affectation's event has the id "hubaff<id>" (base32hex,
// so a repeated insert is a 409, never a duplicate event) and carries the
// affectation id and a hash of the content the Hub wrote in its private
// extended properties. An update whose content the event already has is
// not written (an event re-delivered, or a change that came from the
// calendar). Calendar → Hub: Sync reads the changes after its sync token;
// an event whose content still hashes to what the Hub wrote is the Hub's
// own write and is not read back as a change (no echo). A 410 (sync token
// expired) restarts a full sync.
package gcal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // affectations are local times of a named zone, wherever the server runs

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type; PathSlug is how it appears in the routes
// (/api/v1/integrations/google-calendar/...).
const (
	Type     = "google_calendar"
	PathSlug = "google-calendar"
)

// Google's endpoints.
const (
	BaseURL  = "https://www.googleapis.com"
	AuthURL  = "https://accounts.google.com/o/oauth2/auth"
	TokenURL = "https://oauth2.googleapis.com/token" // #nosec G101 -- the token endpoint's URL, not a credential
	// Scope is the least privilege that reads and writes events (and
	// watches them); calendars themselves are neither listed nor changed.
	Scope = "https://www.googleapis.com/auth/calendar.events"
)

// PageSize is how many events one Sync call reads (Google's default).
const PageSize = 250

// DefaultTimeZone is the zone of affectations when the setting is empty.
const DefaultTimeZone = "Europe/Paris"

// Private extended properties the Hub writes on its events.
const (
	PropAffectation = "hubchantierAffectationId"
	PropHash        = "hubchantierHash"
)

// Events handled by HandleEvent.
const (
	EventAffectationCreated = "affectation.created"
	EventAffectationUpdated = "affectation.updated"
	EventAffectationDeleted = "affectation.deleted"
)

// OAuth is Google's authorization-code flow with the given endpoints:
// offline access (the product always asks for it) and prompt=consent, so
// that authorizing again also returns a refresh token.
func OAuth(authURL, tokenURL string) *connectors.OAuthSpec {
	return &connectors.OAuthSpec{AuthURL: authURL, TokenURL: tokenURL, Scopes: []string{Scope},
		AuthParams: map[string]string{"prompt": "consent"}}
}

// Spec is the connector's spec. Its credentials are the OAuth tokens, kept
// apart from the configuration.
var Spec = SpecWith(OAuth(AuthURL, TokenURL))

// SpecWith is Spec with other OAuth endpoints (tests, a fake).
func SpecWith(o *connectors.OAuthSpec) connectors.Spec {
	return connectors.Spec{
		Type: Type,
		Settings: []connectors.Field{{Name: "calendar_id", Required: true, MaxLen: 1024},
			{Name: "time_zone", MaxLen: 64}},
		// Google's per-user default: 600 requests a minute.
		RateLimit: connectors.Rate{Limit: 10, Period: time.Second},
		OAuth:     o,
		Events:    []string{EventAffectationCreated, EventAffectationUpdated, EventAffectationDeleted},
	}
}

// Register adds the connector to reg.
func Register(reg *connectors.Registry) error { return reg.Register(Spec, New) }

// RegisterWith adds the connector with other OAuth endpoints (tests).
func RegisterWith(reg *connectors.Registry, o *connectors.OAuthSpec) error {
	return reg.Register(SpecWith(o), New)
}

// New builds the connector.
func New(opts connectors.Options) (connectors.Connector, error) {
	base := BaseURL
	if opts.BaseURL != "" {
		base = opts.BaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("gcal: invalid base URL")
	}
	return &Connector{base: strings.TrimSuffix(u.String(), "/"), client: opts.HTTPClient}, nil
}

// Connector is the Google Calendar connector.
type Connector struct {
	base   string
	client *http.Client
}

var (
	_ connectors.Connector = (*Connector)(nil)
	_ connectors.Watcher   = (*Connector)(nil)
)

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

func (c *Connector) eventsURL(cfg connectors.Config, suffix string, q url.Values) string {
	u := c.base + "/calendar/v3/calendars/" + url.PathEscape(cfg.Setting("calendar_id")) + "/events" + suffix
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// EventID is the id of affectation id's event.
func EventID(affectation int64) string { return "hubaff" + strconv.FormatInt(affectation, 10) }

// googleError is Google's error body.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Reason string `json:"reason"`
		} `json:"errors"`
	} `json:"error"`
}

var reasonRe = regexp.MustCompile(`^[A-Za-z]{1,64}$`)

// call sends one request with the connector's access token; a 401 refreshes
// the token once and tries again.
func (c *Connector) call(ctx context.Context, method, u string, body, out any) error {
	ts := connectors.TokenSourceFrom(ctx)
	if ts == nil {
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "the connector is not authorized (no OAuth token)"}
	}
	tok, err := ts.Token(ctx)
	if err != nil {
		return tokenError(err)
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return &connectors.Error{Kind: connectors.KindRejected, Msg: "unencodable request"}
		}
	}
	err = c.do(ctx, method, u, tok, payload, out)
	var e *connectors.Error
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		if tok, err = ts.Refresh(ctx, tok); err != nil {
			return tokenError(err)
		}
		err = c.do(ctx, method, u, tok, payload, out)
	}
	return err
}

func tokenError(err error) error {
	var e *connectors.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, connectors.ErrNoToken):
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "the connector is not authorized (no OAuth token)"}
	}
	return err
}

func (c *Connector) do(ctx context.Context, method, u string, tok *oauth2.Token, payload []byte, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req) // #nosec G704 -- the base URL is fixed by this package (Options.BaseURL only on a registry allowing overrides)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, connectors.MaxResponseBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(resp, body)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return transportError(ctx, ctx.Err())
		}
		return &connectors.Error{Kind: connectors.KindMalformed, Status: resp.StatusCode, Msg: "the answer is not the JSON expected"}
	}
	return nil
}

// statusError classifies Google's error answers: 429 and 403
// rateLimitExceeded/userRateLimitExceeded/quotaExceeded are rate limits;
// 401 and other 403s refused credentials; 5xx temporary; 404, 409, 410
// keep their status for the callers.
func statusError(resp *http.Response, body io.Reader) error {
	var ge googleError
	_ = json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&ge)
	reason := ""
	if len(ge.Error.Errors) > 0 && reasonRe.MatchString(ge.Error.Errors[0].Reason) {
		reason = ge.Error.Errors[0].Reason // a constant of Google's, never user data
	}
	say := func(s string) string {
		if reason != "" {
			return s + " (" + reason + ")"
		}
		return s
	}
	st := resp.StatusCode
	retry := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	switch {
	case st == http.StatusTooManyRequests,
		st == http.StatusForbidden && (reason == "rateLimitExceeded" || reason == "userRateLimitExceeded" || reason == "quotaExceeded"):
		return &connectors.Error{Kind: connectors.KindRateLimited, Status: st, RetryAfter: retry, Msg: say("Google's rate limit was reached")}
	case st >= 500:
		return &connectors.Error{Kind: connectors.KindUnavailable, Status: st, RetryAfter: retry, Msg: say("Google failed to answer")}
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return &connectors.Error{Kind: connectors.KindAuth, Status: st, Msg: say("Google refused the credentials")}
	}
	return &connectors.Error{Kind: connectors.KindRejected, Status: st, Msg: say("Google refused the request")}
}

func transportError(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &connectors.Error{Kind: connectors.KindTimeout, Msg: "Google did not answer in time"}
	case ctx.Err() != nil:
		return &connectors.Error{Kind: connectors.KindTimeout, Msg: "cancelled"}
	}
	return &connectors.Error{Kind: connectors.KindUnavailable, Msg: "connection to Google failed"}
}

func hasStatus(err error, status int) bool {
	var e *connectors.Error
	return errors.As(err, &e) && e.Status == status
}

// Check implements connectors.Connector: the token may list the calendar's
// events.
func (c *Connector) Check(ctx context.Context, cfg connectors.Config) error {
	if _, err := location(cfg); err != nil {
		return err
	}
	var page eventList
	err := c.call(ctx, http.MethodGet, c.eventsURL(cfg, "", url.Values{"maxResults": {"1"}}), nil, &page)
	if hasStatus(err, http.StatusNotFound) {
		return &connectors.Error{Kind: connectors.KindRejected, Status: http.StatusNotFound, Msg: "the calendar does not exist or is not shared with the account"}
	}
	return err
}

func location(cfg connectors.Config) (*time.Location, error) {
	tz := cfg.Setting("time_zone")
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "time_zone is not an IANA time zone"}
	}
	return loc, nil
}
