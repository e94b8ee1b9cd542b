// Package slack is the Slack connector: it posts product events to a Slack
// channel, through an incoming webhook or a bot token with a channel.
//
// Events (connectors.Spec.Events):
//
//   - chantier.created → "Nouveau chantier X créé";
//   - signalement.urgent → an @channel alert with a link to the signalement;
//   - hours.weekly_summary → the validated hours of the week, by chantier
//     (a weekly job of the product);
//   - api_key.anomaly → an alert for the admins (anomaly detection of API
//     keys; only admins' connectors receive it).
//
// Messages are Block Kit blocks with a plain-text fallback ("text", shown
// in notifications). Slack's rate limits hold: at most one message per
// second per channel (or webhook) from this process, and a 429 answer's
// Retry-After is returned to the product, which waits that long before
// the delivery's next try.
//
// The connector speaks plain HTTP to two endpoints (chat.postMessage,
// auth.test) and to incoming webhooks rather than through slack-go: the
// whole surface is three JSON POSTs, each failure must be classified for
// the product's retries (Slack's "ok": false codes, 429 Retry-After on the
// API and on webhooks, webhooks' plain-text errors), and the credentials
// must never reach an error text; slack-go would add a websocket stack we
// do not use for the same three calls.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type.
const Type = "slack"

// Slack's base URLs: the Web API and incoming webhooks.
const (
	APIBaseURL   = "https://slack.com"
	HooksBaseURL = "https://hooks.slack.com"
)

// Event types the connector handles (the product's names).
const (
	EventChantierCreated    = "chantier.created"
	EventSignalementUrgent  = "signalement.urgent"
	EventHoursWeeklySummary = "hours.weekly_summary"
	EventAPIKeyAnomaly      = "api_key.anomaly"
)

// Spec is the connector's configuration: an incoming webhook URL, or a bot
// token (xoxb-…) with a channel (id "C0123…" or "#name"); app_url, when
// set, is the Hub's web address, for links.
var Spec = connectors.Spec{
	Type:     Type,
	Settings: []connectors.Field{{Name: "channel", MaxLen: 80}, {Name: "app_url", MaxLen: 300}},
	Secrets:  []connectors.Field{{Name: "webhook_url", MaxLen: 300}, {Name: "bot_token", MaxLen: 300}},
	// chat.postMessage is a "special" tier (about 1 message per second
	// per channel, bursts tolerated): counted per channel by the
	// connector, not per vendor.
	Events: []string{EventChantierCreated, EventSignalementUrgent, EventHoursWeeklySummary, EventAPIKeyAnomaly},
}

// MessageInterval is the least time between two messages to one channel.
const MessageInterval = time.Second

// Register adds the Slack connector to reg. The connectors it builds share
// one pacer: one message per second per channel in this process.
func Register(reg *connectors.Registry) error {
	p := NewPacer(MessageInterval)
	return reg.Register(Spec, func(o connectors.Options) (connectors.Connector, error) { return New(o, p) })
}

// New builds a connector that paces its messages with p (nil: a pacer of
// its own).
func New(opts connectors.Options, p *Pacer) (*Connector, error) {
	api, hooks := APIBaseURL, HooksBaseURL
	if opts.BaseURL != "" {
		api, hooks = opts.BaseURL, opts.BaseURL
	}
	au, err := url.Parse(api)
	hu, err2 := url.Parse(hooks)
	if err != nil || err2 != nil || au.Host == "" || hu.Host == "" {
		return nil, errors.New("slack: invalid base URL")
	}
	if p == nil {
		p = NewPacer(MessageInterval)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: connectors.DefaultCallTimeout}
	}
	return &Connector{api: au, hooks: hu, client: client, pacer: p, overridden: opts.BaseURL != ""}, nil
}

// Connector is the Slack connector.
type Connector struct {
	api, hooks *url.URL
	client     *http.Client
	pacer      *Pacer
	// overridden: the base URL points at a fake; the webhook's host is
	// then not checked against hooks.slack.com.
	overridden bool
}

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

// Sync implements connectors.Connector: Slack has nothing to read.
func (c *Connector) Sync(context.Context, connectors.Config, connectors.State) (connectors.Result, connectors.State, error) {
	return connectors.Result{}, nil, nil
}

var webhookPath = regexp.MustCompile(`^/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+$`)

// ParseWebhookURL checks an incoming webhook URL: https, host
// hooks.slack.com (any host when checkHost is false), path
// /services/T…/B…/secret, nothing else. It returns the path. Its errors
// never quote the URL (its path is the secret).
func ParseWebhookURL(raw string, checkHost bool) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return "", errors.New("the webhook URL does not parse")
	case checkHost && (u.Scheme != "https" || u.Host != "hooks.slack.com"):
		return "", errors.New("the webhook URL must be https://hooks.slack.com/services/…")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", errors.New("the webhook URL must have no user, query or fragment")
	case !webhookPath.MatchString(u.Path) || u.RawPath != "":
		return "", errors.New("the webhook URL's path must be /services/T…/B…/…")
	}
	return u.Path, nil
}

var channelName = regexp.MustCompile(`^(#[a-z0-9][a-z0-9_-]{0,79}|[CGD][A-Z0-9]{2,30})$`)

// target is where the configuration posts: a webhook path, or a bot
// token and channel.
type target struct {
	hookPath string
	token    string
	channel  string
}

// key is the pacer's key of the target: the channel, or the webhook (its
// path is secret: a hash would do, but the key never leaves the process).
func (t target) key() string {
	if t.hookPath != "" {
		return "hook:" + t.hookPath
	}
	return "chan:" + t.channel
}

func (c *Connector) target(cfg connectors.Config) (target, error) {
	hook, token := cfg.Secret("webhook_url"), cfg.Secret("bot_token")
	switch {
	case hook != "" && token != "":
		return target{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "give either webhook_url or bot_token, not both"}
	case hook != "":
		p, err := ParseWebhookURL(hook, !c.overridden)
		if err != nil {
			return target{}, &connectors.Error{Kind: connectors.KindRejected, Msg: err.Error()}
		}
		return target{hookPath: p}, nil
	case token != "":
		ch := cfg.Setting("channel")
		if !channelName.MatchString(ch) {
			return target{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "a bot token needs a channel: an id (C0123ABC) or #name"}
		}
		if !strings.HasPrefix(token, "xoxb-") && !strings.HasPrefix(token, "xoxp-") {
			return target{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "the bot token must be a Slack token (xoxb-…)"}
		}
		return target{token: token, channel: ch}, nil
	}
	return target{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "give webhook_url, or bot_token with channel"}
}

// Check implements connectors.Connector: auth.test for a bot token (and
// the channel's form); for a webhook, an empty message, which Slack
// answers invalid_payload when the webhook exists (and posts nothing),
// no_service or invalid_token when it does not.
func (c *Connector) Check(ctx context.Context, cfg connectors.Config) error {
	t, err := c.target(cfg)
	if err != nil {
		return err
	}
	if t.hookPath != "" {
		err := c.postWebhook(ctx, t, []byte(`{}`))
		var e *connectors.Error
		if errors.As(err, &e) && e.Kind == connectors.KindRejected && strings.Contains(e.Msg, "invalid_payload") {
			return nil
		}
		if err == nil {
			return nil
		}
		return err
	}
	return c.callAPI(ctx, t, "auth.test", []byte(`{}`))
}

// HandleEvent implements connectors.Connector: the event's message, to
// the configured channel.
func (c *Connector) HandleEvent(ctx context.Context, cfg connectors.Config, ev connectors.Event) error {
	t, err := c.target(cfg)
	if err != nil {
		return err
	}
	m, err := Compose(ev, cfg.Setting("app_url"))
	if err != nil {
		return err
	}
	if m == nil {
		return nil // nothing to say
	}
	if err := c.pacer.Wait(ctx, t.key()); err != nil {
		return err
	}
	if t.hookPath != "" {
		return c.postWebhook(ctx, t, encode(m))
	}
	m.Channel = t.channel
	return c.callAPI(ctx, t, "chat.postMessage", encode(m))
}

// encode writes a message as JSON, leaving <, > and & as they are (Slack's
// own escapes are already in the text).
func encode(m *Message) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m) // strings and slices only
	return b.Bytes()
}

// callAPI calls a Web API method and classifies its answer: HTTP 429 with
// Retry-After, 5xx, and {"ok": false, "error": code}.
func (c *Connector) callAPI(ctx context.Context, t target, method string, body []byte) error {
	u := *c.api
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/" + method
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	var answer struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := connectors.DoJSON(ctx, c.client, req, &answer); err != nil {
		return err
	}
	if answer.OK {
		return nil
	}
	return apiError(answer.Error)
}

// apiError classifies Slack's error codes (chat.postMessage, auth.test).
func apiError(code string) error {
	code = safeCode(code)
	switch code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
		"missing_scope", "not_allowed_token_type", "ekm_access_denied", "team_access_not_granted":
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "Slack refused the token (" + code + ")"}
	case "ratelimited", "rate_limited":
		return &connectors.Error{Kind: connectors.KindRateLimited, RetryAfter: time.Second, Msg: "Slack's rate limit (" + code + ")"}
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return &connectors.Error{Kind: connectors.KindUnavailable, Msg: "Slack failed (" + code + ")"}
	}
	return &connectors.Error{Kind: connectors.KindRejected, Msg: "Slack refused the message (" + code + ")"}
}

var codeChars = regexp.MustCompile(`^[a-z0-9_]{1,60}$`)

// safeCode keeps an error code that looks like one (it is quoted in our
// errors).
func safeCode(code string) string {
	if codeChars.MatchString(code) {
		return code
	}
	return "unknown_error"
}

// postWebhook posts a message to an incoming webhook. Webhooks answer
// 200 "ok", or an error code as plain text with a 4xx or 5xx status.
func (c *Connector) postWebhook(ctx context.Context, t target, body []byte) error {
	u := *c.hooks
	u.Path = strings.TrimSuffix(u.Path, "/") + t.hookPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.client.Do(req) // #nosec G704 -- host fixed (hooks.slack.com, or the test override); only the checked path comes from the configuration
	if err != nil {
		// DoJSON's classification, without the URL (its path is secret)
		return connectors.DoJSON(ctx, &http.Client{Transport: failingTransport{err}}, req, nil)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	code := safeCode(strings.TrimSpace(string(b)))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return &connectors.Error{Kind: connectors.KindRateLimited, Status: resp.StatusCode,
			RetryAfter: connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), Msg: "Slack's rate limit"}
	case resp.StatusCode >= 500:
		return &connectors.Error{Kind: connectors.KindUnavailable, Status: resp.StatusCode,
			RetryAfter: connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), Msg: "Slack failed (" + code + ")"}
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound && code == "no_service",
		resp.StatusCode == http.StatusUnauthorized:
		return &connectors.Error{Kind: connectors.KindAuth, Status: resp.StatusCode, Msg: "Slack refused the webhook (" + code + ")"}
	}
	return &connectors.Error{Kind: connectors.KindRejected, Status: resp.StatusCode, Msg: "Slack refused the message (" + code + ")"}
}

// failingTransport hands DoJSON a transport error to classify.
type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// Pacer spaces the messages of one channel by an interval, in this process.
type Pacer struct {
	every time.Duration
	// sleep waits (tests replace it)
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time

	mu   sync.Mutex
	next map[string]time.Time
}

// NewPacer returns a pacer of one message per every per key.
func NewPacer(every time.Duration) *Pacer {
	return &Pacer{every: every, next: map[string]time.Time{}, now: time.Now, sleep: func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

// Wait takes the next slot of key, waiting until it comes. When the slot
// comes after ctx's deadline, it takes nothing and returns a rate-limited
// *connectors.Error whose RetryAfter is the wait (the product tries the
// delivery again then, without holding a worker).
func (p *Pacer) Wait(ctx context.Context, key string) error {
	p.mu.Lock()
	now := p.now()
	at := p.next[key]
	if at.Before(now) {
		at = now
	}
	d := at.Sub(now)
	if dl, ok := ctx.Deadline(); ok && d > 0 && now.Add(d).After(dl) {
		p.mu.Unlock()
		return &connectors.Error{Kind: connectors.KindRateLimited, RetryAfter: d, Msg: "the channel's pace (one message per second)"}
	}
	p.next[key] = at.Add(p.every)
	for k, t := range p.next { // forget idle keys
		if t.Before(now) {
			delete(p.next, k)
		}
	}
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	if err := p.sleep(ctx, d); err != nil {
		p.mu.Lock()
		if p.next[key].Equal(at.Add(p.every)) { // nobody queued behind: give the slot back
			p.next[key] = at
		}
		p.mu.Unlock()
		return &connectors.Error{Kind: connectors.KindTimeout, Msg: "cancelled while pacing the channel's messages"}
	}
	return nil
}

// Message is a Slack message: Block Kit blocks with the plain-text
// fallback Slack shows in notifications.
type Message struct {
	Channel string  `json:"channel,omitempty"`
	Text    string  `json:"text"`
	Blocks  []Block `json:"blocks"`
}

// Block is a Block Kit block (section, header, context).
type Block struct {
	Type     string       `json:"type"`
	Text     *TextObject  `json:"text,omitempty"`
	Elements []TextObject `json:"elements,omitempty"`
	Fields   []TextObject `json:"fields,omitempty"`
}

// TextObject is a Block Kit text object (mrkdwn or plain_text).
type TextObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func mrkdwn(s string) *TextObject { return &TextObject{Type: "mrkdwn", Text: s} }

// Escape escapes text for Slack's mrkdwn: &, < and > (so a name cannot
// write <!channel> or a link).
func Escape(s string) string {
	s = strings.ReplaceAll(s, "&", "&amp;")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.ReplaceAll(s, ">", "&gt;")
}

// cut shortens s to n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// link is a mrkdwn link to path under the Hub's address, or "" without
// a valid address.
func link(appURL, path, label string) string {
	u, err := url.Parse(strings.TrimRight(appURL, "/"))
	if appURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return ""
	}
	return "<" + u.String() + path + "|" + Escape(label) + ">"
}

// Compose is the message of an event (nil: the event says nothing to
// Slack).
func Compose(ev connectors.Event, appURL string) (*Message, error) {
	bad := func(what string) error {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "event " + ev.Type + ": unreadable " + what}
	}
	var chantier struct {
		ID   int64  `json:"id"`
		Code string `json:"code"`
		Nom  string `json:"nom"`
	}
	if raw, ok := ev.Related["chantier"]; ok {
		_ = json.Unmarshal(raw, &chantier)
	}
	switch ev.Type {
	case EventChantierCreated:
		var c struct {
			ID    int64  `json:"id"`
			Code  string `json:"code"`
			Nom   string `json:"nom"`
			Ville string `json:"ville"`
		}
		if json.Unmarshal(ev.Data, &c) != nil || c.Nom == "" {
			return nil, bad("chantier")
		}
		nom := cut(c.Nom, 200)
		m := &Message{Text: "Nouveau chantier " + Escape(nom) + " créé"}
		line := "*Nouveau chantier* " + Escape(nom) + " créé"
		if l := link(appURL, "/chantiers/"+strconv.FormatInt(c.ID, 10), nom); l != "" {
			line = "*Nouveau chantier* " + l + " créé"
		}
		m.Blocks = append(m.Blocks, Block{Type: "section", Text: mrkdwn(line)})
		var ctx []string
		if c.Code != "" {
			ctx = append(ctx, "Code "+Escape(cut(c.Code, 50)))
		}
		if c.Ville != "" {
			ctx = append(ctx, Escape(cut(c.Ville, 100)))
		}
		if len(ctx) > 0 {
			m.Blocks = append(m.Blocks, Block{Type: "context", Elements: []TextObject{*mrkdwn(strings.Join(ctx, " · "))}})
		}
		return m, nil
	case EventSignalementUrgent:
		var s struct {
			ID          int64  `json:"id"`
			ChantierID  int64  `json:"chantier_id"`
			Titre       string `json:"titre"`
			Description string `json:"description"`
			Gravite     string `json:"gravite"`
		}
		if json.Unmarshal(ev.Data, &s) != nil || s.Titre == "" {
			return nil, bad("signalement")
		}
		titre := cut(s.Titre, 200)
		where := ""
		if chantier.Nom != "" {
			where = " sur " + Escape(cut(chantier.Nom, 200))
		}
		path := "/signalements/" + strconv.FormatInt(s.ID, 10)
		l := link(appURL, path, titre)
		text := "<!channel> Signalement urgent" + where + " : " + Escape(titre)
		head := "<!channel> :rotating_light: *Signalement urgent*" + where + " : " + Escape(titre)
		if l != "" {
			text += " " + strings.TrimSuffix(strings.SplitN(l, "|", 2)[0], ">") + ">"
			head = "<!channel> :rotating_light: *Signalement urgent*" + where + " : " + l
		}
		m := &Message{Text: text, Blocks: []Block{{Type: "section", Text: mrkdwn(head)}}}
		if s.Description != "" {
			m.Blocks = append(m.Blocks, Block{Type: "section", Text: mrkdwn(Escape(cut(s.Description, 1000)))})
		}
		return m, nil
	case EventHoursWeeklySummary:
		var w struct {
			WeekStart    string `json:"week_start"`
			WeekEnd      string `json:"week_end"`
			TotalMinutes int64  `json:"total_minutes"`
			Chantiers    []struct {
				Code    string `json:"code"`
				Nom     string `json:"nom"`
				Minutes int64  `json:"minutes"`
			} `json:"chantiers"`
		}
		if json.Unmarshal(ev.Data, &w) != nil || w.WeekStart == "" {
			return nil, bad("summary")
		}
		title := fmt.Sprintf("Heures validées du %s au %s : %s", frDate(w.WeekStart), frDate(w.WeekEnd), hours(w.TotalMinutes))
		m := &Message{Text: Escape(title), Blocks: []Block{{Type: "header", Text: &TextObject{Type: "plain_text", Text: cut(title, 150)}}}}
		var lines []string
		for i, c := range w.Chantiers {
			if i == 20 {
				lines = append(lines, fmt.Sprintf("… et %d autres chantiers", len(w.Chantiers)-20))
				break
			}
			lines = append(lines, "• *"+Escape(cut(c.Nom, 100))+"* : "+hours(c.Minutes))
		}
		if len(lines) == 0 {
			lines = []string{"Aucune heure validée cette semaine."}
		}
		m.Blocks = append(m.Blocks, Block{Type: "section", Text: mrkdwn(strings.Join(lines, "\n"))})
		return m, nil
	case EventAPIKeyAnomaly:
		var k struct {
			Name    string `json:"name"`
			Prefix  string `json:"prefix"`
			Anomaly *struct {
				Rule   string `json:"rule"`
				Detail string `json:"detail"`
				Action string `json:"action"`
			} `json:"anomaly"`
		}
		if json.Unmarshal(ev.Data, &k) != nil || k.Anomaly == nil {
			return nil, bad("anomaly")
		}
		text := fmt.Sprintf("Anomalie sur la clé API %s (%s) : %s", Escape(cut(k.Name, 100)), Escape(cut(k.Prefix, 20)), Escape(cut(k.Anomaly.Detail, 500)))
		m := &Message{Text: text, Blocks: []Block{{Type: "section", Text: mrkdwn(":warning: *Anomalie sur une clé API* — " + Escape(cut(k.Name, 100)))},
			{Type: "section", Fields: []TextObject{*mrkdwn("*Règle*\n" + Escape(cut(k.Anomaly.Rule, 50))), *mrkdwn("*Clé*\n" + Escape(cut(k.Prefix, 20)))}},
			{Type: "context", Elements: []TextObject{*mrkdwn(Escape(cut(k.Anomaly.Detail, 500)))}}}}
		if k.Anomaly.Action == "revoke" {
			m.Blocks = append(m.Blocks, Block{Type: "section", Text: mrkdwn("La clé a été révoquée.")})
		}
		if l := link(appURL, "/admin/api-keys", "Voir les clés"); l != "" {
			m.Blocks = append(m.Blocks, Block{Type: "context", Elements: []TextObject{*mrkdwn(l)}})
		}
		return m, nil
	}
	return nil, nil
}

// hours writes minutes as French hours ("37 h 30").
func hours(min int64) string {
	if min%60 == 0 {
		return strconv.FormatInt(min/60, 10) + " h"
	}
	return fmt.Sprintf("%d h %02d", min/60, min%60)
}

// frDate writes 2026-11-30 as 30/11/2026.
func frDate(d string) string {
	t, err := time.Parse("2006-01-02", d)
	if err != nil {
		return d
	}
	return t.Format("02/01/2006")
}
